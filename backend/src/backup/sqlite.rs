//! SQLite: a consistent copy with `VACUUM INTO`, taken while the server writes.

use std::path::{Path, PathBuf};

use anyhow::Context;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::db;

/// The file a SQLite URL names.
pub fn file_of(url: &str) -> anyhow::Result<PathBuf> {
    db::sqlite_file(url)
        .context("the SQLite URL names no file (an in-memory database has no backup)")
}

/// Copy the database at `url` into the new file `dest`. `VACUUM INTO` reads inside one read
/// transaction, so under WAL it sees one committed state while writers carry on, and it writes a
/// compacted file: no free page of the original, with whatever it last held, comes along. `dest` is
/// created owner-only first (SQLite accepts an empty file), whatever the umask.
pub async fn snapshot(url: &str, dest: &Path) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(dest)
        .with_context(|| format!("cannot create {}", dest.display()))?;
    let target = dest
        .to_str()
        .with_context(|| format!("{} is not valid UTF-8", dest.display()))?;
    let db = db::connect(url, Some(1)).await?;
    let copied = db
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "VACUUM INTO ?",
            [target.into()],
        ))
        .await
        .with_context(|| format!("cannot copy the database into {}", dest.display()));
    db.close().await.ok();
    copied.map(|_| ())
}
