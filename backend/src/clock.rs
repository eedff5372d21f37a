//! Time as a value the rules receive, so every time-dependent rule is testable to the second.

use std::sync::{Arc, Mutex};

use time::OffsetDateTime;

/// Where "now" comes from. Production uses [`SystemClock`]; tests use [`FixedClock`].
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> OffsetDateTime;
}

/// The wall clock, in UTC, truncated to whole seconds (see [`to_stored`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        to_stored(OffsetDateTime::now_utc())
    }
}

/// A clock that only moves when told to.
#[derive(Debug, Clone)]
pub struct FixedClock(Arc<Mutex<OffsetDateTime>>);

impl FixedClock {
    pub fn new(at: OffsetDateTime) -> Self {
        Self(Arc::new(Mutex::new(to_stored(at))))
    }

    pub fn set(&self, at: OffsetDateTime) {
        if let Ok(mut now) = self.0.lock() {
            *now = to_stored(at);
        }
    }

    pub fn advance(&self, by: time::Duration) {
        if let Ok(mut now) = self.0.lock() {
            *now += by;
        }
    }
}

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        match self.0.lock() {
            Ok(now) => *now,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }
}

/// The one form in which timestamps are stored: UTC, whole seconds.
///
/// SQLite keeps timestamps as RFC 3339 text and compares them as text; a value with a fraction
/// ("…05.5Z") sorts *before* one without ("…05Z"). Storing whole seconds in UTC only keeps text
/// order equal to time order, on SQLite and PostgreSQL alike.
pub fn to_stored(at: OffsetDateTime) -> OffsetDateTime {
    let utc = at.to_offset(time::UtcOffset::UTC);
    utc.replace_nanosecond(0).unwrap_or(utc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn stored_times_are_utc_whole_seconds() {
        let t = datetime!(2026-11-23 10:00:05.75 +02:00);
        let stored = to_stored(t);
        assert_eq!(stored, datetime!(2026-11-23 08:00:05 UTC));
        assert_eq!(stored.offset(), time::UtcOffset::UTC);
    }

    #[test]
    fn fixed_clock_moves_only_when_told() {
        let clock = FixedClock::new(datetime!(2026-01-01 00:00:00 UTC));
        assert_eq!(clock.now(), datetime!(2026-01-01 00:00:00 UTC));
        clock.advance(time::Duration::seconds(90));
        assert_eq!(clock.now(), datetime!(2026-01-01 00:01:30 UTC));
    }
}
