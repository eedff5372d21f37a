//! Rules of an event's settings, as plain functions over values and a clock reading.

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;

use crate::{
    clock::to_stored,
    error::{FieldError, RuleError},
    problem::ProblemCode,
    validation,
};

pub const DEFAULT_RETENTION_DAYS: i16 = 30;
/// The promise made to attendees: never kept longer than 30 days after the event.
pub const MAX_RETENTION_DAYS: i16 = 30;
pub const DEFAULT_MIN_AGE: i16 = 16;
pub const MIN_MIN_AGE: i16 = 13;
pub const MAX_MIN_AGE: i16 = 21;
/// An event lasts at most this long, so `ends_at` cannot be used to postpone the purge for years.
pub const MAX_EVENT_DAYS: i64 = 31;
pub const MAX_NOTICE_CHARS: usize = 20_000;

/// A contact field an attendee gives at registration, and that an event may share with sponsors.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ContactField {
    FirstName,
    LastName,
    Email,
    Company,
    JobTitle,
    Phone,
    Country,
}

impl ContactField {
    pub const ALL: [Self; 7] = [
        Self::FirstName,
        Self::LastName,
        Self::Email,
        Self::Company,
        Self::JobTitle,
        Self::Phone,
        Self::Country,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::FirstName => "first_name",
            Self::LastName => "last_name",
            Self::Email => "email",
            Self::Company => "company",
            Self::JobTitle => "job_title",
            Self::Phone => "phone",
            Self::Country => "country",
        }
    }
}

impl FromStr for ContactField {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|f| f.as_str() == s).ok_or(())
    }
}

/// What sponsors receive when nobody says otherwise: enough to follow up, nothing more.
pub fn default_shared_fields() -> Vec<ContactField> {
    vec![
        ContactField::FirstName,
        ContactField::LastName,
        ContactField::Email,
        ContactField::Company,
        ContactField::JobTitle,
    ]
}

/// The stored form: sorted, de-duplicated, comma-separated.
pub fn store_shared_fields(fields: &[ContactField]) -> String {
    let mut fields = fields.to_vec();
    fields.sort();
    fields.dedup();
    fields
        .iter()
        .map(|f| f.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Read the stored form; unknown names (from a newer version) are skipped, never shared.
pub fn parse_shared_fields(stored: &str) -> Vec<ContactField> {
    stored
        .split(',')
        .filter_map(|name| name.parse().ok())
        .collect()
}

/// A slug: 3–64 of `a-z`, `0-9` and inner hyphens. Event URLs are `/e/{slug}` and API paths take
/// either a slug or an event id, so a slug may never look like a UUID.
pub fn slug(input: &str) -> Result<String, FieldError> {
    let value = input.trim();
    let invalid = |detail: &str| FieldError::new(ProblemCode::InvalidSlug, "slug", detail);
    if !(3..=64).contains(&value.len()) {
        return Err(invalid("Must be 3 to 64 characters."));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(invalid("Only lower-case letters, digits and hyphens."));
    }
    if value.starts_with('-') || value.ends_with('-') || value.contains("--") {
        return Err(invalid(
            "Hyphens only between letters or digits, one at a time.",
        ));
    }
    if uuid::Uuid::parse_str(value).is_ok() {
        return Err(invalid("Must not have the form of an id."));
    }
    Ok(value.to_owned())
}

/// An event's settings, complete, as created or after a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSettings {
    pub slug: String,
    pub name: String,
    pub venue: String,
    pub time_zone: String,
    pub starts_at: OffsetDateTime,
    pub ends_at: OffsetDateTime,
    pub retention_days: i16,
    pub min_age: i16,
    pub privacy_notice: String,
    /// The notice in Dutch; absent, Dutch readers are shown the English one.
    pub privacy_notice_nl: Option<String>,
    pub shared_fields: Vec<ContactField>,
    /// Networks that count as the venue during the event's on-site hours (`address/prefix`).
    pub venue_networks: Vec<String>,
}

/// Check every field and return the cleaned settings (trimmed text, UTC whole-second times).
pub fn validate(settings: EventSettings) -> Result<EventSettings, FieldError> {
    let slug = slug(&settings.slug)?;
    let name = validation::label("name", &settings.name, 1, 200)?;
    let venue = validation::label("venue", &settings.venue, 0, 200)?;
    let time_zone = settings.time_zone.trim().to_owned();
    if chrono_tz::Tz::from_str(&time_zone).is_err() {
        return Err(FieldError::new(
            ProblemCode::InvalidTimeZone,
            "time_zone",
            "Must be an IANA time zone name such as Europe/Amsterdam.",
        ));
    }
    let starts_at = to_stored(settings.starts_at);
    let ends_at = to_stored(settings.ends_at);
    if ends_at <= starts_at {
        return Err(FieldError::new(
            ProblemCode::EndsBeforeStart,
            "ends_at",
            "Must be after starts_at.",
        ));
    }
    if ends_at - starts_at > Duration::days(MAX_EVENT_DAYS) {
        return Err(FieldError::new(
            ProblemCode::EventTooLong,
            "ends_at",
            format!("An event lasts at most {MAX_EVENT_DAYS} days."),
        ));
    }
    if !(0..=MAX_RETENTION_DAYS).contains(&settings.retention_days) {
        return Err(FieldError::new(
            ProblemCode::InvalidRetention,
            "retention_days",
            format!("Must be 0 to {MAX_RETENTION_DAYS} days."),
        ));
    }
    if !(MIN_MIN_AGE..=MAX_MIN_AGE).contains(&settings.min_age) {
        return Err(FieldError::new(
            ProblemCode::InvalidMinAge,
            "min_age",
            format!("Must be {MIN_MIN_AGE} to {MAX_MIN_AGE}."),
        ));
    }
    let privacy_notice = validation::text(
        "privacy_notice",
        &settings.privacy_notice,
        1,
        MAX_NOTICE_CHARS,
        true,
    )?;
    let privacy_notice_nl = match settings.privacy_notice_nl.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(validation::text(
            "privacy_notice_nl",
            text,
            1,
            MAX_NOTICE_CHARS,
            true,
        )?),
    };
    let mut shared_fields = settings.shared_fields;
    shared_fields.sort();
    shared_fields.dedup();
    if shared_fields.is_empty() {
        return Err(FieldError::new(
            ProblemCode::NoSharedFields,
            "shared_fields",
            "Sponsors must receive at least one contact field.",
        ));
    }
    let venue_networks =
        crate::rate_limit::venue::validate("venue_networks", &settings.venue_networks)?;
    Ok(EventSettings {
        slug,
        name,
        venue,
        time_zone,
        starts_at,
        ends_at,
        retention_days: settings.retention_days,
        min_age: settings.min_age,
        privacy_notice,
        privacy_notice_nl,
        shared_fields,
        venue_networks,
    })
}

/// Changes that would keep attendees' data longer than promised once the event is over: moving
/// `ends_at` later, or raising the retention. Both are refused after the event has ended.
pub fn check_change(
    current: &EventSettings,
    next: &EventSettings,
    now: OffsetDateTime,
) -> Result<(), RuleError> {
    if now < current.ends_at {
        return Ok(());
    }
    if next.ends_at > current.ends_at {
        return Err(RuleError::conflict(
            ProblemCode::EventEnded,
            "ends_at",
            "The event has ended; its end can no longer be moved later.",
        ));
    }
    if next.retention_days > current.retention_days {
        return Err(RuleError::conflict(
            ProblemCode::EventEnded,
            "retention_days",
            "The event has ended; its retention can only be shortened.",
        ));
    }
    Ok(())
}

/// When the event's attendee data is due for purging.
pub fn purge_due_at(ends_at: OffsetDateTime, retention_days: i16) -> OffsetDateTime {
    ends_at + Duration::days(i64::from(retention_days))
}

/// Whether a change keeps attendee data longer (its purge moves later): then every registrant is
/// told the new date.
pub fn extends_retention(current: &EventSettings, next: &EventSettings) -> bool {
    purge_due_at(next.ends_at, next.retention_days)
        > purge_due_at(current.ends_at, current.retention_days)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn settings() -> EventSettings {
        EventSettings {
            slug: "privacy-summit-2026".into(),
            name: " Privacy Summit ".into(),
            venue: "Amsterdam".into(),
            time_zone: "Europe/Amsterdam".into(),
            starts_at: datetime!(2026-12-01 09:00 +01:00),
            ends_at: datetime!(2026-12-02 17:30:00.9 +01:00),
            retention_days: 30,
            min_age: 16,
            privacy_notice: "We process…\nSecond line.".into(),
            privacy_notice_nl: Some("  ".into()),
            shared_fields: vec![
                ContactField::Email,
                ContactField::FirstName,
                ContactField::Email,
            ],
            venue_networks: vec!["2001:db8:5::/48".into(), " 203.0.113.7/24".into()],
        }
    }

    fn code(s: EventSettings) -> &'static str {
        validate(s).unwrap_err().code.as_str()
    }

    #[test]
    fn valid_settings_are_cleaned() {
        let s = validate(settings()).unwrap();
        assert_eq!(s.name, "Privacy Summit");
        assert_eq!(s.starts_at, datetime!(2026-12-01 08:00 UTC));
        assert_eq!(s.ends_at, datetime!(2026-12-02 16:30 UTC));
        assert_eq!(
            s.shared_fields,
            vec![ContactField::FirstName, ContactField::Email]
        );
        assert_eq!(s.venue_networks, ["203.0.113.0/24", "2001:db8:5::/48"]);
    }

    #[test]
    fn slugs() {
        for good in ["abc", "privacy-summit-2026", "a1-b2"] {
            assert_eq!(slug(good).unwrap(), good);
        }
        for bad in [
            "ab",
            "Abc",
            "a_b",
            "-abc",
            "abc-",
            "a--b",
            "ab c",
            &"a".repeat(65),
            "0192f3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b",
        ] {
            assert_eq!(
                slug(bad).unwrap_err().code,
                ProblemCode::InvalidSlug,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn each_rule_has_its_code() {
        assert_eq!(
            code(EventSettings {
                time_zone: "Mars/Olympus".into(),
                ..settings()
            }),
            "invalid_time_zone"
        );
        let s = settings();
        assert_eq!(
            code(EventSettings {
                ends_at: s.starts_at,
                ..settings()
            }),
            "ends_before_start"
        );
        assert_eq!(
            code(EventSettings {
                ends_at: s.starts_at + Duration::days(32),
                ..settings()
            }),
            "event_too_long"
        );
        assert_eq!(
            code(EventSettings {
                retention_days: 31,
                ..settings()
            }),
            "invalid_retention"
        );
        assert_eq!(
            code(EventSettings {
                retention_days: -1,
                ..settings()
            }),
            "invalid_retention"
        );
        assert!(
            validate(EventSettings {
                retention_days: 0,
                ..settings()
            })
            .is_ok()
        );
        assert_eq!(
            code(EventSettings {
                min_age: 12,
                ..settings()
            }),
            "invalid_min_age"
        );
        assert_eq!(
            code(EventSettings {
                min_age: 22,
                ..settings()
            }),
            "invalid_min_age"
        );
        assert!(
            validate(EventSettings {
                min_age: 13,
                ..settings()
            })
            .is_ok()
        );
        assert!(
            validate(EventSettings {
                min_age: 21,
                ..settings()
            })
            .is_ok()
        );
        assert_eq!(
            code(EventSettings {
                privacy_notice: " ".into(),
                ..settings()
            }),
            "too_short"
        );
        assert_eq!(
            code(EventSettings {
                name: "x".repeat(201),
                ..settings()
            }),
            "too_long"
        );
        assert_eq!(
            code(EventSettings {
                shared_fields: vec![],
                ..settings()
            }),
            "no_shared_fields"
        );
    }

    #[test]
    fn after_the_end_data_may_only_be_kept_shorter() {
        let current = validate(settings()).unwrap();
        let before_end = current.ends_at - Duration::seconds(1);
        let later = EventSettings {
            ends_at: current.ends_at + Duration::hours(1),
            ..current.clone()
        };
        let longer = EventSettings {
            retention_days: 30,
            ..current.clone()
        };
        let shorter_current = EventSettings {
            retention_days: 10,
            ..current.clone()
        };
        assert!(check_change(&current, &later, before_end).is_ok());
        assert_eq!(
            check_change(&current, &later, current.ends_at)
                .unwrap_err()
                .code(),
            ProblemCode::EventEnded
        );
        assert_eq!(
            check_change(&shorter_current, &longer, current.ends_at)
                .unwrap_err()
                .code(),
            ProblemCode::EventEnded
        );
        assert!(check_change(&longer, &shorter_current, current.ends_at).is_ok());
    }

    #[test]
    fn shared_fields_round_trip_and_purge_date() {
        let stored = store_shared_fields(&[
            ContactField::Phone,
            ContactField::Email,
            ContactField::Email,
        ]);
        assert_eq!(stored, "email,phone");
        assert_eq!(
            parse_shared_fields(&stored),
            vec![ContactField::Email, ContactField::Phone]
        );
        assert_eq!(
            parse_shared_fields("email,shoe_size"),
            vec![ContactField::Email]
        );
        assert_eq!(
            purge_due_at(datetime!(2026-12-02 16:30 UTC), 30),
            datetime!(2027-01-01 16:30 UTC)
        );
    }

    #[test]
    fn only_a_later_purge_extends_retention() {
        let current = validate(settings()).unwrap();
        let with = |ends_in: Duration, retention_days: i16| EventSettings {
            ends_at: current.ends_at + ends_in,
            retention_days,
            name: "Renamed".into(),
            ..current.clone()
        };
        let days = current.retention_days;
        assert!(extends_retention(&current, &with(Duration::days(1), days)));
        assert!(extends_retention(
            &current,
            &with(Duration::seconds(1), days)
        ));
        assert!(extends_retention(&current, &with(Duration::ZERO, days + 1)));
        // A later end with a shorter retention that deletes no later is no extension.
        assert!(!extends_retention(
            &current,
            &with(Duration::days(2), days - 2)
        ));
        assert!(!extends_retention(
            &current,
            &with(Duration::days(-1), days)
        ));
        assert!(!extends_retention(&current, &with(Duration::ZERO, days)));
    }
}
