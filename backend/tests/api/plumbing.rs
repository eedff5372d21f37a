use reqwest::header;
use serde_json::{Value, json};

use crate::common::{assert_problem, event_body, spawn_app};

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let health: Value = app
        .anonymous(reqwest::Method::GET, "/healthz")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let ready = app.anonymous(reqwest::Method::GET, "/readyz").await;
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["status"], "ready");
}

/// A request cancelled inside a transaction leaves its PostgreSQL session idle in it; the server
/// ends such a session after a minute instead of letting it hold its locks (SQLite has no
/// sessions: there the test has nothing to check).
#[tokio::test]
async fn postgresql_ends_sessions_left_idle_in_a_transaction() {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let app = spawn_app().await;
    if app.db.get_database_backend() != DbBackend::Postgres {
        return;
    }
    let row = app
        .db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_setting('idle_in_transaction_session_timeout') AS timeout",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<String>("", "timeout").unwrap(), "1min");
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let app = spawn_app().await;
    app.db.clone().close().await.unwrap();
    let ready = app.anonymous(reqwest::Method::GET, "/readyz").await;
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
}

#[tokio::test]
async fn every_response_carries_security_headers_and_a_request_id() {
    let app = spawn_app().await;
    for path in ["/", "/healthz", "/api/v1/events", "/no/such/page"] {
        let response = app.anonymous(reqwest::Method::GET, path).await;
        let h = response.headers();
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{path}"
        );
        assert!(!h["x-request-id"].is_empty(), "{path}");
    }
    // A request id sent by a proxy is kept.
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-me-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-me-123");
}

#[tokio::test]
async fn the_index_page_is_served_from_web() {
    let app = spawn_app().await;
    let response = app.anonymous(reqwest::Method::GET, "/").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("<h1>Consentry</h1>")
    );
}

#[tokio::test]
async fn the_kiosk_is_an_installable_app_and_badge_links_have_a_page() {
    let app = spawn_app().await;
    let get = |path: &'static str| app.client.get(app.url(path)).send();

    // The service worker sits beside the kiosk's files yet controls /kiosk itself.
    let worker = get("/kiosk/sw.js").await.unwrap();
    assert_eq!(worker.status(), 200);
    assert_eq!(worker.headers()["service-worker-allowed"], "/kiosk");
    assert!(
        worker.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    // It stores the kiosk's files only: never an answer of the API.
    let script = worker.text().await.unwrap();
    for file in ["/kiosk", "/js/kiosk.js", "/vendor/jsqr/jsQR.js"] {
        assert!(
            script.contains(&format!("'{file}'")),
            "{file} is kept offline"
        );
    }
    assert!(!script.contains("/api/"));

    let manifest = get("/kiosk/manifest.webmanifest").await.unwrap();
    assert_eq!(manifest.status(), 200);
    let manifest: serde_json::Value =
        serde_json::from_str(&manifest.text().await.unwrap()).unwrap();
    assert_eq!(manifest["start_url"], "/kiosk");
    assert_eq!(manifest["display"], "standalone");

    // What a phone's camera opens from a badge: a page, whatever the fragment held.
    let page = get("/b").await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("This badge holds no personal data")
    );
}

#[tokio::test]
async fn openapi_describes_the_api_and_swagger_ui_is_served_locally() {
    let app = spawn_app().await;
    let doc: Value = app
        .anonymous(reqwest::Method::GET, "/api/openapi.json")
        .await
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/v1/auth/login",
        "/api/v1/auth/logout",
        "/api/v1/auth/me",
        "/api/v1/events",
        "/api/v1/events/{event}",
        "/api/v1/events/{event}/sponsors",
        "/api/v1/events/{event}/sponsors/{sponsor_id}",
        "/api/v1/events/{event}/registrations",
        "/api/v1/events/{event}/badge-keys",
        "/api/v1/me/{token}",
        "/api/v1/me/{token}/consents",
        "/api/v1/me/{token}/badge.png",
        "/api/v1/me/{token}/badge.svg",
        "/api/v1/me/{token}/badge-print.svg",
        "/api/v1/email-changes/confirm",
        "/api/v1/events/{event}/sponsors/{sponsor_id}/kiosks",
        "/api/v1/events/{event}/kiosks",
        "/api/v1/events/{event}/kiosks/{kiosk_id}",
        "/api/v1/kiosks/pair",
        "/api/v1/kiosk",
        "/api/v1/scans",
        "/api/v1/leads",
        "/api/v1/leads/{lead_id}",
        "/healthz",
        "/readyz",
    ] {
        assert!(paths.contains_key(path), "{path} missing from OpenAPI");
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["session_cookie"]["in"], "cookie");
    assert_eq!(schemes["kiosk"]["scheme"], "bearer");
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    assert!(doc["paths"]["/api/v1/events"]["post"]["security"].is_array());

    // Every reference resolves (the audit filter's `Action` once did not).
    let text = doc.to_string();
    for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "unresolved schema {name}"
        );
    }
    // Every operation that takes JSON or a query string documents the problems of reading it.
    let (mut with_bodies, mut with_queries) = (0, 0);
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let mut statuses = Vec::new();
            if !operation["requestBody"]["content"]["application/json"].is_null() {
                with_bodies += 1;
                statuses.extend(["400", "413", "415"]);
            }
            let parameters = operation["parameters"].as_array().into_iter().flatten();
            if parameters.clone().any(|p| p["in"] == "query") {
                with_queries += 1;
                statuses.push("400");
            }
            for status in statuses {
                assert!(
                    operation["responses"][status].is_object(),
                    "{method} {path} does not document {status}"
                );
            }
        }
    }
    assert!(with_bodies > 10 && with_queries > 5);

    let ui = app.anonymous(reqwest::Method::GET, "/api/docs/").await;
    assert_eq!(ui.status(), 200);
    let html = ui.text().await.unwrap();
    assert!(html.contains("swagger"), "Swagger UI page");
    assert!(
        !html.contains("cdn") && !html.contains("unpkg"),
        "no third-party assets"
    );
}

#[tokio::test]
async fn bad_requests_get_problem_json_never_a_500() {
    let app = spawn_app().await;
    let organiser = app.organiser("Acme").await;
    let events = app.url("/api/v1/events");

    let malformed = app
        .client
        .post(&events)
        .bearer_auth(&organiser.token)
        .header(header::CONTENT_TYPE, "application/json")
        .body("{\"slug\": ")
        .send()
        .await
        .unwrap();
    assert_problem(malformed, 400, "malformed_json").await;

    let not_json = app
        .client
        .post(&events)
        .bearer_auth(&organiser.token)
        .header(header::CONTENT_TYPE, "text/plain")
        .body("slug=x")
        .send()
        .await
        .unwrap();
    assert_problem(not_json, 415, "unsupported_media_type").await;

    let no_type = app
        .client
        .post(&events)
        .bearer_auth(&organiser.token)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(no_type, 415, "unsupported_media_type").await;

    let huge = json!({"slug": "huge", "privacy_notice": "x".repeat(70 * 1024)});
    let too_large = app.post(&organiser.token, "/api/v1/events", &huge).await;
    assert_problem(too_large, 413, "payload_too_large").await;

    let mut unknown = event_body("unknown-field");
    unknown["is_admin"] = json!(true);
    let body = assert_problem(
        app.post(&organiser.token, "/api/v1/events", &unknown).await,
        422,
        "unknown_field",
    )
    .await;
    assert_eq!(body["field"], "is_admin");

    let mut wrong_type = event_body("wrong-type");
    wrong_type["min_age"] = json!("jane.doe@example.org");
    let response = app
        .post(&organiser.token, "/api/v1/events", &wrong_type)
        .await;
    let body = assert_problem(response, 422, "invalid_value").await;
    assert_eq!(body["field"], "min_age");
    assert!(
        !body.to_string().contains("jane.doe"),
        "values are never echoed: {body}"
    );

    let bad_id = app
        .get(&organiser.token, "/api/v1/events/not-a-uuid/sponsors")
        .await;
    assert_problem(bad_id, 404, "not_found").await;

    let wrong_method = app
        .client
        .put(&events)
        .bearer_auth(&organiser.token)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.headers()[header::ALLOW], "GET,HEAD,POST");
    assert_problem(wrong_method, 405, "method_not_allowed").await;

    let unknown_route = app
        .anonymous(reqwest::Method::GET, "/api/v1/nothing-here")
        .await;
    assert_problem(unknown_route, 404, "not_found").await;

    // None of it left anything behind.
    let list: Vec<Value> = app
        .get(&organiser.token, "/api/v1/events")
        .await
        .json()
        .await
        .unwrap();
    assert!(list.is_empty());
}

/// A page far past the end is an empty page, on every paginated list, up to the largest page
/// number the API documents (int64); past that, a problem. Schemathesis found that a page one
/// past it crashed the request.
#[tokio::test]
async fn any_page_number_gets_a_page_or_a_problem() {
    let app = spawn_app().await;
    let event = app.public_event("paging").await;
    let kiosk = app.kiosk(&event, &event.sponsors[0]).await;
    let organiser = &event.organiser.token;
    let lists = [
        (organiser.as_str(), "/api/v1/audit".to_owned(), "entries"),
        (
            organiser.as_str(),
            format!("/api/v1/events/{}/audit", event.id),
            "entries",
        ),
        (kiosk.token.as_str(), "/api/v1/leads".to_owned(), "leads"),
    ];
    for (token, path, items) in &lists {
        for page in ["2", "9223372036854775807"] {
            let response = app.get(token, &format!("{path}?page={page}")).await;
            assert_eq!(response.status(), 200, "{path}?page={page}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body[items], json!([]), "{path}?page={page}");
        }
        for page in [
            "0",
            "9223372036854775808",
            "18446744073709551615",
            "18446744073709551616",
        ] {
            let response = app.get(token, &format!("{path}?page={page}")).await;
            assert_problem(response, 400, "invalid_query").await;
        }
    }
}

/// The same router in-process, without a socket (tower's `oneshot`), as a library user embeds it.
#[tokio::test]
async fn the_router_answers_in_process() {
    use axum::{body::Body, http::Request};
    use tower::ServiceExt;

    let app = spawn_app().await;
    let router = consentry::http::app(app.state.clone());
    let response = router
        .clone()
        .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let response = router
        .oneshot(
            Request::post("/api/v1/auth/login")
                .header("content-type", "application/json")
                .body(Body::from(r#"{"email":"x@y.example","password":"nope"}"#))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let bytes = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["code"], "invalid_credentials");
}

/// The database files hold sealed personal data and (the key store) wrapped keys: owner-only,
/// like the master key and the outbox, whatever the umask.
#[cfg(unix)]
#[tokio::test]
async fn every_file_of_the_data_directory_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app().await;
    let event = app.public_event("private-files").await;
    app.attendee(&event, "files@example.org", &[]).await;
    let mut checked = Vec::new();
    let mut dirs = vec![app.dir.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{} is {mode:o}", path.display());
            checked.push(path);
        }
    }
    if app.db.get_database_backend() == sea_orm::DbBackend::Sqlite {
        let names: Vec<_> = checked
            .iter()
            .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
            .collect();
        for name in [
            "consentry.db",
            "consentry.db-wal",
            "consentry.db-shm",
            "keys.db",
        ] {
            assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
        }
    }
}
