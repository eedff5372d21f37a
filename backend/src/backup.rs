//! `consentry backup` and `consentry restore`: a consistent copy of the main database, taken while
//! the server runs, that holds attendee data only as ciphertext and never a key.
//!
//! Crypto-shredding decides what a backup may hold. The purge destroys an event's keys in the key
//! store, and from then on every copy of the event's ciphertexts is unreadable, provided no copy of
//! those keys survives. A backup that took the key store and the master key along with the data
//! would keep purged attendees readable for as long as it is kept. So a backup holds the main
//! database only (with PostgreSQL, the key tables' rows are left out even when the key store lives
//! in the main database). The key store and the master key are copied only when asked
//! (`--include-keys`), into `keys/` apart, with a warning that this copy must be destroyed sooner
//! than the retention period.
//!
//! A backup directory holds the data file (`consentry.db`, or `consentry.dump` from `pg_dump`),
//! optionally `keys/`, and `manifest.json`, written last: what the backup is (format version,
//! database, schema migration level, time, whether keys are included) and each file's SHA-256, so
//! that `restore` can refuse what it cannot restore faithfully before changing anything.

use std::{
    collections::BTreeMap,
    io::Read,
    path::{Path, PathBuf},
};

use anyhow::{Context, bail};
use consentry_migration::{KeystoreMigrator, Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, Statement};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

mod postgres;
mod sqlite;

use crate::{config::StoreArgs, crypto, db, keystore, schema::badge_keys, vault};
use postgres::{PgCommand, PgTarget};

/// What every manifest says it is.
pub const FORMAT: &str = "consentry-backup";
/// The manifest's layout; a restore refuses a newer one.
pub const FORMAT_VERSION: u32 = 1;
pub const MANIFEST_FILE: &str = "manifest.json";
pub const KEYS_DIR: &str = "keys";
pub const MASTER_KEY_FILE: &str = "keys/master.key";
pub const WARNING_FILE: &str = "keys/WARNING.txt";

/// Where the main database keeps its migration level, and the key store its own.
const MIGRATIONS_TABLE: &str = "seaql_migrations";
const KEYSTORE_MIGRATIONS_TABLE: &str = "keystore_migrations";
/// The key store's tables. They also exist, empty, in the main database.
const KEY_TABLES: [&str; 2] = ["event_keys", "badge_keys"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            bail!("unsupported database URL: use sqlite://PATH?mode=rwc or postgres://…")
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }

    /// The main database's file inside a backup.
    pub fn data_file(self) -> &'static str {
        match self {
            Self::Sqlite => "consentry.db",
            Self::Postgres => "consentry.dump",
        }
    }

    /// The key store's file inside a backup made with `--include-keys`.
    pub fn keystore_file(self) -> &'static str {
        match self {
            Self::Sqlite => "keys/keys.db",
            Self::Postgres => "keys/keys.dump",
        }
    }
}

/// The files a backup holds, apart from its manifest and the keys' warning.
pub fn expected_files(backend: Backend, keys_included: bool) -> Vec<&'static str> {
    let mut files = vec![backend.data_file()];
    if keys_included {
        files.extend([backend.keystore_file(), MASTER_KEY_FILE]);
    }
    files
}

/// `manifest.json`: what a backup is, so that a restore can check what it is given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    /// The version of the `consentry` that made it.
    pub consentry_version: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub backend: Backend,
    /// The main database's last applied migration.
    pub schema: String,
    pub keys_included: bool,
    /// The key store's last applied migration, when the keys are included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keystore_schema: Option<String>,
    /// SHA-256 (hex) of each file, by its path inside the backup.
    pub files: BTreeMap<String, String>,
}

/// Why a backup cannot be made or restored as asked. Each says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("it already holds a backup; a backup is never overwritten: give a new directory")]
    BackupDirHoldsBackup,
    #[error("it is not empty; give a new or empty directory")]
    BackupDirNotEmpty,
    #[error("it is not a Consentry backup (no {FORMAT} manifest)")]
    NotABackup,
    #[error(
        "it was made by a newer Consentry (backup format {0}); restore it with that version or a later one"
    )]
    NewerFormat(u32),
    #[error(
        "it is a {backup} backup and the configured database is {target}; restore it into a {backup} database"
    )]
    WrongBackend {
        backup: &'static str,
        target: &'static str,
    },
    #[error(
        "its schema ({0}) is newer than this Consentry knows; restore it with the version that made it or a later one"
    )]
    UnknownSchema(String),
    #[error(
        "its manifest does not list the files such a backup holds; it is incomplete or altered"
    )]
    FilesMismatch,
    #[error(
        "the database already holds data; restoring would replace it: give --force to replace it, \
         or restore into an empty database or a fresh data directory"
    )]
    DatabaseHoldsData,
    #[error(
        "the key store already holds keys; restoring the backup's key store would replace them: \
         give --force to replace them"
    )]
    KeystoreHoldsKeys,
    #[error(
        "a different master key is already in place; give --force to replace it with the backup's \
         (whatever it opens now will no longer open)"
    )]
    MasterKeyDiffers,
    #[error(
        "the key store lives in this database and holds keys, and this backup holds none: \
         replacing the database would destroy every event's keys; restore into a fresh database, \
         or give the key store a database of its own (--keystore-url) first"
    )]
    WouldDestroyKeys,
}

/// Whether a directory whose entries are `entries` may receive a new backup: only when empty (or
/// missing), so that a backup is never overwritten and never mixed with other files.
pub fn check_backup_dir(entries: &[String]) -> Result<(), Refusal> {
    if entries.iter().any(|name| name == MANIFEST_FILE) {
        Err(Refusal::BackupDirHoldsBackup)
    } else if !entries.is_empty() {
        Err(Refusal::BackupDirNotEmpty)
    } else {
        Ok(())
    }
}

impl Manifest {
    /// Whether this Consentry can restore the backup into a `target` database: a format and
    /// schema it knows (migrations only go forward, so a newer schema cannot be served by it), the
    /// same kind of database, and the files such a backup holds.
    pub fn check(
        &self,
        target: Backend,
        known_schemas: &[String],
        known_keystore_schemas: &[String],
    ) -> Result<(), Refusal> {
        if self.format != FORMAT {
            return Err(Refusal::NotABackup);
        }
        if self.format_version > FORMAT_VERSION {
            return Err(Refusal::NewerFormat(self.format_version));
        }
        if self.backend != target {
            return Err(Refusal::WrongBackend {
                backup: self.backend.name(),
                target: target.name(),
            });
        }
        if !known_schemas.contains(&self.schema) {
            return Err(Refusal::UnknownSchema(self.schema.clone()));
        }
        match (&self.keystore_schema, self.keys_included) {
            (Some(schema), true) if !known_keystore_schemas.contains(schema) => {
                return Err(Refusal::UnknownSchema(schema.clone()));
            }
            (Some(_), true) | (None, false) => {}
            _ => return Err(Refusal::FilesMismatch),
        }
        let listed: Vec<&str> = self.files.keys().map(String::as_str).collect();
        let mut expected = expected_files(self.backend, self.keys_included);
        expected.sort_unstable();
        if listed != expected {
            return Err(Refusal::FilesMismatch);
        }
        Ok(())
    }
}

/// The master key in place compared with a backup's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MasterKeyState {
    Missing,
    /// The same key as the backup's.
    SameAsBackup,
    /// Another key, or (for a backup without keys) any key.
    Other,
}

/// What a restore finds in place.
#[derive(Debug, Clone, Copy)]
pub struct RestoreFacts {
    pub backup_has_keys: bool,
    pub database_holds_data: bool,
    /// The key store is the main database (PostgreSQL without `--keystore-url`).
    pub keystore_in_database: bool,
    /// A key store is in place (it may hold no key, say once every event was purged).
    pub keystore_exists: bool,
    pub keystore_holds_keys: bool,
    pub master_key: MasterKeyState,
    pub force: bool,
}

/// Where the keys stand once the data is restored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeysAfterwards {
    /// Restored from the backup.
    FromBackup,
    /// The key store and master key already in place open the data (except events whose keys were
    /// destroyed since the backup).
    InPlace,
    /// Something is missing; the data stays unreadable until it is put in place.
    Missing { keystore: bool, master_key: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestorePlan {
    pub restore_keystore: bool,
    pub write_master_key: bool,
    pub keys: KeysAfterwards,
}

/// What a restore may do: never replace data, keys or a master key unless forced, and never
/// destroy keys that the backup cannot give back.
pub fn plan_restore(facts: RestoreFacts) -> Result<RestorePlan, Refusal> {
    if facts.database_holds_data && !facts.force {
        return Err(Refusal::DatabaseHoldsData);
    }
    if facts.backup_has_keys {
        if facts.keystore_holds_keys && !facts.force {
            return Err(Refusal::KeystoreHoldsKeys);
        }
        if facts.master_key == MasterKeyState::Other && !facts.force {
            return Err(Refusal::MasterKeyDiffers);
        }
        return Ok(RestorePlan {
            restore_keystore: true,
            write_master_key: facts.master_key != MasterKeyState::SameAsBackup,
            keys: KeysAfterwards::FromBackup,
        });
    }
    if facts.keystore_in_database && facts.keystore_holds_keys {
        return Err(Refusal::WouldDestroyKeys);
    }
    // A key store in the main database is replaced with the data, which holds no key.
    let keystore = facts.keystore_exists && !facts.keystore_in_database;
    let master_key = facts.master_key != MasterKeyState::Missing;
    Ok(RestorePlan {
        restore_keystore: false,
        write_master_key: false,
        keys: if keystore && master_key {
            KeysAfterwards::InPlace
        } else {
            KeysAfterwards::Missing {
                keystore: !keystore,
                master_key: !master_key,
            }
        },
    })
}

/// What goes into `keys/WARNING.txt`, beside the copied key store and master key.
pub fn keys_warning(created_at: OffsetDateTime) -> String {
    let when = created_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    format!(
        "This directory holds a copy of Consentry's key store and master key, made at\n\
         {when} by `consentry backup --include-keys`.\n\
         \n\
         Together with any copy of the main database they open the attendee data of every event\n\
         whose keys are here, including events purged or deleted since: the purge destroys an\n\
         event's keys in the live key store, not in this copy.\n\
         \n\
         Keep this copy for less time than the retention period (attendee data is deleted 30 days\n\
         after an event by default; an organiser may shorten it), then destroy it. Until then,\n\
         keep it apart from the data backups and as guarded as the master key itself.\n"
    )
}

/// The outcome of `consentry backup`.
pub enum BackupOutcome {
    /// The backup is complete; its manifest.
    Written(Manifest),
    /// The tool it needs is not installed: nothing was written, and these commands would do it.
    ToolMissing {
        tool: &'static str,
        commands: Vec<String>,
    },
}

/// Back up the main database (and, with `include_keys`, the key store and master key) into `to`,
/// which must be new or empty. Safe while `consentry serve` runs on the same data.
pub async fn backup(
    store: &StoreArgs,
    to: &Path,
    include_keys: bool,
    now: OffsetDateTime,
) -> anyhow::Result<BackupOutcome> {
    let database_url = store.database_url();
    let backend = Backend::of_url(&database_url)?;
    check_backup_dir(&entries_of(to)?)
        .with_context(|| format!("cannot back up into {}", to.display()))?;
    let keystore_url = store.keystore_url();

    if backend == Backend::Postgres {
        let main = PgTarget::parse(&database_url)?;
        let keys = PgTarget::parse(keystore_url.as_deref().unwrap_or(&database_url))?;
        let mut commands = vec![PgCommand::dump_data(&main, &to.join(backend.data_file()))];
        if include_keys {
            commands.push(PgCommand::dump_keys(
                &keys,
                &to.join(backend.keystore_file()),
            ));
        }
        if postgres::find_program("pg_dump").is_none() {
            let dir = if include_keys {
                to.join(KEYS_DIR)
            } else {
                to.to_owned()
            };
            let mkdir = format!(
                "mkdir -p -m 700 {}",
                postgres::shell_quote(&dir.display().to_string())
            );
            return Ok(BackupOutcome::ToolMissing {
                tool: "pg_dump",
                commands: std::iter::once(mkdir)
                    .chain(commands.iter().map(PgCommand::shell_line))
                    .collect(),
            });
        }
    }

    let db = open_existing(&database_url, "the database").await?;
    let schema = schema_level(&db, MIGRATIONS_TABLE)
        .await?
        .context("the database holds no Consentry schema: nothing to back up")?;
    // Only an earlier version kept keys in a SQLite main database; `migrate` moves them out. With
    // PostgreSQL they are left out of the dump below, wherever they are.
    if backend == Backend::Sqlite && holds_keys(&db).await? {
        bail!(
            "the main database still holds keys written by an earlier version: run `consentry \
             migrate` once to move them into the key store, then back up"
        );
    }
    db.close().await.ok();

    let existed = to.exists();
    db::create_private_dir(to)?;
    make_owner_only(to)?;
    match write_backup(store, to, backend, include_keys, schema, now).await {
        Ok(manifest) => Ok(BackupOutcome::Written(manifest)),
        Err(e) => {
            // The directory was new or empty: what is in it now is this run's, and incomplete.
            let removed = discard_partial(to, existed);
            match removed {
                Ok(()) => Err(e.context("no backup was made; the partial copy was removed")),
                Err(_) => Err(e.context(format!(
                    "no backup was made; remove the partial copy in {}",
                    to.display()
                ))),
            }
        }
    }
}

/// Remove what a failed run wrote into `to`: the directory itself if the run made it.
fn discard_partial(to: &Path, existed: bool) -> std::io::Result<()> {
    if !existed {
        return std::fs::remove_dir_all(to);
    }
    for entry in std::fs::read_dir(to)? {
        let path = entry?.path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// Write the backup's files into the empty directory `to`, the manifest last.
async fn write_backup(
    store: &StoreArgs,
    to: &Path,
    backend: Backend,
    include_keys: bool,
    schema: String,
    now: OffsetDateTime,
) -> anyhow::Result<Manifest> {
    let database_url = store.database_url();
    let keystore_url = store.keystore_url();
    let data_file = to.join(backend.data_file());
    match backend {
        Backend::Sqlite => sqlite::snapshot(&database_url, &data_file).await?,
        Backend::Postgres => {
            PgCommand::dump_data(&PgTarget::parse(&database_url)?, &data_file)
                .run()
                .await?
        }
    }
    let mut files = BTreeMap::new();
    files.insert(backend.data_file().to_owned(), file_sha256(&data_file)?);

    let keystore_schema = if include_keys {
        let keys_dir = to.join(KEYS_DIR);
        db::create_private_dir(&keys_dir)?;
        let keystore_url = keystore_url.unwrap_or_else(|| database_url.clone());
        let keystore = open_existing(&keystore_url, "the key store").await?;
        let keystore_schema = schema_level(&keystore, KEYSTORE_MIGRATIONS_TABLE)
            .await?
            .context("the key store holds no Consentry schema")?;
        keystore.close().await.ok();
        let keystore_file = to.join(backend.keystore_file());
        match backend {
            Backend::Sqlite => sqlite::snapshot(&keystore_url, &keystore_file).await?,
            Backend::Postgres => {
                PgCommand::dump_keys(&PgTarget::parse(&keystore_url)?, &keystore_file)
                    .run()
                    .await?
            }
        }
        files.insert(
            backend.keystore_file().to_owned(),
            file_sha256(&keystore_file)?,
        );
        let master_key_path = store.master_key_path();
        let master_key = std::fs::read_to_string(&master_key_path)
            .with_context(|| format!("cannot read master key {}", master_key_path.display()))?;
        let copy = to.join(MASTER_KEY_FILE);
        crypto::write_new_secret_file(&copy, master_key.trim())?;
        files.insert(MASTER_KEY_FILE.to_owned(), file_sha256(&copy)?);
        crypto::write_new_secret_file(&to.join(WARNING_FILE), keys_warning(now).trim_end())?;
        Some(keystore_schema)
    } else {
        None
    };

    let manifest = Manifest {
        format: FORMAT.to_owned(),
        format_version: FORMAT_VERSION,
        consentry_version: env!("CARGO_PKG_VERSION").to_owned(),
        created_at: now,
        backend,
        schema,
        keys_included: include_keys,
        keystore_schema,
        files,
    };
    // Written last: a directory without it is an incomplete backup, which restore refuses.
    crypto::write_new_secret_file(
        &to.join(MANIFEST_FILE),
        &serde_json::to_string_pretty(&manifest)?,
    )?;
    Ok(manifest)
}

/// The outcome of `consentry restore`.
pub enum RestoreOutcome {
    Restored(RestoreReport),
    /// The tool it needs is not installed: nothing was changed, and these commands would do it.
    ToolMissing {
        tool: &'static str,
        commands: Vec<String>,
    },
}

pub struct RestoreReport {
    pub manifest: Manifest,
    pub plan: RestorePlan,
    /// Where the data went, for people: a file, or a URL without its password.
    pub database: String,
    /// Where the key store is, for people: a file, a URL without its password, or the main
    /// database.
    pub keystore: String,
    pub master_key: PathBuf,
}

/// Restore the backup in `from` into the configured database (and key store and master key when
/// it holds them), then apply migrations. The server must not be running on the target.
pub async fn restore(
    store: &StoreArgs,
    from: &Path,
    force: bool,
) -> anyhow::Result<RestoreOutcome> {
    let manifest = read_manifest(from)?;
    let database_url = store.database_url();
    let backend = Backend::of_url(&database_url)?;
    manifest
        .check(
            backend,
            &names(Migrator::migrations()),
            &names(KeystoreMigrator::migrations()),
        )
        .with_context(|| format!("cannot restore {}", from.display()))?;
    for (file, sum) in &manifest.files {
        if file_sha256(&from.join(file))? != *sum {
            bail!(
                "cannot restore {}: {file} does not match its checksum in the manifest; the \
                 backup is damaged or altered",
                from.display()
            );
        }
    }
    let keystore_url = store.keystore_url();
    let keystore_in_database = keystore_url.is_none();
    let master_key_path = store.master_key_path();

    if backend == Backend::Postgres && postgres::find_program("pg_restore").is_none() {
        let main = PgTarget::parse(&database_url)?;
        let keys = PgTarget::parse(keystore_url.as_deref().unwrap_or(&database_url))?;
        let mut commands = vec![PgCommand::restore_data(
            &main,
            &from.join(backend.data_file()),
        )];
        if manifest.keys_included {
            commands.push(PgCommand::restore_keys(
                &keys,
                &from.join(backend.keystore_file()),
            ));
        }
        return Ok(RestoreOutcome::ToolMissing {
            tool: "pg_restore",
            commands: commands.iter().map(PgCommand::shell_line).collect(),
        });
    }

    db::create_private_dir(&store.data_dir)?;
    let target = inspect_target(&database_url, keystore_url.as_deref()).await?;
    let master_key = master_key_state(
        &master_key_path,
        manifest
            .keys_included
            .then(|| from.join(MASTER_KEY_FILE))
            .as_deref(),
    )?;
    let plan = plan_restore(RestoreFacts {
        backup_has_keys: manifest.keys_included,
        database_holds_data: target.holds_data,
        keystore_in_database,
        keystore_exists: target.keystore_exists,
        keystore_holds_keys: target.keystore_holds_keys,
        master_key,
        force,
    })
    .with_context(|| format!("cannot restore {}", from.display()))?;

    let data_file = from.join(backend.data_file());
    match backend {
        Backend::Sqlite => install_file(&data_file, &sqlite::file_of(&database_url)?)?,
        Backend::Postgres => {
            if target.has_tables {
                let db = db::connect(&database_url, Some(1)).await?;
                postgres::drop_tables(&db).await?;
                db.close().await.ok();
            }
            PgCommand::restore_data(&PgTarget::parse(&database_url)?, &data_file)
                .run()
                .await?;
        }
    }
    let db = db::connect(&database_url, Some(1)).await?;
    db::migrate(&db).await?;

    if plan.restore_keystore {
        let keystore_file = from.join(backend.keystore_file());
        match (backend, keystore_url.as_deref()) {
            (Backend::Sqlite, Some(url)) => install_file(&keystore_file, &sqlite::file_of(url)?)?,
            (Backend::Sqlite, None) => bail!("a SQLite key store needs a URL"),
            (Backend::Postgres, url) => {
                // The key store's schema first, then its rows from the backup in place of any.
                let keys = keystore::open(&db, url, Some(1)).await?;
                vault::entity::Entity::delete_many().exec(&keys.db).await?;
                badge_keys::Entity::delete_many().exec(&keys.db).await?;
                if keys.separate {
                    keys.db.close().await.ok();
                }
                let target = PgTarget::parse(url.unwrap_or(&database_url))?;
                PgCommand::restore_keys(&target, &keystore_file)
                    .run()
                    .await?;
            }
        }
    }
    if plan.write_master_key {
        install_file(&from.join(MASTER_KEY_FILE), &master_key_path)?;
    }
    // The key store's own migrations, where there is one; a missing SQLite key store is not
    // created here, so that an empty one does not stand in for the real one.
    let keystore_exists = match keystore_url.as_deref() {
        Some(url) if backend == Backend::Sqlite => sqlite::file_of(url)?.exists(),
        _ => true,
    };
    if keystore_exists {
        let keys = keystore::open(&db, keystore_url.as_deref(), Some(1)).await?;
        if keys.separate {
            keys.db.close().await.ok();
        }
    }
    db.close().await.ok();

    Ok(RestoreOutcome::Restored(RestoreReport {
        manifest,
        plan,
        database: match backend {
            Backend::Sqlite => sqlite::file_of(&database_url)?.display().to_string(),
            Backend::Postgres => PgTarget::parse(&database_url)?.url,
        },
        keystore: match (backend, keystore_url.as_deref()) {
            (_, None) => "the main database".to_owned(),
            (Backend::Sqlite, Some(url)) => sqlite::file_of(url)?.display().to_string(),
            (Backend::Postgres, Some(url)) => PgTarget::parse(url)?.url,
        },
        master_key: master_key_path,
    }))
}

/// Put a copy of `source` at `dest`, owner-only, replacing what is there (and, for a database, its
/// write-ahead log and shared memory, which belong to the replaced file): written beside it first,
/// then renamed into place, so `dest` is never half-written.
fn install_file(source: &Path, dest: &Path) -> anyhow::Result<()> {
    let file_name = dest
        .file_name()
        .with_context(|| format!("{} names no file", dest.display()))?;
    let mut temporary = file_name.to_owned();
    temporary.push(".restoring");
    let temporary = dest.with_file_name(temporary);
    if let Some(dir) = dest.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        db::create_private_dir(dir)?;
    }
    match std::fs::remove_file(&temporary) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot remove {}", temporary.display())),
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut copy = options
        .open(&temporary)
        .with_context(|| format!("cannot create {}", temporary.display()))?;
    let mut original =
        std::fs::File::open(source).with_context(|| format!("cannot read {}", source.display()))?;
    std::io::copy(&mut original, &mut copy)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    copy.sync_all()?;
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut name = dest.as_os_str().to_owned();
        name.push(suffix);
        match std::fs::remove_file(PathBuf::from(name)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).context("cannot remove the replaced database's log"),
        }
    }
    std::fs::rename(&temporary, dest)
        .with_context(|| format!("cannot move {} into place", dest.display()))
}

fn names(migrations: Vec<Box<dyn consentry_migration::MigrationTrait>>) -> Vec<String> {
    migrations.iter().map(|m| m.name().to_owned()).collect()
}

/// The names in `dir`, or none if it does not exist.
fn entries_of(dir: &Path) -> anyhow::Result<Vec<String>> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|entry| Ok(entry?.file_name().to_string_lossy().into_owned()))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", dir.display())),
    }
}

fn make_owner_only(dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot make {} owner-only", dir.display()))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn read_manifest(from: &Path) -> anyhow::Result<Manifest> {
    let path = from.join(MANIFEST_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "cannot restore {}: it holds no {MANIFEST_FILE}; it is not a backup, or an incomplete one",
            from.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    serde_json::from_str(&text)
        .with_context(|| format!("cannot restore {}: {}", from.display(), Refusal::NotABackup))
}

/// SHA-256 of a file, read in pieces (a database may be large).
fn file_sha256(path: &Path) -> anyhow::Result<String> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(crypto::hex(&hasher.finalize()))
}

/// Connect to a database that must already exist: a SQLite file is never created here.
async fn open_existing(url: &str, what: &str) -> anyhow::Result<DatabaseConnection> {
    if url.starts_with("sqlite:") {
        let path = sqlite::file_of(url)?;
        if !path.exists() {
            bail!("{what} {} does not exist", path.display());
        }
    }
    db::connect(url, Some(1)).await
}

/// The tables of the database's current schema.
async fn table_names(db: &DatabaseConnection) -> anyhow::Result<Vec<String>> {
    let sql = match db.get_database_backend() {
        sea_orm::DbBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
        _ => "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()",
    };
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?;
    Ok(rows
        .iter()
        .filter_map(|row| row.try_get_by_index::<String>(0).ok())
        .collect())
}

/// A table name from the catalogue, quoted for SQL.
fn quoted(table: &str) -> String {
    format!("\"{}\"", table.replace('"', "\"\""))
}

async fn has_rows(db: &DatabaseConnection, table: &str) -> anyhow::Result<bool> {
    let sql = format!("SELECT 1 FROM {} LIMIT 1", quoted(table));
    Ok(db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .is_some())
}

/// Whether any table other than the migration records holds a row.
async fn holds_data(db: &DatabaseConnection) -> anyhow::Result<bool> {
    for table in table_names(db).await? {
        if table != MIGRATIONS_TABLE
            && table != KEYSTORE_MIGRATIONS_TABLE
            && has_rows(db, &table).await?
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether the key tables exist and hold a row.
async fn holds_keys(db: &DatabaseConnection) -> anyhow::Result<bool> {
    let tables = table_names(db).await?;
    for table in KEY_TABLES {
        if tables.iter().any(|t| t == table) && has_rows(db, table).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The last migration recorded in `table`, if the table exists.
async fn schema_level(db: &DatabaseConnection, table: &str) -> anyhow::Result<Option<String>> {
    if !table_names(db).await?.iter().any(|t| t == table) {
        return Ok(None);
    }
    let sql = format!("SELECT MAX(version) FROM {}", quoted(table));
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?;
    Ok(row.and_then(|row| row.try_get_by_index::<Option<String>>(0).ok().flatten()))
}

/// What is in place where a restore would write.
struct Target {
    has_tables: bool,
    holds_data: bool,
    keystore_exists: bool,
    keystore_holds_keys: bool,
}

async fn inspect_target(database_url: &str, keystore_url: Option<&str>) -> anyhow::Result<Target> {
    let mut target = Target {
        has_tables: false,
        holds_data: false,
        keystore_exists: false,
        keystore_holds_keys: false,
    };
    let exists = |url: &str| -> anyhow::Result<bool> {
        Ok(!url.starts_with("sqlite:") || sqlite::file_of(url)?.exists())
    };
    if exists(database_url)? {
        let db = db::connect(database_url, Some(1)).await?;
        target.has_tables = !table_names(&db).await?.is_empty();
        target.holds_data = holds_data(&db).await?;
        if keystore_url.is_none() {
            target.keystore_holds_keys = holds_keys(&db).await?;
            target.keystore_exists = target.keystore_holds_keys;
        }
        db.close().await.ok();
    }
    if let Some(url) = keystore_url
        && exists(url)?
    {
        let keys = db::connect(url, Some(1)).await?;
        target.keystore_exists = table_names(&keys)
            .await?
            .iter()
            .any(|table| table == KEYSTORE_MIGRATIONS_TABLE);
        target.keystore_holds_keys = holds_keys(&keys).await?;
        keys.close().await.ok();
    }
    Ok(target)
}

fn master_key_state(in_place: &Path, backup: Option<&Path>) -> anyhow::Result<MasterKeyState> {
    let current = match std::fs::read_to_string(in_place) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(MasterKeyState::Missing),
        Err(e) => {
            return Err(e)
                .with_context(|| format!("cannot read master key {}", in_place.display()));
        }
    };
    let Some(backup) = backup else {
        return Ok(MasterKeyState::Other);
    };
    let saved = std::fs::read_to_string(backup)
        .with_context(|| format!("cannot read {}", backup.display()))?;
    Ok(if saved.trim() == current.trim() {
        MasterKeyState::SameAsBackup
    } else {
        MasterKeyState::Other
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn manifest(backend: Backend, keys: bool) -> Manifest {
        Manifest {
            format: FORMAT.to_owned(),
            format_version: FORMAT_VERSION,
            consentry_version: "0.1.0".to_owned(),
            created_at: datetime!(2027-01-01 12:00 UTC),
            backend,
            schema: "m2".to_owned(),
            keys_included: keys,
            keystore_schema: keys.then(|| "k1".to_owned()),
            files: expected_files(backend, keys)
                .into_iter()
                .map(|f| (f.to_owned(), "00".to_owned()))
                .collect(),
        }
    }

    fn check(manifest: &Manifest, target: Backend) -> Result<(), Refusal> {
        manifest.check(
            target,
            &["m1".to_owned(), "m2".to_owned()],
            &["k1".to_owned()],
        )
    }

    #[test]
    fn a_manifest_survives_its_json_and_names_what_a_restore_checks() {
        let original = manifest(Backend::Postgres, true);
        let json = serde_json::to_value(&original).unwrap();
        assert_eq!(json["format"], "consentry-backup");
        assert_eq!(json["format_version"], 1);
        assert_eq!(json["backend"], "postgres");
        assert_eq!(json["created_at"], "2027-01-01T12:00:00Z");
        assert_eq!(json["keys_included"], true);
        assert_eq!(serde_json::from_value::<Manifest>(json).unwrap(), original);
        let without = serde_json::to_value(manifest(Backend::Sqlite, false)).unwrap();
        assert!(without.get("keystore_schema").is_none());
    }

    #[test]
    fn a_restore_takes_only_a_backup_it_can_restore_faithfully() {
        for (backend, keys) in [
            (Backend::Sqlite, false),
            (Backend::Sqlite, true),
            (Backend::Postgres, false),
        ] {
            assert_eq!(check(&manifest(backend, keys), backend), Ok(()));
        }
        assert_eq!(
            check(&manifest(Backend::Sqlite, false), Backend::Postgres),
            Err(Refusal::WrongBackend {
                backup: "sqlite",
                target: "postgres"
            })
        );
        let mut other = manifest(Backend::Sqlite, false);
        other.format = "something-else".to_owned();
        assert_eq!(check(&other, Backend::Sqlite), Err(Refusal::NotABackup));
        let mut newer = manifest(Backend::Sqlite, false);
        newer.format_version = FORMAT_VERSION + 1;
        assert_eq!(
            check(&newer, Backend::Sqlite),
            Err(Refusal::NewerFormat(FORMAT_VERSION + 1))
        );
        let mut ahead = manifest(Backend::Sqlite, false);
        ahead.schema = "m3".to_owned();
        assert_eq!(
            check(&ahead, Backend::Sqlite),
            Err(Refusal::UnknownSchema("m3".to_owned()))
        );
        let mut keys_ahead = manifest(Backend::Sqlite, true);
        keys_ahead.keystore_schema = Some("k2".to_owned());
        assert_eq!(
            check(&keys_ahead, Backend::Sqlite),
            Err(Refusal::UnknownSchema("k2".to_owned()))
        );
        // A manifest that claims keys without listing them, or lists files it should not hold.
        let mut claims_keys = manifest(Backend::Sqlite, false);
        claims_keys.keys_included = true;
        assert_eq!(
            check(&claims_keys, Backend::Sqlite),
            Err(Refusal::FilesMismatch)
        );
        let mut extra = manifest(Backend::Sqlite, false);
        extra
            .files
            .insert("../elsewhere".to_owned(), "00".to_owned());
        assert_eq!(check(&extra, Backend::Sqlite), Err(Refusal::FilesMismatch));
        let mut missing = manifest(Backend::Postgres, true);
        missing.files.remove(MASTER_KEY_FILE);
        assert_eq!(
            check(&missing, Backend::Postgres),
            Err(Refusal::FilesMismatch)
        );
    }

    #[test]
    fn a_backup_goes_only_into_a_new_or_empty_directory() {
        assert_eq!(check_backup_dir(&[]), Ok(()));
        assert_eq!(
            check_backup_dir(&["consentry.db".to_owned(), MANIFEST_FILE.to_owned()]),
            Err(Refusal::BackupDirHoldsBackup)
        );
        assert_eq!(
            check_backup_dir(&["notes.txt".to_owned()]),
            Err(Refusal::BackupDirNotEmpty)
        );
    }

    #[test]
    fn the_data_files_and_key_files_of_a_backup_are_apart() {
        assert_eq!(expected_files(Backend::Sqlite, false), ["consentry.db"]);
        assert_eq!(
            expected_files(Backend::Postgres, true),
            ["consentry.dump", "keys/keys.dump", "keys/master.key"]
        );
        for file in expected_files(Backend::Sqlite, true).into_iter().skip(1) {
            assert!(file.starts_with("keys/"), "{file}");
        }
    }

    fn facts() -> RestoreFacts {
        RestoreFacts {
            backup_has_keys: false,
            database_holds_data: false,
            keystore_in_database: false,
            keystore_exists: false,
            keystore_holds_keys: false,
            master_key: MasterKeyState::Missing,
            force: false,
        }
    }

    #[test]
    fn existing_data_is_replaced_only_when_forced() {
        let occupied = RestoreFacts {
            database_holds_data: true,
            ..facts()
        };
        assert_eq!(plan_restore(occupied), Err(Refusal::DatabaseHoldsData));
        let forced = plan_restore(RestoreFacts {
            force: true,
            ..occupied
        })
        .unwrap();
        assert!(!forced.restore_keystore && !forced.write_master_key);
    }

    #[test]
    fn keys_and_a_master_key_in_place_are_replaced_only_when_forced() {
        let with_keys = RestoreFacts {
            backup_has_keys: true,
            ..facts()
        };
        assert_eq!(
            plan_restore(with_keys),
            Ok(RestorePlan {
                restore_keystore: true,
                write_master_key: true,
                keys: KeysAfterwards::FromBackup,
            })
        );
        let keys_in_place = RestoreFacts {
            keystore_exists: true,
            keystore_holds_keys: true,
            ..with_keys
        };
        assert_eq!(plan_restore(keys_in_place), Err(Refusal::KeystoreHoldsKeys));
        assert!(
            plan_restore(RestoreFacts {
                force: true,
                ..keys_in_place
            })
            .unwrap()
            .restore_keystore
        );
        let other_master = RestoreFacts {
            master_key: MasterKeyState::Other,
            ..with_keys
        };
        assert_eq!(plan_restore(other_master), Err(Refusal::MasterKeyDiffers));
        assert!(
            plan_restore(RestoreFacts {
                force: true,
                ..other_master
            })
            .unwrap()
            .write_master_key
        );
        // The same key is left alone; nothing needs forcing.
        let same_master = plan_restore(RestoreFacts {
            master_key: MasterKeyState::SameAsBackup,
            ..with_keys
        })
        .unwrap();
        assert!(same_master.restore_keystore && !same_master.write_master_key);
    }

    #[test]
    fn a_backup_without_keys_leaves_the_keys_in_place_and_says_what_is_missing() {
        // Also a key store that holds no key any more (every event purged) is the one in place.
        let in_place = plan_restore(RestoreFacts {
            keystore_exists: true,
            master_key: MasterKeyState::Other,
            ..facts()
        })
        .unwrap();
        assert_eq!(
            in_place,
            RestorePlan {
                restore_keystore: false,
                write_master_key: false,
                keys: KeysAfterwards::InPlace,
            }
        );
        assert_eq!(
            plan_restore(facts()).unwrap().keys,
            KeysAfterwards::Missing {
                keystore: true,
                master_key: true
            }
        );
        assert_eq!(
            plan_restore(RestoreFacts {
                master_key: MasterKeyState::Other,
                ..facts()
            })
            .unwrap()
            .keys,
            KeysAfterwards::Missing {
                keystore: true,
                master_key: false
            }
        );
    }

    #[test]
    fn keys_living_in_the_database_are_never_destroyed_by_a_backup_without_them() {
        let shared = RestoreFacts {
            keystore_in_database: true,
            keystore_exists: true,
            keystore_holds_keys: true,
            database_holds_data: true,
            master_key: MasterKeyState::Other,
            ..facts()
        };
        assert_eq!(plan_restore(shared), Err(Refusal::DatabaseHoldsData));
        assert_eq!(
            plan_restore(RestoreFacts {
                force: true,
                ..shared
            }),
            Err(Refusal::WouldDestroyKeys)
        );
        // Into a fresh database, the data comes back without a key: say so.
        assert_eq!(
            plan_restore(RestoreFacts {
                keystore_in_database: true,
                master_key: MasterKeyState::Other,
                ..facts()
            })
            .unwrap()
            .keys,
            KeysAfterwards::Missing {
                keystore: true,
                master_key: false
            }
        );
        // A backup that holds keys gives them back: forcing it is the operator's call.
        assert!(
            plan_restore(RestoreFacts {
                force: true,
                backup_has_keys: true,
                ..shared
            })
            .is_ok()
        );
    }

    #[test]
    fn the_keys_warning_names_the_retention_and_the_purge() {
        let text = keys_warning(datetime!(2027-01-01 12:00 UTC));
        assert!(text.contains("2027-01-01T12:00:00Z"));
        assert!(text.contains("less time than the retention period"));
        assert!(text.contains("30 days"));
        assert!(text.contains("purged"));
    }
}
