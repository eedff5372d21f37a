//! The `leads` table: an attendee who consented to a sponsor and whose badge that sponsor scanned.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "leads")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub event_id: Uuid,
    pub sponsor_id: Uuid,
    pub registration_id: Uuid,
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
