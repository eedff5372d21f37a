//! The `consentry-scan` binary as a booth operator runs it.

use std::process::Command;

fn scan() -> Command {
    Command::new(env!("CARGO_BIN_EXE_consentry-scan"))
}

#[test]
fn help_lists_every_command_and_the_exit_codes() {
    let out = scan().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for word in [
        "pair",
        "scan",
        "listen",
        "sync",
        "status",
        "leads",
        "note",
        "export",
        "Exit codes",
    ] {
        assert!(text.contains(word), "{word} in: {text}");
    }
}

#[test]
fn status_without_pairing_says_so_with_its_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let out = scan()
        .args(["status", "--config"])
        .arg(dir.path().join("config.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not paired"));
}

#[test]
fn usage_errors_are_one_clear_line_not_a_panic() {
    let out = scan()
        .args([
            "note",
            "0192f3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b",
            "--rating",
            "9",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--rating"), "{stderr}");
    assert!(!stderr.contains("panicked"));
}
