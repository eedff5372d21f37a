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

pub use crate::schema::consents::{Channel, Language};

fn field_label(field: ContactField, language: Language) -> &'static str {
    match (language, field) {
        (Language::En, ContactField::FirstName) => "first name",
        (Language::En, ContactField::LastName) => "last name",
        (Language::En, ContactField::Email) => "e-mail address",
        (Language::En, ContactField::Company) => "company",
        (Language::En, ContactField::JobTitle) => "job title",
        (Language::En, ContactField::Phone) => "phone number",
        (Language::En, ContactField::Country) => "country",
        (Language::Nl, ContactField::FirstName) => "voornaam",
        (Language::Nl, ContactField::LastName) => "achternaam",
        (Language::Nl, ContactField::Email) => "e-mailadres",
        (Language::Nl, ContactField::Company) => "bedrijf",
        (Language::Nl, ContactField::JobTitle) => "functie",
        (Language::Nl, ContactField::Phone) => "telefoonnummer",
        (Language::Nl, ContactField::Country) => "land",
    }
}

fn list(items: &[&str], language: Language) -> String {
    let and = match language {
        Language::En => "and",
        Language::Nl => "en",
    };
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} {and} {last}", init.join(", ")),
    }
}

/// The exact sentence an attendee agrees to for one sponsor, in the language they read it in. Its
/// SHA-256 and its language go into the ledger, so the record proves what was shown: which
/// sponsor, which fields, which policy, in which words.
pub fn sponsor_consent_text(
    sponsor_name: &str,
    shared_fields: &[ContactField],
    privacy_policy_url: &str,
    language: Language,
) -> String {
    let fields: Vec<&str> = shared_fields
        .iter()
        .map(|f| field_label(*f, language))
        .collect();
    let fields = list(&fields, language);
    match language {
        Language::En => format!(
            "I agree that {sponsor_name} may receive my {fields} when they scan my badge at their \
             booth. {sponsor_name}'s privacy policy: {privacy_policy_url}. I can withdraw this at \
             any time from my manage link."
        ),
        Language::Nl => format!(
            "Ik ga ermee akkoord dat {sponsor_name} mijn {fields} ontvangt wanneer zij mijn badge \
             scannen bij hun stand. Privacybeleid van {sponsor_name}: {privacy_policy_url}. Ik kan \
             dit op elk moment intrekken via mijn beheerlink."
        ),
    }
}

/// What an attendee is shown, and agrees to, for one sponsor: the sponsor's identity and the
/// contact fields it would receive. The sentence is made from these parts alone (in the language
/// read), so a stored coverage proves what was shown: its sentence's SHA-256 is the ledger's
/// `text_sha256`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    pub sponsor_name: String,
    pub privacy_policy_url: String,
    pub fields: Vec<ContactField>,
}

impl Coverage {
    pub fn sentence(&self, language: Language) -> String {
        sponsor_consent_text(
            &self.sponsor_name,
            &self.fields,
            &self.privacy_policy_url,
            language,
        )
    }
}

/// The sentence shown for one purpose, its language and, for a sponsor, the parts it was made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub text: String,
    pub language: Language,
    pub coverage: Option<Coverage>,
}

impl Shown {
    pub fn sponsor(coverage: Coverage, language: Language) -> Self {
        Self {
            text: coverage.sentence(language),
            language,
            coverage: Some(coverage),
        }
    }

    pub fn text_only(text: String, language: Language) -> Self {
        Self {
            text,
            language,
            coverage: None,
        }
    }
}

/// The exact sentence for marketing by the organiser, in `language`.
pub fn marketing_consent_text(event_name: &str, language: Language) -> String {
    match language {
        Language::En => format!(
            "I would like the organiser of {event_name} to e-mail me news about its future \
             events. I can withdraw this at any time from my manage link."
        ),
        Language::Nl => format!(
            "Ik wil graag dat de organisator van {event_name} mij nieuws over zijn volgende \
             evenementen e-mailt. Ik kan dit op elk moment intrekken via mijn beheerlink."
        ),
    }
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
            Language::En,
        );
        assert!(text.starts_with(
            "I agree that Acme may receive my first name, e-mail address and company"
        ));
        assert!(text.contains("https://acme.example/privacy"));
        let fewer = sponsor_consent_text(
            "Acme",
            &[ContactField::Email],
            "https://acme.example/privacy",
            Language::En,
        );
        assert_ne!(text, fewer, "a change of fields is a change of text");
        assert!(marketing_consent_text("Summit", Language::En).contains("Summit"));
        assert!(marketing_consent_text("Summit", Language::Nl).starts_with("Ik wil graag"));
    }

    #[test]
    fn a_dutch_reader_agrees_to_a_dutch_sentence_with_the_same_parts() {
        let coverage = Coverage {
            sponsor_name: "Acme".into(),
            privacy_policy_url: "https://acme.example/privacy".into(),
            fields: vec![
                ContactField::FirstName,
                ContactField::Email,
                ContactField::Company,
            ],
        };
        assert_eq!(
            coverage.sentence(Language::Nl),
            "Ik ga ermee akkoord dat Acme mijn voornaam, e-mailadres en bedrijf ontvangt wanneer \
             zij mijn badge scannen bij hun stand. Privacybeleid van Acme: \
             https://acme.example/privacy. Ik kan dit op elk moment intrekken via mijn beheerlink."
        );
        // The English sentence is the one English readers have always agreed to, to the byte.
        assert_eq!(
            coverage.sentence(Language::En),
            "I agree that Acme may receive my first name, e-mail address and company when they \
             scan my badge at their booth. Acme's privacy policy: https://acme.example/privacy. I \
             can withdraw this at any time from my manage link."
        );
    }

    #[test]
    fn the_language_comes_from_accept_language() {
        assert_eq!(
            Language::from_accept_language("nl-NL,nl;q=0.9,en;q=0.8"),
            Language::Nl
        );
        assert_eq!(
            Language::from_accept_language("de-DE, nl;q=0.5"),
            Language::Nl
        );
        assert_eq!(Language::from_accept_language("en-GB"), Language::En);
        assert_eq!(Language::from_accept_language("fr"), Language::En);
        assert_eq!(Language::from_accept_language(""), Language::En);
    }
}
