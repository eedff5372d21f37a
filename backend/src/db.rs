//! Opening the database (SQLite file by default, PostgreSQL by URL) and applying the schema.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

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
    if is_sqlite && let Some(path) = sqlite_file(url) {
        make_private(&path, url.contains("mode=rwc"))?;
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

/// The file a SQLite URL names (`sqlite://PATH?…` or `sqlite:PATH`); none for `:memory:`.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.starts_with(':')).then(|| PathBuf::from(path))
}

/// Make a SQLite database owner-only (0600) whatever the umask: it holds sealed personal data,
/// and the key store holds wrapped keys. A new database file is created here with that mode before
/// SQLite opens it (when the URL allows creating it), and SQLite gives its `-wal`, `-shm` and
/// `-journal` files the database file's mode; files left by an earlier version are narrowed.
fn make_private(path: &Path, create: bool) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if create {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
            {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("cannot create the database file {}", path.display())
                    });
                }
            }
        }
        let mut files = vec![path.to_path_buf()];
        for suffix in ["-wal", "-shm", "-journal"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            files.push(PathBuf::from(name));
        }
        for file in files {
            let Ok(meta) = std::fs::metadata(&file) else {
                continue;
            };
            if meta.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                    .with_context(|| format!("cannot make {} owner-only", file.display()))?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (path, create);
    Ok(())
}

/// Create a directory for data (the data directory, a backup) owner-only (0700), with any missing
/// parents. An existing directory is left as the operator made it.
pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))
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
    let waits = &*WRITE_WAITS;
    waits.waiting.inc();
    // Counted down also when the request is cancelled while it waits.
    let _waiting = scopeguard(|| {
        waits.waiting.dec();
    });
    let started = std::time::Instant::now();
    let txn = db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await;
    waits.duration.observe(started.elapsed().as_secs_f64());
    txn
}

/// How long requests wait to begin a write transaction: for the whole process, because the wait
/// is for resources the process shares (the pool and, on SQLite, the database's write lock).
#[derive(Clone)]
pub struct WriteWaits {
    /// Requests waiting now.
    pub waiting: prometheus_client::metrics::gauge::Gauge,
    /// Time from asking to having begun, waiting included.
    pub duration: prometheus_client::metrics::histogram::Histogram,
}

static WRITE_WAITS: std::sync::LazyLock<WriteWaits> = std::sync::LazyLock::new(|| WriteWaits {
    waiting: prometheus_client::metrics::gauge::Gauge::default(),
    // 0.1 ms … about 3 s.
    duration: prometheus_client::metrics::histogram::Histogram::new(
        prometheus_client::metrics::histogram::exponential_buckets(0.0001, 2.0, 16),
    ),
});

/// The process's write waits (handles to the same counters).
pub fn write_waits() -> WriteWaits {
    WRITE_WAITS.clone()
}

/// Runs `f` when dropped.
fn scopeguard(f: impl FnOnce()) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    Guard(Some(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_of_a_sqlite_url() {
        assert_eq!(
            sqlite_file("sqlite:///data/consentry.db?mode=rwc"),
            Some(PathBuf::from("/data/consentry.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:keys.db"),
            Some(PathBuf::from("keys.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://localhost/db"), None);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn database_files_are_owner_only_whatever_was_there() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // A database an earlier version created world-readable is narrowed.
        let old = dir.path().join("old.db");
        std::fs::write(&old, b"").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        let fresh = dir.path().join("fresh.db");
        for path in [&old, &fresh] {
            let db = connect(&format!("sqlite://{}?mode=rwc", path.display()), Some(1))
                .await
                .unwrap();
            db.execute_unprepared("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);")
                .await
                .unwrap();
            for suffix in ["", "-wal", "-shm"] {
                let file = format!("{}{suffix}", path.display());
                let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{file}");
            }
            db.close().await.unwrap();
        }
    }
}
