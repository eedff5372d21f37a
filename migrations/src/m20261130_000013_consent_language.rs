//! The consent ledger records the language of the sentence an attendee was shown, beside its
//! SHA-256: the proof names the exact text read, in the language it was read. Entries made before
//! sentences existed in more than one language were English.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ConsentLedger::Table)
                    .add_column(string_len(ConsentLedger::Language, 8).default("en"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ConsentLedger::Table)
                    .drop_column(ConsentLedger::Language)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum ConsentLedger {
    Table,
    Language,
}
