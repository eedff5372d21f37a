//! The attendee's rights from the manage link: access, rectification, restriction, erasure; and
//! the erasure notices organisers pass on.

use consentry::registrations::entity::registration;
use reqwest::Method;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::common::{Kiosk, PublicEvent, TestApp, assert_problem, rows_mentioning_all, spawn_app};

fn me(created: &Value) -> String {
    format!("/api/v1/me/{}", created["manage_token"].as_str().unwrap())
}

fn badge(created: &Value) -> &str {
    created["badge"]["token"].as_str().unwrap()
}

async fn send(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
    let request = app.client.request(method, app.url(path));
    match body {
        Some(body) => request.json(&body),
        None => request,
    }
    .send()
    .await
    .unwrap()
}

/// An attendee consenting to the first two sponsors, scanned at both booths, with a note at the
/// first; the first sponsor's leads exported once.
struct Scene {
    event: PublicEvent,
    first: Kiosk,
    second: Kiosk,
    created: Value,
    lead_id: String,
}

async fn scene(app: &TestApp, slug: &str) -> Scene {
    let event = app.public_event(slug).await;
    let (a, b) = (event.sponsors[0].clone(), event.sponsors[1].clone());
    let first = app.kiosk(&event, &a).await;
    let second = app.kiosk(&event, &b).await;
    let mut body = crate::common::registration_body("ada@example.org");
    body["sponsor_opt_ins"] = json!([a, b]);
    body["marketing_opt_in"] = json!(true);
    let response = app.register(&event.slug, &body).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(
        app.scan(&first, badge(&created)).await.1["outcome"],
        "accepted"
    );
    assert_eq!(
        app.scan(&second, badge(&created)).await.1["outcome"],
        "accepted"
    );
    let lead_id = app.kiosk_leads(&first).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.annotate(&first, &lead_id, "Wants a demo in March")
        .await;
    let csv = app.export_csv(&event, &a).await.text().await.unwrap();
    assert!(csv.contains("Lovelace"));
    Scene {
        event,
        first,
        second,
        created,
        lead_id,
    }
}

#[tokio::test]
async fn an_attendee_downloads_everything_held_about_them() {
    let app = spawn_app().await;
    let s = scene(&app, "access").await;
    let response = app
        .anonymous(Method::GET, &format!("{}/export", me(&s.created)))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"my-data-access.json\""
    );
    let data: Value = response.json().await.unwrap();
    assert_eq!(data["registration"]["details"]["email"], "ada@example.org");
    assert_eq!(data["registration"]["details"]["last_name"], "Lovelace");
    assert_eq!(data["registration"]["id"], s.created["registration_id"]);
    assert!(data["registration"]["restricted_at"].is_null());
    assert_eq!(data["event"]["slug"], "access");
    assert!(data["event"]["data_deleted_at"].is_string());
    // Three grants, in the order given, each with the hash of its text.
    let history = data["consent_history"].as_array().unwrap();
    assert_eq!(history.len(), 3);
    assert!(history.iter().all(|h| h["granted"] == true));
    assert!(
        history
            .iter()
            .all(|h| h["text_sha256"].as_str().unwrap().len() == 64)
    );
    // Which sponsors hold me, since when, and what they noted.
    let leads = data["leads"].as_array().unwrap();
    assert_eq!(leads.len(), 2);
    let acme = leads
        .iter()
        .find(|l| l["sponsor"] == "Acme Analytics")
        .unwrap();
    assert_eq!(acme["lead_id"], s.lead_id.as_str());
    assert_eq!(acme["note"], "Wants a demo in March");
    assert!(acme["first_scanned_at"].is_string());
    assert!(leads.iter().any(|l| l["sponsor"] == "Globex Cloud"));
    // The export that included me: who received my data, and when.
    let recipients = data["recipients"].as_array().unwrap();
    assert_eq!(recipients.len(), 1);
    assert_eq!(recipients[0]["sponsor"], "Acme Analytics");
    assert_eq!(recipients[0]["format"], "csv");
    assert_eq!(recipients[0]["lead_id"], s.lead_id.as_str());
    assert!(recipients[0]["exported_at"].is_string());
    // The manage page shows the recipients too.
    let page: Value = app
        .anonymous(Method::GET, &me(&s.created))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["recipients"], data["recipients"]);
}

#[tokio::test]
async fn an_attendee_corrects_their_details_under_the_registration_rules() {
    let app = spawn_app().await;
    let s = scene(&app, "rectify").await;
    app.attendee(&s.event, "taken@example.org", &[]).await;
    let path = me(&s.created);

    for (body, status, code) in [
        (json!({}), 422, "no_changes"),
        (json!({"email": "not-an-address"}), 422, "invalid_email"),
        (json!({"phone": "0612"}), 422, "invalid_phone"),
        (json!({"last_name": " "}), 422, "too_short"),
        (json!({"nickname": "Ada"}), 422, "unknown_field"),
    ] {
        let response = send(&app, Method::PATCH, &path, Some(body.clone())).await;
        let problem = assert_problem(response, status, code).await;
        assert!(
            !problem.to_string().contains("taken@example.org"),
            "{problem}"
        );
    }
    // Nothing changed by the refusals.
    let page: Value = app
        .anonymous(Method::GET, &path)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["details"]["email"], "ada@example.org");

    let response = send(
        &app,
        Method::PATCH,
        &path,
        Some(json!({"last_name": "King", "company": null, "email": " Ada.King@Example.org "})),
    )
    .await;
    assert_eq!(response.status(), 200);
    let page: Value = response.json().await.unwrap();
    assert_eq!(page["details"]["last_name"], "King");
    assert_eq!(page["details"]["first_name"], "Ada");
    assert!(page["details"]["company"].is_null());
    // The address changes only once the new address confirms it (`email_change.rs`).
    assert_eq!(page["details"]["email"], "ada@example.org");
    assert_eq!(page["pending_email"], "ada.king@example.org");
    let mail = app
        .outbox_mails()
        .into_iter()
        .find(|m| m.contains("/confirm-email#"))
        .unwrap();
    let token: String = mail
        .split_once("/confirm-email#")
        .unwrap()
        .1
        .chars()
        .take(43)
        .collect();
    let confirmed = send(
        &app,
        Method::POST,
        "/api/v1/email-changes/confirm",
        Some(json!({"token": token})),
    )
    .await;
    assert_eq!(confirmed.status(), 200);
    let page: Value = app
        .anonymous(Method::GET, &path)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["details"]["email"], "ada.king@example.org");

    // The sponsor's lead and later exports show the corrected details.
    let lead = &app.kiosk_leads(&s.first).await[0];
    assert_eq!(lead["contact"]["last_name"], "King");
    let csv = app
        .export_csv(&s.event, &s.event.sponsors[0])
        .await
        .text()
        .await
        .unwrap();
    assert!(csv.contains("King") && !csv.contains("Lovelace"));
    // The old address is free again; the new one is taken.
    let again = app
        .register(
            &s.event.slug,
            &crate::common::registration_body("ada@example.org"),
        )
        .await;
    assert_eq!(again.status(), 201);
    assert_problem(
        app.register(
            &s.event.slug,
            &crate::common::registration_body("ada.king@example.org"),
        )
        .await,
        409,
        "already_registered",
    )
    .await;
}

#[tokio::test]
async fn a_restriction_stops_scans_and_exports_until_it_is_lifted() {
    let app = spawn_app().await;
    let s = scene(&app, "restrict").await;
    let path = format!("{}/restriction", me(&s.created));
    let sponsor = s.event.sponsors[0].clone();

    let response = send(&app, Method::POST, &path, None).await;
    assert_eq!(response.status(), 200);
    let restriction: Value = response.json().await.unwrap();
    assert_eq!(restriction["restricted"], true);
    let since = restriction["restricted_at"].clone();
    assert!(since.is_string());
    // Restricting twice keeps the first time.
    let again: Value = send(&app, Method::POST, &path, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["restricted_at"], since);

    let (_, answer) = app.scan(&s.first, badge(&s.created)).await;
    assert_eq!(answer["outcome"], "refused");
    assert_eq!(answer["reason"], "restricted");
    assert!(app.kiosk_leads(&s.first).await.is_empty());
    let csv = app
        .export_csv(&s.event, &sponsor)
        .await
        .text()
        .await
        .unwrap();
    assert!(!csv.contains("Lovelace"));
    let page: Value = app
        .anonymous(Method::GET, &me(&s.created))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["restricted_at"], since);

    let lifted: Value = send(&app, Method::DELETE, &path, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(lifted["restricted"], false);
    assert!(lifted["restricted_at"].is_null());
    assert_eq!(
        app.scan(&s.first, badge(&s.created)).await.1["outcome"],
        "accepted"
    );
    let csv = app
        .export_csv(&s.event, &sponsor)
        .await
        .text()
        .await
        .unwrap();
    assert!(csv.contains("Lovelace"));
}

#[tokio::test]
async fn an_erasure_removes_everything_at_once_and_tells_the_organiser_whom_to_notify() {
    let app = spawn_app().await;
    let s = scene(&app, "erase").await;
    let bystander = app
        .attendee(&s.event, "bystander@example.org", &[&s.event.sponsors[0]])
        .await;
    app.scan(&s.first, badge(&bystander)).await;
    let registration_id = s.created["registration_id"].as_str().unwrap().to_owned();
    let badge_id = registration::Entity::find_by_id(registration_id.parse::<uuid::Uuid>().unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .badge_id
        .to_string();
    assert!(
        app.outbox_mails()
            .iter()
            .any(|m| m.contains("ada@example.org"))
    );

    let response = send(&app, Method::DELETE, &me(&s.created), None).await;
    assert_eq!(response.status(), 200);
    let erased: Value = response.json().await.unwrap();
    assert!(erased["erased_at"].is_string());
    // Only the first sponsor had received an export; the second held a lead but no export.
    let recipients = erased["recipients"].as_array().unwrap();
    assert_eq!(recipients.len(), 1);
    assert_eq!(recipients[0]["sponsor"], "Acme Analytics");
    assert_eq!(recipients[0]["lead_id"], s.lead_id.as_str());

    // The link, the badge and the leads are gone.
    assert_eq!(
        app.anonymous(Method::GET, &me(&s.created)).await.status(),
        404
    );
    assert_eq!(
        send(&app, Method::DELETE, &me(&s.created), None)
            .await
            .status(),
        404
    );
    for kiosk in [&s.first, &s.second] {
        let (_, answer) = app.scan(kiosk, badge(&s.created)).await;
        assert_eq!(answer["outcome"], "refused");
        assert_eq!(answer["reason"], "unknown_badge");
        assert!(
            app.kiosk_leads(kiosk)
                .await
                .iter()
                .all(|l| l["contact"]["email"] != "ada@example.org")
        );
    }
    let csv = app
        .export_csv(&s.event, &s.event.sponsors[0])
        .await
        .text()
        .await
        .unwrap();
    assert!(!csv.contains("ada@example.org") && csv.contains("bystander@example.org"));
    for value in [&registration_id, &badge_id, &s.lead_id, "ada@example.org"] {
        let rows: Vec<String> = rows_mentioning_all(&app.db, &[value])
            .await
            .into_iter()
            .filter(|row| !row.starts_with("erasure_notices"))
            .collect();
        assert_eq!(rows, Vec::<String>::new(), "{value}");
    }
    assert!(
        !app.outbox_mails()
            .iter()
            .any(|m| m.contains("ada@example.org"))
    );
    assert!(
        app.outbox_mails()
            .iter()
            .any(|m| m.contains("bystander@example.org"))
    );
    // The bystander is untouched.
    assert_eq!(
        app.anonymous(Method::GET, &me(&bystander)).await.status(),
        200
    );

    // The organiser sees the notice to pass on: sponsor, export date, lead id; no personal data.
    let notices_path = format!("/api/v1/events/{}/erasure-notices", s.event.id);
    let notices: Value = app
        .get(&s.event.organiser.token, &notices_path)
        .await
        .json()
        .await
        .unwrap();
    let notices = notices.as_array().unwrap().clone();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0]["sponsor"], "Acme Analytics");
    assert_eq!(notices[0]["lead_id"], s.lead_id.as_str());
    assert_eq!(notices[0]["exported_at"], recipients[0]["exported_at"]);
    assert!(notices[0]["passed_on_at"].is_null());
    let text = serde_json::to_string(&notices).unwrap();
    for personal in ["ada@example.org", "Lovelace", "Ada", &registration_id] {
        assert!(!text.contains(personal), "{personal} in {text}");
    }
    // Another organiser cannot see them.
    let stranger = app.organiser("stranger-org").await;
    assert_eq!(app.get(&stranger.token, &notices_path).await.status(), 404);

    let id = notices[0]["id"].as_str().unwrap();
    let response = app
        .post(
            &s.event.organiser.token,
            &format!("{notices_path}/{id}/passed-on"),
            &json!({}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let passed: Value = response.json().await.unwrap();
    assert!(passed["passed_on_at"].is_string());
    let pending: Value = app
        .get(&s.event.organiser.token, &notices_path)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pending, json!([]));
    let all: Value = app
        .get(
            &s.event.organiser.token,
            &format!("{notices_path}?status=all"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all.as_array().unwrap().len(), 1);
    let audit = crate::common::dump_audit(&app).await;
    assert!(audit.contains("registration_erased"), "{audit}");
}

/// Exported three times to one sponsor (CSV, JSON, and in the all-sponsors ZIP) and once to
/// another, an erased attendee yields one notice per sponsor, each listing every export it was in
/// — not one notice per export.
#[tokio::test]
async fn an_erasure_after_several_exports_gives_one_notice_per_sponsor_listing_every_export() {
    let app = spawn_app().await;
    let s = scene(&app, "erase-thrice").await; // the first sponsor's CSV export
    let organiser = s.event.organiser.token.clone();
    let start = app.state.clock.now();
    app.clock.set(start + time::Duration::minutes(1));
    let json_path = format!(
        "/api/v1/events/{}/sponsors/{}/leads.json",
        s.event.id, s.event.sponsors[0]
    );
    let response = app.get(&organiser, &json_path).await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("Lovelace"));
    app.clock.set(start + time::Duration::minutes(2));
    let response = app
        .get(
            &organiser,
            &format!("/api/v1/events/{}/leads.zip", s.event.id),
        )
        .await;
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap();
    app.clock.set(start + time::Duration::minutes(3));

    let response = send(&app, Method::DELETE, &me(&s.created), None).await;
    assert_eq!(response.status(), 200);
    let erased: Value = response.json().await.unwrap();
    assert_eq!(
        erased["recipients"].as_array().unwrap().len(),
        4,
        "the attendee's answer lists every export"
    );

    let notices_path = format!("/api/v1/events/{}/erasure-notices", s.event.id);
    let notices: Value = app
        .get(&organiser, &notices_path)
        .await
        .json()
        .await
        .unwrap();
    let mut notices = notices.as_array().unwrap().clone();
    notices.sort_by_key(|n| n["sponsor"].as_str().unwrap().to_owned());
    let sponsors: Vec<&str> = notices
        .iter()
        .map(|n| n["sponsor"].as_str().unwrap())
        .collect();
    assert_eq!(sponsors, ["Acme Analytics", "Globex Cloud"], "{notices:?}");

    let first = &notices[0];
    let exports = first["exports"].as_array().unwrap();
    let formats: Vec<&str> = exports
        .iter()
        .map(|e| e["format"].as_str().unwrap())
        .collect();
    assert_eq!(formats, ["csv", "json", "csv"], "oldest first");
    let mut ids: Vec<&str> = exports
        .iter()
        .map(|e| e["export_id"].as_str().unwrap())
        .collect();
    assert!(exports.iter().all(|e| e["lead_id"] == s.lead_id.as_str()));
    assert!(exports.iter().all(|e| e["exported_at"].is_string()));
    // The notice's own export is the latest of them.
    assert_eq!(first["export_id"], exports[2]["export_id"]);
    assert_eq!(first["exported_at"], exports[2]["exported_at"]);
    assert_eq!(first["lead_id"], s.lead_id.as_str());
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "three different exports");

    let second = &notices[1];
    assert_eq!(second["exports"].as_array().unwrap().len(), 1);
    assert_eq!(second["exports"][0]["format"], "csv");
    assert_eq!(second["export_id"], second["exports"][0]["export_id"]);

    let text = serde_json::to_string(&notices).unwrap();
    let registration_id = s.created["registration_id"].as_str().unwrap();
    for personal in ["ada@example.org", "Lovelace", "Ada", registration_id] {
        assert!(!text.contains(personal), "{personal} in {text}");
    }

    // Passing on the one notice settles that sponsor.
    let id = first["id"].as_str().unwrap();
    let response = app
        .post(
            &organiser,
            &format!("{notices_path}/{id}/passed-on"),
            &json!({}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let passed: Value = response.json().await.unwrap();
    assert_eq!(passed["exports"].as_array().unwrap().len(), 3);
    let pending: Value = app
        .get(&organiser, &notices_path)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pending.as_array().unwrap().len(), 1);
    assert_eq!(pending[0]["sponsor"], "Globex Cloud");

    // A notice written before notices listed their exports stands for its one export.
    use consentry::rights::notices::entity as notice;
    use sea_orm::{ColumnTrait, QueryFilter, sea_query::Expr};
    notice::Entity::update_many()
        .col_expr(notice::Column::Exports, Expr::value(Option::<String>::None))
        .filter(
            notice::Column::Id.eq(pending[0]["id"]
                .as_str()
                .unwrap()
                .parse::<uuid::Uuid>()
                .unwrap()),
        )
        .exec(&app.db)
        .await
        .unwrap();
    let legacy: Value = app
        .get(&organiser, &notices_path)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(legacy[0]["exports"], pending[0]["exports"]);
}
