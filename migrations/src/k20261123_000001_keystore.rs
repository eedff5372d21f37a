//! The key store: each event's wrapped data key and its badge signing keys.
//!
//! It may be a database of its own (the default next to a SQLite file: `keys.db`), so that a
//! backup of the main database holds no key: once the purge deletes an event's rows here, the
//! event's ciphertexts in every earlier backup of the main database are unreadable. When it is the
//! main database itself, the tables already exist (with foreign keys) and this creates nothing.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EventKeys::Table)
                    .if_not_exists()
                    .col(uuid(EventKeys::EventId).primary_key())
                    .col(blob(EventKeys::DataKeyWrapped))
                    .col(timestamp_with_time_zone(EventKeys::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BadgeKeys::Table)
                    .if_not_exists()
                    .col(string_len(BadgeKeys::Kid, 64).primary_key())
                    .col(uuid(BadgeKeys::EventId))
                    .col(blob(BadgeKeys::PublicKey))
                    .col(blob(BadgeKeys::PrivateKeyWrapped))
                    .col(timestamp_with_time_zone(BadgeKeys::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_badge_keys_event")
                    .table(BadgeKeys::Table)
                    .col(BadgeKeys::EventId)
                    .col(BadgeKeys::CreatedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // Dropping the key store would make every event's data unreadable; never automatic.
        Ok(())
    }
}

#[derive(DeriveIden)]
enum EventKeys {
    Table,
    EventId,
    DataKeyWrapped,
    CreatedAt,
}

#[derive(DeriveIden)]
enum BadgeKeys {
    Table,
    Kid,
    EventId,
    PublicKey,
    PrivateKeyWrapped,
    CreatedAt,
}
