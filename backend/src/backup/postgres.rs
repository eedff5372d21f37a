//! PostgreSQL: `pg_dump` (custom format) and `pg_restore`, run when installed, printed otherwise.
//!
//! The database's password never goes on a command line, where any user of the machine could read
//! it (`ps`): the tools get the URL without it and the password in `PGPASSWORD`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use super::{KEY_TABLES, quoted, table_names};

/// A database as the PostgreSQL tools are given it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgTarget {
    /// The URL without its password.
    pub url: String,
    pub password: Option<String>,
}

impl PgTarget {
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let mut parsed = url::Url::parse(url).context("the database URL is not a valid URL")?;
        let password = parsed.password().map(percent_decode);
        if password.is_some() && parsed.set_password(None).is_err() {
            bail!("the database URL cannot carry a password");
        }
        Ok(Self {
            url: parsed.to_string(),
            password,
        })
    }
}

/// `%XX` escapes decoded, as libpq reads a URL's password; anything else kept as it is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(Some(high)), Some(Some(low))) = (
                bytes.get(i + 1).map(|b| hex(*b)),
                bytes.get(i + 2).map(|b| hex(*b)),
            )
        {
            out.push((high * 16 + low) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One run of `pg_dump` or `pg_restore`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgCommand {
    pub program: &'static str,
    pub args: Vec<String>,
    password: Option<String>,
    /// The file it writes, created owner-only before it runs.
    output: Option<PathBuf>,
}

impl PgCommand {
    fn dump(target: &PgTarget, file: &Path, selection: &[String]) -> Self {
        let mut args = vec![
            "--format=custom".to_owned(),
            "--no-owner".to_owned(),
            "--no-privileges".to_owned(),
        ];
        args.extend_from_slice(selection);
        args.push(format!("--file={}", file.display()));
        args.push(format!("--dbname={}", target.url));
        Self {
            program: "pg_dump",
            args,
            password: target.password.clone(),
            output: Some(file.to_owned()),
        }
    }

    /// The main database without a single key: the key tables' rows are left out, also when the
    /// key store is the main database itself (their definitions stay, so the schema is whole).
    pub fn dump_data(target: &PgTarget, file: &Path) -> Self {
        let selection: Vec<String> = KEY_TABLES
            .iter()
            .map(|table| format!("--exclude-table-data={table}"))
            .collect();
        Self::dump(target, file, &selection)
    }

    /// The key store's tables, wherever it lives.
    pub fn dump_keys(target: &PgTarget, file: &Path) -> Self {
        let selection: Vec<String> = KEY_TABLES
            .iter()
            .map(|table| format!("--table={table}"))
            .collect();
        Self::dump(target, file, &selection)
    }

    /// A dump of the main database into an empty one, all or nothing.
    pub fn restore_data(target: &PgTarget, file: &Path) -> Self {
        Self {
            program: "pg_restore",
            args: vec![
                "--no-owner".to_owned(),
                "--no-privileges".to_owned(),
                "--single-transaction".to_owned(),
                "--exit-on-error".to_owned(),
                format!("--dbname={}", target.url),
                file.display().to_string(),
            ],
            password: target.password.clone(),
            output: None,
        }
    }

    /// The key rows of a key-store dump into a key store whose schema is in place (a database of
    /// its own or the main database), all or nothing.
    pub fn restore_keys(target: &PgTarget, file: &Path) -> Self {
        let mut args = vec!["--data-only".to_owned()];
        args.extend(KEY_TABLES.iter().map(|table| format!("--table={table}")));
        args.extend([
            "--single-transaction".to_owned(),
            "--exit-on-error".to_owned(),
            format!("--dbname={}", target.url),
            file.display().to_string(),
        ]);
        Self {
            program: "pg_restore",
            args,
            password: target.password.clone(),
            output: None,
        }
    }

    /// The command as an operator would type it: owner-only files, the password left out.
    pub fn shell_line(&self) -> String {
        let mut words = Vec::new();
        if self.output.is_some() {
            words.extend(["umask".to_owned(), "077".to_owned(), "&&".to_owned()]);
        }
        if self.password.is_some() {
            words.push("PGPASSWORD=<the database password>".to_owned());
        }
        words.push(self.program.to_owned());
        words.extend(self.args.iter().map(|arg| shell_quote(arg)));
        words.join(" ")
    }

    /// Run it; its error output becomes the error.
    pub async fn run(&self) -> anyhow::Result<()> {
        let program = find_program(self.program)
            .with_context(|| format!("{} is not installed", self.program))?;
        if let Some(file) = &self.output {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            options
                .open(file)
                .with_context(|| format!("cannot create {}", file.display()))?;
        }
        let mut command = tokio::process::Command::new(program);
        command
            .args(&self.args)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        if let Some(password) = &self.password {
            command.env("PGPASSWORD", password);
        }
        let output = command
            .output()
            .await
            .with_context(|| format!("cannot run {}", self.program))?;
        if !output.status.success() {
            bail!(
                "{} failed ({}): {}",
                self.program,
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }
}

/// `word` quoted for a POSIX shell when it needs to be.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Where `name` is on the `PATH`, if it is.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    meta.is_file()
}

/// Drop every table of the database's current schema, to restore a dump in its place.
pub async fn drop_tables(db: &DatabaseConnection) -> anyhow::Result<()> {
    let tables = table_names(db).await?;
    if tables.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = tables.iter().map(|t| quoted(t)).collect();
    let sql = format!("DROP TABLE IF EXISTS {} CASCADE", list.join(", "));
    db.execute_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .context("cannot empty the database before restoring")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_leaves_the_url_and_is_decoded() {
        let target =
            PgTarget::parse("postgres://ops:p%40ss%2Fw0rd@db.internal:5432/consentry").unwrap();
        assert_eq!(target.url, "postgres://ops@db.internal:5432/consentry");
        assert_eq!(target.password.as_deref(), Some("p@ss/w0rd"));
        let trusted = PgTarget::parse("postgres://postgres@127.0.0.1/consentry").unwrap();
        assert_eq!(trusted.url, "postgres://postgres@127.0.0.1/consentry");
        assert_eq!(trusted.password, None);
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[test]
    fn the_data_dump_leaves_out_every_key_row_and_the_key_dump_holds_only_them() {
        let target = PgTarget::parse("postgres://ops:secret@db/consentry").unwrap();
        let data = PgCommand::dump_data(&target, Path::new("/b/consentry.dump"));
        assert_eq!(data.program, "pg_dump");
        for arg in [
            "--format=custom",
            "--exclude-table-data=event_keys",
            "--exclude-table-data=badge_keys",
            "--file=/b/consentry.dump",
            "--dbname=postgres://ops@db/consentry",
        ] {
            assert!(
                data.args.iter().any(|a| a == arg),
                "{arg} in {:?}",
                data.args
            );
        }
        let keys = PgCommand::dump_keys(&target, Path::new("/b/keys/keys.dump"));
        assert!(keys.args.iter().any(|a| a == "--table=event_keys"));
        assert!(keys.args.iter().any(|a| a == "--table=badge_keys"));
        assert!(!keys.args.iter().any(|a| a.starts_with("--exclude")));
        let restore = PgCommand::restore_keys(&target, Path::new("/b/keys/keys.dump"));
        assert!(restore.args.iter().any(|a| a == "--data-only"));
        for command in [data, keys, restore] {
            assert!(!command.args.iter().any(|a| a.contains("secret")));
            assert!(!command.shell_line().contains("secret"));
        }
    }

    #[test]
    fn a_printed_command_can_be_pasted_into_a_shell() {
        let target = PgTarget::parse("postgres://ops@db/consentry?sslmode=require").unwrap();
        let line = PgCommand::dump_data(&target, Path::new("/backups/it's here/consentry.dump"))
            .shell_line();
        assert!(
            line.starts_with("umask 077 && pg_dump --format=custom"),
            "{line}"
        );
        assert!(
            line.contains(r"'--file=/backups/it'\''s here/consentry.dump'"),
            "{line}"
        );
        assert!(
            line.contains("'--dbname=postgres://ops@db/consentry?sslmode=require'"),
            "{line}"
        );
        let restore = PgCommand::restore_data(&target, Path::new("/b/consentry.dump")).shell_line();
        assert!(restore.starts_with("pg_restore --no-owner"), "{restore}");
        let secret = PgTarget::parse("postgres://ops:x@db/consentry").unwrap();
        assert!(
            PgCommand::restore_data(&secret, Path::new("/b/consentry.dump"))
                .shell_line()
                .starts_with("PGPASSWORD=<the database password> pg_restore")
        );
    }
}
