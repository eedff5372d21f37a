//! Retention and rights: the purge's progress and lease on each event, the anonymous aggregates
//! that outlive a purge, the lead each export recipient row refers to, and the erasure notices an
//! organiser passes on to sponsors that received exports.
//!
//! SQLite alters one column per statement, hence one `alter_table` per column.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            // Set when the purge has taken its aggregates and destroyed the keys.
            timestamp_with_time_zone_null(Events::PurgeStartedAt),
            // Set when every attendee row of the event is gone.
            timestamp_with_time_zone_null(Events::PurgedAt),
            // Which purger works on the event, and until when its claim holds.
            uuid_null(Events::PurgeLeaseOwner),
            timestamp_with_time_zone_null(Events::PurgeLeaseUntil),
            // Anonymous aggregates kept by the purge.
            big_integer_null(Events::RegistrationsAtPurge),
            big_integer_null(Events::MarketingOptInsAtPurge),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Events::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("idx_events_purge")
                    .table(Events::Table)
                    .col(Events::PurgedAt)
                    .col(Events::EndsAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SponsorAggregates::Table)
                    .col(uuid(SponsorAggregates::EventId))
                    .col(uuid(SponsorAggregates::SponsorId))
                    .col(big_integer(SponsorAggregates::OptIns))
                    .col(big_integer(SponsorAggregates::Leads))
                    .primary_key(
                        Index::create()
                            .col(SponsorAggregates::EventId)
                            .col(SponsorAggregates::SponsorId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sponsor_aggregates_event")
                            .from(SponsorAggregates::Table, SponsorAggregates::EventId)
                            .to(Events::Table, Events::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sponsor_aggregates_sponsor")
                            .from(SponsorAggregates::Table, SponsorAggregates::SponsorId)
                            .to(Sponsors::Table, Sponsors::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        // The lead id is what an exported row carries: the reference a sponsor finds in its copy
        // when an erasure notice reaches it.
        manager
            .alter_table(
                Table::alter()
                    .table(ExportRecipients::Table)
                    .add_column(uuid_null(ExportRecipients::LeadId))
                    .to_owned(),
            )
            .await?;

        // No personal data: which sponsor holds an export (of which date) that included an erased
        // attendee, and the lead id by which the sponsor finds the row. No foreign key to exports
        // or sponsors: the notice outlives both, since the sponsor's copy does.
        manager
            .create_table(
                Table::create()
                    .table(ErasureNotices::Table)
                    .col(pk_uuid(ErasureNotices::Id))
                    .col(uuid(ErasureNotices::EventId))
                    .col(uuid(ErasureNotices::SponsorId))
                    .col(string_len(ErasureNotices::SponsorName, 200))
                    .col(uuid(ErasureNotices::ExportId))
                    .col(timestamp_with_time_zone(ErasureNotices::ExportedAt))
                    .col(uuid_null(ErasureNotices::LeadId))
                    .col(timestamp_with_time_zone(ErasureNotices::ErasedAt))
                    .col(timestamp_with_time_zone_null(ErasureNotices::PassedOnAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_erasure_notices_event")
                            .from(ErasureNotices::Table, ErasureNotices::EventId)
                            .to(Events::Table, Events::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_erasure_notices_event")
                    .table(ErasureNotices::Table)
                    .col(ErasureNotices::EventId)
                    .col(ErasureNotices::ErasedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ErasureNotices::Table.into_iden(),
            SponsorAggregates::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(ExportRecipients::Table)
                    .drop_column(ExportRecipients::LeadId)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_events_purge")
                    .table(Events::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            Events::PurgeStartedAt,
            Events::PurgedAt,
            Events::PurgeLeaseOwner,
            Events::PurgeLeaseUntil,
            Events::RegistrationsAtPurge,
            Events::MarketingOptInsAtPurge,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Events::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    EndsAt,
    PurgeStartedAt,
    PurgedAt,
    PurgeLeaseOwner,
    PurgeLeaseUntil,
    RegistrationsAtPurge,
    MarketingOptInsAtPurge,
}

#[derive(DeriveIden)]
enum Sponsors {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum SponsorAggregates {
    Table,
    EventId,
    SponsorId,
    OptIns,
    Leads,
}

#[derive(DeriveIden)]
enum ExportRecipients {
    Table,
    LeadId,
}

#[derive(DeriveIden)]
enum ErasureNotices {
    Table,
    Id,
    EventId,
    SponsorId,
    SponsorName,
    ExportId,
    ExportedAt,
    LeadId,
    ErasedAt,
    PassedOnAt,
}
