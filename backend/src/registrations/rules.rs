//! What a registration must satisfy, as plain functions over values and a clock reading.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
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
    pub email: String,
    pub company: Option<String>,
    pub job_title: Option<String>,
    /// E.164, e.g. +31201234567.
    pub phone: Option<String>,
    /// ISO 3166-1 alpha-2, upper-case.
    pub country: Option<String>,
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
            ContactField::Email => Some(&self.email),
            ContactField::Company => self.company.as_deref(),
            ContactField::JobTitle => self.job_title.as_deref(),
            ContactField::Phone => self.phone.as_deref(),
            ContactField::Country => self.country.as_deref(),
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

fn optional(
    field: &'static str,
    value: Option<String>,
    check: impl Fn(&'static str, &str) -> Result<String, FieldError>,
) -> Result<Option<String>, FieldError> {
    match value {
        Some(v) if !v.trim().is_empty() => check(field, &v).map(Some),
        _ => Ok(None),
    }
}

pub fn validate_details(d: SubmittedDetails) -> Result<ContactDetails, FieldError> {
    Ok(ContactDetails {
        first_name: validation::text("first_name", &d.first_name, 1, 100, false)?,
        last_name: validation::text("last_name", &d.last_name, 1, 100, false)?,
        email: validation::email("email", &d.email)?,
        company: optional("company", d.company, |f, v| {
            validation::text(f, v, 1, 200, false)
        })?,
        job_title: optional("job_title", d.job_title, |f, v| {
            validation::text(f, v, 1, 200, false)
        })?,
        phone: optional("phone", d.phone, phone)?,
        country: optional("country", d.country, country)?,
    })
}

/// An E.164 number: `+`, a non-zero digit, at most 15 digits in all. Spaces, dots, dashes and
/// brackets people type are removed first.
pub fn phone(field: &'static str, input: &str) -> Result<String, FieldError> {
    let compact: String = input
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let digits = compact.strip_prefix('+').unwrap_or("");
    let valid = (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if valid {
        Ok(compact)
    } else {
        Err(FieldError::new(
            ProblemCode::InvalidPhone,
            field,
            "Must be an international number such as +31 20 123 4567.",
        ))
    }
}

/// Officially assigned ISO 3166-1 alpha-2 codes.
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ \
BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ \
DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT \
GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY \
KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX \
MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS \
RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN \
TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

pub fn country(field: &'static str, input: &str) -> Result<String, FieldError> {
    let code = input.trim().to_ascii_uppercase();
    if code.len() == 2 && COUNTRIES.split(' ').any(|c| c == code) {
        Ok(code)
    } else {
        Err(FieldError::new(
            ProblemCode::InvalidCountry,
            field,
            "Must be an ISO 3166-1 alpha-2 country code such as NL.",
        ))
    }
}

/// The checks a registration passes before anything is stored, in the order they are made.
#[derive(Debug, Clone, Copy)]
pub struct RegistrationCheck<'a> {
    pub now: OffsetDateTime,
    pub event_ends_at: OffsetDateTime,
    pub current_notice_version: i32,
    pub event_sponsors: &'a BTreeSet<Uuid>,
    pub age_confirmed: bool,
    pub notice_version: i32,
    pub sponsor_opt_ins: &'a [Uuid],
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
        assert_eq!(d.email, "ada@example.org");
        assert_eq!(d.company, None, "blank optional fields are absent");
        assert_eq!(d.phone.as_deref(), Some("+31201234567"));
        assert_eq!(d.country.as_deref(), Some("NL"));
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
        let sponsor = Uuid::now_v7();
        let sponsors = BTreeSet::from([sponsor]);
        let chosen = [sponsor];
        let stranger = [Uuid::now_v7()];
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
