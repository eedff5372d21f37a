//! Opening the database (SQLite file by default, PostgreSQL by URL) and applying the schema.

use std::{path::Path, time::Duration};

use anyhow::Context;
use consentry_migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

/// The embedded default: a SQLite file in the data directory, created on first use.
pub fn default_sqlite_url(data_dir: &Path) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("consentry.db").display()
    )
}

/// How long a PostgreSQL session may sit idle inside a transaction before the server ends it.
pub const IDLE_IN_TRANSACTION_TIMEOUT: &str = "60s";

/// Connect to `url`. SQLite connections get WAL, a busy timeout, foreign keys and secure delete
/// (freed pages are zeroed, so deleted personal data does not linger in the file).
pub async fn connect(
    url: &str,
    max_connections: Option<u32>,
) -> anyhow::Result<DatabaseConnection> {
    let is_sqlite = url.starts_with("sqlite:");
    if !is_sqlite && !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
        anyhow::bail!("unsupported database URL: use sqlite://PATH?mode=rwc or postgres://…");
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(max_connections.unwrap_or(if is_sqlite { 4 } else { 16 }))
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    if is_sqlite {
        options.map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .pragma("secure_delete", "ON")
        });
    } else {
        // A transaction left open by a request that was cancelled mid-way (the client went away)
        // stays "idle in transaction", holding its locks, until its connection is next used.
        // No request of ours is idle inside a transaction for more than a moment, so PostgreSQL
        // may end such a session after a minute.
        options.map_sqlx_postgres_opts(|o| {
            o.options([(
                "idle_in_transaction_session_timeout",
                IDLE_IN_TRANSACTION_TIMEOUT,
            )])
        });
    }
    let db = Database::connect(options)
        .await
        .context("cannot connect to the database")?;
    Ok(db)
}

/// Apply every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None)
        .await
        .context("cannot apply database migrations")
}

/// Whether the database answers a trivial query (for `/readyz`).
pub async fn ping(db: &DatabaseConnection) -> bool {
    db.execute_unprepared("SELECT 1").await.is_ok()
}

pub fn backend_name(db: &DatabaseConnection) -> &'static str {
    match db.get_database_backend() {
        DbBackend::Sqlite => "sqlite",
        DbBackend::Postgres => "postgres",
        _ => "other",
    }
}

/// Begin a transaction that will write. On SQLite it takes the write lock at once (`BEGIN
/// IMMEDIATE`): a deferred transaction that reads first cannot upgrade its lock while another
/// writer is active and fails with "database is locked" at once, whereas an immediate one waits
/// its turn within the busy timeout. PostgreSQL ignores the mode.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}
