//! Privacy canaries: one attendee with unique values goes through the whole flow on the real
//! binary, and the values are then looked for where they must never be: the server's log (at its
//! production level), the badge's QR code, the record of a refused scan, and, after the purge,
//! every row of both databases and (on SQLite) every byte of the data directory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use base64::{Engine, engine::general_purpose::STANDARD, engine::general_purpose::URL_SAFE_NO_PAD};
use consentry_e2e::{Server, TestDatabase, dump_database, run};
use serde_json::{Value, json};
use uuid::Uuid;

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn call(
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, String) {
    let mut request = client().request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if std::fs::read(&path)
            .unwrap()
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
        {
            found.push(path.display().to_string());
        }
    }
    found
}

#[tokio::test]
async fn canaries_appear_in_no_log_no_qr_code_no_refused_scan_and_nowhere_after_the_purge() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::new().await;
    let server = Server::start_logging(dir.path(), &db, &["--demo"], 5);
    let password = server.demo_password();
    let (_, login) = call(
        reqwest::Method::POST,
        server.url("/api/v1/auth/login"),
        None,
        Some(json!({"email": "demo@consentry.example", "password": password})),
    )
    .await;
    let organiser = json_of(&login)["token"].as_str().unwrap().to_owned();
    let public = json_of(
        &call(
            reqwest::Method::GET,
            server.url("/api/v1/events/consentry-demo"),
            None,
            None,
        )
        .await
        .1,
    );
    let events = json_of(
        &call(
            reqwest::Method::GET,
            server.url("/api/v1/events"),
            Some(&organiser),
            None,
        )
        .await
        .1,
    );
    let event_id = events[0]["id"].as_str().unwrap().to_owned();
    let consented = public["sponsors"][0]["id"].as_str().unwrap().to_owned();
    let refused = public["sponsors"][1]["id"].as_str().unwrap().to_owned();

    // The canaries: values that can only come from this attendee.
    let tag = Uuid::new_v4().simple().to_string();
    let first_name = format!("Canaryfirst{}", &tag[..10]);
    let last_name = format!("Canarylast{}", &tag[10..20]);
    let email = format!("canary-{}@example.org", &tag[20..]);
    let company = format!("Canaryco{}", &tag[..8]);
    let note = format!("Canarynote{}", &tag[8..18]);

    let (status, registered) = call(
        reqwest::Method::POST,
        server.url("/api/v1/events/consentry-demo/registrations"),
        None,
        Some(json!({
            "first_name": first_name, "last_name": last_name, "email": email,
            "company": company, "age_confirmed": true,
            "notice_version": public["privacy_notice_version"],
            "sponsor_opt_ins": [consented],
        })),
    )
    .await;
    assert_eq!(status, 201, "{registered}");
    let registered = json_of(&registered);
    let registration_id = registered["registration_id"].as_str().unwrap().to_owned();
    let manage_token = registered["manage_token"].as_str().unwrap().to_owned();
    let badge = registered["badge"]["token"].as_str().unwrap().to_owned();

    // The QR code holds the badge page's address and the badge token in its fragment, and nothing
    // else: three claims, no personal data.
    let png = STANDARD
        .decode(registered["badge"]["qr_png_base64"].as_str().unwrap())
        .unwrap();
    let image = image::load_from_memory(&png).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1);
    let qr_content = grids[0].decode().unwrap().1;
    assert_eq!(qr_content, format!("{}/b#{badge}", server.base));
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(badge.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    let mut keys: Vec<&str> = claims
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["bid", "eid", "iat"]);
    let badge_id = Uuid::from_slice(
        &URL_SAFE_NO_PAD
            .decode(claims["bid"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap()
    .to_string();

    // A kiosk of each sponsor scans the badge: one refusal, one lead with a note.
    let mut kiosks = Vec::new();
    for sponsor in [&refused, &consented] {
        let (_, created) = call(
            reqwest::Method::POST,
            server.url(&format!(
                "/api/v1/events/{event_id}/sponsors/{sponsor}/kiosks"
            )),
            Some(&organiser),
            Some(json!({})),
        )
        .await;
        let created = json_of(&created);
        let (_, paired) = call(
            reqwest::Method::POST,
            server.url("/api/v1/kiosks/pair"),
            None,
            Some(json!({"code": created["pairing_code"], "device_name": "Booth"})),
        )
        .await;
        kiosks.push((
            created["kiosk_id"].as_str().unwrap().to_owned(),
            json_of(&paired)["token"].as_str().unwrap().to_owned(),
        ));
    }
    let scan = |token: String| {
        let url = server.url("/api/v1/scans");
        let badge = badge.clone();
        async move {
            call(
                reqwest::Method::POST,
                url,
                Some(&token),
                Some(json!({
                    "badge_token": badge,
                    "client_scan_id": Uuid::new_v4(),
                    "scanned_at": time::OffsetDateTime::now_utc()
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap(),
                })),
            )
            .await
        }
    };
    let (status, answer) = scan(kiosks[0].1.clone()).await;
    assert_eq!(
        (status, json_of(&answer)["reason"].as_str()),
        (200, Some("no_consent"))
    );
    let (status, answer) = scan(kiosks[1].1.clone()).await;
    assert_eq!(status, 201, "{answer}");
    let lead_id = json_of(&answer)["lead"]["id"].as_str().unwrap().to_owned();
    let (status, _) = call(
        reqwest::Method::PATCH,
        server.url(&format!("/api/v1/leads/{lead_id}")),
        Some(&kiosks[1].1),
        Some(json!({"note": note, "rating": 4})),
    )
    .await;
    assert_eq!(status, 200);

    // The organiser exports the lead and the attendee reads their data: the canaries are where
    // they belong, so their absence elsewhere means something.
    let (status, csv) = call(
        reqwest::Method::GET,
        server.url(&format!(
            "/api/v1/events/{event_id}/sponsors/{consented}/leads.csv"
        )),
        Some(&organiser),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(csv.contains(&first_name) && csv.contains(&note), "{csv}");
    let (status, mine) = call(
        reqwest::Method::GET,
        server.url(&format!("/api/v1/me/{manage_token}/export")),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(mine.contains(&email) && mine.contains(&company));

    // The refused scan left nothing that links the attendee to that sponsor or its kiosk.
    let main_db = consentry::db::connect(&db.url_in(dir.path()), None)
        .await
        .unwrap();
    let rows = dump_database(&main_db).await;
    let row_texts: Vec<String> = rows
        .iter()
        .map(|(table, values)| format!("{table}: {}", values.join(" | ")))
        .collect();
    for person in [&registration_id, &badge_id] {
        for other_side in [&refused, &kiosks[0].0] {
            let linked: Vec<&String> = row_texts
                .iter()
                .filter(|row| row.contains(person.as_str()) && row.contains(other_side.as_str()))
                .collect();
            assert!(linked.is_empty(), "refused scan left {linked:?}");
        }
    }

    // The server's log, at its production level, holds none of it (nor the manage link).
    let needles = [
        &first_name,
        &last_name,
        &email,
        &company,
        &note,
        &manage_token,
    ];
    let log = server.log();
    assert!(
        log.iter().any(|line| line.contains("registered")),
        "the log was captured: {log:?}"
    );
    for needle in needles {
        let leaked: Vec<&String> = log
            .iter()
            .chain(&server.stdout)
            .filter(|line| line.contains(needle.as_str()))
            .collect();
        assert!(leaked.is_empty(), "{needle} in the log: {leaked:?}");
    }
    let status = server.terminate();
    assert!(status.success());

    // The purge, as of long after the event: nothing of the attendee is left anywhere.
    let mut args: Vec<String> = vec![
        "purge".into(),
        "--as-of".into(),
        "2100-01-01T00:00:00Z".into(),
        "--data-dir".into(),
        dir.path().display().to_string(),
    ];
    args.extend(db.args());
    let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    let purged = run("consentry", &args, "");
    assert!(
        purged.status.success(),
        "{}",
        String::from_utf8_lossy(&purged.stderr)
    );

    let keystore = consentry::db::connect(&db.keystore_url_in(dir.path()), None)
        .await
        .unwrap();
    let everything: Vec<String> = dump_database(&main_db)
        .await
        .into_iter()
        .chain(dump_database(&keystore).await)
        .map(|(table, values)| format!("{table}: {}", values.join(" | ")))
        .collect();
    for needle in needles
        .into_iter()
        .chain([&registration_id, &badge_id, &lead_id, &badge])
    {
        let left: Vec<&String> = everything
            .iter()
            .filter(|row| row.contains(needle.as_str()))
            .collect();
        assert!(left.is_empty(), "{needle} survived the purge: {left:?}");
    }
    main_db.close().await.unwrap();
    keystore.close().await.unwrap();
    for needle in needles {
        assert!(
            files_containing(dir.path(), needle).is_empty(),
            "{needle} survived the purge in {:?}",
            files_containing(dir.path(), needle)
        );
    }
}
