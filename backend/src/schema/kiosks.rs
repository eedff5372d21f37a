//! The `kiosks` table: one sponsor's booth device at one event.

use crate::schema::ids::{EventId, KioskId, SponsorId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "kiosks")]
pub struct Model {
    /// Also the `jti` of the kiosk's token.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: KioskId,
    pub event_id: EventId,
    pub sponsor_id: SponsorId,
    pub device_name: Option<String>,
    /// Keyed hash of the pending one-time pairing code; `None` once used or revoked.
    pub pairing_code_hash: Option<String>,
    pub pairing_expires_at: Option<TimeDateTimeWithTimeZone>,
    pub paired_at: Option<TimeDateTimeWithTimeZone>,
    pub revoked_at: Option<TimeDateTimeWithTimeZone>,
    pub last_seen_at: Option<TimeDateTimeWithTimeZone>,
    pub accepted_count: i64,
    pub refused_count: i64,
    pub created_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::events::Entity",
        from = "Column::EventId",
        to = "super::events::Column::Id"
    )]
    Event,
}

impl Related<super::events::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Event.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
