//! The disclosure gate from an attacker's side: a replayed scan, a scan racing a withdrawal, a
//! consent widened or re-addressed after it was given, a kiosk choosing its own identifiers, and
//! spreadsheet cells split by a semicolon locale. (The walk of every operation once the data is
//! due is in `authorization.rs`; it reuses the matrix's world.)

use std::collections::HashSet;

use consentry::{
    consents::entity::grant, crypto, leads, registrations::entity::registration,
    scans::entity::request,
};
use reqwest::Method;
use sea_orm::{ActiveEnum, EntityTrait};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::common::{TestApp, assert_problem, spawn_app, spawn_app_without_rate_limits};

fn badge(registration: &Value) -> String {
    registration["badge"]["token"].as_str().unwrap().to_owned()
}

fn manage(registration: &Value) -> String {
    registration["manage_token"].as_str().unwrap().to_owned()
}

async fn withdraw(app: &TestApp, registration: &Value, sponsor_id: &str) -> u16 {
    app.anonymous_json_request(
        reqwest::Method::PUT,
        &format!("/api/v1/me/{}/consents", manage(registration)),
        &json!({"consents": [{"purpose": format!("sponsor:{sponsor_id}"), "granted": false}]}),
    )
    .await
    .status()
    .as_u16()
}

async fn me(app: &TestApp, registration: &Value) -> Value {
    app.anonymous_json(&format!("/api/v1/me/{}", manage(registration)))
        .await
}

#[tokio::test]
async fn a_replayed_scan_answers_as_of_now_and_only_for_its_own_badge() {
    let app = spawn_app().await;
    let event = app.public_event("replay").await;
    let s1 = event.sponsors[0].clone();
    let kiosk = app.kiosk(&event, &s1).await;
    let ada = app.attendee(&event, "ada@replay.example", &[&s1]).await;
    let bob = app.attendee(&event, "bob@replay.example", &[&s1]).await;
    let id = Uuid::new_v4();
    let at = OffsetDateTime::now_utc();

    let (status, first) = app.scan_with(&kiosk, &badge(&ada), id, at).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["lead"]["contact"]["email"], "ada@replay.example");
    let (status, again) = app.scan_with(&kiosk, &badge(&ada), id, at).await;
    assert_eq!((status, &again["lead"]["id"]), (201, &first["lead"]["id"]));

    // The same id with anything but Ada's badge: refused, and nothing about anyone.
    for other in ["x".to_owned(), badge(&bob)] {
        let (status, body) = app.scan_with(&kiosk, &other, id, at).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["code"], "client_scan_id_reused");
        assert!(!body.to_string().contains("@replay.example"), "{body}");
    }

    // Restricted: the replay gives the reason, not the details.
    let restricted = app
        .anonymous(
            Method::POST,
            &format!("/api/v1/me/{}/restriction", manage(&ada)),
        )
        .await;
    assert_eq!(restricted.status(), 200);
    let (status, body) = app.scan_with(&kiosk, &badge(&ada), id, at).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["outcome"].as_str(), body["reason"].as_str()),
        (Some("refused"), Some("restricted"))
    );
    assert!(!body.to_string().contains("ada@"), "{body}");

    // Lifted, then withdrawn: no consent, and the accepted scan's record went with its lead.
    let lifted = app
        .anonymous(
            Method::DELETE,
            &format!("/api/v1/me/{}/restriction", manage(&ada)),
        )
        .await;
    assert_eq!(lifted.status(), 200);
    assert_eq!(withdraw(&app, &ada, &s1).await, 200);
    assert_eq!(app.count("leads").await, 0);
    let (status, body) = app.scan_with(&kiosk, &badge(&ada), id, at).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["reason"], "no_consent");
    assert!(!body.to_string().contains("ada@"), "{body}");
    assert_eq!(app.count("leads").await, 0);
}

#[tokio::test]
async fn a_kiosk_cannot_make_a_refused_scan_joinable_by_choosing_its_scan_id() {
    let app = spawn_app().await;
    let event = app.public_event("joinable").await;
    let kiosk = app.kiosk(&event, &event.sponsors[0]).await;
    let nora = app.attendee(&event, "nora@joinable.example", &[]).await;
    let stored = registration::Entity::find().all(&app.db).await.unwrap();
    let nora_row = stored
        .iter()
        .find(|r| r.id.to_string() == nora["registration_id"].as_str().unwrap())
        .unwrap();
    // A kiosk that decodes the badge knows its id; it picks that, and the registration id, as
    // its own scan ids.
    for chosen in [nora_row.badge_id, nora_row.id.into()] {
        let (status, body) = app
            .scan_with(&kiosk, &badge(&nora), chosen, OffsetDateTime::now_utc())
            .await;
        assert_eq!((status, body["reason"].as_str()), (200, Some("no_consent")));
    }
    let people: HashSet<Uuid> = stored
        .iter()
        .flat_map(|r| [r.id.into(), r.badge_id])
        .collect();
    let records = request::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(records.len(), 2);
    for record in records {
        assert!(!people.contains(&record.scan_key), "{record:?}");
        assert_eq!(record.lead_id, None);
        assert_eq!(record.outcome.to_value(), "no_consent");
    }
}

/// Hundreds of times, a scan and a withdrawal of the same attendee's consent at the same moment.
/// Whichever wins, no lead may outlive the grant: either the scan was refused, or the withdrawal
/// removed the lead it made.
#[tokio::test]
async fn a_scan_racing_a_withdrawal_never_leaves_a_lead_without_its_grant() {
    const ROUNDS: usize = 150;
    let app = spawn_app_without_rate_limits().await;
    let event = app.public_event("race").await;
    let s1 = event.sponsors[0].clone();
    let kiosk = app.kiosk(&event, &s1).await;
    let mut outcomes = HashSet::new();
    for i in 0..ROUNDS {
        let attendee = app
            .attendee(&event, &format!("racer{i}@race.example"), &[&s1])
            .await;
        let token = badge(&attendee);
        let ((status, answer), withdrawn) =
            tokio::join!(app.scan(&kiosk, &token), withdraw(&app, &attendee, &s1));
        assert_eq!(withdrawn, 200);
        assert!(status == 200 || status == 201, "{status} {answer}");
        outcomes.insert(answer["outcome"].as_str().unwrap().to_owned());
    }
    let leads = leads::entity::Entity::find().all(&app.db).await.unwrap();
    let grants: HashSet<(consentry::schema::ids::RegistrationId, String)> = grant::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|g| (g.registration_id, g.purpose))
        .collect();
    let orphans: Vec<_> = leads
        .iter()
        .filter(|l| !grants.contains(&(l.registration_id, format!("sponsor:{}", l.sponsor_id))))
        .collect();
    assert!(
        orphans.is_empty(),
        "{} of {ROUNDS} rounds left a lead without a grant, e.g. {:?}",
        orphans.len(),
        orphans.first()
    );
    // Every round ended withdrawn.
    assert!(leads.is_empty());
    println!("outcomes seen: {outcomes:?}");
}

#[tokio::test]
async fn a_consent_releases_only_what_was_shown_to_the_sponsor_that_was_shown() {
    let app = spawn_app().await;
    let event = app.public_event("bound").await;
    let organiser = event.organiser.token.clone();
    let (s1, s3) = (event.sponsors[0].clone(), event.sponsors[2].clone());
    let kiosk = app.kiosk(&event, &s1).await;
    // Agreed to first and last name, e-mail, company and job title (the event's fields now); the
    // registration also holds a phone number.
    let early = app.attendee(&event, "early@bound.example", &[&s1]).await;

    // The organiser widens what sponsors receive.
    let widened = app
        .patch(
            &organiser,
            &format!("/api/v1/events/{}", event.id),
            &json!({"shared_fields": ["first_name", "last_name", "email", "company", "job_title", "phone", "country"]}),
        )
        .await;
    assert_eq!(widened.status(), 200);
    let (status, scanned) = app.scan(&kiosk, &badge(&early)).await;
    assert_eq!(status, 201, "{scanned}");
    let contact = &scanned["lead"]["contact"];
    assert_eq!(contact["email"], "early@bound.example");
    assert!(contact.get("phone").is_none(), "{contact}");
    // A page still showing the old sentence cannot bind anyone to the new one: the version moved.
    let mut body = crate::common::registration_body("late@bound.example");
    body["sponsor_opt_ins"] = json!([s1]);
    body["phone"] = json!("+31 20 123 4567");
    let stale = app.register(&event.slug, &body).await;
    assert_problem(stale, 409, "notice_outdated").await;
    // Someone who agreed after the change, to the wider sentence, is released with the phone.
    let shown = app
        .anonymous_json(&format!("/api/v1/events/{}", event.slug))
        .await;
    assert_eq!(shown["privacy_notice_version"], 2);
    body["notice_version"] = shown["privacy_notice_version"].clone();
    let response = app.register(&event.slug, &body).await;
    assert_eq!(response.status(), 201);
    let late: Value = response.json().await.unwrap();
    let (_, scanned) = app.scan(&kiosk, &badge(&late)).await;
    assert_eq!(scanned["lead"]["contact"]["phone"], "+31201234567");
    // The export follows the same gate.
    let csv = app.export_csv(&event, &s1).await.text().await.unwrap();
    let early_row = csv
        .lines()
        .find(|l| l.contains("early@bound.example"))
        .unwrap();
    assert!(!early_row.contains("+3120"), "{csv}");
    let late_row = csv
        .lines()
        .find(|l| l.contains("late@bound.example"))
        .unwrap();
    assert!(late_row.contains("+31201234567"), "{csv}");

    // The manage page shows what the grant covers, and the ledger proves that sentence.
    let view = me(&app, &early).await;
    let consent = view["consents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["purpose"] == format!("sponsor:{s1}"))
        .unwrap();
    assert_eq!(
        consent["covers"],
        json!(["first_name", "last_name", "email", "company", "job_title"])
    );
    let text = consent["text"].as_str().unwrap();
    assert!(!text.contains("phone"), "{text}");
    let granted = view["consent_history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["purpose"] == format!("sponsor:{s1}"))
        .unwrap();
    assert_eq!(granted["text_sha256"], crypto::sha256_hex(text.as_bytes()));

    // Shrinking holds for everyone at once.
    let narrowed = app
        .patch(
            &organiser,
            &format!("/api/v1/events/{}", event.id),
            &json!({"shared_fields": ["first_name", "email"]}),
        )
        .await;
    assert_eq!(narrowed.status(), 200);
    for lead in app.kiosk_leads(&kiosk).await {
        let mut keys: Vec<&String> = lead["contact"].as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["email", "first_name"], "{lead}");
    }

    // The sponsor consented to keeps its name and policy; a sponsor nobody consented to may change.
    let sponsor = |id: &str| format!("/api/v1/events/{}/sponsors/{id}", event.id);
    for change in [
        json!({"name": "Data Broker Inc"}),
        json!({"privacy_policy_url": "https://broker.example/privacy"}),
    ] {
        let refused = app.patch(&organiser, &sponsor(&s1), &change).await;
        assert_problem(refused, 409, "sponsor_has_consents").await;
    }
    let described = app
        .patch(
            &organiser,
            &sponsor(&s1),
            &json!({"description": "Booth 12"}),
        )
        .await;
    assert_eq!(described.status(), 200);
    let version = || async {
        app.anonymous_json(&format!("/api/v1/events/{}", event.slug))
            .await["privacy_notice_version"]
            .as_i64()
            .unwrap()
    };
    let before = version().await;
    let renamed = app
        .patch(
            &organiser,
            &sponsor(&s3),
            &json!({"name": "Renamed Before Anyone Agreed"}),
        )
        .await;
    assert_eq!(renamed.status(), 200);
    // And registration pages showing the old name must reload.
    assert_eq!(version().await, before + 1);
    // Still the same sponsor, still released.
    let (status, _) = app.scan(&kiosk, &badge(&early)).await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn a_csv_cell_that_a_semicolon_locale_would_split_into_a_formula_is_neutralised() {
    let app = spawn_app().await;
    let event = app.public_event("semicolon").await;
    let s1 = event.sponsors[0].clone();
    let kiosk = app.kiosk(&event, &s1).await;
    let mut body = crate::common::registration_body("calc@semicolon.example");
    body["first_name"] = json!("Ada;=cmd|' /C calc'!A0");
    body["sponsor_opt_ins"] = json!([s1]);
    let response = app.register(&event.slug, &body).await;
    assert_eq!(response.status(), 201);
    let registered: Value = response.json().await.unwrap();
    let (status, scanned) = app.scan(&kiosk, &badge(&registered)).await;
    assert_eq!(status, 201);
    app.annotate(&kiosk, scanned["lead"]["id"].as_str().unwrap(), "ok;=2+2")
        .await;
    let csv = app.export_csv(&event, &s1).await.text().await.unwrap();
    let mut reader = csv::ReaderBuilder::new().from_reader(csv.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let row = reader.records().next().unwrap().unwrap();
    let cell = |name: &str| &row[headers.iter().position(|h| h == name).unwrap()];
    assert_eq!(cell("First Name"), "Ada;'=cmd|' /C calc'!A0");
    assert_eq!(cell("Notes"), "ok;'=2+2");
    // Read as a spreadsheet in a semicolon or tab locale would: no cell starts a formula.
    for delimiter in [b';', b'\t'] {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(csv.as_bytes());
        for record in reader.records() {
            for field in record.unwrap().iter() {
                let field = field.trim_start().trim_start_matches('"');
                assert!(
                    !field.starts_with(['=', '+', '-', '@']),
                    "{field:?} in {csv}"
                );
            }
        }
    }
}

#[tokio::test]
async fn sponsors_whose_names_make_the_same_file_name_each_get_their_file_in_the_zip() {
    use std::io::Read;
    let app = spawn_app().await;
    let event = app.public_event("dup").await;
    let organiser = event.organiser.token.clone();
    let dup = app.create_sponsor(&organiser, &event.id, "Dup!").await;
    let dup2 = app.create_sponsor(&organiser, &event.id, "Dup?").await;
    let ids = [&dup, &dup2].map(|s| s["id"].as_str().unwrap().to_owned());
    let kiosk = app.kiosk(&event, &ids[1]).await;
    let attendee = app.attendee(&event, "dup@dup.example", &[&ids[1]]).await;
    assert_eq!(app.scan(&kiosk, &badge(&attendee)).await.0, 201);
    let response = app
        .get(
            &organiser,
            &format!("/api/v1/events/{}/leads.zip", event.id),
        )
        .await;
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.expect("the archive is complete");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    assert_eq!(archive.len(), 5);
    let name = format!("dup-{}-leads.csv", &ids[1].replace('-', "")[24..]);
    let mut csv = String::new();
    archive
        .by_name(&name)
        .unwrap()
        .read_to_string(&mut csv)
        .unwrap();
    assert!(csv.contains("dup@dup.example"), "{csv}");
    // One export record per sponsor file, each complete.
    assert_eq!(app.count("exports").await, 5);
}

/// SQLite runs a migration outside a transaction: the gate's migration, cut off part-way, must be
/// able to run again. Run again on a migrated database, it changes nothing and keeps the new
/// scan records.
#[tokio::test]
async fn the_gate_migration_can_run_again() {
    use consentry_migration::{MigratorTrait, SchemaManager};
    let app = spawn_app().await;
    let event = app.public_event("again").await;
    let kiosk = app.kiosk(&event, &event.sponsors[0]).await;
    let nora = app.attendee(&event, "nora@again.example", &[]).await;
    assert_eq!(app.scan(&kiosk, &badge(&nora)).await.0, 200);
    let migrations = consentry_migration::Migrator::migrations();
    let gate = migrations
        .iter()
        .find(|m| m.name() == "m20261129_000009_disclosure_gate")
        .unwrap();
    gate.up(&SchemaManager::new(&app.db)).await.unwrap();
    assert_eq!(app.count("scan_requests").await, 1);
    assert_eq!(app.scan(&kiosk, &badge(&nora)).await.0, 200);
}
