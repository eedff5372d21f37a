//! The `email_changes` table.

use crate::schema::ids::RegistrationId;
use sea_orm::entity::prelude::*;

/// An address change waiting for the new address to confirm it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_changes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// At most one pending change per registration.
    #[sea_orm(unique)]
    pub registration_id: RegistrationId,
    /// SHA-256 of the 256-bit one-time token mailed to the new address.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// The new, normalised address, sealed with the event's data key (bound to `id`).
    pub new_email: Vec<u8>,
    pub created_at: TimeDateTimeWithTimeZone,
    pub expires_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
