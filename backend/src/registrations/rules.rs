//! What a registration must satisfy, as plain functions over values and a clock reading.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::schema::ids::SponsorId;
use crate::{
    contact::{Country, Email, Phone},
    error::{FieldChecks, FieldError, FieldErrors, RuleError},
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

/// The details as typed, checked field by field: the details, or every field in error at once.
pub fn validate_details(d: SubmittedDetails) -> Result<ContactDetails, FieldErrors> {
    let mut checks = FieldChecks::default();
    let details = check_details(&mut checks, d);
    checks.finish()?;
    details.ok_or_else(unreachable_field_error)
}

/// Each field of `d` checked into `checks`; the details if every one passed.
pub fn check_details(checks: &mut FieldChecks, d: SubmittedDetails) -> Option<ContactDetails> {
    let first_name = checks.check(validation::person_name(
        "first_name",
        &d.first_name,
        1,
        NAME_MAX_CHARS,
    ));
    let last_name = checks.check(validation::person_name(
        "last_name",
        &d.last_name,
        1,
        NAME_MAX_CHARS,
    ));
    let email = checks.check(Email::parse("email", &d.email));
    let company = checks.check(optional("company", d.company, |f, v| {
        validation::label(f, v, 1, LABEL_MAX_CHARS)
    }));
    let job_title = checks.check(optional("job_title", d.job_title, |f, v| {
        validation::label(f, v, 1, LABEL_MAX_CHARS)
    }));
    let phone = checks.check(optional("phone", d.phone, Phone::parse));
    let country = checks.check(optional("country", d.country, Country::parse));
    Some(ContactDetails {
        first_name: first_name?,
        last_name: last_name?,
        email: email?,
        company: company?,
        job_title: job_title?,
        phone: phone?,
        country: country?,
    })
}

/// The most characters each contact field takes, where the rule bounds it: the one source of
/// the checks below and of the forms' `maxlength` (the public event view publishes it).
pub fn max_chars(field: ContactField) -> Option<usize> {
    match field {
        ContactField::FirstName | ContactField::LastName => Some(NAME_MAX_CHARS),
        ContactField::Company | ContactField::JobTitle => Some(LABEL_MAX_CHARS),
        ContactField::Email => Some(EMAIL_MAX_CHARS),
        ContactField::Country => Some(2),
        ContactField::Phone => None,
    }
}

/// Every bounded field with its bound, for the public views.
pub fn field_max_chars() -> BTreeMap<ContactField, usize> {
    ContactField::ALL
        .into_iter()
        .filter_map(|f| max_chars(f).map(|n| (f, n)))
        .collect()
}

const NAME_MAX_CHARS: usize = 100;
const LABEL_MAX_CHARS: usize = 200;
/// `contact::Email` refuses longer addresses (RFC 5321's path limit).
const EMAIL_MAX_CHARS: usize = 254;

/// Never made: `check_details` returns details whenever no check failed. Answered as a plain
/// field error rather than a panic all the same.
fn unreachable_field_error() -> FieldErrors {
    FieldError::new(ProblemCode::InvalidValue, "details", "Not valid.").into()
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

/// A registration that cannot be made at all (the event has ended, the page is outdated) is
/// refused first, as a conflict; then every field in error is refused at once, the form's own
/// with the details', in the order of the form: the details, `sponsor_opt_ins`, `age_confirmed`.
pub fn check(
    c: &RegistrationCheck<'_>,
    details: SubmittedDetails,
) -> Result<ContactDetails, RuleError> {
    if c.now >= c.event_ends_at {
        return Err(RuleError::Conflict {
            code: ProblemCode::RegistrationClosed,
            field: None,
            detail: "The event has ended; registration is closed.".into(),
        });
    }
    if c.notice_version != c.current_notice_version {
        return Err(RuleError::conflict(
            ProblemCode::NoticeOutdated,
            "notice_version",
            "The privacy notice has changed; read the current one and register again.",
        ));
    }
    let mut checks = FieldChecks::default();
    let details = check_details(&mut checks, details);
    for (i, _) in c
        .sponsor_opt_ins
        .iter()
        .enumerate()
        .filter(|(_, id)| !c.event_sponsors.contains(id))
    {
        checks.refuse(FieldError::new(
            ProblemCode::UnknownSponsor,
            format!("sponsor_opt_ins[{i}]"),
            "Not a sponsor of this event.",
        ));
    }
    if !c.age_confirmed {
        checks.refuse(FieldError::new(
            ProblemCode::AgeNotConfirmed,
            "age_confirmed",
            "You must confirm that you meet the minimum age.",
        ));
    }
    checks.finish()?;
    Ok(details.ok_or_else(unreachable_field_error)?)
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
            let first = e.first();
            (first.code.as_str(), first.field.clone())
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
    fn every_field_in_error_is_told_at_once_in_form_order() {
        let errors = validate_details(SubmittedDetails {
            first_name: "Ada".into(),
            last_name: "".into(),
            email: "bad".into(),
            company: None,
            job_title: None,
            phone: Some("abc".into()),
            country: None,
        })
        .unwrap_err();
        let fields: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("last_name", "too_short"),
                ("email", "invalid_email"),
                ("phone", "invalid_phone")
            ]
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
        assert!(check(&ok, details()).is_ok());
        let refusal = |c: RegistrationCheck<'_>, d: SubmittedDetails| check(&c, d).unwrap_err();
        let empty = || SubmittedDetails {
            first_name: "".into(),
            last_name: "".into(),
            email: "".into(),
            company: None,
            job_title: None,
            phone: None,
            country: None,
        };
        // A registration that cannot be made at all is refused first, whatever else is wrong.
        let all_wrong = RegistrationCheck {
            now: datetime!(2026-12-02 17:00 UTC),
            age_confirmed: false,
            notice_version: 1,
            sponsor_opt_ins: &stranger,
            ..ok
        };
        assert_eq!(
            refusal(all_wrong, empty()).code(),
            ProblemCode::RegistrationClosed
        );
        let ok = || ok;
        assert_eq!(
            refusal(
                RegistrationCheck {
                    age_confirmed: false,
                    notice_version: 1,
                    ..ok()
                },
                empty()
            )
            .code(),
            ProblemCode::NoticeOutdated
        );
        // Then every field at once, in the order of the form: details, sponsors, age.
        let err = refusal(
            RegistrationCheck {
                age_confirmed: false,
                sponsor_opt_ins: &stranger,
                ..ok()
            },
            SubmittedDetails {
                email: "bad".into(),
                ..details()
            },
        );
        let RuleError::Invalid(errors) = &err else {
            panic!("{err:?}");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["email", "sponsor_opt_ins[0]", "age_confirmed"]);
        assert_eq!(err.code(), ProblemCode::InvalidEmail);
        // One second before the end is still open.
        assert!(
            check(
                &RegistrationCheck {
                    now: datetime!(2026-12-02 16:59:59 UTC),
                    ..ok()
                },
                details()
            )
            .is_ok()
        );
    }
}
