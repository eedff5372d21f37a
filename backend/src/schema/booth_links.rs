//! The `booth_links` table.

use crate::schema::ids::{RegistrationId, SponsorId};
use sea_orm::entity::prelude::*;

/// A one-time link mailed to a registrant who asked at a sponsor's booth: following it lets them
/// grant that sponsor's consent without their manage link.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "booth_links")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// SHA-256 of the 256-bit one-time token mailed to the registered address.
    #[sea_orm(unique)]
    pub token_hash: String,
    pub registration_id: RegistrationId,
    /// The one sponsor the link grants to.
    pub sponsor_id: SponsorId,
    pub created_at: TimeDateTimeWithTimeZone,
    pub expires_at: TimeDateTimeWithTimeZone,
    /// Set when the link was used; a used link opens nothing.
    pub used_at: Option<TimeDateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
