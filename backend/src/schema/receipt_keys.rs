//! `receipt_keys`: each organisation's Ed25519 keys for signing consent receipts. The private half
//! is wrapped by the master key; the public half is published. Not event keys: they outlive every
//! purge, so a receipt an attendee kept stays verifiable.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "receipt_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub kid: String,
    pub organisation_id: Uuid,
    pub public_key: Vec<u8>,
    pub wrapped_private_key: Vec<u8>,
    pub created_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
