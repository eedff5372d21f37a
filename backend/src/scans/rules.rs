//! The scan decision: which badge scans become leads. Checked in this order, first failure wins.

use serde::Serialize;
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;

use crate::{badges::token::BadgeRejection, schema::scans::ScanOutcome};

/// Why a scan did not become a lead. This code is all a kiosk learns of a refused badge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// Not a badge: malformed, signed by an unknown key, another algorithm or `alg: none`.
    InvalidBadge,
    /// A genuine badge of another event.
    WrongEvent,
    /// No registration has this badge (cancelled, erased or purged).
    UnknownBadge,
    /// Scanned more than a day before the event or more than a day after it.
    OutsideScanWindow,
    /// The attendee has restricted processing of their data.
    Restricted,
    /// The attendee did not consent to this sponsor (or withdrew).
    NoConsent,
}

impl Refusal {
    pub const ALL: [Self; 6] = [
        Self::InvalidBadge,
        Self::WrongEvent,
        Self::UnknownBadge,
        Self::OutsideScanWindow,
        Self::Restricted,
        Self::NoConsent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidBadge => "invalid_badge",
            Self::WrongEvent => "wrong_event",
            Self::UnknownBadge => "unknown_badge",
            Self::OutsideScanWindow => "outside_scan_window",
            Self::Restricted => "restricted",
            Self::NoConsent => "no_consent",
        }
    }

    /// The refusal a stored outcome records, if it is one.
    pub fn of(outcome: ScanOutcome) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|r| ScanOutcome::from(*r) == outcome)
    }
}

impl From<Refusal> for ScanOutcome {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::InvalidBadge => Self::InvalidBadge,
            Refusal::WrongEvent => Self::WrongEvent,
            Refusal::UnknownBadge => Self::UnknownBadge,
            Refusal::OutsideScanWindow => Self::OutsideScanWindow,
            Refusal::Restricted => Self::Restricted,
            Refusal::NoConsent => Self::NoConsent,
        }
    }
}

impl From<BadgeRejection> for Refusal {
    fn from(r: BadgeRejection) -> Self {
        match r {
            BadgeRejection::Invalid => Self::InvalidBadge,
            BadgeRejection::OtherEvent => Self::WrongEvent,
        }
    }
}

/// Badges scan from a day before the event starts to a day after it ends.
pub const WINDOW_MARGIN: Duration = Duration::days(1);

/// The time a scan counts at: the kiosk's scan time, but never later than the server received it
/// (a kiosk clock running ahead cannot stretch the window; an offline queue synced later keeps its
/// real scan times).
pub fn effective_time(scanned_at: OffsetDateTime, received_at: OffsetDateTime) -> OffsetDateTime {
    scanned_at.min(received_at)
}

pub fn in_window(at: OffsetDateTime, starts_at: OffsetDateTime, ends_at: OffsetDateTime) -> bool {
    starts_at - WINDOW_MARGIN <= at && at <= ends_at + WINDOW_MARGIN
}

impl From<crate::disclosure::Withheld> for Refusal {
    fn from(w: crate::disclosure::Withheld) -> Self {
        use crate::disclosure::Withheld;
        match w {
            Withheld::Restricted => Self::Restricted,
            // A grant given to the sponsor under another name or policy is no consent to this one.
            Withheld::NoConsent | Withheld::SponsorChanged => Self::NoConsent,
        }
    }
}

/// The scan's own checks after the badge's signature and event are verified, in order; the
/// disclosure gate decides the rest (`restricted`, then `no_consent`).
pub fn decide(
    registered: bool,
    at: OffsetDateTime,
    starts_at: OffsetDateTime,
    ends_at: OffsetDateTime,
) -> Result<(), Refusal> {
    if !registered {
        return Err(Refusal::UnknownBadge);
    }
    if !in_window(at, starts_at, ends_at) {
        return Err(Refusal::OutsideScanWindow);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const START: OffsetDateTime = datetime!(2026-12-01 09:00 UTC);
    const END: OffsetDateTime = datetime!(2026-12-02 17:00 UTC);
    #[test]
    fn a_registered_badge_in_the_window_goes_on_to_the_gate() {
        assert_eq!(decide(true, START, START, END), Ok(()));
    }

    #[test]
    fn the_window_is_a_day_either_side_to_the_second() {
        let before = START - Duration::days(1);
        let after = END + Duration::days(1);
        assert!(in_window(before, START, END));
        assert!(!in_window(before - Duration::seconds(1), START, END));
        assert!(in_window(after, START, END));
        assert!(!in_window(after + Duration::seconds(1), START, END));
    }

    #[test]
    fn refusals_come_in_order() {
        let late = END + Duration::days(2);
        assert_eq!(decide(false, late, START, END), Err(Refusal::UnknownBadge));
        assert_eq!(
            decide(true, late, START, END),
            Err(Refusal::OutsideScanWindow)
        );
        use crate::disclosure::Withheld;
        assert_eq!(Refusal::from(Withheld::Restricted), Refusal::Restricted);
        assert_eq!(Refusal::from(Withheld::NoConsent), Refusal::NoConsent);
        assert_eq!(Refusal::from(Withheld::SponsorChanged), Refusal::NoConsent);
    }

    #[test]
    fn a_kiosk_clock_ahead_cannot_move_a_scan_into_the_window() {
        let received = START - Duration::days(3);
        let claimed = START;
        assert_eq!(effective_time(claimed, received), received);
        let queued = START + Duration::hours(1);
        assert_eq!(effective_time(queued, END + Duration::days(5)), queued);
    }

    #[test]
    fn refusal_codes_round_trip() {
        use sea_orm::ActiveEnum;
        for r in Refusal::ALL {
            assert_eq!(Refusal::of(r.into()), Some(r));
            // What the kiosk is told is what the database stores.
            assert_eq!(ScanOutcome::from(r).to_value(), r.as_str());
        }
        assert_eq!(Refusal::of(ScanOutcome::Accepted), None);
        assert_eq!(
            Refusal::from(BadgeRejection::OtherEvent),
            Refusal::WrongEvent
        );
    }
}
