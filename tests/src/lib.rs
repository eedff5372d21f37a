//! Harness for end-to-end tests: locate the workspace's binaries, give each test a database of its
//! own, and run `consentry serve` as a child process on a free loopback port.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use sea_orm::{ConnectionTrait, DatabaseConnection};
use uuid::Uuid;

mod own_postgres;
pub use own_postgres::OwnPostgres;

/// Path of a binary of this workspace, built by `cargo test --workspace` next to the test binary.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run the tests with `cargo test --workspace`",
        path.display()
    );
    path
}

/// A database for one test: a SQLite file in `data_dir` by default, or a fresh PostgreSQL database
/// when `CONSENTRY_TEST_DATABASE_URL` is set (dropped when this value is).
pub struct TestDatabase {
    /// `None` means "the server's default": SQLite in its data directory.
    pub url: Option<String>,
    admin_url: Option<String>,
    name: String,
    /// PostgreSQL only: no `--keystore-url`, so the key store is the main database.
    keystore_in_main: bool,
}

impl TestDatabase {
    pub async fn new() -> Self {
        match std::env::var("CONSENTRY_TEST_DATABASE_URL") {
            Ok(admin_url) if admin_url.starts_with("postgres") => Self::create_on(&admin_url).await,
            _ => Self {
                url: None,
                admin_url: None,
                name: String::new(),
                keystore_in_main: false,
            },
        }
    }

    /// Fresh databases on the PostgreSQL server that `admin_url` reaches, whatever the
    /// environment says.
    pub async fn create_on(admin_url: &str) -> Self {
        let name = format!("consentry_test_{}", Uuid::new_v4().simple());
        let admin = consentry::db::connect(admin_url, Some(1)).await.unwrap();
        // The main database and, apart from it, the key store.
        for db in [name.clone(), format!("{name}_keys")] {
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{db}\""))
                .await
                .unwrap();
        }
        admin.close().await.ok();
        let (base, _) = admin_url.rsplit_once('/').unwrap();
        Self {
            url: Some(format!("{base}/{name}")),
            admin_url: Some(admin_url.to_owned()),
            name,
            keystore_in_main: false,
        }
    }

    /// On PostgreSQL, the same databases used without `--keystore-url`: the key store is then the
    /// main database. (A SQLite key store is always a file of its own; nothing changes there.)
    pub fn keystore_in_main(mut self) -> Self {
        self.keystore_in_main = self.url.is_some();
        self
    }

    /// The URL to connect to: this database, or the SQLite default inside `data_dir`.
    pub fn url_in(&self, data_dir: &Path) -> String {
        self.url
            .clone()
            .unwrap_or_else(|| consentry::db::default_sqlite_url(data_dir))
    }

    /// The key store's URL: `keys.db` in `data_dir`, or a PostgreSQL database of its own (the main
    /// database after [`keystore_in_main`](Self::keystore_in_main)).
    pub fn keystore_url_in(&self, data_dir: &Path) -> String {
        match &self.url {
            Some(url) if self.keystore_in_main => url.clone(),
            Some(url) => format!("{url}_keys"),
            None => consentry::keystore::default_sqlite_url(data_dir),
        }
    }

    /// `--database-url` and `--keystore-url` arguments for a `consentry` command, if any.
    pub fn args(&self) -> Vec<String> {
        let Some(url) = &self.url else {
            return Vec::new();
        };
        let mut args = vec!["--database-url".to_owned(), url.clone()];
        if !self.keystore_in_main {
            args.extend(["--keystore-url".to_owned(), format!("{url}_keys")]);
        }
        args
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(admin_url) = self.admin_url.clone() else {
            return;
        };
        let name = std::mem::take(&mut self.name);
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(admin) = consentry::db::connect(&admin_url, Some(1)).await {
                    for db in [name.clone(), format!("{name}_keys")] {
                        let _ = admin
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"
                            ))
                            .await;
                    }
                    admin.close().await.ok();
                }
            });
        })
        .join();
    }
}

/// A running `consentry serve`, killed when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    /// Every line the server printed on standard output so far.
    pub stdout: Vec<String>,
    lines: mpsc::Receiver<String>,
    /// Its log (standard error), when started with [`Server::start_logging`].
    log: Option<std::sync::Arc<std::sync::Mutex<Vec<String>>>>,
}

impl Server {
    /// Start `consentry serve --bind 127.0.0.1:0 ARGS` and wait for its "listening" line, plus
    /// `extra_lines` more lines (the demo login, say).
    pub fn start(data_dir: &Path, db: &TestDatabase, args: &[&str], extra_lines: usize) -> Self {
        Self::start_at("127.0.0.1:0", data_dir, db, args, extra_lines)
    }

    /// The same as [`start`](Self::start), on a given address (to restart on the same port).
    pub fn start_at(
        bind: &str,
        data_dir: &Path,
        db: &TestDatabase,
        args: &[&str],
        extra_lines: usize,
    ) -> Self {
        Self::spawn(bind, data_dir, db, args, extra_lines, false)
    }

    /// The same as [`start`](Self::start), logging as in production (the default log level, no
    /// `CONSENTRY_LOG`) into [`log`](Self::log) instead of the test's output.
    pub fn start_logging(
        data_dir: &Path,
        db: &TestDatabase,
        args: &[&str],
        extra_lines: usize,
    ) -> Self {
        Self::spawn("127.0.0.1:0", data_dir, db, args, extra_lines, true)
    }

    /// Every log line so far (empty unless started with [`start_logging`](Self::start_logging)).
    pub fn log(&self) -> Vec<String> {
        self.log
            .as_ref()
            .and_then(|log| log.lock().ok().map(|lines| lines.clone()))
            .unwrap_or_default()
    }

    fn spawn(
        bind: &str,
        data_dir: &Path,
        db: &TestDatabase,
        args: &[&str],
        extra_lines: usize,
        capture_log: bool,
    ) -> Self {
        let mut command = Command::new(bin("consentry"));
        command
            .arg("serve")
            .args(["--bind", bind, "--data-dir"])
            .arg(data_dir)
            .args(db.args())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        if capture_log {
            command.env_remove("CONSENTRY_LOG").stderr(Stdio::piped());
        } else {
            command
                .env("CONSENTRY_LOG", "warn")
                .stderr(Stdio::inherit());
        }
        let mut child = command.spawn().unwrap();
        let log = child.stderr.take().map(|stderr| {
            let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            let lines = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Ok(mut lines) = lines.lock() {
                        lines.push(line);
                    }
                }
            });
            log
        });
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Self {
            child,
            base: String::new(),
            stdout: Vec::new(),
            lines,
            log,
        };
        let first = server.next_line();
        server.base = first
            .strip_prefix("consentry listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {first}"))
            .to_owned();
        for _ in 0..extra_lines {
            server.next_line();
        }
        server
    }

    fn next_line(&mut self) -> String {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the server printed nothing in time");
        self.stdout.push(line.clone());
        line
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The demo organiser's e-mail and password, from the `login: EMAIL / PASSWORD` line a
    /// `--demo` start prints.
    pub fn demo_login(&self) -> (String, String) {
        self.stdout
            .iter()
            .find_map(|l| l.trim_start().strip_prefix("login:"))
            .and_then(|l| l.trim().split_once(" / "))
            .map(|(email, password)| (email.to_owned(), password.to_owned()))
            .unwrap_or_else(|| panic!("the demo prints its login: {:?}", self.stdout))
    }

    /// The demo organiser's password.
    pub fn demo_password(&self) -> String {
        self.demo_login().1
    }

    /// `127.0.0.1:PORT` of this server.
    pub fn address(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// Send SIGTERM and wait for the exit.
    pub fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "server ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Run the workspace binary `name` with `args` and `stdin`; returns its output.
pub fn run(name: &str, args: &[&std::ffi::OsStr], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(bin(name))
        .args(args)
        .env("CONSENTRY_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Run `consentry-scan --config CONFIG ARGS` with `stdin`.
pub fn consentry_scan(config: &Path, args: &[&str], stdin: &str) -> std::process::Output {
    let mut all: Vec<&std::ffi::OsStr> = vec!["--config".as_ref(), config.as_os_str()];
    all.extend(args.iter().map(|a| std::ffi::OsStr::new(*a)));
    run("consentry-scan", &all, stdin)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every row of every table, each value rendered as text (UUIDs hyphenated, whatever their
/// storage), for "this value appears nowhere" assertions.
pub async fn dump_database(db: &DatabaseConnection) -> Vec<(String, Vec<String>)> {
    use sea_orm::sqlx::Row;
    let mut out = Vec::new();
    match db.get_database_backend() {
        sea_orm::DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            let tables: Vec<String> = sea_orm::sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )
            .fetch_all(pool)
            .await
            .unwrap();
            for table in tables {
                // Table names come from the catalogue, not from input.
                let sql = sea_orm::sqlx::AssertSqlSafe(format!("SELECT * FROM \"{table}\""));
                let rows = sea_orm::sqlx::query(sql).fetch_all(pool).await.unwrap();
                for row in rows {
                    let values = (0..row.columns().len())
                        .map(|i| {
                            if let Ok(Some(s)) = row.try_get::<Option<String>, _>(i) {
                                return s;
                            }
                            if let Ok(Some(b)) = row.try_get::<Option<Vec<u8>>, _>(i) {
                                return match Uuid::from_slice(&b) {
                                    Ok(u) if b.len() == 16 => u.to_string(),
                                    _ => String::from_utf8_lossy(&b).into_owned(),
                                };
                            }
                            if let Ok(Some(n)) = row.try_get::<Option<i64>, _>(i) {
                                return n.to_string();
                            }
                            String::new()
                        })
                        .collect();
                    out.push((table.clone(), values));
                }
            }
        }
        _ => {
            let pool = db.get_postgres_connection_pool();
            let tables: Vec<String> = sea_orm::sqlx::query_scalar(
                "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'",
            )
            .fetch_all(pool)
            .await
            .unwrap();
            for table in tables {
                // Every column cast to text by the server itself.
                let sql = sea_orm::sqlx::AssertSqlSafe(format!(
                    "SELECT to_jsonb(t)::text AS row FROM \"{table}\" t"
                ));
                let rows = sea_orm::sqlx::query(sql).fetch_all(pool).await.unwrap();
                for row in rows {
                    let text: String = row.try_get("row").unwrap();
                    out.push((table.clone(), vec![text]));
                }
            }
        }
    }
    out
}

/// Rows (table, row text) mentioning every one of `needles`.
pub async fn rows_mentioning_all(db: &DatabaseConnection, needles: &[&str]) -> Vec<String> {
    dump_database(db)
        .await
        .into_iter()
        .map(|(table, values)| format!("{table}: {}", values.join(" | ")))
        .filter(|row| needles.iter().all(|n| row.contains(n)))
        .collect()
}
