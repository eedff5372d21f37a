//! Exports read a sponsor's leads in id order, batch after batch (`sponsor_id = ? AND id > ?
//! ORDER BY id`). Without this index each batch walked all of the sponsor's leads and sorted
//! them: quadratic in the size of the export.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_leads_sponsor_id")
                    .table(Leads::Table)
                    .col(Leads::SponsorId)
                    .col(Leads::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_leads_sponsor_id")
                    .table(Leads::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Leads {
    Table,
    Id,
    SponsorId,
}
