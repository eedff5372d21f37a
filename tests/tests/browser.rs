//! The web pages in a real browser: each scenario `tests/browser/<name>.mjs` is a Node script that
//! drives a headless Chromium (playwright-core) against `consentry serve --demo` on a fresh data
//! directory and database of its own. Screenshots and the scenario's output go to
//! `target/browser-artifacts/<name>/`.
//!
//! Needs Node and Chromium (`apt-get install chromium`, or `CONSENTRY_CHROMIUM=/path/to/chromium`);
//! `scripts/test` installs both. A missing browser fails these tests rather than skipping them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use consentry_e2e::{Server, TestDatabase};

/// A whole scenario must finish within this (each step has a timeout of its own, too).
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(300);

/// One browser at a time: Chromium is heavy, and scenarios timed against each other flake.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One `#[tokio::test]` per scenario, and the list of them for [`every_scenario_file_is_listed`].
macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        const SCENARIOS: &[&str] = &[$(stringify!($name)),*];
        $(
            #[tokio::test]
            async fn $name() {
                run_scenario(stringify!($name)).await;
            }
        )*
    };
}

scenarios!(smoke, attendee, organiser, kiosk, booth);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn browser_dir() -> PathBuf {
    workspace().join("tests").join("browser")
}

/// Node, the scenarios' `node_modules` (installed from the lock file if missing) and Chromium.
fn prerequisites() {
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.as_ref().is_ok_and(|o| o.status.success()),
        "the browser tests need Node.js 20 or later on PATH (`scripts/test` installs it): {node:?}"
    );
    let dir = browser_dir();
    let installed = ["playwright-core", "pngjs"]
        .iter()
        .all(|package| dir.join("node_modules").join(package).exists());
    if !installed {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .expect("npm is needed to install the browser tests' dependencies");
        assert!(status.success(), "`npm ci` in {} failed", dir.display());
    }
    let chromium = std::env::var_os("CONSENTRY_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        chromium.exists(),
        "no Chromium at {}: the browser tests need it. Install it with \
         `apt-get install chromium` (Debian; `scripts/test` does this), or point \
         CONSENTRY_CHROMIUM at a Chromium binary",
        chromium.display()
    );
}

async fn run_scenario(name: &str) {
    let _one = ONE_AT_A_TIME.lock().await;
    prerequisites();

    let artifacts = workspace()
        .join("target")
        .join("browser-artifacts")
        .join(name);
    // Stale screenshots of an earlier run would mislead.
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::new().await;
    // listening + "demo created:" + 4 lines.
    let server = Server::start(dir.path(), &db, &["--demo"], 5);
    let (email, password) = server.demo_login();

    let stdout_path = artifacts.join("stdout.log");
    let stderr_path = artifacts.join("stderr.log");
    let mut child = Command::new("node")
        .arg(browser_dir().join(format!("{name}.mjs")))
        .current_dir(workspace())
        .env("CONSENTRY_BASE_URL", &server.base)
        .env("CONSENTRY_BROWSER_ARTIFACTS", &artifacts)
        .env("CONSENTRY_DEMO_EMAIL", &email)
        .env("CONSENTRY_DEMO_PASSWORD", &password)
        .env("CONSENTRY_DATA_DIR", dir.path())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .expect("node could not be started");

    let deadline = Instant::now() + SCENARIO_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let outcome = match status {
        Some(status) if status.success() => return,
        Some(status) => format!("exited with {status}"),
        None => format!("did not finish within {SCENARIO_TIMEOUT:?}"),
    };
    panic!(
        "browser scenario {name} {outcome} (artifacts in {})\n\
         --- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        artifacts.display()
    );
}

/// The modules the scenarios import; every other `.mjs` is a scenario.
const HELPERS: &[&str] = &["harness", "fake-camera"];

/// A scenario file nobody listed would never run.
#[test]
fn every_scenario_file_is_listed() {
    let mut files: Vec<String> = std::fs::read_dir(browser_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|file| file.strip_suffix(".mjs").map(str::to_owned))
        .filter(|name| !HELPERS.contains(&name.as_str()))
        .collect();
    files.sort();
    let mut listed: Vec<String> = SCENARIOS.iter().map(|s| (*s).to_owned()).collect();
    listed.sort();
    assert_eq!(
        files, listed,
        "every tests/browser/*.mjs but the HELPERS is a scenario: list it in scenarios!(...)"
    );
}
