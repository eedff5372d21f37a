//! `scan_requests.lead_id` references `leads` with `ON DELETE SET NULL`: without an index, every
//! deleted lead (a withdrawal, an erasure, each lead of a purge) scans the whole scan table, and
//! a purge of 100,000 attendees held SQLite's write lock for seconds per batch. Found by the purge
//! benchmark.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_scan_requests_lead")
                    .table(ScanRequests::Table)
                    .col(ScanRequests::LeadId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_scan_requests_lead")
                    .table(ScanRequests::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum ScanRequests {
    Table,
    LeadId,
}
