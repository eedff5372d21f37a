//! What an operator relies on: the metrics listener, and connections that cannot be held open
//! by slow or idle clients.

use std::time::{Duration, Instant};

use consentry::{config::HttpConfig, connections::ConnectionLimits};
use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::common::*;

async fn scrape(app: &TestApp) -> String {
    let response = reqwest::get(&app.metrics_url).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(content_type(&response).starts_with("application/openmetrics-text"));
    response.text().await.unwrap()
}

/// The value of the sample `name{labels}` (0 when absent).
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |value| value.trim().parse().unwrap())
}

#[tokio::test]
async fn metrics_count_what_happened_and_name_no_one() {
    let app = spawn_app().await;
    let event = app.public_event("metrics-canary").await;
    let sponsor = &event.sponsors[0];
    let before = scrape(&app).await;

    let mut body = registration_body("canary.metrics@example.org");
    body["first_name"] = json!("Quintessa");
    body["last_name"] = json!("Canarywood");
    body["sponsor_opt_ins"] = json!([sponsor]);
    let consenting = app.register(&event.slug, &body).await;
    assert_eq!(consenting.status(), 201);
    let consenting: serde_json::Value = consenting.json().await.unwrap();
    let refusing = app
        .attendee(&event, "canary.refuses@example.org", &[])
        .await;
    let kiosk = app.kiosk(&event, sponsor).await;
    let badge = |r: &serde_json::Value| r["badge"]["token"].as_str().unwrap().to_owned();
    assert_eq!(app.scan(&kiosk, &badge(&consenting)).await.0, 201);
    assert_eq!(app.scan(&kiosk, &badge(&refusing)).await.0, 200);
    assert_eq!(app.scan(&kiosk, "not-a-badge").await.0, 200);
    assert_eq!(app.export_csv(&event, sponsor).await.status(), 200);
    let after = scrape(&app).await;

    let moved = |series: &str| sample(&after, series) - sample(&before, series);
    assert_eq!(moved("consentry_registrations_total"), 2.0);
    assert_eq!(
        moved("consentry_scans_total{outcome=\"accepted\",reason=\"\"}"),
        1.0
    );
    assert_eq!(
        moved("consentry_scans_total{outcome=\"refused\",reason=\"no_consent\"}"),
        1.0
    );
    assert_eq!(
        moved("consentry_scans_total{outcome=\"refused\",reason=\"invalid_badge\"}"),
        1.0
    );
    assert_eq!(moved("consentry_exports_total{format=\"csv\"}"), 1.0);
    // Two confirmation mails, written to the outbox.
    assert_eq!(moved("consentry_mails_total{result=\"sent\"}"), 2.0);
    assert_eq!(
        moved(
            "consentry_http_requests_total{method=\"POST\",route=\"/api/v1/scans\",status=\"201\"}"
        ),
        1.0
    );
    assert!(
        after.contains(
            "consentry_http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1/events/{event}/registrations\",status=\"201\"}"
        ),
        "{after}"
    );
    assert!(after.contains("consentry_db_pool_connections{pool=\"main\",state=\"idle\"}"));
    assert!(after.contains("consentry_db_write_begin_seconds_bucket"));
    assert!(after.contains("consentry_build_info{version=\""));

    // Nothing that identifies anyone or anything: no personal data, no id, no token, no slug.
    let registration_id = consenting["registration_id"].as_str().unwrap();
    let manage = consenting["manage_url"].as_str().unwrap_or_default();
    let manage_token = manage.rsplit('/').next().unwrap_or_default();
    for secret in [
        "Quintessa",
        "Canarywood",
        "canary",
        "example.org",
        "metrics-canary",
        event.id.as_str(),
        sponsor.as_str(),
        kiosk.id.as_str(),
        registration_id,
        &badge(&consenting),
        &kiosk.token,
        &event.organiser.token,
    ] {
        assert!(!secret.is_empty());
        assert!(!after.contains(secret), "the metrics mention {secret}");
    }
    if !manage_token.is_empty() {
        assert!(!after.contains(manage_token));
    }
}

#[tokio::test]
async fn the_public_listener_does_not_serve_metrics() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 404);
}

fn short_limits(config: HttpConfig) -> HttpConfig {
    HttpConfig {
        connections: ConnectionLimits {
            header_read: Duration::from_secs(1),
            idle: Duration::from_secs(2),
            max_connections: 6,
            ..ConnectionLimits::default()
        },
        ..config
    }
}

/// Read until the server closes the connection; how long that took from `since`, or `None` if it
/// was still open after `within`.
async fn closed_after(
    stream: &mut TcpStream,
    since: Instant,
    within: Duration,
) -> Option<Duration> {
    let mut buf = [0_u8; 4096];
    let deadline = since + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return Some(since.elapsed()),
            Ok(Ok(_)) => {}
            Err(_) => return None,
        }
    }
}

async fn healthz_answers(app: &TestApp) {
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_request_head_trickled_byte_by_byte_is_cut_off_while_others_are_served() {
    let app = spawn_app_with(short_limits).await;
    let started = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(app.addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\n")
            .await
            .unwrap();
        slow.push(stream);
    }
    // A header line every 200 ms: each arrives in time, the whole head does not.
    let trickle = async {
        for i in 0..20 {
            for stream in &mut slow {
                if stream
                    .write_all(format!("X-Slow-{i}: 1\r\n").as_bytes())
                    .await
                    .is_err()
                {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let served = async {
        for _ in 0..5 {
            healthz_answers(&app).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::join!(trickle, served);
    for stream in &mut slow {
        let took = closed_after(stream, started, Duration::from_secs(5))
            .await
            .expect("a slow request head is cut off");
        assert!(
            took >= Duration::from_millis(900),
            "not before its time: {took:?}"
        );
    }
    let metrics = scrape(&app).await;
    assert_eq!(
        sample(
            &metrics,
            "consentry_connections_closed_by_server_total{reason=\"header_timeout\"}"
        ),
        3.0
    );
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_time_and_not_before() {
    let app = spawn_app_with(short_limits).await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0_u8; 4096];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let idle_since = Instant::now();
    // Longer than the header timeout: an idle connection is not a slow header.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    healthz_answers(&app).await;
    let took = closed_after(&mut stream, idle_since, Duration::from_secs(6))
        .await
        .expect("an idle connection is closed");
    assert!(
        took >= Duration::from_millis(1900),
        "closed too early: {took:?}"
    );
    healthz_answers(&app).await;
    let metrics = scrape(&app).await;
    let closed = |reason: &str| {
        sample(
            &metrics,
            &format!("consentry_connections_closed_by_server_total{{reason=\"{reason}\"}}"),
        )
    };
    assert_eq!(closed("idle"), 1.0, "{metrics}");
    assert_eq!(
        closed("stalled") + closed("header_timeout"),
        0.0,
        "{metrics}"
    );

    // A connection that keeps working stays open past the idle time.
    let mut busy = TcpStream::connect(app.addr).await.unwrap();
    for _ in 0..6 {
        busy.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .unwrap();
        let n = busy.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
}

#[tokio::test]
async fn beyond_the_connection_cap_new_connections_wait_until_one_closes() {
    let app = spawn_app_with(short_limits).await;
    // Six connections hold every slot (each a slow head, cut after a second).
    let mut held = Vec::new();
    for _ in 0..6 {
        let mut stream = TcpStream::connect(app.addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\n")
            .await
            .unwrap();
        held.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    // The kernel completes the handshake; the server takes the connection once a slot is free.
    healthz_answers(&app).await;
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "the seventh connection waited for a slot"
    );
    let metrics = scrape(&app).await;
    assert!(sample(&metrics, "consentry_connections_open") <= 6.0);
}
