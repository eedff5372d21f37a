//! `scan_requests` (the idempotency record) and `scan_counters` (anonymous statistics).

pub mod request {
    use crate::schema::ids::{EventId, KioskId, LeadId};
    use sea_orm::entity::prelude::*;

    /// The answer given to one (kiosk, client scan id). A refusal's row names no badge and no
    /// person: only the reason. The client's scan id itself is not stored: `scan_key` is its keyed
    /// hash (`EventVault::scan_request_key`), so a kiosk cannot pick it to point at anything. An
    /// accepted scan's row goes when its lead goes.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "scan_requests")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub kiosk_id: KioskId,
        #[sea_orm(primary_key, auto_increment = false)]
        pub scan_key: Uuid,
        pub event_id: EventId,
        /// `accepted` or a refusal code.
        pub outcome: super::ScanOutcome,
        pub lead_id: Option<LeadId>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod counter {
    use crate::schema::ids::{EventId, SponsorId};
    use sea_orm::entity::prelude::*;

    /// Scans per sponsor, UTC day and outcome. No person in it; survives the retention purge.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "scan_counters")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub event_id: EventId,
        #[sea_orm(primary_key, auto_increment = false)]
        pub sponsor_id: SponsorId,
        /// `YYYY-MM-DD` (UTC).
        #[sea_orm(primary_key, auto_increment = false)]
        pub day: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub outcome: super::ScanOutcome,
        pub count: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use sea_orm::{DeriveActiveEnum, EnumIter};

/// How a scan ended, as `scan_requests` and `scan_counters` store it: accepted, or the refusal
/// code the kiosk was given (`scans::rules::Refusal`, one for one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum ScanOutcome {
    #[sea_orm(string_value = "accepted")]
    Accepted,
    #[sea_orm(string_value = "invalid_badge")]
    InvalidBadge,
    #[sea_orm(string_value = "wrong_event")]
    WrongEvent,
    #[sea_orm(string_value = "unknown_badge")]
    UnknownBadge,
    #[sea_orm(string_value = "outside_scan_window")]
    OutsideScanWindow,
    #[sea_orm(string_value = "restricted")]
    Restricted,
    #[sea_orm(string_value = "no_consent")]
    NoConsent,
}
