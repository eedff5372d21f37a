//! The one Consentry schema, applied to SQLite and PostgreSQL alike.
//!
//! One file per migration (`DeriveMigrationName` names a migration after its file). Migrations are
//! append-only: a released migration is never edited, a change is a new file.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_foundation;
mod m20261123_000002_registration;
mod m20261123_000003_kiosks_scans_leads;
mod m20261123_000004_exports_audit;
mod m20261123_000005_leads_keyset_index;
mod m20261123_000006_retention;
mod m20261123_000007_scan_requests_lead_index;
mod m20261123_000008_restricted_registrations_index;
mod m20261129_000009_disclosure_gate;
mod m20261129_000010_email_changes;
mod m20261129_000011_erasure_notice_exports;
mod m20261129_000012_event_deletion;
mod m20261130_000013_consent_language;
mod m20261130_000014_dutch_privacy_notice;
mod m20261130_000015_registration_language;
mod m20261130_000016_venue_networks;
mod m20261130_000017_consent_receipts;
mod m20261130_000018_booth_links;

mod k20261123_000001_keystore;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_foundation::Migration),
            Box::new(m20261123_000002_registration::Migration),
            Box::new(m20261123_000003_kiosks_scans_leads::Migration),
            Box::new(m20261123_000004_exports_audit::Migration),
            Box::new(m20261123_000005_leads_keyset_index::Migration),
            Box::new(m20261123_000006_retention::Migration),
            Box::new(m20261123_000007_scan_requests_lead_index::Migration),
            Box::new(m20261123_000008_restricted_registrations_index::Migration),
            Box::new(m20261129_000009_disclosure_gate::Migration),
            Box::new(m20261129_000010_email_changes::Migration),
            Box::new(m20261129_000011_erasure_notice_exports::Migration),
            Box::new(m20261129_000012_event_deletion::Migration),
            Box::new(m20261130_000013_consent_language::Migration),
            Box::new(m20261130_000014_dutch_privacy_notice::Migration),
            Box::new(m20261130_000015_registration_language::Migration),
            Box::new(m20261130_000016_venue_networks::Migration),
            Box::new(m20261130_000017_consent_receipts::Migration),
            Box::new(m20261130_000018_booth_links::Migration),
        ]
    }
}

/// The key store's schema, tracked in its own table so that it can live in the main database or
/// in a database of its own.
pub struct KeystoreMigrator;

#[async_trait::async_trait]
impl MigratorTrait for KeystoreMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(k20261123_000001_keystore::Migration)]
    }

    fn migration_table_name() -> DynIden {
        Alias::new("keystore_migrations").into_iden()
    }
}
