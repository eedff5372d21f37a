//! The `badge_keys` table: each event's Ed25519 badge signing keys.

use crate::schema::ids::EventId;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "badge_keys")]
pub struct Model {
    /// Key id, the JWT `kid`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub kid: String,
    pub event_id: EventId,
    /// Raw 32-byte Ed25519 public key.
    pub public_key: Vec<u8>,
    /// The 32-byte seed, wrapped by the master key.
    pub private_key_wrapped: Vec<u8>,
    pub created_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
