//! What a registration must satisfy, as plain functions over values and a clock reading.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::schema::ids::SponsorId;
use crate::{
    contact::{Country, Email, Phone},
    error::{FieldError, RuleError},
    events::rules::ContactField,
    problem::ProblemCode,
    validation,
};

/// The contact details an attendee gives. Stored sealed; never logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ContactDetails {
    pub first_name: String,
    pub last_name: String,
    /// Normalised: trimmed, lower-case.
    #[schema(value_type = String)]
    pub email: Email,
    pub company: Option<String>,
    pub job_title: Option<String>,
    /// E.164, e.g. +31201234567.
    #[schema(value_type = Option<String>)]
    pub phone: Option<Phone>,
    /// ISO 3166-1 alpha-2, upper-case.
    #[schema(value_type = Option<String>)]
    pub country: Option<Country>,
}

impl ContactDetails {
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }

    /// One field's value, if given.
    pub fn field(&self, field: ContactField) -> Option<&str> {
        match field {
            ContactField::FirstName => Some(&self.first_name),
            ContactField::LastName => Some(&self.last_name),
            ContactField::Email => Some(self.email.as_str()),
            ContactField::Company => self.company.as_deref(),
            ContactField::JobTitle => self.job_title.as_deref(),
            ContactField::Phone => self.phone.as_ref().map(Phone::as_str),
            ContactField::Country => self.country.as_ref().map(Country::as_str),
        }
    }
}

/// Contact details as submitted, before validation.
#[derive(Debug, Clone, Default)]
pub struct SubmittedDetails {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub company: Option<String>,
    pub job_title: Option<String>,
    pub phone: Option<String>,
    pub country: Option<String>,
}

fn optional<T>(
    field: &'static str,
    value: Option<String>,
    check: impl Fn(&'static str, &str) -> Result<T, FieldError>,
) -> Result<Option<T>, FieldError> {
    match value {
        Some(v) if !v.trim().is_empty() => check(field, &v).map(Some),
        _ => Ok(None),
    }
}

pub fn validate_details(d: SubmittedDetails) -> Result<ContactDetails, FieldError> {
    Ok(ContactDetails {
        first_name: validation::person_name("first_name", &d.first_name, 1, 100)?,
        last_name: validation::person_name("last_name", &d.last_name, 1, 100)?,
        email: Email::parse("email", &d.email)?,
        company: optional("company", d.company, |f, v| validation::label(f, v, 1, 200))?,
        job_title: optional("job_title", d.job_title, |f, v| {
            validation::label(f, v, 1, 200)
        })?,
        phone: optional("phone", d.phone, Phone::parse)?,
        country: optional("country", d.country, Country::parse)?,
    })
}

/// The checks a registration passes before anything is stored, in the order they are made.
#[derive(Debug, Clone, Copy)]
pub struct RegistrationCheck<'a> {
    pub now: OffsetDateTime,
    pub event_ends_at: OffsetDateTime,
    pub current_notice_version: i32,
    pub event_sponsors: &'a BTreeSet<SponsorId>,
    pub age_confirmed: bool,
    pub notice_version: i32,
    pub sponsor_opt_ins: &'a [SponsorId],
}

pub fn check(c: &RegistrationCheck<'_>) -> Result<(), RuleError> {
    if c.now >= c.event_ends_at {
        return Err(RuleError::Conflict {
            code: ProblemCode::RegistrationClosed,
            field: None,
            detail: "The event has ended; registration is closed.".into(),
        });
    }
    if !c.age_confirmed {
        return Err(RuleError::invalid(
            ProblemCode::AgeNotConfirmed,
            "age_confirmed",
            "You must confirm that you meet the minimum age.",
        ));
    }
    if c.notice_version != c.current_notice_version {
        return Err(RuleError::conflict(
            ProblemCode::NoticeOutdated,
            "notice_version",
            "The privacy notice has changed; read the current one and register again.",
        ));
    }
    if let Some(i) = c
        .sponsor_opt_ins
        .iter()
        .position(|id| !c.event_sponsors.contains(id))
    {
        return Err(RuleError::invalid(
            ProblemCode::UnknownSponsor,
            format!("sponsor_opt_ins[{i}]"),
            "Not a sponsor of this event.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn details() -> SubmittedDetails {
        SubmittedDetails {
            first_name: " Ada ".into(),
            last_name: "Lovelace".into(),
            email: "Ada@Example.org".into(),
            company: Some("  ".into()),
            job_title: None,
            phone: Some("+31 (20) 123-4567".into()),
            country: Some("nl".into()),
        }
    }

    #[test]
    fn details_are_cleaned() {
        let d = validate_details(details()).unwrap();
        assert_eq!(d.first_name, "Ada");
        assert_eq!(d.email.as_str(), "ada@example.org");
        assert_eq!(d.company, None, "blank optional fields are absent");
        assert_eq!(d.phone.as_ref().map(Phone::as_str), Some("+31201234567"));
        assert_eq!(d.country.as_ref().map(Country::as_str), Some("NL"));
        assert_eq!(d.full_name(), "Ada Lovelace");
    }

    #[test]
    fn each_field_has_its_code() {
        let code = |d: SubmittedDetails| {
            let e = validate_details(d).unwrap_err();
            (e.code.as_str(), e.field)
        };
        assert_eq!(
            code(SubmittedDetails {
                first_name: "".into(),
                ..details()
            }),
            ("too_short", "first_name".into())
        );
        assert_eq!(
            code(SubmittedDetails {
                email: "ada@".into(),
                ..details()
            }),
            ("invalid_email", "email".into())
        );
        assert_eq!(
            code(SubmittedDetails {
                phone: Some("0612345678".into()),
                ..details()
            }),
            ("invalid_phone", "phone".into())
        );
        assert_eq!(
            code(SubmittedDetails {
                phone: Some("+1234567890123456".into()),
                ..details()
            }),
            ("invalid_phone", "phone".into())
        );
        assert_eq!(
            code(SubmittedDetails {
                country: Some("XX".into()),
                ..details()
            }),
            ("invalid_country", "country".into())
        );
        assert_eq!(
            code(SubmittedDetails {
                country: Some("NLD".into()),
                ..details()
            }),
            ("invalid_country", "country".into())
        );
        assert_eq!(
            code(SubmittedDetails {
                company: Some("x".repeat(201)),
                ..details()
            }),
            ("too_long", "company".into())
        );
    }

    #[test]
    fn registration_checks_come_in_order() {
        let sponsor = SponsorId::new();
        let sponsors = BTreeSet::from([sponsor]);
        let chosen = [sponsor];
        let stranger = [SponsorId::new()];
        let ok = RegistrationCheck {
            now: datetime!(2026-12-01 10:00 UTC),
            event_ends_at: datetime!(2026-12-02 17:00 UTC),
            current_notice_version: 2,
            event_sponsors: &sponsors,
            age_confirmed: true,
            notice_version: 2,
            sponsor_opt_ins: &chosen,
        };
        assert!(check(&ok).is_ok());
        let code = |c: RegistrationCheck<'_>| check(&c).unwrap_err().code();
        // Everything wrong at once: the first rule answers.
        let all_wrong = RegistrationCheck {
            now: datetime!(2026-12-02 17:00 UTC),
            age_confirmed: false,
            notice_version: 1,
            sponsor_opt_ins: &stranger,
            ..ok
        };
        assert_eq!(code(all_wrong), ProblemCode::RegistrationClosed);
        let ok = || ok;
        assert_eq!(
            code(RegistrationCheck {
                age_confirmed: false,
                notice_version: 1,
                ..ok()
            }),
            ProblemCode::AgeNotConfirmed
        );
        assert_eq!(
            code(RegistrationCheck {
                notice_version: 1,
                sponsor_opt_ins: &stranger,
                ..ok()
            }),
            ProblemCode::NoticeOutdated
        );
        let err = check(&RegistrationCheck {
            sponsor_opt_ins: &stranger,
            ..ok()
        })
        .unwrap_err();
        assert_eq!(err.code(), ProblemCode::UnknownSponsor);
        assert!(matches!(&err, RuleError::Invalid(f) if f.field == "sponsor_opt_ins[0]"));
        // One second before the end is still open.
        assert!(
            check(&RegistrationCheck {
                now: datetime!(2026-12-02 16:59:59 UTC),
                ..ok()
            })
            .is_ok()
        );
    }
}
