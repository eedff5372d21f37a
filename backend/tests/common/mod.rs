//! `spawn_app()`: the real application on 127.0.0.1:0 over a fresh database of its own — a SQLite
//! file by default, a new PostgreSQL database when `CONSENTRY_TEST_DATABASE_URL` is set — so tests
//! run in parallel and never see each other's rows.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{net::SocketAddr, sync::Arc};

use consentry::{
    clock::FixedClock,
    config::HttpConfig,
    crypto::{self, MasterKey},
    db,
    organisers::{self, OrganisationChoice},
    state::AppState,
};
use reqwest::{Client, Response, header};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub client: Client,
    pub db: DatabaseConnection,
    pub clock: FixedClock,
    pub state: AppState,
    _dir: tempfile::TempDir,
    _pg: Option<PgDatabase>,
}

/// A PostgreSQL database made for one test, dropped (with its connections) when the test ends.
struct PgDatabase {
    admin_url: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime; a runtime of its own on another thread can block.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(admin) = db::connect(&admin_url, Some(1)).await {
                    let _ = admin
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await;
                    admin.close().await.ok();
                }
            });
        })
        .join();
    }
}

pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A database URL of this test's own: (url, guard that removes it).
async fn fresh_database(dir: &std::path::Path) -> (String, Option<PgDatabase>) {
    match std::env::var("CONSENTRY_TEST_DATABASE_URL") {
        Ok(admin_url) if admin_url.starts_with("postgres") => {
            let name = format!("consentry_test_{}", Uuid::new_v4().simple());
            let admin = db::connect(&admin_url, Some(1)).await.unwrap();
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .unwrap();
            admin.close().await.ok();
            let (base, _) = admin_url
                .rsplit_once('/')
                .expect("CONSENTRY_TEST_DATABASE_URL must end in /DBNAME");
            (
                format!("{base}/{name}"),
                Some(PgDatabase { admin_url, name }),
            )
        }
        _ => (db::default_sqlite_url(dir), None),
    }
}

pub async fn spawn_app() -> TestApp {
    install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let (url, pg) = fresh_database(dir.path()).await;
    let db = db::connect(&url, None).await.unwrap();
    db::migrate(&db).await.unwrap();
    let clock = FixedClock::new(OffsetDateTime::now_utc());
    let state = AppState::new(
        db.clone(),
        Arc::new(clock.clone()),
        MasterKey::generate(),
        HttpConfig::for_tests(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = state.clone();
    tokio::spawn(async move {
        consentry::http::serve(listener, served, std::future::pending())
            .await
            .unwrap();
    });
    TestApp {
        addr,
        base: format!("http://{addr}"),
        client: Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        db,
        clock,
        state,
        _dir: dir,
        _pg: pg,
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

    pub async fn organiser(&self, organisation: &str) -> Organiser {
        let (email, organisation_id) = self.create_organiser(organisation).await;
        let response = self.login(&email, PASSWORD).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        Organiser {
            email,
            token: body["token"].as_str().unwrap().to_owned(),
            organisation_id,
        }
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

/// Assert a problem+json response with `status` and `code`; returns the problem body.
pub async fn assert_problem(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status(), status, "status");
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "problem: {body}");
    assert_eq!(body["status"], status);
    assert!(body["title"].is_string());
    body
}
