//! One erasure notice per sponsor and erased attendee, however many exports of theirs held the
//! attendee: `exports` lists each (export id, time, format, the lead id its row carried) as JSON
//! text, oldest first; the notice's own `export_id`, `exported_at` and `lead_id` are the latest of
//! them. Notices written before this migration have no list: each stands for its one export.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ErasureNotices::Table)
                    .add_column(text_null(ErasureNotices::Exports))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ErasureNotices::Table)
                    .drop_column(ErasureNotices::Exports)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum ErasureNotices {
    Table,
    Exports,
}
