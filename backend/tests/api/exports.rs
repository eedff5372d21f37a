//! Exports, the audit log and the dashboard.

use sea_orm::{ActiveEnum, ActiveModelTrait, EntityTrait, Set};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::common::{Kiosk, PublicEvent, TestApp, assert_problem, registration_body, spawn_app};

struct Fixture {
    event: PublicEvent,
    kiosk: Kiosk,
    consenting: Value,
}

/// Four attendees scanned at the first sponsor's booth: one consenting (with a name and company
/// that try formula injection, and a note), one never consenting, one who withdrew, one who
/// restricted processing.
async fn fixture(app: &TestApp) -> Fixture {
    let event = app.public_event("summit").await;
    let sponsor = event.sponsors[0].clone();
    let kiosk = app.kiosk(&event, &sponsor).await;
    let register = |email: &str, first: &str, company: &str, opt_in: bool| {
        let mut body = registration_body(email);
        body["first_name"] = json!(first);
        body["company"] = json!(company);
        body["sponsor_opt_ins"] = json!(if opt_in {
            vec![sponsor.clone()]
        } else {
            vec![]
        });
        body
    };
    let mut created = Vec::new();
    for body in [
        register("yes@example.org", "=HYPERLINK(\"x\")", "@Evil Corp", true),
        register("never@example.org", "Nora", "Never Ltd", false),
        register("withdrew@example.org", "Wim", "Withdrew BV", true),
        register("restricted@example.org", "Rita", "Restricted AG", true),
    ] {
        let response = app.register(&event.slug, &body).await;
        assert_eq!(response.status(), 201);
        let r: Value = response.json().await.unwrap();
        app.scan(&kiosk, r["badge"]["token"].as_str().unwrap())
            .await;
        created.push(r);
    }
    let lead = app
        .get(&kiosk.token, "/api/v1/leads")
        .await
        .json::<Value>()
        .await
        .unwrap()["leads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["contact"]["email"] == "yes@example.org")
        .unwrap()
        .clone();
    app.patch(
        &kiosk.token,
        &format!("/api/v1/leads/{}", lead["id"].as_str().unwrap()),
        &json!({"rating": 5, "note": "-1 discount?", "tags": ["hot", "vip"]}),
    )
    .await;
    let withdrew = created[2]["manage_token"].as_str().unwrap();
    app.anonymous_json_request(
        reqwest::Method::PUT,
        &format!("/api/v1/me/{withdrew}/consents"),
        &json!({"withdraw_all": true}),
    )
    .await;
    consentry::registrations::entity::registration::ActiveModel {
        id: Set(created[3]["registration_id"]
            .as_str()
            .unwrap()
            .parse::<Uuid>()
            .unwrap()
            .into()),
        restricted_at: Set(Some(
            OffsetDateTime::now_utc().replace_nanosecond(0).unwrap(),
        )),
        ..Default::default()
    }
    .update(&app.db)
    .await
    .unwrap();
    Fixture {
        event,
        kiosk,
        consenting: created.remove(0),
    }
}

fn export_path(f: &Fixture, format: &str) -> String {
    format!(
        "/api/v1/events/{}/sponsors/{}/leads.{format}",
        f.event.id, f.event.sponsors[0]
    )
}

#[tokio::test]
async fn the_csv_export_holds_exactly_the_consented_leads_with_formulas_neutralised() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let response = app
        .get(&f.event.organiser.token, &export_path(&f, "csv"))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"summit-acme-analytics-leads.csv\""
    );
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines.len(),
        2,
        "header and the one consenting attendee: {csv}"
    );
    assert_eq!(
        lines[0],
        "First Name,Last Name,Email,Company,Job Title,First Scan (UTC),Last Scan (UTC),Scan Count,Rating,Notes,Tags,Consentry Lead ID"
    );
    let row: Vec<String> = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(csv.as_bytes())
        .records()
        .next()
        .unwrap()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(row[0], "'=HYPERLINK(\"x\")");
    assert_eq!(row[1], "Lovelace");
    assert_eq!(row[2], "yes@example.org");
    assert_eq!(row[3], "'@Evil Corp");
    assert_eq!(row[4], "");
    assert_eq!(row[7], "1");
    assert_eq!(row[8], "5");
    assert_eq!(row[9], "'-1 discount?");
    assert_eq!(row[10], "hot;vip");
    for absent in ["never@", "withdrew@", "restricted@", "Nora", "Wim", "Rita"] {
        assert!(!csv.contains(absent), "{absent} must not be exported");
    }

    let with_bom = app
        .get(
            &f.event.organiser.token,
            &format!("{}?bom=true", export_path(&f, "csv")),
        )
        .await;
    assert!(
        with_bom
            .bytes()
            .await
            .unwrap()
            .starts_with(&[0xEF, 0xBB, 0xBF, b'F'])
    );
}

#[tokio::test]
async fn the_json_export_has_the_same_rows_and_the_sponsor_can_export_its_own() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let json: Value = app
        .get(&f.event.organiser.token, &export_path(&f, "json"))
        .await
        .json()
        .await
        .unwrap();
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0]["first_name"], "=HYPERLINK(\"x\")",
        "JSON carries values as they are"
    );
    assert_eq!(rows[0]["email"], "yes@example.org");
    assert_eq!(rows[0]["tags"], json!(["hot", "vip"]));
    assert!(rows[0].get("phone").is_none());

    let own = app.get(&f.kiosk.token, "/api/v1/leads.csv").await;
    assert_eq!(own.status(), 200);
    let own = own.text().await.unwrap();
    assert_eq!(own.split("\r\n").filter(|l| !l.is_empty()).count(), 2);
    let own_json: Value = app
        .get(&f.kiosk.token, "/api/v1/leads.json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(own_json.as_array().unwrap().len(), 1);
    // Another sponsor's kiosk exports only its own (here: nobody).
    let other = app.kiosk(&f.event, &f.event.sponsors[1]).await;
    let theirs: Value = app
        .get(&other.token, "/api/v1/leads.json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs, json!([]));
}

#[tokio::test]
async fn another_tenant_or_event_cannot_export() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let stranger = app.organiser("Stranger").await;
    assert_problem(
        app.get(&stranger.token, &export_path(&f, "csv")).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.get(&stranger.token, &export_path(&f, "json")).await,
        404,
        "not_found",
    )
    .await;
    let other = app.public_event("other").await;
    let mixed = format!(
        "/api/v1/events/{}/sponsors/{}/leads.csv",
        other.id, f.event.sponsors[0]
    );
    assert_problem(
        app.get(&other.organiser.token, &mixed).await,
        404,
        "not_found",
    )
    .await;
    let anonymous = app
        .anonymous(reqwest::Method::GET, "/api/v1/leads.csv")
        .await;
    assert_problem(anonymous, 401, "authentication_required").await;
}

#[tokio::test]
async fn every_export_records_its_recipients() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let response = app
        .get(&f.event.organiser.token, &export_path(&f, "csv"))
        .await;
    let export_id: Uuid = response.headers()["x-export-id"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    response.text().await.unwrap();
    // The stream's bookkeeping finishes just after its last byte.
    let find = || consentry::exports::entity::export::Entity::find_by_id(export_id).one(&app.db);
    eventually(|| async { find().await.unwrap().unwrap().row_count == 1 }).await;
    let export = find().await.unwrap().unwrap();
    assert_eq!(
        (export.sponsor_id.to_string(), export.actor_kind.to_value()),
        (f.event.sponsors[0].clone(), "organiser".to_owned())
    );
    let recipients = consentry::exports::entity::recipient::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(recipients.len(), 1);
    assert_eq!(
        recipients[0].registration_id.to_string(),
        f.consenting["registration_id"].as_str().unwrap()
    );
}

#[tokio::test]
async fn the_audit_log_shows_every_access_and_no_personal_data() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    app.get(&f.event.organiser.token, &export_path(&f, "csv"))
        .await
        .text()
        .await
        .unwrap();
    app.get(&f.kiosk.token, "/api/v1/leads.csv")
        .await
        .text()
        .await
        .unwrap();
    app.get(&f.kiosk.token, "/api/v1/leads").await;
    app.delete(
        &f.event.organiser.token,
        &format!("/api/v1/events/{}/kiosks/{}", f.event.id, f.kiosk.id),
    )
    .await;

    // An export's audit entry is written as its stream ends.
    let exported_twice = || async {
        let page: Value = app
            .get(
                &f.event.organiser.token,
                "/api/v1/audit?action=leads_exported",
            )
            .await
            .json()
            .await
            .unwrap();
        page["total"] == 2
    };
    eventually(exported_twice).await;
    let log: Value = app
        .get(
            &f.event.organiser.token,
            &format!("/api/v1/events/{}/audit?per_page=500", f.event.id),
        )
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in [
        "kiosk_paired",
        "kiosk_revoked",
        "leads_viewed",
        "leads_exported",
        "consent_granted",
        "consent_withdrawn",
    ] {
        assert!(
            actions.contains(&action),
            "{action} missing from {actions:?}"
        );
    }
    assert_eq!(
        actions.iter().filter(|a| **a == "leads_exported").count(),
        2,
        "organiser and kiosk exports"
    );

    let exports: Value = app
        .get(
            &f.event.organiser.token,
            "/api/v1/audit?action=leads_exported",
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(exports["total"], 2);
    let logins: Value = app
        .get(
            &f.event.organiser.token,
            "/api/v1/audit?action=organiser_login",
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(logins["total"], 1);

    let dump = crate::common::dump_audit(&app).await;
    for personal in [
        "yes@example.org",
        "never@",
        "Lovelace",
        "HYPERLINK",
        "Evil Corp",
        "Nora",
        "discount",
    ] {
        assert!(!dump.contains(personal), "{personal} in the audit log");
    }
    let stranger = app.organiser("Stranger").await;
    let theirs: Value = app
        .get(&stranger.token, "/api/v1/audit")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        theirs["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["action"] == "organiser_login"),
        "{theirs}"
    );
}

#[tokio::test]
async fn the_dashboard_counts_without_naming_anyone() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    app.get(&f.event.organiser.token, &export_path(&f, "json"))
        .await
        .text()
        .await
        .unwrap();
    let stats_path = format!("/api/v1/events/{}/stats", f.event.id);
    eventually(|| async {
        let stats: Value = app
            .get(&f.event.organiser.token, &stats_path)
            .await
            .json()
            .await
            .unwrap();
        stats["exports"] == 1
    })
    .await;
    let stats: Value = app
        .get(
            &f.event.organiser.token,
            &format!("/api/v1/events/{}/stats", f.event.id),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["registrations"], 4);
    assert_eq!(stats["marketing_opt_ins"], 0);
    let first = stats["sponsors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["sponsor_id"] == f.event.sponsors[0])
        .unwrap();
    assert_eq!(first["opt_ins"], 2, "yes and restricted; withdrew withdrew");
    assert_eq!(first["opt_in_rate"], 0.5);
    assert_eq!(first["scans_accepted"], 3);
    assert_eq!(first["scans_refused"], json!({"no_consent": 1}));
    assert_eq!(
        first["leads"], 2,
        "the withdrawn lead is gone; the restricted one is kept, hidden"
    );
    assert_eq!(first["exports"], 1);
    assert!(stats["purge_due_at"].is_string());
    let text = stats.to_string();
    assert!(!text.contains("example.org") && !text.contains("Lovelace"));
}

/// Wait (up to ten seconds) until `check` holds.
async fn eventually<F, Fut>(check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "condition not reached in time"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_zip_holds_one_consented_csv_per_sponsor() {
    use std::io::Read;
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let response = app
        .get(
            &f.event.organiser.token,
            &format!("/api/v1/events/{}/leads.zip", f.event.id),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/zip");
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"summit-leads.zip\""
    );
    assert_eq!(
        response.headers()["x-export-id"]
            .to_str()
            .unwrap()
            .split(',')
            .count(),
        3
    );
    let bytes = response.bytes().await.unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut names: Vec<String> = archive
        .file_names()
        .map(|n| n.unwrap().into_owned())
        .collect();
    names.sort();
    // Each file is named by its sponsor and the start of its id.
    let entry = |slug: &str, i: usize| {
        format!(
            "{slug}-{}-leads.csv",
            &f.event.sponsors[i].replace('-', "")[24..]
        )
    };
    let (acme_csv, globex_csv) = (entry("acme-analytics", 0), entry("globex-cloud", 1));
    assert_eq!(
        names,
        [
            acme_csv.clone(),
            globex_csv.clone(),
            entry("initech-security", 2)
        ]
    );
    let mut acme = String::new();
    archive
        .by_name(&acme_csv)
        .unwrap()
        .read_to_string(&mut acme)
        .unwrap();
    let lines: Vec<&str> = acme.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 2, "{acme}");
    assert!(lines[1].contains("yes@example.org"));
    let mut globex = String::new();
    archive
        .by_name(&globex_csv)
        .unwrap()
        .read_to_string(&mut globex)
        .unwrap();
    assert_eq!(
        globex.split("\r\n").filter(|l| !l.is_empty()).count(),
        1,
        "header only"
    );
    let stranger = app.organiser("Stranger").await;
    let theirs = app
        .get(
            &stranger.token,
            &format!("/api/v1/events/{}/leads.zip", f.event.id),
        )
        .await;
    assert_problem(theirs, 404, "not_found").await;
}
