//! The disclosure gate's schema.
//!
//! 1. A grant keeps the parts of the sentence the attendee agreed to: the sponsor's name and
//!    privacy-policy URL as shown, and the contact fields named. The gate releases only those
//!    fields, and only while the sponsor's identity is still the one shown. Grants given before
//!    this migration are bound to what the sponsor and event say at the upgrade. Before it, an
//!    organiser could rename a sponsor or widen the shared fields after consents were given; such
//!    a grant (its ledger hash no longer matches today's sentence) is bound to today's all the
//!    same: the migration does not recompute sentences, whose rule lives in the server.
//! 2. `scan_requests` keys each answer by a keyed hash of (kiosk, client scan id) instead of the
//!    client's own value, so a kiosk that picks a badge's id as its scan id cannot make a refused
//!    scan joinable to a registration. The key lives with the event's data key, which the purge
//!    destroys. The old records cannot be re-keyed here (the keys are in the key store), so the
//!    table is recreated empty: a scan queued before the upgrade and sent after it is decided
//!    afresh, which can count an accepted scan once more, never release anything more. An
//!    accepted scan's record now goes with its lead (`ON DELETE CASCADE`): a withdrawn lead's
//!    replay is decided afresh, from today's rows.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement, and runs a migration outside a transaction: each
        // step is guarded so that a migration cut off part-way can simply run again.
        for (name, column) in [
            (
                "sponsor_name",
                string_len_null(ConsentGrants::SponsorName, 200),
            ),
            (
                "privacy_policy_url",
                string_len_null(ConsentGrants::PrivacyPolicyUrl, 2048),
            ),
            (
                "shared_fields",
                string_len_null(ConsentGrants::SharedFields, 200),
            ),
        ] {
            if manager.has_column("consent_grants", name).await? {
                continue;
            }
            manager
                .alter_table(
                    Table::alter()
                        .table(ConsentGrants::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE consent_grants SET \
                   sponsor_name = (SELECT s.name FROM sponsors s WHERE s.id = consent_grants.sponsor_id), \
                   privacy_policy_url = (SELECT s.privacy_policy_url FROM sponsors s WHERE s.id = consent_grants.sponsor_id), \
                   shared_fields = (SELECT e.shared_fields FROM registrations r JOIN events e ON e.id = r.event_id \
                                    WHERE r.id = consent_grants.registration_id) \
                 WHERE sponsor_id IS NOT NULL",
            )
            .await?;

        // Dropped only while it still has the old key column: a second run keeps the new table.
        if manager
            .has_column("scan_requests", "client_scan_id")
            .await?
        {
            manager
                .drop_table(Table::drop().table(ScanRequests::Table).to_owned())
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(ScanRequests::Table)
                    .if_not_exists()
                    .col(uuid(ScanRequests::KioskId))
                    .col(uuid(ScanRequests::ScanKey))
                    .col(uuid(ScanRequests::EventId))
                    .col(string_len(ScanRequests::Outcome, 32))
                    .col(uuid_null(ScanRequests::LeadId))
                    .primary_key(
                        Index::create()
                            .col(ScanRequests::KioskId)
                            .col(ScanRequests::ScanKey),
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
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // New names: on SQLite, re-running the very text of migration 3's `CREATE INDEX` on the
        // same connection failed with "already exists" although the index had gone with its table
        // (the text is the key of sqlx's per-connection statement cache).
        for (name, column) in [
            ("idx_scan_requests_by_event", ScanRequests::EventId),
            ("idx_scan_requests_by_lead", ScanRequests::LeadId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .if_not_exists()
                        .name(name)
                        .table(ScanRequests::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration(
            "the disclosure gate's migration is not reversible: the old scan records keyed by \
             the client's own scan id must not come back"
                .into(),
        ))
    }
}

#[derive(DeriveIden)]
enum ConsentGrants {
    Table,
    SponsorName,
    PrivacyPolicyUrl,
    SharedFields,
}

#[derive(DeriveIden)]
enum ScanRequests {
    Table,
    KioskId,
    ScanKey,
    EventId,
    Outcome,
    LeadId,
}

#[derive(DeriveIden)]
enum Kiosks {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Leads {
    Table,
    Id,
}
