//! A PostgreSQL server of a test's own, for tests that stop and start it: the machine's shared
//! server is serving every other test at the same time, so it must never go down.
//!
//! `initdb` into a temporary directory, then `pg_ctl` on a free loopback port with its socket in
//! that directory. PostgreSQL refuses to run as root, so under root (CI) its programs run as the
//! `postgres` user, which owns the directory.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::Command,
};

pub struct OwnPostgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres: bool,
    dir: tempfile::TempDir,
}

impl OwnPostgres {
    /// Create a cluster and start it. Panics, saying why, if PostgreSQL's server programs are not
    /// installed (`CONSENTRY_PG_BINDIR` names their directory if they are not where Debian puts
    /// them).
    pub fn start() -> Self {
        let bin = server_programs();
        let dir = tempfile::tempdir().unwrap();
        let as_postgres = running_as_root();
        if as_postgres {
            let owned = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(owned.success(), "chown of the cluster's directory failed");
        }
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let postgres = Self {
            data: dir.path().join("data"),
            bin,
            port,
            as_postgres,
            dir,
        };
        postgres.run(
            "initdb",
            &[
                "--pgdata",
                postgres.data.to_str().unwrap(),
                "--username",
                "postgres",
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--no-sync",
            ],
        );
        postgres.start_again();
        postgres
    }

    /// The URL of its `postgres` database, for `TestDatabase::create_on`.
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stop at once, as a crash would: every connection is cut, no checkpoint is written, and
    /// the next start recovers from the write-ahead log.
    pub fn stop_immediately(&self) {
        self.pg_ctl(&["stop", "--mode", "immediate", "--wait"]);
    }

    /// Start (again) on the same port, and wait until it accepts connections.
    pub fn start_again(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgresql.log");
        self.pg_ctl(&[
            "start",
            "--wait",
            "--log",
            log.to_str().unwrap(),
            "-o",
            &options,
        ]);
    }

    fn pg_ctl(&self, args: &[&str]) {
        let mut all = vec!["--pgdata", self.data.to_str().unwrap(), "--silent"];
        all.extend_from_slice(args);
        self.run("pg_ctl", &all);
    }

    fn run(&self, program: &str, args: &[&str]) {
        let output = self.command(program).args(args).output();
        let output = output.unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// One of PostgreSQL's programs, as the user that owns the cluster, in its directory.
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        };
        command.current_dir(self.dir.path());
        command
    }
}

impl Drop for OwnPostgres {
    /// Stop the server; the directory goes with the `TempDir` (root may remove the postgres
    /// user's files).
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["--pgdata", self.data.to_str().unwrap_or_default()])
            .args(["stop", "--mode", "immediate", "--silent"])
            .output();
    }
}

/// The directory of `initdb` and `pg_ctl`: `CONSENTRY_PG_BINDIR`, else the newest
/// `/usr/lib/postgresql/<version>/bin` (Debian's layout), else whatever `PATH` holds.
fn server_programs() -> PathBuf {
    if let Some(dir) = std::env::var_os("CONSENTRY_PG_BINDIR") {
        return PathBuf::from(dir);
    }
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists())
        .max_by_key(|bin| {
            bin.parent()
                .and_then(Path::file_name)
                .and_then(|v| v.to_str())
                .and_then(|v| v.parse::<u32>().ok())
        });
    if let Some(bin) = newest {
        return bin;
    }
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|dir| dir.join("initdb").exists());
    on_path.unwrap_or_else(|| {
        panic!(
            "PostgreSQL's server programs (initdb, pg_ctl) are not installed: install Debian's \
             postgresql package or set CONSENTRY_PG_BINDIR"
        )
    })
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}
