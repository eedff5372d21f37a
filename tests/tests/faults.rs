//! Fault injection on the real binary, loopback only and bounded in time:
//! - the server is killed with SIGKILL again and again while kiosks scan;
//! - PostgreSQL stops as in a crash while kiosks scan, and comes back;
//! - the purge is killed at random points until one run finishes.
//!
//! The kiosks retry as `consentry-scan` does (the same client scan id until an answer comes).
//! Afterwards every scan exists exactly once, no lead exists without consent, and the purge ends
//! as an uninterrupted one would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use consentry_e2e::{OwnPostgres, Server, TestDatabase};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use uuid::Uuid;

const ATTENDEES: usize = 12;
const SCANS: usize = 240;
const KILLS: usize = 6;

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// Send `request`, with `token` as a Bearer token if any: the status and the JSON body (null if
/// there is none).
async fn answer(mut request: reqwest::RequestBuilder, token: Option<&str>) -> (u16, Value) {
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap_or_else(|e| panic!("{e}"));
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post(base: &str, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    answer(client().post(format!("{base}{path}")).json(&body), token).await
}

async fn get(base: &str, path: &str, token: Option<&str>) -> (u16, Value) {
    answer(client().get(format!("{base}{path}")), token).await
}

/// A kiosk of `sponsor`, created by the organiser and paired: (kiosk id, kiosk token).
async fn paired_kiosk(
    base: &str,
    organiser: &str,
    event_id: &str,
    sponsor: &str,
) -> (String, String) {
    let (_, created) = post(
        base,
        &format!("/api/v1/events/{event_id}/sponsors/{sponsor}/kiosks"),
        Some(organiser),
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
    (
        created["kiosk_id"].as_str().unwrap().to_owned(),
        paired["token"].as_str().unwrap().to_owned(),
    )
}

/// A scan of `badge` now.
fn scan_body(badge: &str, client_scan_id: Uuid) -> Value {
    json!({
        "badge_token": badge,
        "client_scan_id": client_scan_id,
        "scanned_at": time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap(),
    })
}

/// The demo organiser's session, the demo event's public view, and its id.
struct Demo {
    organiser: String,
    public: Value,
    event_id: String,
}

async fn demo(server: &Server) -> Demo {
    let base = &server.base;
    let (_, login) = post(
        base,
        "/api/v1/auth/login",
        None,
        json!({"email": "demo@consentry.example", "password": server.demo_password()}),
    )
    .await;
    let organiser = login["token"].as_str().unwrap().to_owned();
    let (_, public) = get(base, "/api/v1/events/consentry-demo", None).await;
    let (_, events) = get(base, "/api/v1/events", Some(&organiser)).await;
    Demo {
        event_id: events[0]["id"].as_str().unwrap().to_owned(),
        organiser,
        public,
    }
}

/// Attendees of the demo event; every second one consents to `sponsor`.
struct Attendees {
    /// (badge token, registration id), by attendee.
    badges: Vec<(String, String)>,
    /// Registration ids of those who consented.
    consenting: HashSet<String>,
}

async fn register_attendees(base: &str, public: &Value, sponsor: &str) -> Attendees {
    let mut badges = Vec::new();
    let mut consenting = HashSet::new();
    for i in 0..ATTENDEES {
        let opt_ins = if i % 2 == 0 {
            json!([sponsor])
        } else {
            json!([])
        };
        let (status, registered) = post(
            base,
            "/api/v1/events/consentry-demo/registrations",
            None,
            json!({
                "first_name": "Fault", "last_name": format!("Tester {i}"),
                "email": format!("fault-{i}@example.org"), "age_confirmed": true,
                "notice_version": public["privacy_notice_version"], "sponsor_opt_ins": opt_ins,
            }),
        )
        .await;
        assert_eq!(status, 201);
        let registration = registered["registration_id"].as_str().unwrap().to_owned();
        if i % 2 == 0 {
            consenting.insert(registration.clone());
        }
        badges.push((
            registered["badge"]["token"].as_str().unwrap().to_owned(),
            registration,
        ));
    }
    Attendees { badges, consenting }
}

/// The demo event with its attendees registered (every second one consenting to the first
/// sponsor) and a paired kiosk of that sponsor: (attendees, kiosk id, kiosk token).
async fn scanning_setup(server: &Server) -> (Attendees, String, String) {
    let Demo {
        organiser,
        public,
        event_id,
    } = demo(server).await;
    let sponsor = public["sponsors"][0]["id"].as_str().unwrap().to_owned();
    let attendees = register_attendees(&server.base, &public, &sponsor).await;
    let (kiosk_id, kiosk) = paired_kiosk(&server.base, &organiser, &event_id, &sponsor).await;
    (attendees, kiosk_id, kiosk)
}

/// Each scan's attendee and the outcome the server finally answered, by client scan id.
type Answers = HashMap<Uuid, (usize, String)>;

/// `SCANS` scans of the attendees in turn, from four kiosk loops that retry each scan as
/// `consentry-scan` does: the same client scan id until an answer comes.
struct ScanLoad {
    answers: Arc<Mutex<Answers>>,
    retries: Arc<AtomicUsize>,
    loops: Vec<tokio::task::JoinHandle<()>>,
}

impl ScanLoad {
    fn start(base: &str, kiosk: &str, attendees: &Attendees) -> Self {
        let scans: Vec<(Uuid, usize)> = (0..SCANS)
            .map(|i| (Uuid::new_v4(), i % ATTENDEES))
            .collect();
        let badges: Vec<String> = attendees.badges.iter().map(|(b, _)| b.clone()).collect();
        let next = Arc::new(Mutex::new(0_usize));
        let answers = Arc::new(Mutex::new(HashMap::new()));
        let retries = Arc::new(AtomicUsize::new(0));
        let mut loops = Vec::new();
        for _ in 0..4 {
            let (next, answers, scans, badges) =
                (next.clone(), answers.clone(), scans.clone(), badges.clone());
            let (base, kiosk, retries) = (base.to_owned(), kiosk.to_owned(), retries.clone());
            loops.push(tokio::spawn(async move {
                loop {
                    let i = {
                        let mut next = next.lock().await;
                        *next += 1;
                        *next - 1
                    };
                    let Some((client_scan_id, attendee)) = scans.get(i).copied() else {
                        break;
                    };
                    let body = scan_body(&badges[attendee], client_scan_id);
                    let outcome = loop {
                        let sent = client()
                            .post(format!("{base}/api/v1/scans"))
                            .bearer_auth(&kiosk)
                            .json(&body)
                            .send()
                            .await;
                        if let Ok(response) = sent
                            && matches!(response.status().as_u16(), 200 | 201)
                            && let Ok(answer) = response.json::<Value>().await
                        {
                            break answer["outcome"].as_str().unwrap().to_owned();
                        }
                        retries.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    };
                    answers
                        .lock()
                        .await
                        .insert(client_scan_id, (attendee, outcome));
                }
            }));
        }
        Self {
            answers,
            retries,
            loops,
        }
    }

    /// Wait for every scan to be answered: the answers, and how many attempts failed on the way.
    async fn finish(self) -> (Answers, usize) {
        for scanning in self.loops {
            tokio::time::timeout(Duration::from_secs(120), scanning)
                .await
                .expect("the scans finished")
                .unwrap();
        }
        let answers = self.answers.lock().await.clone();
        (answers, self.retries.load(Ordering::Relaxed))
    }
}

/// Every answer is the truth, every scan is stored exactly once, and each lead counts exactly
/// its accepted scans: none without consent.
async fn assert_each_scan_once(
    db: &TestDatabase,
    data_dir: &std::path::Path,
    kiosk_id: &str,
    attendees: &Attendees,
    answers: &Answers,
) {
    let Attendees { badges, consenting } = attendees;
    assert_eq!(answers.len(), SCANS);
    for (attendee, outcome) in answers.values() {
        let expected = if consenting.contains(&badges[*attendee].1) {
            "accepted"
        } else {
            "refused"
        };
        assert_eq!(outcome, expected);
    }

    let store = consentry::db::connect(&db.url_in(data_dir), None)
        .await
        .unwrap();
    let backend = store.get_database_backend();
    let kiosk_uuid = Uuid::parse_str(kiosk_id).unwrap();
    let stored = store
        .query_all_raw(by_id(
            &store,
            "SELECT scan_key FROM scan_requests WHERE kiosk_id = ?",
            kiosk_uuid,
        ))
        .await
        .unwrap();
    let stored: Vec<Uuid> = stored
        .iter()
        .map(|row| row.try_get::<Uuid>("", "scan_key").unwrap())
        .collect();
    // Records are keyed by a keyed hash of the client scan id, so they are counted, not matched:
    // every scan was answered, and there is one record per scan, no more, no less.
    assert_eq!(answers.len(), SCANS);
    assert_eq!(stored.len(), SCANS, "one record per scan, no more, no less");
    let distinct: HashSet<&Uuid> = stored.iter().collect();
    assert_eq!(distinct.len(), SCANS);
    assert!(stored.iter().all(|key| !answers.contains_key(key)));

    let leads = store
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT registration_id, scan_count FROM leads",
        ))
        .await
        .unwrap();
    let mut counted: HashMap<String, i64> = HashMap::new();
    for row in &leads {
        let registration: Uuid = row.try_get("", "registration_id").unwrap();
        let count: i32 = row.try_get("", "scan_count").unwrap();
        counted.insert(registration.to_string(), i64::from(count));
    }
    let mut expected: HashMap<String, i64> = HashMap::new();
    for (attendee, outcome) in answers.values() {
        if outcome == "accepted" {
            *expected.entry(badges[*attendee].1.clone()).or_default() += 1;
        }
    }
    assert_eq!(
        counted, expected,
        "a lead per consenting attendee, counting each scan once"
    );
    assert!(counted.keys().all(|r| consenting.contains(r)));
    store.close().await.ok();
}

#[tokio::test]
async fn scans_through_repeated_kill_9_exist_exactly_once_and_never_without_consent() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::new().await;
    let server = Server::start(dir.path(), &db, &["--demo", "--disable-rate-limits"], 5);
    let base = server.base.clone();
    let address = server.address().to_owned();
    let (attendees, kiosk_id, kiosk) = scanning_setup(&server).await;

    // The server is killed and restarted under the kiosks.
    let load = ScanLoad::start(&base, &kiosk, &attendees);
    let mut server = Some(server);
    for _ in 0..KILLS {
        tokio::time::sleep(Duration::from_millis(400)).await;
        drop(server.take()); // SIGKILL, mid-request more often than not
        server = Some(Server::start_at(
            &address,
            dir.path(),
            &db,
            &["--disable-rate-limits"],
            0,
        ));
    }
    let (answers, retries) = load.finish().await;
    drop(server);
    // The kills did land while scans were under way.
    assert!(retries > 0);
    assert_each_scan_once(&db, dir.path(), &kiosk_id, &attendees, &answers).await;
}

/// Poll `path` until it answers `status`; panics after `within`.
async fn wait_for(base: &str, path: &str, status: u16, within: Duration) -> Value {
    let deadline = std::time::Instant::now() + within;
    loop {
        let (answered, body) = get(base, path, None).await;
        if answered == status {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{path} still answers {answered} {body}, not {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// PostgreSQL stops as in a crash while kiosks scan, stays down a while, and comes back on the
/// same port. The server, never restarted, says it is not ready while the database is gone, is
/// ready again by itself once it is back, and no scan was lost, doubled, or kept without consent.
/// The test runs a PostgreSQL server of its own (the shared one serves every other test).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_rides_out_a_postgresql_restart_and_readyz_says_while_it_cannot() {
    let postgres = OwnPostgres::start();
    let db = TestDatabase::create_on(&postgres.admin_url()).await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &db, &["--demo", "--disable-rate-limits"], 5);
    let base = server.base.clone();
    let (attendees, kiosk_id, kiosk) = scanning_setup(&server).await;
    assert_eq!(
        get(&base, "/readyz", None).await,
        (200, json!({"status": "ready", "database": "postgres"}))
    );

    let load = ScanLoad::start(&base, &kiosk, &attendees);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // `pg_ctl` waits for the server to stop; the kiosks go on scanning meanwhile.
    tokio::task::block_in_place(|| postgres.stop_immediately());
    // Not ready, but alive: restarting the server would not bring the database back.
    let readiness = wait_for(&base, "/readyz", 503, Duration::from_secs(15)).await;
    assert_eq!(
        readiness,
        json!({"status": "unavailable", "database": "postgres"})
    );
    assert_eq!(get(&base, "/healthz", None).await.0, 200);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(get(&base, "/readyz", None).await.0, 503);

    tokio::task::block_in_place(|| postgres.start_again());
    wait_for(&base, "/readyz", 200, Duration::from_secs(30)).await;
    let (answers, retries) = load.finish().await;
    // The outage did hit scans under way, and the same server process answered them all.
    assert!(retries > 0);
    assert_eq!(get(&base, "/readyz", None).await.0, 200);
    drop(server);
    assert_each_scan_once(&db, dir.path(), &kiosk_id, &attendees, &answers).await;
}

/// `sql` with its one `?` placeholder bound to `id`, written for `store`'s database.
fn by_id(store: &sea_orm::DatabaseConnection, sql: &str, id: Uuid) -> Statement {
    let backend = store.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => sql.replace('?', "$1"),
        _ => sql.to_owned(),
    };
    Statement::from_sql_and_values(backend, sql, [id.into()])
}

/// A count from `sql` (one `?` placeholder for `id`).
async fn count(store: &sea_orm::DatabaseConnection, sql: &str, id: Uuid) -> i64 {
    let row = store
        .query_one_raw(by_id(store, sql, id))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

#[tokio::test]
async fn a_purge_killed_at_random_points_ends_as_an_uninterrupted_one() {
    const REGISTRATIONS: usize = 150;
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::new().await;
    let server = Server::start(dir.path(), &db, &["--demo", "--disable-rate-limits"], 5);
    let base = server.base.clone();
    let Demo {
        organiser,
        public,
        event_id,
    } = demo(&server).await;
    let event_id = Uuid::parse_str(&event_id).unwrap();
    let sponsors: Vec<String> = (0..3)
        .map(|i| public["sponsors"][i]["id"].as_str().unwrap().to_owned())
        .collect();

    // Attendee i opts in to sponsor 0 when i % 3 == 0, to sponsor 1 when i % 5 == 0, and to
    // marketing when i is even; sponsor 0's kiosk scans every one who opted in to it.
    let mut consenting_badges = Vec::new();
    for i in 0..REGISTRATIONS {
        let opt_ins: Vec<&String> = [(3, &sponsors[0]), (5, &sponsors[1])]
            .into_iter()
            .filter(|(every, _)| i % every == 0)
            .map(|(_, sponsor)| sponsor)
            .collect();
        let (status, registered) = post(
            &base,
            "/api/v1/events/consentry-demo/registrations",
            None,
            json!({
                "first_name": "Purge", "last_name": format!("Tester {i}"),
                "email": format!("purge-{i}@example.org"), "age_confirmed": true,
                "notice_version": public["privacy_notice_version"], "sponsor_opt_ins": opt_ins,
                "marketing_opt_in": i % 2 == 0,
            }),
        )
        .await;
        assert_eq!(status, 201);
        if i % 3 == 0 {
            consenting_badges.push(registered["badge"]["token"].as_str().unwrap().to_owned());
        }
    }
    let (_, kiosk) = paired_kiosk(&base, &organiser, &event_id.to_string(), &sponsors[0]).await;
    for badge in &consenting_badges {
        let (status, _) = post(
            &base,
            "/api/v1/scans",
            Some(&kiosk),
            scan_body(badge, Uuid::new_v4()),
        )
        .await;
        assert_eq!(status, 201);
    }
    let status = server.terminate();
    assert!(status.success());

    // `consentry purge`, 3 registrations per batch, killed at a random moment until one run
    // finishes. Each run is "as of" ten minutes after the last, past the killed run's lease.
    let mut kills = 0;
    let mut finished = false;
    for attempt in 0..60_i64 {
        let as_of =
            time::macros::datetime!(2100-01-01 00:00 UTC) + time::Duration::minutes(10 * attempt);
        let mut purge = std::process::Command::new(consentry_e2e::bin("consentry"))
            .args(["purge", "--batch-size", "3", "--as-of"])
            .arg(
                as_of
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap(),
            )
            .arg("--data-dir")
            .arg(dir.path())
            .args(db.args())
            .env("CONSENTRY_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // The first run is always cut short: its 50 batches pause 10 ms each, so it cannot be
        // done at 150 ms. The others stop anywhere, or finish.
        let kill_after = Duration::from_millis(if attempt == 0 {
            150
        } else {
            50 + (Uuid::new_v4().as_u128() % 700) as u64
        });
        let started = std::time::Instant::now();
        let exited = loop {
            if let Some(status) = purge.try_wait().unwrap() {
                break Some(status);
            }
            if started.elapsed() >= kill_after {
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        match exited {
            Some(status) => {
                assert!(status.success(), "purge failed: {status}");
                finished = true;
                break;
            }
            None => {
                purge.kill().unwrap(); // SIGKILL
                purge.wait().unwrap();
                kills += 1;
            }
        }
    }
    println!("{kills} purge runs killed before one finished");
    assert!(finished, "a purge run finished");
    assert!(kills > 0, "at least one run was killed part-way");

    // The same end state as an uninterrupted purge: the counts kept, everything else gone.
    let store = consentry::db::connect(&db.url_in(dir.path()), None)
        .await
        .unwrap();
    let keystore = consentry::db::connect(&db.keystore_url_in(dir.path()), None)
        .await
        .unwrap();
    let opted_in = |every: usize| (0..REGISTRATIONS).filter(|i| i % every == 0).count() as i64;
    let sponsor0 = Uuid::parse_str(&sponsors[0]).unwrap();
    let sponsor1 = Uuid::parse_str(&sponsors[1]).unwrap();
    let kept = [
        (
            "SELECT COUNT(*) FROM events WHERE id = ? AND purged_at IS NOT NULL",
            event_id,
            1,
        ),
        (
            "SELECT registrations_at_purge FROM events WHERE id = ?",
            event_id,
            REGISTRATIONS as i64,
        ),
        (
            "SELECT marketing_opt_ins_at_purge FROM events WHERE id = ?",
            event_id,
            opted_in(2),
        ),
        (
            "SELECT opt_ins FROM sponsor_aggregates WHERE sponsor_id = ?",
            sponsor0,
            opted_in(3),
        ),
        (
            "SELECT leads FROM sponsor_aggregates WHERE sponsor_id = ?",
            sponsor0,
            opted_in(3),
        ),
        (
            "SELECT opt_ins FROM sponsor_aggregates WHERE sponsor_id = ?",
            sponsor1,
            opted_in(5),
        ),
    ];
    for (sql, id, expected) in kept {
        assert_eq!(count(&store, sql, id).await, expected, "{sql}");
    }
    for table in ["registrations", "leads", "scan_requests"] {
        assert_eq!(
            count(
                &store,
                &format!("SELECT COUNT(*) FROM {table} WHERE event_id = ?"),
                event_id
            )
            .await,
            0,
            "{table}"
        );
    }
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM audit_events WHERE event_id = ? AND action = 'event_purged'",
            event_id
        )
        .await,
        1,
        "one purge recorded, however many runs it took"
    );
    assert_eq!(
        count(
            &keystore,
            "SELECT COUNT(*) FROM event_keys WHERE event_id = ?",
            event_id
        )
        .await,
        0
    );
}

/// What one kiosk loop saw while the server shut down under it.
#[derive(Default)]
struct Seen {
    /// (client scan id, attendee, outcome) of every answered scan.
    answered: Vec<(Uuid, usize, String)>,
    /// Anything other than a complete answer or a refused connection.
    broken: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_answers_every_request_it_took_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::new().await;
    let server = Server::start(dir.path(), &db, &["--demo", "--disable-rate-limits"], 5);
    let base = server.base.clone();
    let (attendees, kiosk_id, kiosk) = scanning_setup(&server).await;
    let badges: Vec<String> = attendees.badges.iter().map(|(b, _)| b.clone()).collect();

    // Eight kiosks on kept-alive connections, each scanning as fast as it is answered until the
    // server is gone.
    let mut loops = Vec::new();
    for k in 0..8 {
        let (base, kiosk, badges) = (base.clone(), kiosk.clone(), badges.clone());
        loops.push(tokio::spawn(async move {
            let http = client();
            let mut seen = Seen::default();
            for i in k.. {
                let attendee = i % ATTENDEES;
                let client_scan_id = Uuid::new_v4();
                let sent = http
                    .post(format!("{base}/api/v1/scans"))
                    .bearer_auth(&kiosk)
                    .json(&scan_body(&badges[attendee], client_scan_id))
                    .send()
                    .await;
                match sent {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        match response.json::<Value>().await {
                            Ok(answer) if matches!(status, 200 | 201) => seen.answered.push((
                                client_scan_id,
                                attendee,
                                answer["outcome"].as_str().unwrap().to_owned(),
                            )),
                            Ok(answer) => seen.broken.push(format!("{status}: {answer}")),
                            Err(e) => seen.broken.push(format!("cut answer: {e:?}")),
                        }
                    }
                    // The listener is closed: the request was never taken.
                    Err(e) if e.is_connect() => return seen,
                    Err(e) => {
                        seen.broken.push(format!("{e:?}"));
                        return seen;
                    }
                }
            }
            seen
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let status = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .unwrap();
    assert!(status.success(), "SIGTERM ends with exit 0, not {status:?}");

    let mut answers: Answers = HashMap::new();
    let mut broken = Vec::new();
    for scanning in loops {
        let seen = tokio::time::timeout(Duration::from_secs(30), scanning)
            .await
            .expect("every kiosk loop ends once the server is gone")
            .unwrap();
        broken.extend(seen.broken);
        for (id, attendee, outcome) in seen.answered {
            answers.insert(id, (attendee, outcome));
        }
    }
    assert!(
        broken.is_empty(),
        "requests not answered in full: {broken:#?}"
    );
    assert!(answers.len() > 8, "the load was running: {}", answers.len());

    // Every answer stands: each answered scan is stored once, leads only with consent.
    let store = consentry::db::connect(&db.url_in(dir.path()), None)
        .await
        .unwrap();
    let stored = count(
        &store,
        "SELECT COUNT(*) AS n FROM scan_requests WHERE kiosk_id = ?",
        Uuid::parse_str(&kiosk_id).unwrap(),
    )
    .await;
    assert_eq!(
        usize::try_from(stored).unwrap(),
        answers.len(),
        "one record per answered scan"
    );
    for (attendee, outcome) in answers.values() {
        let consented = attendees
            .consenting
            .contains(&attendees.badges[*attendee].1);
        assert_eq!(outcome, if consented { "accepted" } else { "refused" });
    }
    store.close().await.ok();
}
