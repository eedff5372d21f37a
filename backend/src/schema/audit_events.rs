//! The `audit_events` table.

use crate::schema::ids::EventId;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organisation_id: Uuid,
    pub event_id: Option<EventId>,
    pub actor_kind: ActorKind,
    pub actor_id: Option<Uuid>,
    pub action: Action,
    pub subject_id: Option<Uuid>,
    pub count: Option<i64>,
    pub at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Who did something, as the audit log and the export log store it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    EnumIter,
    DeriveActiveEnum,
    serde::Serialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    #[sea_orm(string_value = "organiser")]
    Organiser,
    #[sea_orm(string_value = "kiosk")]
    Kiosk,
    #[sea_orm(string_value = "attendee")]
    Attendee,
    #[sea_orm(string_value = "system")]
    System,
}

/// What was done. The stored names are stable: filters and auditors rely on them.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    EnumIter,
    DeriveActiveEnum,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum Action {
    #[sea_orm(string_value = "organiser_login")]
    OrganiserLogin,
    #[sea_orm(string_value = "kiosk_paired")]
    KioskPaired,
    #[sea_orm(string_value = "kiosk_revoked")]
    KioskRevoked,
    #[sea_orm(string_value = "leads_viewed")]
    LeadsViewed,
    #[sea_orm(string_value = "leads_exported")]
    LeadsExported,
    #[sea_orm(string_value = "consent_granted")]
    ConsentGranted,
    #[sea_orm(string_value = "consent_withdrawn")]
    ConsentWithdrawn,
    #[sea_orm(string_value = "registration_erased")]
    RegistrationErased,
    #[sea_orm(string_value = "event_purged")]
    EventPurged,
    /// An event change that keeps attendee data longer; the count is the registrants told.
    #[sea_orm(string_value = "retention_extended")]
    RetentionExtended,
    #[sea_orm(string_value = "event_deleted")]
    EventDeleted,
    /// An event's venue networks were set or changed; the count is how many it has now.
    #[sea_orm(string_value = "venue_networks_changed")]
    VenueNetworksChanged,
}
