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
        ]
    }
}
