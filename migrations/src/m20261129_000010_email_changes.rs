//! Pending e-mail changes: a change of address asked for from the manage link waits here until the
//! new address confirms it. At most one per registration; the token is stored as its SHA-256 and
//! the new address sealed with the event's data key, bound to the row id. Erasure and the purge
//! delete the row with its registration (and the foreign key cascades as a second line).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EmailChanges::Table)
                    .col(pk_uuid(EmailChanges::Id))
                    .col(uuid_uniq(EmailChanges::RegistrationId))
                    .col(string_len_uniq(EmailChanges::TokenHash, 64))
                    .col(blob(EmailChanges::NewEmail))
                    .col(timestamp_with_time_zone(EmailChanges::CreatedAt))
                    .col(timestamp_with_time_zone(EmailChanges::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_email_changes_registration")
                            .from(EmailChanges::Table, EmailChanges::RegistrationId)
                            .to(Registrations::Table, Registrations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EmailChanges::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Registrations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum EmailChanges {
    Table,
    Id,
    RegistrationId,
    TokenHash,
    NewEmail,
    CreatedAt,
    ExpiresAt,
}
