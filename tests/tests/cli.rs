//! The `consentry` binary as an operator and a newcomer use it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};

use consentry_e2e::{Server, TestDatabase, bin, run};
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// Run `consentry ARGS --data-dir DIR [--database-url URL]` with `stdin` as standard input.
fn consentry(args: &[&str], db: &TestDatabase, data_dir: &std::path::Path, stdin: &str) -> Output {
    let db_args = db.args();
    let mut all: Vec<&std::ffi::OsStr> = args.iter().map(|a| std::ffi::OsStr::new(*a)).collect();
    all.push("--data-dir".as_ref());
    all.push(data_dir.as_os_str());
    all.extend(db_args.iter().map(std::ffi::OsStr::new));
    run("consentry", &all, stdin)
}

fn demo_password(server: &Server) -> String {
    let (email, password) = server.demo_login();
    assert_eq!(email, "demo@consentry.example");
    password
}

async fn login(server: &Server, email: &str, password: &str) -> reqwest::Response {
    client()
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

async fn get_json(server: &Server, token: &str, path: &str) -> Value {
    let response = client()
        .get(server.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_demo_serves_a_working_login_and_event_and_stops_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::new().await;
    // listening + "demo created:" + 4 lines.
    let server = Server::start(dir.path(), &db, &["--demo"], 5);
    assert!(
        server.stdout[1].starts_with("demo created"),
        "{:?}",
        server.stdout
    );
    let password = demo_password(&server);

    let response = login(&server, "demo@consentry.example", &password).await;
    assert_eq!(response.status(), 200);
    let token = response.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let events = get_json(&server, &token, "/api/v1/events").await;
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["slug"], "consentry-demo");
    // "Running today": it has started and not ended.
    let now = time::OffsetDateTime::now_utc();
    let parse = |v: &Value| {
        time::OffsetDateTime::parse(
            v.as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    assert!(parse(&events[0]["starts_at"]) <= now && now < parse(&events[0]["ends_at"]));
    let sponsors = get_json(
        &server,
        &token,
        &format!(
            "/api/v1/events/{}/sponsors",
            events[0]["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(sponsors.as_array().unwrap().len(), 3);

    // The master key was generated private to its owner.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("master.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // An attendee registers for the demo event with one sponsor; the mail lands in the outbox.
    let public: Value = client()
        .get(server.url("/api/v1/events/consentry-demo"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sponsor = public["sponsors"][0]["id"].as_str().unwrap();
    let registered = client()
        .post(server.url("/api/v1/events/consentry-demo/registrations"))
        .json(&json!({
            "first_name": "Grace", "last_name": "Hopper", "email": "grace@example.org",
            "age_confirmed": true, "notice_version": public["privacy_notice_version"],
            "sponsor_opt_ins": [sponsor],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let registered: Value = registered.json().await.unwrap();
    assert!(
        registered["manage_url"]
            .as_str()
            .unwrap()
            .starts_with(&server.base)
    );
    let outbox = dir
        .path()
        .join("outbox")
        .join(events[0]["id"].as_str().unwrap());
    assert_eq!(
        std::fs::read_dir(&outbox).unwrap().count(),
        1,
        "one confirmation mail"
    );

    let status = server.terminate();
    assert!(status.success(), "graceful shutdown exits 0, got {status}");

    // A second start keeps the demo data and prints a fresh password; the old one stops working.
    let server = Server::start(dir.path(), &db, &["--demo"], 5);
    assert!(
        server.stdout[1].starts_with("demo ready"),
        "{:?}",
        server.stdout
    );
    let new_password = demo_password(&server);
    assert_ne!(new_password, password);
    assert_eq!(
        login(&server, "demo@consentry.example", &password)
            .await
            .status(),
        401
    );
    let response = login(&server, "demo@consentry.example", &new_password).await;
    assert_eq!(response.status(), 200);
    let token = response.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        get_json(&server, &token, "/api/v1/events")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn organiser_create_reads_the_password_from_stdin_never_argv() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::new().await;
    let password = "a long enough passphrase";
    let out = consentry(
        &[
            "organiser",
            "create",
            "--email",
            "Ops@Example.org",
            "--name",
            "Ops",
            "--organisation",
            "Example",
            "--password-stdin",
        ],
        &db,
        dir.path(),
        &format!("{password}\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("created"));

    let weak = consentry(
        &[
            "organiser",
            "create",
            "--email",
            "weak@example.org",
            "--name",
            "Weak",
            "--organisation",
            "Example",
            "--password-stdin",
        ],
        &db,
        dir.path(),
        "short\n",
    );
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("at least 12 characters"));

    let duplicate = consentry(
        &[
            "organiser",
            "create",
            "--email",
            "ops@example.org",
            "--name",
            "Ops",
            "--organisation",
            "Example",
            "--password-stdin",
        ],
        &db,
        dir.path(),
        &format!("{password}\n"),
    );
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("email_taken"));

    let server = Server::start(dir.path(), &db, &[], 0);
    assert_eq!(
        login(&server, "ops@example.org", password).await.status(),
        200
    );
    assert_eq!(
        login(&server, "weak@example.org", "short").await.status(),
        401
    );

    // A new password ends existing sessions.
    let token = login(&server, "ops@example.org", password)
        .await
        .json::<Value>()
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = consentry(
        &[
            "organiser",
            "set-password",
            "--email",
            "ops@example.org",
            "--password-stdin",
        ],
        &db,
        dir.path(),
        "another long passphrase\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let me = client()
        .get(server.url("/api/v1/auth/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);
    assert_eq!(
        login(&server, "ops@example.org", "another long passphrase")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn migrate_is_idempotent_and_a_configured_master_key_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::new().await;
    for _ in 0..2 {
        let out = consentry(&["migrate"], &db, dir.path(), "");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let missing = dir.path().join("nowhere/master.key");
    let out = Command::new(bin("consentry"))
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .args(db.args())
        .env("CONSENTRY_MASTER_KEY_FILE", &missing)
        .env("CONSENTRY_LOG", "warn")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot read master key"), "{stderr}");
    assert!(!missing.exists(), "a configured key file is never invented");
}

#[test]
fn help_documents_every_command_and_setting() {
    let help = Command::new(bin("consentry"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for word in [
        "serve",
        "migrate",
        "organiser",
        "purge",
        "backup",
        "restore",
        "verify-receipt",
    ] {
        assert!(text.contains(word), "{word} in: {text}");
    }
    let serve = Command::new(bin("consentry"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&serve.stdout);
    for word in [
        "CONSENTRY_DATABASE_URL",
        "CONSENTRY_DATA_DIR",
        "CONSENTRY_BIND",
        "CONSENTRY_MASTER_KEY_FILE",
        "--demo",
    ] {
        assert!(text.contains(word), "{word} in: {text}");
    }
    let create = Command::new(bin("consentry"))
        .args(["organiser", "create", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&create.stdout);
    assert!(
        text.contains("--password-stdin") && !text.contains("--password <"),
        "{text}"
    );
}

#[tokio::test]
async fn consentry_purge_shows_what_is_due_and_purges_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::new().await;
    let server = Server::start(dir.path(), &db, &["--demo"], 5);
    let public: Value = client()
        .get(server.url("/api/v1/events/consentry-demo"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let registered = client()
        .post(server.url("/api/v1/events/consentry-demo/registrations"))
        .json(&json!({
            "first_name": "Grace", "last_name": "Hopper", "email": "grace@example.org",
            "age_confirmed": true, "notice_version": public["privacy_notice_version"],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    assert!(server.terminate().success());
    let outbox = dir.path().join("outbox");
    assert_eq!(std::fs::read_dir(&outbox).unwrap().count(), 1);
    let stdout = |out: &Output| String::from_utf8_lossy(&out.stdout).into_owned();
    let far = "2099-01-01T00:00:00Z";

    let dry = consentry(&["purge", "--dry-run"], &db, dir.path(), "");
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let text = stdout(&dry);
    assert!(
        text.contains("kept")
            && text.contains("consentry-demo")
            && text.contains("1 registrations"),
        "{text}"
    );
    let dry = consentry(&["purge", "--dry-run", "--as-of", far], &db, dir.path(), "");
    let text = stdout(&dry);
    assert!(
        text.contains("due") && text.contains("consentry-demo"),
        "{text}"
    );
    // A dry run changes nothing; a real run now finds nothing due.
    let now = consentry(&["purge"], &db, dir.path(), "");
    assert!(now.status.success());
    let text = stdout(&now);
    assert!(
        text.contains("1 registrations") && text.contains("nothing was due"),
        "{text}"
    );

    let bad = consentry(&["purge", "--as-of", "next tuesday"], &db, dir.path(), "");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("RFC 3339"));

    let purged = consentry(&["purge", "--as-of", far], &db, dir.path(), "");
    assert!(
        purged.status.success(),
        "{}",
        String::from_utf8_lossy(&purged.stderr)
    );
    assert!(stdout(&purged).contains("purged"), "{}", stdout(&purged));
    assert!(
        stdout(&purged).contains(": 1 registrations"),
        "{}",
        stdout(&purged)
    );
    assert_eq!(
        std::fs::read_dir(&outbox).unwrap().count(),
        0,
        "the event's mails went too"
    );
    let after = consentry(&["purge", "--dry-run"], &db, dir.path(), "");
    assert!(
        stdout(&after).contains("no event holds attendee data"),
        "{}",
        stdout(&after)
    );
}

#[tokio::test]
async fn verify_receipt_checks_a_receipt_against_the_keys_its_site_publishes() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::new().await;
    let server = Server::start(dir.path(), &db, &["--demo"], 5);
    let http = client();
    let public: Value = http
        .get(server.url("/api/v1/events/consentry-demo"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let registered: Value = http
        .post(server.url("/api/v1/events/consentry-demo/registrations"))
        .json(&json!({
            "first_name": "Receipt", "last_name": "Keeper", "email": "keeper@example.org",
            "age_confirmed": true, "notice_version": public["privacy_notice_version"],
            "sponsor_opt_ins": [public["sponsors"][0]["id"]],
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = registered["manage_token"].as_str().unwrap();
    let me: Value = http
        .get(server.url(&format!("/api/v1/me/{token}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = me["consent_history"][0]["id"].as_str().unwrap();
    let receipt = http
        .get(server.url(&format!("/api/v1/me/{token}/receipts/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let file = dir.path().join("receipt.jws");
    std::fs::write(&file, &receipt).unwrap();

    // The keys are fetched from the site the receipt names.
    let verified = run(
        "consentry",
        &["verify-receipt".as_ref(), file.as_os_str()],
        "",
    );
    let out = String::from_utf8_lossy(&verified.stdout);
    assert!(
        verified.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    assert!(
        out.starts_with("valid: signed by a key published at "),
        "{out}"
    );
    assert!(out.contains("\"action\": \"granted\""), "{out}");

    // A saved key set works offline; a receipt changed by one byte is refused.
    let keys = http
        .get(server.url("/.well-known/consent-receipt-keys.json"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let keys_file = dir.path().join("keys.json");
    std::fs::write(&keys_file, keys).unwrap();
    drop(server);
    let verify_offline = || {
        run(
            "consentry",
            &[
                "verify-receipt".as_ref(),
                file.as_os_str(),
                "--keys".as_ref(),
                keys_file.as_os_str(),
            ],
            "",
        )
    };
    assert!(verify_offline().status.success());
    let mut changed = receipt.into_bytes();
    let at = changed.len() - 10;
    changed[at] = if changed[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(&file, changed).unwrap();
    let refused = verify_offline();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("not valid"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}
