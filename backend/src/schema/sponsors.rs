//! The `sponsors` table: the companies at an event that attendees may share contact details with.

use crate::schema::ids::{EventId, SponsorId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sponsors")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: SponsorId,
    pub event_id: EventId,
    pub name: String,
    pub description: String,
    pub privacy_policy_url: String,
    /// The random, public part of the sponsor's booth link (`/s/{booth_code}`); it names the
    /// sponsor and nothing else.
    #[sea_orm(unique)]
    pub booth_code: String,
    pub created_at: TimeDateTimeWithTimeZone,
    pub updated_at: TimeDateTimeWithTimeZone,
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
