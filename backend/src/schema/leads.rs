//! The `leads` table: an attendee who consented to a sponsor and whose badge that sponsor scanned.

use crate::schema::ids::{EventId, LeadId, RegistrationId, SponsorId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "leads")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: LeadId,
    pub event_id: EventId,
    pub sponsor_id: SponsorId,
    pub registration_id: RegistrationId,
    pub first_scanned_at: TimeDateTimeWithTimeZone,
    pub last_scanned_at: TimeDateTimeWithTimeZone,
    pub scan_count: i32,
    pub rating: Option<i16>,
    /// `Annotations` (note, tags) as JSON sealed with the event's data key.
    pub annotations: Option<Vec<u8>>,
    pub updated_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
