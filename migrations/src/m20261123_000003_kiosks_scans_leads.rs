//! Kiosks, scans and leads: paired sponsor kiosks, the idempotency record of each scan request
//! (never naming the person on a refusal), anonymous scan counters, and consented leads. Also the
//! attendee's restriction of processing, which scans respect.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Registrations::Table)
                    .add_column(timestamp_with_time_zone_null(Registrations::RestrictedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Kiosks::Table)
                    .col(pk_uuid(Kiosks::Id))
                    .col(uuid(Kiosks::EventId))
                    .col(uuid(Kiosks::SponsorId))
                    .col(string_len_null(Kiosks::DeviceName, 100))
                    // Keyed hash of the one-time pairing code; cleared when used.
                    .col(string_len_null(Kiosks::PairingCodeHash, 64).unique_key())
                    .col(timestamp_with_time_zone_null(Kiosks::PairingExpiresAt))
                    .col(timestamp_with_time_zone_null(Kiosks::PairedAt))
                    .col(timestamp_with_time_zone_null(Kiosks::RevokedAt))
                    .col(timestamp_with_time_zone_null(Kiosks::LastSeenAt))
                    .col(big_integer(Kiosks::AcceptedCount).default(0))
                    .col(big_integer(Kiosks::RefusedCount).default(0))
                    .col(timestamp_with_time_zone(Kiosks::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_kiosks_event")
                            .from(Kiosks::Table, Kiosks::EventId)
                            .to(Events::Table, Events::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_kiosks_sponsor")
                            .from(Kiosks::Table, Kiosks::SponsorId)
                            .to(Sponsors::Table, Sponsors::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_kiosks_event")
                    .table(Kiosks::Table)
                    .col(Kiosks::EventId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Leads::Table)
                    .col(pk_uuid(Leads::Id))
                    .col(uuid(Leads::EventId))
                    .col(uuid(Leads::SponsorId))
                    .col(uuid(Leads::RegistrationId))
                    .col(timestamp_with_time_zone(Leads::FirstScannedAt))
                    .col(timestamp_with_time_zone(Leads::LastScannedAt))
                    .col(integer(Leads::ScanCount))
                    .col(small_integer_null(Leads::Rating))
                    // The sponsor's note and tags, sealed with the event's data key.
                    .col(blob_null(Leads::Annotations))
                    .col(timestamp_with_time_zone(Leads::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_leads_event")
                            .from(Leads::Table, Leads::EventId)
                            .to(Events::Table, Events::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_leads_sponsor")
                            .from(Leads::Table, Leads::SponsorId)
                            .to(Sponsors::Table, Sponsors::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_leads_registration")
                            .from(Leads::Table, Leads::RegistrationId)
                            .to(Registrations::Table, Registrations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_leads_sponsor_registration")
                    .table(Leads::Table)
                    .col(Leads::SponsorId)
                    .col(Leads::RegistrationId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_leads_sponsor_last_scan")
                    .table(Leads::Table)
                    .col(Leads::SponsorId)
                    .col(Leads::LastScannedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_leads_registration")
                    .table(Leads::Table)
                    .col(Leads::RegistrationId)
                    .to_owned(),
            )
            .await?;

        // The answer given to each (kiosk, client scan id), so a retried request gets the same
        // answer and stores nothing new. A refusal's row holds only its reason: no badge, no
        // registration, no time.
        manager
            .create_table(
                Table::create()
                    .table(ScanRequests::Table)
                    .col(uuid(ScanRequests::KioskId))
                    .col(uuid(ScanRequests::ClientScanId))
                    .col(uuid(ScanRequests::EventId))
                    .col(string_len(ScanRequests::Outcome, 32))
                    .col(uuid_null(ScanRequests::LeadId))
                    .primary_key(
                        Index::create()
                            .col(ScanRequests::KioskId)
                            .col(ScanRequests::ClientScanId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_scan_requests_kiosk")
                            .from(ScanRequests::Table, ScanRequests::KioskId)
                            .to(Kiosks::Table, Kiosks::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_scan_requests_lead")
                            .from(ScanRequests::Table, ScanRequests::LeadId)
                            .to(Leads::Table, Leads::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_scan_requests_event")
                    .table(ScanRequests::Table)
                    .col(ScanRequests::EventId)
                    .to_owned(),
            )
            .await?;

        // Anonymous statistics: how many scans per sponsor, day and outcome. They survive purges.
        manager
            .create_table(
                Table::create()
                    .table(ScanCounters::Table)
                    .col(uuid(ScanCounters::EventId))
                    .col(uuid(ScanCounters::SponsorId))
                    .col(string_len(ScanCounters::Day, 10))
                    .col(string_len(ScanCounters::Outcome, 32))
                    .col(big_integer(ScanCounters::Count))
                    .primary_key(
                        Index::create()
                            .col(ScanCounters::EventId)
                            .col(ScanCounters::SponsorId)
                            .col(ScanCounters::Day)
                            .col(ScanCounters::Outcome),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_scan_counters_event")
                            .from(ScanCounters::Table, ScanCounters::EventId)
                            .to(Events::Table, Events::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ScanCounters::Table.into_iden(),
            ScanRequests::Table.into_iden(),
            Leads::Table.into_iden(),
            Kiosks::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Registrations::Table)
                    .drop_column(Registrations::RestrictedAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Sponsors {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Registrations {
    Table,
    Id,
    RestrictedAt,
}

#[derive(DeriveIden)]
enum Kiosks {
    Table,
    Id,
    EventId,
    SponsorId,
    DeviceName,
    PairingCodeHash,
    PairingExpiresAt,
    PairedAt,
    RevokedAt,
    LastSeenAt,
    AcceptedCount,
    RefusedCount,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Leads {
    Table,
    Id,
    EventId,
    SponsorId,
    RegistrationId,
    FirstScannedAt,
    LastScannedAt,
    ScanCount,
    Rating,
    Annotations,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ScanRequests {
    Table,
    KioskId,
    ClientScanId,
    EventId,
    Outcome,
    LeadId,
}

#[derive(DeriveIden)]
enum ScanCounters {
    Table,
    EventId,
    SponsorId,
    Day,
    Outcome,
    Count,
}
