//! The `events` table.

use crate::schema::ids::EventId;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: EventId,
    pub organisation_id: Uuid,
    #[sea_orm(unique)]
    pub slug: String,
    pub name: String,
    pub venue: String,
    /// IANA time zone name, for showing times to people at the venue.
    pub time_zone: String,
    pub starts_at: TimeDateTimeWithTimeZone,
    pub ends_at: TimeDateTimeWithTimeZone,
    pub retention_days: i16,
    pub min_age: i16,
    pub privacy_notice: String,
    /// The notice in Dutch, if the organiser wrote one.
    pub privacy_notice_nl: Option<String>,
    /// Bumped by the server whenever `privacy_notice` (or its Dutch text) changes.
    pub privacy_notice_version: i32,
    /// Comma-separated `events::rules::ContactField` names shared with sponsors.
    pub shared_fields: String,
    /// Comma-separated networks (`address/prefix`) that count as the venue during the event's
    /// on-site hours (`rate_limit::venue`); empty: none.
    pub venue_networks: String,
    pub created_at: TimeDateTimeWithTimeZone,
    pub updated_at: TimeDateTimeWithTimeZone,
    /// Set once the purge has kept its aggregates and destroyed the event's keys.
    pub purge_started_at: Option<TimeDateTimeWithTimeZone>,
    /// Set once no attendee row of the event remains.
    pub purged_at: Option<TimeDateTimeWithTimeZone>,
    /// The purger working on this event, and until when its claim holds.
    pub purge_lease_owner: Option<Uuid>,
    pub purge_lease_until: Option<TimeDateTimeWithTimeZone>,
    /// Anonymous aggregates the purge keeps for the dashboard.
    pub registrations_at_purge: Option<i64>,
    pub marketing_opt_ins_at_purge: Option<i64>,
    /// Set when the organiser deletes the event: from then on it is served nowhere, and the
    /// deletion (keys, rows, the event row itself) runs to its end, resumed if interrupted.
    pub deleted_at: Option<TimeDateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
