//! An event's life after it ends: when its attendee data is due, where it stands in its
//! retention, and the rule every path that reads or changes attendee data applies first. Plain
//! functions over values and a clock reading; the refusal is a domain error, not an HTTP one.

use time::OffsetDateTime;

use super::rules::purge_due_at;
use crate::{error::RuleError, schema::events as event};

/// Whether an event's attendee data must be gone at `now`: from the instant `ends_at +
/// retention_days` on, not a second before.
pub fn is_due(ends_at: OffsetDateTime, retention_days: i16, now: OffsetDateTime) -> bool {
    now >= purge_due_at(ends_at, retention_days)
}

/// Where an event stands in its retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Data is kept until the due time.
    Kept,
    /// Due: the purge will remove it on its next run.
    Due,
    /// A purge has destroyed the keys and is removing rows.
    Purging,
    Purged,
    /// The organiser deleted the event; its deletion is under way.
    Deleting,
}

impl Stage {
    pub fn of(
        ends_at: OffsetDateTime,
        retention_days: i16,
        purge_started_at: Option<OffsetDateTime>,
        purged_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Self {
        match (purged_at, purge_started_at) {
            (Some(_), _) => Self::Purged,
            (None, Some(_)) => Self::Purging,
            (None, None) if is_due(ends_at, retention_days, now) => Self::Due,
            (None, None) => Self::Kept,
        }
    }

    /// `Deleting` once the event is marked deleted, whatever its retention stage.
    pub fn or_deleting(self, deleted_at: Option<OffsetDateTime>) -> Self {
        if deleted_at.is_some() {
            Self::Deleting
        } else {
            self
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kept => "kept",
            Self::Due => "due",
            Self::Purging => "purging",
            Self::Purged => "purged",
            Self::Deleting => "deleting",
        }
    }

    /// Whether attendee data may still be read or changed: not once it is due.
    pub fn data_available(self) -> bool {
        self == Self::Kept
    }
}

/// Where `e` stands in its retention at `now`.
pub fn stage_of(e: &event::Model, now: OffsetDateTime) -> Stage {
    Stage::of(
        e.ends_at,
        e.retention_days,
        e.purge_started_at,
        e.purged_at,
        now,
    )
    .or_deleting(e.deleted_at)
}

/// Refuse to read or change attendee data of an event from the instant it is due: the promise
/// holds to the second, not from whenever the next purge run comes.
pub fn ensure_data_held(e: &event::Model, now: OffsetDateTime) -> Result<(), RuleError> {
    if stage_of(e, now).data_available() {
        Ok(())
    } else {
        Err(RuleError::DataGone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::{Duration, macros::datetime};

    #[test]
    fn due_at_the_instant_and_not_a_second_before() {
        let ends = datetime!(2026-12-02 17:00 UTC);
        let due = datetime!(2027-01-01 17:00 UTC);
        assert!(!is_due(ends, 30, due - Duration::seconds(1)));
        assert!(is_due(ends, 30, due));
        assert!(is_due(ends, 30, due + Duration::days(400)));
        assert!(!is_due(ends, 0, ends - Duration::seconds(1)));
        assert!(is_due(ends, 0, ends));
    }

    #[test]
    fn stages() {
        let ends = datetime!(2026-12-02 17:00 UTC);
        let at = |days| ends + Duration::days(days);
        assert_eq!(Stage::of(ends, 7, None, None, at(6)), Stage::Kept);
        assert!(Stage::of(ends, 7, None, None, at(6)).data_available());
        assert_eq!(Stage::of(ends, 7, None, None, at(7)), Stage::Due);
        assert!(!Stage::of(ends, 7, None, None, at(7)).data_available());
        assert_eq!(Stage::of(ends, 7, Some(at(7)), None, at(7)), Stage::Purging);
        assert_eq!(
            Stage::of(ends, 7, Some(at(7)), Some(at(7)), at(8)),
            Stage::Purged
        );
        let deleting = Stage::of(ends, 7, None, None, at(1)).or_deleting(Some(at(1)));
        assert_eq!(deleting, Stage::Deleting);
        assert!(!deleting.data_available());
        assert_eq!(Stage::Kept.or_deleting(None), Stage::Kept);
    }
}
