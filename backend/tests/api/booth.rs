//! Consent at the booth, on the attendee's own phone: the booth link names the sponsor and
//! nothing else; a grant proven with the remembered manage token or a mailed one-time link is
//! recorded with the channel and occasion `booth`, and the sponsor's kiosk accepts the next scan.

use std::time::Duration as StdDuration;

use consentry::rate_limit::{LimitSettings, Rate};
use reqwest::Method;
use serde_json::{Value, json};
use time::Duration;

use crate::common::{PublicEvent, TestApp, assert_problem, spawn_app, spawn_app_with_limits};

/// The booth code of `sponsor_id`, as the organiser's console sees it.
async fn booth_code(app: &TestApp, event: &PublicEvent, sponsor_id: &str) -> String {
    let response = app
        .get(
            &event.organiser.token,
            &format!("/api/v1/events/{}/sponsors/{sponsor_id}", event.id),
        )
        .await;
    assert_eq!(response.status(), 200);
    let sponsor: Value = response.json().await.unwrap();
    sponsor["booth_code"].as_str().unwrap().to_owned()
}

async fn booth_view(app: &TestApp, code: &str, lang: &str) -> Value {
    let response = app
        .anonymous(Method::GET, &format!("/api/v1/booths/{code}?lang={lang}"))
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn grant(app: &TestApp, code: &str, body: Value) -> reqwest::Response {
    app.anonymous_json_request(Method::POST, &format!("/s/{code}/grant"), &body)
        .await
}

async fn ask_link(app: &TestApp, code: &str, email: &str) -> (u16, Value) {
    let response = app
        .anonymous_json_request(
            Method::POST,
            &format!("/api/v1/booths/{code}/links"),
            &json!({"email": email, "language": "en"}),
        )
        .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn mails_to(app: &TestApp, address: &str) -> Vec<String> {
    app.outbox_mails()
        .into_iter()
        .filter(|m| {
            m.contains(&format!("To: {address}\r\n")) || m.contains(&format!("To: {address}\n"))
        })
        .collect()
}

/// The token of the `nth` booth link mailed to `address` (the mail is sent after the answer, so
/// it is waited for).
async fn mailed_token(app: &TestApp, address: &str, nth: usize) -> String {
    for _ in 0..100 {
        let tokens: Vec<String> = mails_to(app, address)
            .iter()
            .filter_map(|mail| {
                let (_, link) = mail.split_once("/s/")?;
                let (_, after) = link.split_once('#')?;
                Some(
                    after
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                        .collect(),
                )
            })
            .collect();
        if let Some(token) = tokens.get(nth - 1) {
            return token.clone();
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    panic!("no booth link mail number {nth} to {address}");
}

fn manage(registration: &Value) -> &str {
    registration["manage_token"].as_str().unwrap()
}

fn badge(registration: &Value) -> &str {
    registration["badge"]["token"].as_str().unwrap()
}

#[tokio::test]
async fn the_booth_view_names_the_sponsor_and_holds_no_attendee_data() {
    let app = spawn_app().await;
    let event = app.public_event("booth-view").await;
    let ada = app.attendee(&event, "ada@example.org", &[]).await;
    let sponsor = &event.sponsors[0];
    let code = booth_code(&app, &event, sponsor).await;

    let english = booth_view(&app, &code, "en").await;
    assert_eq!(english["sponsor_name"], "Acme Analytics");
    assert_eq!(english["event_slug"], event.slug.as_str());
    assert_eq!(english["language"], "en");
    assert_eq!(
        english["privacy_policy_url"],
        event.view["sponsors"][0]["privacy_policy_url"]
    );
    assert_eq!(
        english["consent_text"],
        event.view["sponsors"][0]["consent_text"]
    );
    assert!(!english["receives"].as_array().unwrap().is_empty());
    let dutch = booth_view(&app, &code, "nl").await;
    assert_eq!(dutch["language"], "nl");
    assert_ne!(dutch["consent_text"], english["consent_text"]);

    for view in [&english, &dutch] {
        let text = view.to_string();
        for secret in ["ada@example.org", "Lovelace", manage(&ada), badge(&ada)] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
    let qr = app
        .anonymous(Method::GET, &format!("/api/v1/booths/{code}/qr.svg"))
        .await;
    assert_eq!(qr.status(), 200);
    assert_eq!(crate::common::content_type(&qr), "image/svg+xml");
    assert!(qr.text().await.unwrap().contains("<svg"));

    assert_problem(
        app.anonymous(Method::GET, "/api/v1/booths/no-such-booth")
            .await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn a_remembered_manage_link_grants_at_the_booth_and_the_next_scan_is_accepted() {
    let app = spawn_app().await;
    let event = app.public_event("booth-grant").await;
    let ada = app.attendee(&event, "ada@example.org", &[]).await;
    let sponsor = event.sponsors[0].clone();
    let kiosk = app.kiosk(&event, &sponsor).await;
    let code = booth_code(&app, &event, &sponsor).await;

    let (status, refused) = app.scan(&kiosk, badge(&ada)).await;
    assert_eq!(
        (status, refused["reason"].as_str()),
        (200, Some("no_consent"))
    );
    assert!(!refused.to_string().contains("ada@example.org"));

    let view = booth_view(&app, &code, "nl").await;
    let response = grant(
        &app,
        &code,
        json!({"manage_token": manage(&ada), "language": "nl", "notice_version": view["notice_version"]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let granted: Value = response.json().await.unwrap();
    assert_eq!(granted["newly_granted"], true);
    assert_eq!(granted["restricted"], false);
    assert_eq!(granted["sponsor_name"], "Acme Analytics");

    let me = app
        .anonymous_json(&format!("/api/v1/me/{}", manage(&ada)))
        .await;
    let entry = me["consent_history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(entry["purpose"], format!("sponsor:{sponsor}"));
    assert_eq!(entry["granted"], true);
    assert_eq!(entry["channel"], "booth");
    assert_eq!(entry["occasion"], "booth");
    assert_eq!(entry["language"], "nl");
    assert_eq!(
        entry["text_sha256"],
        consentry::crypto::sha256_hex(view["consent_text"].as_str().unwrap().as_bytes())
    );
    assert_eq!(entry["has_receipt"], true);
    let receipt = app
        .anonymous(
            Method::GET,
            &format!(
                "/api/v1/me/{}/receipts/{}",
                manage(&ada),
                entry["id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(receipt.status(), 200);

    let (status, accepted) = app.scan(&kiosk, badge(&ada)).await;
    assert_eq!(
        (status, accepted["outcome"].as_str()),
        (201, Some("accepted"))
    );

    // Granting again changes nothing and records nothing.
    let again = grant(
        &app,
        &code,
        json!({"manage_token": manage(&ada), "language": "nl", "notice_version": view["notice_version"]}),
    )
    .await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap()["newly_granted"], false);
    let history = app
        .anonymous_json(&format!("/api/v1/me/{}", manage(&ada)))
        .await["consent_history"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(history, me["consent_history"].as_array().unwrap().len());

    // An outdated page is sent back to reload.
    assert_problem(
        grant(
            &app,
            &code,
            json!({"manage_token": manage(&ada), "notice_version": 0}),
        )
        .await,
        409,
        "notice_outdated",
    )
    .await;
}

#[tokio::test]
async fn a_restricted_registration_can_grant_and_the_page_is_told_scans_stay_blocked() {
    let app = spawn_app().await;
    let event = app.public_event("booth-restricted").await;
    let ada = app.attendee(&event, "ada@example.org", &[]).await;
    let code = booth_code(&app, &event, &event.sponsors[0]).await;
    let restricted = app
        .anonymous(
            Method::POST,
            &format!("/api/v1/me/{}/restriction", manage(&ada)),
        )
        .await;
    assert_eq!(restricted.status(), 200);
    let response = grant(
        &app,
        &code,
        json!({"manage_token": manage(&ada), "notice_version": 1}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let granted: Value = response.json().await.unwrap();
    assert_eq!(
        (
            granted["newly_granted"].clone(),
            granted["restricted"].clone()
        ),
        (json!(true), json!(true))
    );
}

#[tokio::test]
async fn a_manage_token_of_another_event_opens_nothing_and_counts_as_a_guess() {
    let app = spawn_app_with_limits(LimitSettings {
        manage_failures: Rate::new(1, StdDuration::from_secs(3600)),
        ..LimitSettings::DEFAULT
    })
    .await;
    let event = app.public_event("booth-here").await;
    let elsewhere = app.public_event("booth-elsewhere").await;
    let ada = app.attendee(&event, "ada@example.org", &[]).await;
    let stranger = app.attendee(&elsewhere, "grace@example.org", &[]).await;
    let code = booth_code(&app, &event, &event.sponsors[0]).await;

    assert_problem(
        grant(
            &app,
            &code,
            json!({"manage_token": manage(&stranger), "notice_version": 1}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    // That failure used up the network's guesses: even a right token is refused now.
    assert_problem(
        grant(
            &app,
            &code,
            json!({"manage_token": manage(&ada), "notice_version": 1}),
        )
        .await,
        429,
        "rate_limited",
    )
    .await;
    assert_eq!(app.count("consent_ledger").await, 0);
}

#[tokio::test]
async fn asking_for_a_link_answers_the_same_for_any_address_and_mails_only_the_registered_one() {
    let app = spawn_app().await;
    let event = app.public_event("booth-ask").await;
    app.attendee(&event, "ada@example.org", &[]).await;
    let code = booth_code(&app, &event, &event.sponsors[0]).await;
    let before = app.outbox_mails().len();

    let registered = ask_link(&app, &code, " Ada@Example.org ").await;
    let unknown = ask_link(&app, &code, "nobody@example.org").await;
    assert_eq!(registered.0, 202);
    assert_eq!(registered, unknown);

    let token = mailed_token(&app, "ada@example.org", 1).await;
    assert_eq!(token.len(), 43);
    assert!(mails_to(&app, "nobody@example.org").is_empty());
    assert_eq!(app.outbox_mails().len(), before + 1);
    let mail = app.outbox_mails().pop().unwrap();
    assert!(mail.contains("Acme Analytics"), "{mail}");
    assert_eq!(app.count("booth_links").await, 1);

    assert_problem(
        ask_link_raw(&app, &code, json!({"email": "not an address"})).await,
        422,
        "invalid_email",
    )
    .await;
}

async fn ask_link_raw(app: &TestApp, code: &str, body: Value) -> reqwest::Response {
    app.anonymous_json_request(Method::POST, &format!("/api/v1/booths/{code}/links"), &body)
        .await
}

#[tokio::test]
async fn asking_again_and_again_for_one_address_is_limited() {
    let app = spawn_app_with_limits(LimitSettings {
        booth_mail_per_address: Rate::new(2, StdDuration::from_secs(3600)),
        ..LimitSettings::DEFAULT
    })
    .await;
    let event = app.public_event("booth-bomb").await;
    let code = booth_code(&app, &event, &event.sponsors[0]).await;
    for _ in 0..2 {
        assert_eq!(ask_link(&app, &code, "victim@example.org").await.0, 202);
    }
    assert_eq!(ask_link(&app, &code, "victim@example.org").await.0, 429);
    assert_eq!(ask_link(&app, &code, "other@example.org").await.0, 202);
}

#[tokio::test]
async fn a_mailed_link_works_once_for_its_sponsor_until_it_expires() {
    let app = spawn_app().await;
    let mut event = app.public_event("booth-link").await;
    let ada = app.attendee(&event, "ada@example.org", &[]).await;
    let (first, second) = (event.sponsors[0].clone(), event.sponsors[1].clone());
    let code = booth_code(&app, &event, &first).await;
    let other_code = booth_code(&app, &event, &second).await;
    let kiosk = app.kiosk(&event, &first).await;

    ask_link(&app, &code, "ada@example.org").await;
    let token = mailed_token(&app, "ada@example.org", 1).await;
    let body = json!({"link_token": token, "language": "en", "notice_version": 1});
    // Bound to its sponsor: another booth's page cannot use it.
    assert_problem(
        grant(&app, &other_code, body.clone()).await,
        404,
        "not_found",
    )
    .await;
    let response = grant(&app, &code, body.clone()).await;
    assert_eq!(response.status(), 200);
    let me = app
        .anonymous_json(&format!("/api/v1/me/{}", manage(&ada)))
        .await;
    let entry = me["consent_history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (
            entry["channel"].as_str(),
            entry["occasion"].as_str(),
            entry["purpose"].clone()
        ),
        (
            Some("booth"),
            Some("booth"),
            json!(format!("sponsor:{first}"))
        )
    );
    let (status, _) = app.scan(&kiosk, badge(&ada)).await;
    assert_eq!(status, 201);
    // Once.
    assert_problem(grant(&app, &code, body).await, 404, "not_found").await;

    // Until it expires.
    ask_link(&app, &code, "ada@example.org").await;
    let late = mailed_token(&app, "ada@example.org", 2).await;
    let now = app.state.clock.now();
    app.travel_to(now + Duration::minutes(30), &mut event).await;
    assert_problem(
        grant(
            &app,
            &code,
            json!({"link_token": late, "notice_version": 1}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn erasure_and_the_purge_delete_pending_booth_links() {
    let app = spawn_app().await;
    let mut event = app.public_event("booth-erase").await;
    let ada = app.attendee(&event, "ada@example.org", &[]).await;
    app.attendee(&event, "grace@example.org", &[]).await;
    let code = booth_code(&app, &event, &event.sponsors[0]).await;
    ask_link(&app, &code, "ada@example.org").await;
    ask_link(&app, &code, "grace@example.org").await;
    assert_eq!(app.count("booth_links").await, 2);

    let erased = app
        .anonymous(Method::DELETE, &format!("/api/v1/me/{}", manage(&ada)))
        .await;
    assert_eq!(erased.status(), 200);
    assert_eq!(app.count("booth_links").await, 1);

    let due = app.purge_due_at(&event).await;
    app.travel_to(due, &mut event).await;
    // From the instant the data is due, the booth is gone too.
    assert_problem(
        app.anonymous(Method::GET, &format!("/api/v1/booths/{code}"))
            .await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(app.purge().await.purged.len(), 1);
    assert_eq!(app.count("booth_links").await, 0);
}

#[tokio::test]
async fn a_kiosk_knows_its_sponsors_booth_link_and_its_qr_code() {
    let app = spawn_app().await;
    let event = app.public_event("booth-kiosk").await;
    let sponsor = event.sponsors[1].clone();
    let kiosk = app.kiosk(&event, &sponsor).await;
    let code = booth_code(&app, &event, &sponsor).await;
    let response = app
        .client
        .get(app.url("/api/v1/kiosk"))
        .bearer_auth(&kiosk.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let info: Value = response.json().await.unwrap();
    assert_eq!(
        info["sponsor"]["booth_url"],
        format!("{}/s/{code}", app.state.config.public_url)
    );
    assert_eq!(
        info["sponsor"]["booth_qr_url"],
        format!("/api/v1/booths/{code}/qr.svg")
    );
    // Every sponsor has a code of its own.
    assert_ne!(code, booth_code(&app, &event, &event.sponsors[0]).await);
}
