//! The `erasure_notices` table.

use crate::schema::ids::{EventId, LeadId, SponsorId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "erasure_notices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub event_id: EventId,
    pub sponsor_id: SponsorId,
    /// Kept by name: the notice outlives the sponsor's record.
    pub sponsor_name: String,
    pub export_id: Uuid,
    pub exported_at: TimeDateTimeWithTimeZone,
    pub lead_id: Option<LeadId>,
    pub erased_at: TimeDateTimeWithTimeZone,
    pub passed_on_at: Option<TimeDateTimeWithTimeZone>,
    /// Every export of this sponsor that held the attendee, oldest first, as a JSON list of
    /// `rights::notices::NoticeExport`; `export_id`, `exported_at` and `lead_id` are its latest.
    /// Absent on notices written before the list existed: those stand for their one export.
    #[sea_orm(column_type = "Text", nullable)]
    pub exports: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
