//! Signed consent receipts. Each organisation gets an Ed25519 key to sign them with (the private
//! half wrapped by the master key; the public half published at
//! `/.well-known/consent-receipt-keys.json`). Keys are not event keys: they outlive every purge,
//! so that a receipt an attendee kept stays verifiable. The receipt itself (a compact JWS) is kept
//! on its ledger entry and deleted with it. `occasion` says where a grant or withdrawal was made
//! (`registration`, `manage`, `booth`); entries made before it was recorded have none.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ReceiptKeys::Table)
                    .col(string_len(ReceiptKeys::Kid, 64).primary_key())
                    .col(uuid(ReceiptKeys::OrganisationId))
                    .col(blob(ReceiptKeys::PublicKey))
                    .col(blob(ReceiptKeys::WrappedPrivateKey))
                    .col(timestamp_with_time_zone(ReceiptKeys::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_receipt_keys_organisation")
                            .from(ReceiptKeys::Table, ReceiptKeys::OrganisationId)
                            .to(Organisations::Table, Organisations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_receipt_keys_organisation")
                    .table(ReceiptKeys::Table)
                    .col(ReceiptKeys::OrganisationId)
                    .to_owned(),
            )
            .await?;
        // SQLite alters one column at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(ConsentLedger::Table)
                    .add_column(text_null(ConsentLedger::Receipt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ConsentLedger::Table)
                    .add_column(string_len_null(ConsentLedger::Occasion, 16))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [ConsentLedger::Occasion, ConsentLedger::Receipt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ConsentLedger::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(ReceiptKeys::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Organisations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ReceiptKeys {
    Table,
    Kid,
    OrganisationId,
    PublicKey,
    WrappedPrivateKey,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ConsentLedger {
    Table,
    Receipt,
    Occasion,
}
