//! `consentry backup` and `consentry restore` on the real binary, on SQLite and PostgreSQL alike:
//! - a backup taken while a kiosk scans restores into a fresh place, whose server serves the same
//!   registrations and leads, and a consistent state of the scans;
//! - crypto-shredding end to end: a backup (without keys) taken before a purge, restored next to the
//!   key store and master key that survived the purge, opens nothing of its attendees;
//! - the keys are copied only on request, apart and with a warning, and nothing is overwritten
//!   without --force: not a backup, not data, not a master key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    collections::BTreeSet,
    path::Path,
    process::Output,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use consentry_e2e::{Server, TestDatabase, bin, dump_database, run};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Send `request`, with `token` as a Bearer token if any: the status and the body as text.
async fn answer(mut request: reqwest::RequestBuilder, token: Option<&str>) -> (u16, String) {
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn post(base: &str, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    let (status, text) = answer(client().post(format!("{base}{path}")).json(&body), token).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn get(base: &str, path: &str, token: Option<&str>) -> (u16, String) {
    answer(client().get(format!("{base}{path}")), token).await
}

async fn get_json(base: &str, path: &str, token: Option<&str>) -> Value {
    let (status, text) = get(base, path, token).await;
    assert_eq!(status, 200, "{path}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// Run `consentry ARGS --data-dir DIR` with the database arguments of `db`.
fn consentry(args: &[&str], db: &TestDatabase, data_dir: &Path) -> Output {
    let db_args = db.args();
    let mut all: Vec<&std::ffi::OsStr> = args.iter().map(|a| std::ffi::OsStr::new(*a)).collect();
    all.push("--data-dir".as_ref());
    all.push(data_dir.as_os_str());
    all.extend(db_args.iter().map(std::ffi::OsStr::new));
    run("consentry", &all, "")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `consentry ARGS` that must succeed: its standard output.
fn succeeds(args: &[&str], db: &TestDatabase, data_dir: &Path) -> Output {
    let out = consentry(args, db, data_dir);
    assert!(
        out.status.success(),
        "consentry {args:?}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

/// `consentry ARGS` that must fail saying `reason`.
fn refused(args: &[&str], db: &TestDatabase, data_dir: &Path, reason: &str) {
    let out = consentry(args, db, data_dir);
    assert!(!out.status.success(), "consentry {args:?} succeeded");
    assert!(stderr(&out).contains(reason), "{}", stderr(&out));
}

/// The demo organiser's session, the demo event and its sponsors.
struct Demo {
    organiser: String,
    password: String,
    event_id: String,
    sponsors: Vec<String>,
    notice_version: Value,
}

async fn demo(server: &Server) -> Demo {
    let base = &server.base;
    let password = server.demo_password();
    let (_, login) = post(
        base,
        "/api/v1/auth/login",
        None,
        json!({"email": "demo@consentry.example", "password": password}),
    )
    .await;
    let organiser = login["token"].as_str().unwrap().to_owned();
    let public = get_json(base, "/api/v1/events/consentry-demo", None).await;
    let events = get_json(base, "/api/v1/events", Some(&organiser)).await;
    Demo {
        organiser,
        password,
        event_id: events[0]["id"].as_str().unwrap().to_owned(),
        sponsors: (0..3)
            .map(|i| public["sponsors"][i]["id"].as_str().unwrap().to_owned())
            .collect(),
        notice_version: public["privacy_notice_version"].clone(),
    }
}

/// A registered attendee: names, manage token, badge token.
struct Attendee {
    first_name: String,
    last_name: String,
    email: String,
    manage_token: String,
    badge: String,
}

async fn register(base: &str, demo: &Demo, tag: &str, opt_ins: &[&String]) -> Attendee {
    let (first_name, last_name, email) = (
        format!("Canaryfirst{tag}"),
        format!("Canarylast{tag}"),
        format!("canary-{tag}@example.org"),
    );
    let (status, registered) = post(
        base,
        "/api/v1/events/consentry-demo/registrations",
        None,
        json!({
            "first_name": first_name, "last_name": last_name, "email": email,
            "age_confirmed": true, "notice_version": demo.notice_version,
            "sponsor_opt_ins": opt_ins,
        }),
    )
    .await;
    assert_eq!(status, 201, "{registered}");
    Attendee {
        first_name,
        last_name,
        email,
        manage_token: registered["manage_token"].as_str().unwrap().to_owned(),
        badge: registered["badge"]["token"].as_str().unwrap().to_owned(),
    }
}

/// A paired kiosk of `sponsor`: its token.
async fn paired_kiosk(base: &str, demo: &Demo, sponsor: &str) -> String {
    let (_, created) = post(
        base,
        &format!("/api/v1/events/{}/sponsors/{sponsor}/kiosks", demo.event_id),
        Some(&demo.organiser),
        json!({}),
    )
    .await;
    let (_, paired) = post(
        base,
        "/api/v1/kiosks/pair",
        None,
        json!({"code": created["pairing_code"], "device_name": "Booth"}),
    )
    .await;
    paired["token"].as_str().unwrap().to_owned()
}

/// One scan of `badge` by the kiosk: the status and the answer.
async fn scan(base: &str, kiosk: &str, badge: &str) -> (u16, Value) {
    post(
        base,
        "/api/v1/scans",
        Some(kiosk),
        json!({
            "badge_token": badge,
            "client_scan_id": Uuid::new_v4(),
            "scanned_at": time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap(),
        }),
    )
    .await
}

/// A number from `sql`.
async fn number(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<Option<i64>>(0)
        .unwrap()
        .unwrap_or_default()
}

/// The names in a directory.
fn names_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The data file a backup of `db` holds.
fn data_file(db: &TestDatabase) -> &'static str {
    if db.url.is_some() {
        "consentry.dump"
    } else {
        "consentry.db"
    }
}

/// Which of `names` a sponsor's leads export holds; it must hold one lead for each.
async fn lead_names(base: &str, demo: &Demo, sponsor: &str, names: &[String]) -> BTreeSet<String> {
    let leads = get_json(
        base,
        &format!(
            "/api/v1/events/{}/sponsors/{sponsor}/leads.json",
            demo.event_id
        ),
        Some(&demo.organiser),
    )
    .await;
    let text = leads.to_string();
    let found: BTreeSet<String> = names
        .iter()
        .filter(|n| text.contains(n.as_str()))
        .cloned()
        .collect();
    assert_eq!(leads.as_array().unwrap().len(), found.len(), "{leads}");
    found
}

/// An attendee's view of their registration without what depends on the server's address (the
/// badge's links, and its QR code, which holds the badge page's address).
fn without_addresses(mut me: Value) -> Value {
    let badge = me["badge"]["token"].clone();
    me["badge"] = json!({ "token": badge });
    me
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_a_kiosk_scans_restores_into_a_fresh_place_and_serves_the_same_data() {
    const ATTENDEES: usize = 6;
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::new().await;
    let server = Server::start(dir.path(), &db, &["--demo", "--disable-rate-limits"], 5);
    let base = server.base.clone();
    let demo = demo(&server).await;
    let sponsor = demo.sponsors[0].clone();
    let mut attendees = Vec::new();
    for i in 0..ATTENDEES {
        let tag = format!("{i}x{}", &Uuid::new_v4().simple().to_string()[..8]);
        // Every second attendee consents to the sponsor.
        let opt_ins = if i % 2 == 0 { vec![&sponsor] } else { vec![] };
        attendees.push(register(&base, &demo, &tag, &opt_ins).await);
    }
    let kiosk = paired_kiosk(&base, &demo, &sponsor).await;
    for attendee in &attendees {
        assert!(matches!(
            scan(&base, &kiosk, &attendee.badge).await.0,
            200 | 201
        ));
    }
    let first_names: Vec<String> = attendees.iter().map(|a| a.first_name.clone()).collect();
    let consenting: BTreeSet<String> = attendees
        .iter()
        .step_by(2)
        .map(|a| a.first_name.clone())
        .collect();
    assert_eq!(
        lead_names(&base, &demo, &sponsor, &first_names).await,
        consenting
    );
    let mut registrations = Vec::new();
    for attendee in &attendees {
        let path = format!("/api/v1/me/{}", attendee.manage_token);
        registrations.push(without_addresses(get_json(&base, &path, None).await));
    }

    // Three kiosk loops scan on and on while the backup runs.
    const LOOPS: usize = 3;
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let scanning: Vec<_> = (0..LOOPS)
        .map(|first| {
            let (stop, answered, base, kiosk) =
                (stop.clone(), answered.clone(), base.clone(), kiosk.clone());
            let badges: Vec<String> = attendees.iter().map(|a| a.badge.clone()).collect();
            tokio::spawn(async move {
                let mut i = first;
                while !stop.load(Ordering::SeqCst) {
                    let (status, body) = scan(&base, &kiosk, &badges[i % badges.len()]).await;
                    assert!(matches!(status, 200 | 201), "{status} {body}");
                    answered.fetch_add(1, Ordering::SeqCst);
                    i += 1;
                }
            })
        })
        .collect();
    while answered.load(Ordering::SeqCst) < 5 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let backup_dir = dir.path().join("backup");
    let before = answered.load(Ordering::SeqCst);
    let out = {
        let (db_args, data_dir, to) = (db.args(), dir.path().to_owned(), backup_dir.clone());
        tokio::task::spawn_blocking(move || {
            let mut args: Vec<std::ffi::OsString> = vec![
                "backup".into(),
                "--include-keys".into(),
                "--to".into(),
                to.into(),
                "--data-dir".into(),
                data_dir.into(),
            ];
            args.extend(db_args.into_iter().map(Into::into));
            let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
            run("consentry", &args, "")
        })
        .await
        .unwrap()
    };
    let after = answered.load(Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    for scanning in scanning {
        scanning.await.unwrap();
    }
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(after > before, "scans went on while the backup ran");
    drop(server);

    // Restored into a fresh data directory (and, on PostgreSQL, fresh databases).
    let fresh = tempfile::tempdir().unwrap();
    let fresh_db = TestDatabase::new().await;
    let restored = succeeds(
        &["restore", "--from", backup_dir.to_str().unwrap()],
        &fresh_db,
        fresh.path(),
    );
    assert!(
        stdout(&restored).contains("restored from the backup"),
        "{}",
        stdout(&restored)
    );
    // The snapshot is one committed state: every accepted scan counted in its lead, and it holds
    // the scans answered before the backup began, and none begun after it ended (one per loop at
    // most was under way).
    let store = consentry::db::connect(&fresh_db.url_in(fresh.path()), None)
        .await
        .unwrap();
    let accepted = number(
        &store,
        "SELECT COUNT(*) FROM scan_requests WHERE outcome = 'accepted'",
    )
    .await;
    let counted = number(&store, "SELECT CAST(SUM(scan_count) AS BIGINT) FROM leads").await;
    assert_eq!(accepted, counted, "each accepted scan counted once");
    let scans = number(&store, "SELECT COUNT(*) FROM scan_requests").await as usize;
    assert!(
        ATTENDEES + before <= scans && scans <= ATTENDEES + after + LOOPS,
        "{} <= {scans} <= {}",
        ATTENDEES + before,
        ATTENDEES + after + LOOPS
    );
    // The keys came back into the key store, and the data file brought none.
    assert_eq!(number(&store, "SELECT COUNT(*) FROM event_keys").await, 0);
    assert_eq!(number(&store, "SELECT COUNT(*) FROM badge_keys").await, 0);
    store.close().await.ok();
    let keystore = consentry::db::connect(&fresh_db.keystore_url_in(fresh.path()), None)
        .await
        .unwrap();
    assert_eq!(
        number(&keystore, "SELECT COUNT(*) FROM event_keys").await,
        1
    );
    keystore.close().await.ok();

    // The restored server serves the same registrations and leads, to the same organiser login
    // and the same kiosk (the master key came back with the keys), and goes on scanning.
    let server = Server::start(fresh.path(), &fresh_db, &["--disable-rate-limits"], 0);
    let base = server.base.clone();
    let (status, login) = post(
        &base,
        "/api/v1/auth/login",
        None,
        json!({"email": "demo@consentry.example", "password": demo.password}),
    )
    .await;
    assert_eq!(status, 200);
    let demo = Demo {
        organiser: login["token"].as_str().unwrap().to_owned(),
        ..demo
    };
    for (attendee, before) in attendees.iter().zip(&registrations) {
        let path = format!("/api/v1/me/{}", attendee.manage_token);
        assert_eq!(
            &without_addresses(get_json(&base, &path, None).await),
            before
        );
    }
    assert_eq!(
        lead_names(&base, &demo, &sponsor, &first_names).await,
        consenting
    );
    let kiosk_leads = get_json(&base, "/api/v1/leads", Some(&kiosk)).await;
    assert_eq!(
        kiosk_leads["leads"].as_array().unwrap().len(),
        consenting.len()
    );
    let (status, answer) = scan(&base, &kiosk, &attendees[0].badge).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (201, Some("accepted"))
    );
}

#[tokio::test]
async fn after_a_purge_a_backup_taken_before_it_stays_unreadable_with_the_surviving_key_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::new().await;
    let server = Server::start(dir.path(), &db, &["--demo"], 5);
    let base = server.base.clone();
    let demo = demo(&server).await;
    let sponsor = demo.sponsors[0].clone();
    let tag = Uuid::new_v4().simple().to_string();
    let canary = register(&base, &demo, &tag[..12], &[&sponsor]).await;
    let kiosk = paired_kiosk(&base, &demo, &sponsor).await;
    let (status, answer) = scan(&base, &kiosk, &canary.badge).await;
    assert_eq!(status, 201, "{answer}");
    let note = format!("Canarynote{}", &tag[12..24]);
    let lead_id = answer["lead"]["id"].as_str().unwrap();
    let (status, _) = answer_patch(&base, &kiosk, lead_id, &note).await;
    assert_eq!(status, 200);
    let csv_path = format!(
        "/api/v1/events/{}/sponsors/{sponsor}/leads.csv",
        demo.event_id
    );
    let (_, csv) = get(&base, &csv_path, Some(&demo.organiser)).await;
    assert!(
        csv.contains(&canary.first_name) && csv.contains(&note),
        "{csv}"
    );
    assert!(server.terminate().success());

    let backup_dir = dir.path().join("backup");
    let out = succeeds(
        &["backup", "--to", backup_dir.to_str().unwrap()],
        &db,
        dir.path(),
    );
    assert!(
        stdout(&out).contains("not in this backup"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        names_in(&backup_dir),
        BTreeSet::from([data_file(&db).to_owned(), "manifest.json".to_owned()])
    );

    // Until the purge, the keys in place open the event's sealed data.
    let event_id = consentry::schema::ids::EventId(Uuid::parse_str(&demo.event_id).unwrap());
    let master =
        consentry::crypto::MasterKey::load_or_create(&dir.path().join("master.key"), false)
            .unwrap();
    let keystore = consentry::db::connect(&db.keystore_url_in(dir.path()), None)
        .await
        .unwrap();
    assert!(
        consentry::vault::EventVault::load(&keystore, &master, event_id)
            .await
            .is_ok()
    );
    succeeds(
        &["purge", "--as-of", "2100-01-01T00:00:00Z"],
        &db,
        dir.path(),
    );

    // The old backup goes back in place, beside the key store and master key that survived the
    // purge: the database holds data (the event, the organiser), so only with --force.
    let from = backup_dir.to_str().unwrap();
    refused(&["restore", "--from", from], &db, dir.path(), "--force");
    let out = succeeds(&["restore", "--from", from, "--force"], &db, dir.path());
    assert!(
        stdout(&out).contains("stay unreadable: their keys are gone"),
        "{}",
        stdout(&out)
    );

    // The sealed rows are back, and nothing opens them: the event's key is gone for good, and no
    // row of either database holds the attendee in the clear.
    let store = consentry::db::connect(&db.url_in(dir.path()), None)
        .await
        .unwrap();
    let sealed = count_of_event(
        &store,
        "SELECT COUNT(*) FROM registrations WHERE event_id = ?",
        event_id.as_uuid(),
    )
    .await;
    assert_eq!(sealed, 1, "the backup holds the registration, sealed");
    assert!(
        consentry::vault::EventVault::load(&keystore, &master, event_id)
            .await
            .is_err()
    );
    let rows: Vec<String> = dump_database(&store)
        .await
        .into_iter()
        .chain(dump_database(&keystore).await)
        .map(|(table, values)| format!("{table}: {}", values.join(" | ")))
        .collect();
    for needle in [&canary.first_name, &canary.last_name, &canary.email, &note] {
        let clear: Vec<&String> = rows
            .iter()
            .filter(|r| r.contains(needle.as_str()))
            .collect();
        assert!(clear.is_empty(), "{needle} in the clear: {clear:?}");
    }
    store.close().await.ok();
    keystore.close().await.ok();

    // Through the restored server: the attendee's link, the organiser's export and the kiosk
    // yield nothing of the attendee.
    let server = Server::start(dir.path(), &db, &[], 0);
    let base = server.base.clone();
    let (_, login) = post(
        &base,
        "/api/v1/auth/login",
        None,
        json!({"email": "demo@consentry.example", "password": demo.password}),
    )
    .await;
    let organiser = login["token"].as_str().unwrap().to_owned();
    let (status, body) = get(&base, &format!("/api/v1/me/{}", canary.manage_token), None).await;
    assert_eq!(status, 404, "{body}");
    let (status, csv) = get(&base, &csv_path, Some(&organiser)).await;
    assert_ne!(status, 200, "{csv}");
    let (status, scanned) = scan(&base, &kiosk, &canary.badge).await;
    assert!(!matches!(status, 200 | 201), "{status} {scanned}");
    for text in [body, csv, scanned.to_string()] {
        for needle in [&canary.first_name, &canary.email, &note] {
            assert!(!text.contains(needle.as_str()), "{needle} served: {text}");
        }
    }
}

/// A note on a lead, by its kiosk.
async fn answer_patch(base: &str, kiosk: &str, lead_id: &str, note: &str) -> (u16, String) {
    answer(
        client()
            .patch(format!("{base}/api/v1/leads/{lead_id}"))
            .json(&json!({"note": note, "rating": 4})),
        Some(kiosk),
    )
    .await
}

/// A count from `sql`, its one `?` placeholder bound to `id`.
async fn count_of_event(db: &DatabaseConnection, sql: &str, id: Uuid) -> i64 {
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => sql.replace('?', "$1"),
        _ => sql.to_owned(),
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [id.into()]))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

#[tokio::test]
async fn keys_are_copied_only_on_request_apart_with_a_warning_and_nothing_is_overwritten_unforced()
{
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::new().await;
    let server = Server::start(dir.path(), &db, &["--demo"], 5);
    let base = server.base.clone();
    let demo = demo(&server).await;
    let tag = Uuid::new_v4().simple().to_string();
    let attendee = register(&base, &demo, &tag[..12], &[]).await;
    let manage = format!("/api/v1/me/{}", attendee.manage_token);

    // With the server running.
    let backup_dir = dir.path().join("backup");
    let to = backup_dir.to_str().unwrap();
    let out = succeeds(&["backup", "--include-keys", "--to", to], &db, dir.path());
    let warning = stderr(&out);
    assert!(
        warning.contains("warning") && warning.contains("less time than the retention period"),
        "{warning}"
    );
    let keys = backup_dir.join("keys");
    let keystore_file = if db.url.is_some() {
        "keys.dump"
    } else {
        "keys.db"
    };
    assert_eq!(
        names_in(&backup_dir),
        BTreeSet::from([
            data_file(&db).to_owned(),
            "keys".to_owned(),
            "manifest.json".to_owned()
        ])
    );
    assert_eq!(
        names_in(&keys),
        BTreeSet::from([
            keystore_file.to_owned(),
            "master.key".to_owned(),
            "WARNING.txt".to_owned()
        ])
    );
    let warning_file = std::fs::read_to_string(keys.join("WARNING.txt")).unwrap();
    assert!(
        warning_file.contains("less time than the retention period")
            && warning_file.contains("30 days"),
        "{warning_file}"
    );
    assert_eq!(
        std::fs::read_to_string(keys.join("master.key")).unwrap(),
        std::fs::read_to_string(dir.path().join("master.key")).unwrap()
    );
    #[cfg(unix)]
    {
        for private_dir in [&backup_dir, &keys] {
            assert_eq!(mode(private_dir), 0o700, "{}", private_dir.display());
        }
        for file in [
            backup_dir.join(data_file(&db)),
            backup_dir.join("manifest.json"),
            keys.join(keystore_file),
            keys.join("master.key"),
            keys.join("WARNING.txt"),
        ] {
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
    }
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(backup_dir.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["format"], "consentry-backup");
    assert_eq!(manifest["format_version"], 1);
    assert_eq!(
        manifest["backend"],
        if db.url.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    );
    assert_eq!(manifest["keys_included"], true);
    assert!(manifest["schema"].as_str().unwrap().starts_with("m2026"));
    let listed: BTreeSet<&str> = manifest["files"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        listed,
        BTreeSet::from([
            data_file(&db),
            &*format!("keys/{keystore_file}"),
            "keys/master.key"
        ])
    );
    // On SQLite the data file itself can be opened: the keys are in keys/ and only there.
    // (Opened from a copy: opening a database file may change its header, and so its checksum.)
    if db.url.is_none() {
        let scratch = tempfile::tempdir().unwrap();
        copy_dir(&backup_dir, scratch.path());
        let copy = |file: &str| format!("sqlite://{}?mode=rw", scratch.path().join(file).display());
        let data = consentry::db::connect(&copy("consentry.db"), None)
            .await
            .unwrap();
        assert_eq!(number(&data, "SELECT COUNT(*) FROM event_keys").await, 0);
        assert_eq!(number(&data, "SELECT COUNT(*) FROM registrations").await, 1);
        data.close().await.ok();
        let keys = consentry::db::connect(&copy("keys/keys.db"), None)
            .await
            .unwrap();
        assert_eq!(number(&keys, "SELECT COUNT(*) FROM event_keys").await, 1);
        keys.close().await.ok();
    }

    // Never over a backup, nor into a directory holding anything else.
    let manifest_text = std::fs::read_to_string(backup_dir.join("manifest.json")).unwrap();
    refused(
        &["backup", "--to", to],
        &db,
        dir.path(),
        "already holds a backup",
    );
    assert_eq!(
        std::fs::read_to_string(backup_dir.join("manifest.json")).unwrap(),
        manifest_text
    );
    let cluttered = dir.path().join("cluttered");
    std::fs::create_dir(&cluttered).unwrap();
    std::fs::write(cluttered.join("notes.txt"), "mine").unwrap();
    refused(
        &["backup", "--to", cluttered.to_str().unwrap()],
        &db,
        dir.path(),
        "not empty",
    );

    // A backup that fails part-way leaves nothing behind that could pass for one.
    let missing_key = dir.path().join("elsewhere/master.key");
    let partial = dir.path().join("partial");
    let out = consentry(
        &[
            "backup",
            "--include-keys",
            "--to",
            partial.to_str().unwrap(),
            "--master-key-file",
            missing_key.to_str().unwrap(),
        ],
        &db,
        dir.path(),
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no backup was made; the partial copy was removed")
            && stderr(&out).contains("cannot read master key"),
        "{}",
        stderr(&out)
    );
    assert!(!partial.exists());

    // Not over data in place without --force: the server still serves the attendee.
    refused(
        &["restore", "--from", to],
        &db,
        dir.path(),
        "already holds data",
    );
    assert_eq!(get(&base, &manage, None).await.0, 200);
    drop(server);

    // Not over a different master key without --force; with it, the backup's key is in place.
    let fresh = tempfile::tempdir().unwrap();
    let fresh_db = TestDatabase::new().await;
    std::fs::write(
        fresh.path().join("master.key"),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
    )
    .unwrap();
    refused(
        &["restore", "--from", to],
        &fresh_db,
        fresh.path(),
        "a different master key",
    );
    succeeds(
        &["restore", "--from", to, "--force"],
        &fresh_db,
        fresh.path(),
    );
    assert_eq!(
        std::fs::read_to_string(fresh.path().join("master.key")).unwrap(),
        std::fs::read_to_string(dir.path().join("master.key")).unwrap()
    );
    let server = Server::start(fresh.path(), &fresh_db, &[], 0);
    let me = get_json(&server.base, &manage, None).await;
    assert!(me.to_string().contains(&attendee.email), "{me}");
    drop(server);

    // A damaged backup, or one without its manifest, is refused before anything changes.
    let damaged = dir.path().join("damaged");
    copy_dir(&backup_dir, &damaged);
    let mut data = std::fs::read(damaged.join(data_file(&db))).unwrap();
    data.push(0);
    std::fs::write(damaged.join(data_file(&db)), data).unwrap();
    let other = tempfile::tempdir().unwrap();
    let other_db = TestDatabase::new().await;
    refused(
        &["restore", "--from", damaged.to_str().unwrap()],
        &other_db,
        other.path(),
        "does not match its checksum",
    );
    std::fs::remove_file(damaged.join("manifest.json")).unwrap();
    refused(
        &["restore", "--from", damaged.to_str().unwrap()],
        &other_db,
        other.path(),
        "holds no manifest.json",
    );
    assert!(!other.path().join("consentry.db").exists());

    // PostgreSQL without pg_dump: the exact commands are printed, and nothing is written.
    if db.url.is_some() {
        let nowhere = dir.path().join("not-made");
        let out = std::process::Command::new(bin("consentry"))
            .args(["backup", "--include-keys", "--to"])
            .arg(&nowhere)
            .arg("--data-dir")
            .arg(dir.path())
            .args(db.args())
            .env("PATH", dir.path().join("no-programs-here"))
            .env("CONSENTRY_LOG", "warn")
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("pg_dump is not installed"),
            "{}",
            stderr(&out)
        );
        let printed = stdout(&out);
        assert!(
            printed.contains("pg_dump --format=custom")
                && printed.contains("--exclude-table-data=event_keys")
                && printed.contains("--table=event_keys"),
            "{printed}"
        );
        assert!(!nowhere.exists());
    }
}

/// PostgreSQL without `--keystore-url` keeps the keys in the main database. Its backup still holds
/// none of them (their rows are left out of the dump), and a restore of it never replaces that
/// database, keys and all, even with --force. (A SQLite key store is always a file of its own.)
#[tokio::test]
async fn with_the_key_store_in_the_main_postgresql_database_a_backup_still_holds_no_key() {
    let db = TestDatabase::new().await;
    if db.url.is_none() {
        return;
    }
    let db = db.keystore_in_main();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &db, &["--demo"], 5);
    let demo = demo(&server).await;
    let tag = Uuid::new_v4().simple().to_string();
    let attendee = register(&server.base, &demo, &tag[..12], &[]).await;
    drop(server);
    let main = consentry::db::connect(db.url.as_deref().unwrap(), None)
        .await
        .unwrap();
    assert_eq!(number(&main, "SELECT COUNT(*) FROM event_keys").await, 1);
    main.close().await.ok();

    let data_only = dir.path().join("data-only");
    let with_keys = dir.path().join("with-keys");
    succeeds(
        &["backup", "--to", data_only.to_str().unwrap()],
        &db,
        dir.path(),
    );
    succeeds(
        &[
            "backup",
            "--include-keys",
            "--to",
            with_keys.to_str().unwrap(),
        ],
        &db,
        dir.path(),
    );

    // Restored into a fresh database: the data, and no key.
    let fresh = tempfile::tempdir().unwrap();
    let fresh_db = TestDatabase::new().await.keystore_in_main();
    let out = succeeds(
        &["restore", "--from", data_only.to_str().unwrap()],
        &fresh_db,
        fresh.path(),
    );
    assert!(
        stderr(&out).contains("stays unreadable"),
        "{}",
        stderr(&out)
    );
    let restored = consentry::db::connect(fresh_db.url.as_deref().unwrap(), None)
        .await
        .unwrap();
    assert_eq!(
        number(&restored, "SELECT COUNT(*) FROM registrations").await,
        1
    );
    assert_eq!(
        number(&restored, "SELECT COUNT(*) FROM event_keys").await,
        0
    );
    assert_eq!(
        number(&restored, "SELECT COUNT(*) FROM badge_keys").await,
        0
    );
    restored.close().await.ok();

    // Over the database that holds the keys, a backup without them is refused even when forced.
    refused(
        &["restore", "--from", data_only.to_str().unwrap(), "--force"],
        &db,
        dir.path(),
        "destroy every event's keys",
    );
    let server = Server::start(dir.path(), &db, &[], 0);
    let me = get_json(
        &server.base,
        &format!("/api/v1/me/{}", attendee.manage_token),
        None,
    )
    .await;
    assert_eq!(me["details"]["email"], attendee.email.as_str());
    drop(server);

    // The copy with keys brings them back into the main database, and the data opens.
    let other = tempfile::tempdir().unwrap();
    let other_db = TestDatabase::new().await.keystore_in_main();
    succeeds(
        &["restore", "--from", with_keys.to_str().unwrap()],
        &other_db,
        other.path(),
    );
    let server = Server::start(other.path(), &other_db, &[], 0);
    let me = get_json(
        &server.base,
        &format!("/api/v1/me/{}", attendee.manage_token),
        None,
    )
    .await;
    assert_eq!(me["details"]["email"], attendee.email.as_str());
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().map(Result::unwrap) {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
