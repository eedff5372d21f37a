//! What a consent is for, through which channel it was given, and the exact text it was given to.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::events::rules::ContactField;
use crate::schema::ids::SponsorId;

/// A purpose an attendee may consent to, each separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Purpose {
    /// This sponsor may receive the event's shared contact fields when it scans the badge.
    Sponsor(SponsorId),
    /// The organiser may send news about future events.
    Marketing,
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sponsor(id) => write!(f, "sponsor:{id}"),
            Self::Marketing => f.write_str("marketing"),
        }
    }
}

impl FromStr for Purpose {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "marketing" => Ok(Self::Marketing),
            _ => s
                .strip_prefix("sponsor:")
                .and_then(|id| Uuid::parse_str(id).ok())
                .map(|id| Self::Sponsor(SponsorId(id)))
                .ok_or(()),
        }
    }
}

impl Purpose {
    pub fn sponsor_id(self) -> Option<SponsorId> {
        match self {
            Self::Sponsor(id) => Some(id),
            Self::Marketing => None,
        }
    }
}

impl Serialize for Purpose {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Purpose {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(|()| {
            serde::de::Error::custom("expected `marketing` or `sponsor:<sponsor id>`")
        })
    }
}

impl utoipa::PartialSchema for Purpose {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(
                "^(marketing|sponsor:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$",
            ))
            .description(Some("`marketing` or `sponsor:<sponsor id>`"))
            .into()
    }
}

impl ToSchema for Purpose {}

pub use crate::schema::consents::Channel;

fn field_label(field: ContactField) -> &'static str {
    match field {
        ContactField::FirstName => "first name",
        ContactField::LastName => "last name",
        ContactField::Email => "e-mail address",
        ContactField::Company => "company",
        ContactField::JobTitle => "job title",
        ContactField::Phone => "phone number",
        ContactField::Country => "country",
    }
}

fn list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The exact sentence an attendee agrees to for one sponsor. Its SHA-256 goes into the ledger,
/// so the record proves what was shown: which sponsor, which fields, which policy.
pub fn sponsor_consent_text(
    sponsor_name: &str,
    shared_fields: &[ContactField],
    privacy_policy_url: &str,
) -> String {
    let fields: Vec<&str> = shared_fields.iter().map(|f| field_label(*f)).collect();
    format!(
        "I agree that {sponsor_name} may receive my {} when they scan my badge at their booth. \
         {sponsor_name}'s privacy policy: {privacy_policy_url}. I can withdraw this at any time \
         from my manage link.",
        list(&fields)
    )
}

/// What an attendee is shown, and agrees to, for one sponsor: the sponsor's identity and the
/// contact fields it would receive. The sentence is made from these parts alone, so a stored
/// coverage proves what was shown: its sentence's SHA-256 is the ledger's `text_sha256`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    pub sponsor_name: String,
    pub privacy_policy_url: String,
    pub fields: Vec<ContactField>,
}

impl Coverage {
    pub fn sentence(&self) -> String {
        sponsor_consent_text(&self.sponsor_name, &self.fields, &self.privacy_policy_url)
    }
}

/// The sentence shown for one purpose and, for a sponsor, the parts it was made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub text: String,
    pub coverage: Option<Coverage>,
}

impl Shown {
    pub fn sponsor(coverage: Coverage) -> Self {
        Self {
            text: coverage.sentence(),
            coverage: Some(coverage),
        }
    }

    pub fn text_only(text: String) -> Self {
        Self {
            text,
            coverage: None,
        }
    }
}

/// The exact sentence for marketing by the organiser.
pub fn marketing_consent_text(event_name: &str) -> String {
    format!(
        "I would like the organiser of {event_name} to e-mail me news about its future events. \
         I can withdraw this at any time from my manage link."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_round_trip_as_text() {
        let id = SponsorId::new();
        for purpose in [Purpose::Marketing, Purpose::Sponsor(id)] {
            assert_eq!(purpose.to_string().parse::<Purpose>(), Ok(purpose));
        }
        assert_eq!(Purpose::Sponsor(id).to_string(), format!("sponsor:{id}"));
        for bad in ["", "sponsor:", "sponsor:xyz", "Marketing", "partner:1"] {
            assert!(bad.parse::<Purpose>().is_err(), "{bad}");
        }
    }

    #[test]
    fn consent_texts_name_the_sponsor_fields_and_policy() {
        let text = sponsor_consent_text(
            "Acme",
            &[
                ContactField::FirstName,
                ContactField::Email,
                ContactField::Company,
            ],
            "https://acme.example/privacy",
        );
        assert!(text.starts_with(
            "I agree that Acme may receive my first name, e-mail address and company"
        ));
        assert!(text.contains("https://acme.example/privacy"));
        let fewer = sponsor_consent_text(
            "Acme",
            &[ContactField::Email],
            "https://acme.example/privacy",
        );
        assert_ne!(text, fewer, "a change of fields is a change of text");
        assert!(marketing_consent_text("Summit").contains("Summit"));
    }
}
