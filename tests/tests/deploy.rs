//! The deployment files in `deploy/` and the configuration documented in README.md stay true to
//! the binary: the systemd unit verifies, and every setting they name is one `consentry serve`
//! knows (and every one it knows is documented).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{collections::BTreeSet, path::PathBuf, process::Command};

use consentry_e2e::bin;

fn workspace_file(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(workspace_file(path)).unwrap()
}

/// Every `CONSENTRY_…` name in `text`.
fn variables(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("CONSENTRY_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        found.insert(name.trim_end_matches('_').to_owned());
    }
    found
}

/// The environment variables `consentry serve` reads, from its help.
fn serve_variables() -> BTreeSet<String> {
    let help = Command::new(bin("consentry"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(help.status.success());
    let mut names = variables(&String::from_utf8(help.stdout).unwrap());
    // Global flags (`consentry --help`), read by every command.
    names.insert("CONSENTRY_LOG_FORMAT".into());
    names
}

#[test]
fn the_example_environment_names_only_settings_the_server_knows() {
    let known = serve_variables();
    let example = variables(&read("deploy/consentry.env"));
    let unit = variables(&read("deploy/consentry.service"));
    let unknown: Vec<_> = example
        .union(&unit)
        .filter(|v| !known.contains(*v))
        .collect();
    assert!(
        unknown.is_empty(),
        "not settings of `consentry serve`: {unknown:?}"
    );
}

#[test]
fn the_readme_documents_every_setting_of_serve() {
    let readme = variables(&read("README.md"));
    let missing: Vec<_> = serve_variables()
        .into_iter()
        .filter(|v| !readme.contains(v))
        .collect();
    assert!(
        missing.is_empty(),
        "README.md does not document {missing:?}"
    );
}

#[test]
fn the_systemd_unit_verifies() {
    let Ok(probe) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze is not installed: the unit is not verified here");
        return;
    };
    assert!(probe.status.success());
    let unit = read("deploy/consentry.service");
    assert!(unit.contains("ExecStart=/usr/local/bin/consentry serve"));
    // systemd-analyze checks that ExecStart's binary exists: point it at the one just built.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("consentry.service");
    std::fs::write(
        &copy,
        unit.replace(
            "/usr/local/bin/consentry",
            bin("consentry").to_str().unwrap(),
        ),
    )
    .unwrap();
    let verified = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .unwrap();
    assert!(
        verified.status.success() && verified.stderr.is_empty(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&verified.stderr)
    );
}
