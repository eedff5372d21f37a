//! `spawn_app()`: the real application on 127.0.0.1:0 over a fresh database of its own — a SQLite
//! file by default, a new PostgreSQL database when `CONSENTRY_TEST_DATABASE_URL` is set — so tests
//! run in parallel and never see each other's rows.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{net::SocketAddr, sync::Arc};

use consentry::{
    app::{Application, Ingredients, Stores},
    clock::FixedClock,
    config::HttpConfig,
    crypto::{self, MasterKey},
    keystore::Keystore,
    mail::Mailer,
    organisers::{self, OrganisationChoice},
    rate_limit::LimitSettings,
    state::AppState,
};
use reqwest::{Client, Response, header};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::watch;
use uuid::Uuid;

pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    /// `GET` it for the Prometheus exposition (served on a listener of its own).
    pub metrics_url: String,
    pub client: Client,
    pub db: DatabaseConnection,
    /// The URL `db` was opened with, for a second, separate pool.
    pub database_url: String,
    pub keystore: Keystore,
    /// The data directory (the SQLite files live here by default).
    pub dir: std::path::PathBuf,
    pub clock: FixedClock,
    pub state: AppState,
    /// Where the app writes mail (`Mailer::outbox`).
    pub outbox: std::path::PathBuf,
    /// Each instance serves until its sender is dropped with the test.
    stops: std::sync::Mutex<Vec<watch::Sender<bool>>>,
    _dir: tempfile::TempDir,
    _database: TestDatabase,
}

pub use consentry_e2e::{TestDatabase, rows_mentioning_all};

pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub async fn spawn_app() -> TestApp {
    spawn(None, LimitSettings::DEFAULT, false).await
}

/// The app with its HTTP settings changed by `http` (connection limits, say).
pub async fn spawn_app_with(http: impl FnOnce(HttpConfig) -> HttpConfig) -> TestApp {
    spawn_configured(None, http).await
}

/// The app behind a proxy it trusts (`--trust-forwarded-for`): each request's client address is
/// the last `X-Forwarded-For` hop, so a test can speak from several addresses (`login_from`).
pub async fn spawn_app_behind_proxy() -> TestApp {
    spawn(None, LimitSettings::DEFAULT, true).await
}

/// The app behind a proxy it trusts, with rate limits of these numbers.
pub async fn spawn_app_with_limits(limits: LimitSettings) -> TestApp {
    spawn(None, limits, true).await
}

/// The app, sending mail through the SMTP server at `smtp_url` instead of the outbox.
pub async fn spawn_app_with_smtp(smtp_url: Option<&str>) -> TestApp {
    spawn(smtp_url, LimitSettings::DEFAULT, false).await
}

/// The app with every rate limit off, for a test that sends hundreds of requests from one address
/// to check something else (the authorization matrix): no answer then depends on how many came
/// before it. The limits themselves are tested with `spawn_app`.
pub async fn spawn_app_without_rate_limits() -> TestApp {
    spawn(
        None,
        LimitSettings {
            enabled: false,
            ..LimitSettings::DEFAULT
        },
        false,
    )
    .await
}

const MAIL_FROM: &str = "Consentry <no-reply@consentry.test>";

/// The application as `consentry serve --metrics-bind 127.0.0.1:0` builds it, on 127.0.0.1:0,
/// serving in the background until `stop` is dropped: (address, metrics address, state, stop).
async fn start(
    stores: Stores,
    master: MasterKey,
    clock: &FixedClock,
    mailer: Mailer,
    http: impl FnOnce(HttpConfig) -> HttpConfig,
) -> (SocketAddr, SocketAddr, AppState, watch::Sender<bool>) {
    let app = Application::build(
        "127.0.0.1:0".parse().unwrap(),
        Ingredients {
            stores,
            master,
            clock: Arc::new(clock.clone()),
            mailer,
        },
        |bound| {
            http(HttpConfig {
                public_url: format!("http://{bound}"),
                ..HttpConfig::for_tests()
            })
        },
    )
    .await
    .unwrap()
    .serving_metrics_on("127.0.0.1:0".parse().unwrap())
    .await
    .unwrap();
    let addr = app.address().unwrap();
    let metrics = app.metrics_address().unwrap();
    let state = app.state().clone();
    let (stop, stopping) = watch::channel(false);
    tokio::spawn(async move { app.run_until(stopping).await.unwrap() });
    (addr, metrics, state, stop)
}

async fn spawn(
    smtp_url: Option<&str>,
    rate_limits: LimitSettings,
    trust_forwarded_for: bool,
) -> TestApp {
    spawn_configured(smtp_url, |config| HttpConfig {
        rate_limits,
        trust_forwarded_for,
        ..config
    })
    .await
}

async fn spawn_configured(
    smtp_url: Option<&str>,
    http: impl FnOnce(HttpConfig) -> HttpConfig,
) -> TestApp {
    install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::new().await;
    let database_url = database.url_in(dir.path());
    let stores = Stores::open(
        &database_url,
        Some(&database.keystore_url_in(dir.path())),
        None,
    )
    .await
    .unwrap();
    let clock = FixedClock::new(OffsetDateTime::now_utc());
    let outbox = dir.path().join("outbox");
    let mailer = match smtp_url {
        Some(url) => Mailer::smtp(url, MAIL_FROM).unwrap(),
        None => Mailer::outbox(outbox.clone(), MAIL_FROM).unwrap(),
    };
    let (addr, metrics, state, stop) =
        start(stores.clone(), MasterKey::generate(), &clock, mailer, http).await;
    TestApp {
        addr,
        base: format!("http://{addr}"),
        metrics_url: format!("http://{metrics}/metrics"),
        client: Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        db: stores.db,
        database_url,
        keystore: stores.keystore,
        dir: dir.path().to_path_buf(),
        clock,
        state,
        outbox,
        stops: std::sync::Mutex::new(vec![stop]),
        _dir: dir,
        _database: database,
    }
}

impl TestApp {
    /// A second server instance over the same database and master key, with its own in-memory
    /// state (caches, rate limits): what a second `consentry serve` behind a load balancer is.
    pub async fn second_instance(&self) -> String {
        let stores = Stores {
            db: self.db.clone(),
            keystore: self.keystore.clone(),
        };
        let (addr, _, _, stop) = start(
            stores,
            self.state.keys.master.clone(),
            &self.clock,
            Mailer::outbox(self.outbox.clone(), MAIL_FROM).unwrap(),
            |config| config,
        )
        .await;
        self.stops.lock().unwrap().push(stop);
        format!("http://{addr}")
    }
}

/// An organiser of its own new organisation, logged in.
pub struct Organiser {
    pub email: String,
    pub token: String,
    pub organisation_id: Uuid,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Create an organiser in a new organisation (as `consentry organiser create` does).
    pub async fn create_organiser(&self, organisation: &str) -> (String, Uuid) {
        let email = format!(
            "{}@{}.example",
            Uuid::new_v4().simple(),
            organisation.to_lowercase()
        );
        let hash = crypto::hash_password(PASSWORD).unwrap();
        let (organisation_id, _) = organisers::create_organiser(
            &self.db,
            OrganisationChoice::New {
                name: organisation.into(),
            },
            &email,
            "Test Organiser",
            hash,
            self.state.clock.now(),
        )
        .await
        .unwrap();
        (email, organisation_id)
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.client
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap()
    }

    /// Log in from client address `ip` (an app from `spawn_app_behind_proxy`).
    pub async fn login_from(&self, ip: &str, email: &str, password: &str) -> Response {
        self.client
            .post(self.url("/api/v1/auth/login"))
            .header("x-forwarded-for", ip)
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap()
    }

    pub async fn organiser(&self, organisation: &str) -> Organiser {
        let (email, organisation_id) = self.create_organiser(organisation).await;
        Organiser {
            token: self.session_token(&email).await,
            email,
            organisation_id,
        }
    }

    /// Log `email` in with the test password; the session's bearer token.
    pub async fn session_token(&self, email: &str) -> String {
        let response = self.login(email, PASSWORD).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["token"].as_str().unwrap().to_owned()
    }

    pub async fn get(&self, token: &str, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, token: &str, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch(&self, token: &str, path: &str, body: &Value) -> Response {
        self.client
            .patch(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete(&self, token: &str, path: &str) -> Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Create an event from `event_body(slug)` and return its JSON.
    pub async fn create_event(&self, token: &str, slug: &str) -> Value {
        let response = self.post(token, "/api/v1/events", &event_body(slug)).await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        response.json().await.unwrap()
    }

    pub async fn create_sponsor(&self, token: &str, event_id: &str, name: &str) -> Value {
        let response = self
            .post(
                token,
                &format!("/api/v1/events/{event_id}/sponsors"),
                &json!({"name": name, "privacy_policy_url": "https://sponsor.example/privacy"}),
            )
            .await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        response.json().await.unwrap()
    }
}

/// A valid new-event body: a two-day event starting in a week.
pub fn event_body(slug: &str) -> Value {
    let start = OffsetDateTime::now_utc() + time::Duration::days(7);
    let end = start + time::Duration::days(2);
    let fmt = &time::format_description::well_known::Rfc3339;
    json!({
        "slug": slug,
        "name": "Privacy Summit",
        "venue": "Amsterdam",
        "time_zone": "Europe/Amsterdam",
        "starts_at": start.format(fmt).unwrap(),
        "ends_at": end.format(fmt).unwrap(),
        "privacy_notice": "We process your registration to run the event.",
    })
}

/// The response's `Content-Type`, or "" without one.
pub fn content_type(response: &Response) -> String {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Assert a problem+json response with `status` and `code`; returns the problem body.
pub async fn assert_problem(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status(), status, "status");
    assert_eq!(content_type(&response), "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "problem: {body}");
    assert_eq!(body["status"], status);
    assert!(body["title"].is_string());
    body
}

/// An event of its own organisation with three sponsors, as attendees see it.
pub struct PublicEvent {
    pub organiser: Organiser,
    pub id: String,
    pub slug: String,
    /// The public view (`GET /api/v1/events/{slug}`).
    pub view: Value,
    /// Sponsor ids in the order of the public view (by name).
    pub sponsors: Vec<String>,
}

impl TestApp {
    /// A two-day event that started an hour ago, with three sponsors.
    pub async fn public_event(&self, slug: &str) -> PublicEvent {
        self.public_event_starting(slug, time::Duration::hours(-1))
            .await
    }

    /// A two-day event starting `starts_in` from now (negative: already running).
    pub async fn public_event_starting(
        &self,
        slug: &str,
        starts_in: time::Duration,
    ) -> PublicEvent {
        let organiser = self.organiser(&format!("org-{slug}")).await;
        let start = self.state.clock.now() + starts_in;
        let fmt = &time::format_description::well_known::Rfc3339;
        let mut body = event_body(slug);
        body["starts_at"] = json!(start.format(fmt).unwrap());
        body["ends_at"] = json!((start + time::Duration::days(2)).format(fmt).unwrap());
        let response = self.post(&organiser.token, "/api/v1/events", &body).await;
        assert_eq!(response.status(), 201);
        let event: Value = response.json().await.unwrap();
        let id = event["id"].as_str().unwrap().to_owned();
        for name in ["Acme Analytics", "Globex Cloud", "Initech Security"] {
            self.create_sponsor(&organiser.token, &id, name).await;
        }
        let view = self.anonymous_json(&format!("/api/v1/events/{slug}")).await;
        let sponsors = view["sponsors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect();
        PublicEvent {
            organiser,
            id,
            slug: slug.to_owned(),
            view,
            sponsors,
        }
    }

    pub async fn register(&self, slug: &str, body: &Value) -> Response {
        self.client
            .post(self.url(&format!("/api/v1/events/{slug}/registrations")))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Count the rows of `table`.
    pub async fn count(&self, table: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                self.db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    }

    /// Every mail in the outbox, oldest first (file names are UUIDv7), quoted-printable decoded.
    pub fn outbox_mails(&self) -> Vec<String> {
        let mut paths: Vec<_> = walk(&self.outbox);
        paths.sort_by_key(|p| p.file_name().map(|n| n.to_owned()));
        paths
            .into_iter()
            .map(|p| unquote(&std::fs::read_to_string(p).unwrap()))
            .collect()
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|e| {
            let path = e.path();
            if path.is_dir() {
                walk(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

/// A valid registration body for `event` (notice version 1), opting in to nothing.
pub fn registration_body(email: &str) -> Value {
    json!({
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": email,
        "company": "Analytical Engines Ltd",
        "age_confirmed": true,
        "notice_version": 1,
    })
}

/// Undo quoted-printable soft line breaks and escapes, so tests can search a mail's text.
pub fn unquote(mail: &str) -> String {
    let joined = mail.replace("=\r\n", "").replace("=\n", "");
    let mut out = Vec::with_capacity(joined.len());
    let bytes = joined.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A paired kiosk.
pub struct Kiosk {
    pub id: String,
    pub token: String,
    pub sponsor_id: String,
}

impl TestApp {
    /// A kiosk of `sponsor_id` of `event`, created by its organiser but not paired: the answer,
    /// with its `kiosk_id` and one-time `pairing_code`.
    pub async fn unpaired_kiosk(&self, event: &PublicEvent, sponsor_id: &str) -> Value {
        let created = self
            .post(
                &event.organiser.token,
                &format!("/api/v1/events/{}/sponsors/{sponsor_id}/kiosks", event.id),
                &json!({}),
            )
            .await;
        assert_eq!(created.status(), 201);
        created.json().await.unwrap()
    }

    /// Create and pair a kiosk for `sponsor_id` of `event`.
    pub async fn kiosk(&self, event: &PublicEvent, sponsor_id: &str) -> Kiosk {
        let created = self.unpaired_kiosk(event, sponsor_id).await;
        let paired = self
            .client
            .post(self.url("/api/v1/kiosks/pair"))
            .json(&json!({"code": created["pairing_code"], "device_name": "Booth tablet"}))
            .send()
            .await
            .unwrap();
        assert_eq!(paired.status(), 200);
        let paired: Value = paired.json().await.unwrap();
        Kiosk {
            id: created["kiosk_id"].as_str().unwrap().to_owned(),
            token: paired["token"].as_str().unwrap().to_owned(),
            sponsor_id: sponsor_id.to_owned(),
        }
    }

    /// Submit a scan now, with a fresh client scan id.
    pub async fn scan(&self, kiosk: &Kiosk, badge: &str) -> (u16, Value) {
        self.scan_with(kiosk, badge, Uuid::new_v4(), OffsetDateTime::now_utc())
            .await
    }

    pub async fn scan_with(
        &self,
        kiosk: &Kiosk,
        badge: &str,
        client_scan_id: Uuid,
        scanned_at: OffsetDateTime,
    ) -> (u16, Value) {
        let response = self
            .client
            .post(self.url("/api/v1/scans"))
            .bearer_auth(&kiosk.token)
            .json(&json!({
                "badge_token": badge,
                "client_scan_id": client_scan_id,
                "scanned_at": scanned_at.format(&time::format_description::well_known::Rfc3339).unwrap(),
            }))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// Register an attendee opting in to `opt_ins`; returns the registration response.
    pub async fn attendee(&self, event: &PublicEvent, email: &str, opt_ins: &[&str]) -> Value {
        let mut body = registration_body(email);
        body["sponsor_opt_ins"] = json!(opt_ins);
        body["phone"] = json!("+31 20 123 4567");
        let response = self.register(&event.slug, &body).await;
        assert_eq!(response.status(), 201);
        response.json().await.unwrap()
    }
}

/// The audit log table as text.
pub async fn dump_audit(app: &TestApp) -> String {
    consentry_e2e::dump_database(&app.db)
        .await
        .into_iter()
        .filter(|(table, _)| table == "audit_events")
        .map(|(_, values)| values.join(" | "))
        .collect::<Vec<_>>()
        .join("\n")
}

impl TestApp {
    /// Move the clock to `at` and log `event`'s organiser in again (sessions are short-lived, so
    /// a jump of days ends the old one).
    pub async fn travel_to(&self, at: OffsetDateTime, event: &mut PublicEvent) {
        self.clock.set(at);
        event.organiser.token = self.session_token(&event.organiser.email).await;
    }

    /// A purger over this app's database and key store, on the app's clock, clearing its outbox.
    pub fn purger(&self) -> consentry::retention::Purger {
        consentry::retention::Purger::new(
            self.db.clone(),
            self.keystore.clone(),
            Arc::new(self.clock.clone()),
        )
        .with_outbox(Some(self.outbox.clone()))
    }

    /// Run one purge to its end.
    pub async fn purge(&self) -> consentry::retention::Report {
        let (_stop, stopping) = tokio::sync::watch::channel(false);
        self.purger().run_once(&stopping).await.unwrap()
    }

    /// The organiser's view of `event` (with `purge_due_at` and `purged_at`).
    pub async fn event_view(&self, event: &PublicEvent) -> Value {
        let response = self
            .get(
                &event.organiser.token,
                &format!("/api/v1/events/{}", event.id),
            )
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// The organiser's dashboard figures of `event`.
    pub async fn stats(&self, event: &PublicEvent) -> Value {
        let response = self
            .get(
                &event.organiser.token,
                &format!("/api/v1/events/{}/stats", event.id),
            )
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// When `event`'s attendee data is due for purging.
    pub async fn purge_due_at(&self, event: &PublicEvent) -> OffsetDateTime {
        let view = self.event_view(event).await;
        OffsetDateTime::parse(
            view["purge_due_at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    }

    /// The leads `kiosk`'s sponsor sees.
    pub async fn kiosk_leads(&self, kiosk: &Kiosk) -> Vec<Value> {
        let response = self
            .client
            .get(self.url("/api/v1/leads"))
            .bearer_auth(&kiosk.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json::<Value>().await.unwrap()["leads"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Set the sponsor's note on a lead.
    pub async fn annotate(&self, kiosk: &Kiosk, lead_id: &str, note: &str) {
        let response = self
            .client
            .patch(self.url(&format!("/api/v1/leads/{lead_id}")))
            .bearer_auth(&kiosk.token)
            .json(&json!({"rating": 4, "note": note}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }

    /// The organiser's CSV export of one sponsor's leads.
    pub async fn export_csv(&self, event: &PublicEvent, sponsor_id: &str) -> Response {
        self.get(
            &event.organiser.token,
            &format!(
                "/api/v1/events/{}/sponsors/{sponsor_id}/leads.csv",
                event.id
            ),
        )
        .await
    }

    /// GET `path` without credentials and read its JSON (a public page, the OpenAPI document).
    pub async fn anonymous_json(&self, path: &str) -> Value {
        self.anonymous(reqwest::Method::GET, path)
            .await
            .json()
            .await
            .unwrap()
    }

    /// `method` `path` with a JSON body and no credentials: registration, the manage link's
    /// changes, pairing.
    pub async fn anonymous_json_request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> Response {
        self.client
            .request(method, self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// `method` `path` (a manage-link path such as `/api/v1/me/{token}`) without credentials.
    pub async fn anonymous(&self, method: reqwest::Method, path: &str) -> Response {
        self.client
            .request(method, self.url(path))
            .send()
            .await
            .unwrap()
    }
}
