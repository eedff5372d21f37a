//! Signed consent receipts: one per grant and withdrawal, verifiable with the published key,
//! chained, naming no one, and gone with the purge while the key stays published.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use consentry::receipts::{self, ReceiptAction};
use jsonwebtoken::jwk::JwkSet;
use serde_json::{Value, json};

use crate::common::*;

async fn published_keys(app: &TestApp) -> JwkSet {
    let response = app
        .client
        .get(app.url(receipts::KEYS_PATH))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(content_type(&response), "application/jwk-set+json");
    response.json().await.unwrap()
}

async fn me(app: &TestApp, token: &str) -> Value {
    app.anonymous_json(&format!("/api/v1/me/{token}")).await
}

async fn receipt(app: &TestApp, token: &str, id: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/api/v1/me/{token}/receipts/{id}")))
        .send()
        .await
        .unwrap()
}

async fn receipt_text(app: &TestApp, token: &str, id: &str) -> String {
    let response = receipt(app, token, id).await;
    assert_eq!(response.status(), 200);
    assert_eq!(content_type(&response), "application/jose");
    let disposition = response.headers()["content-disposition"].to_str().unwrap();
    assert_eq!(
        disposition,
        format!("attachment; filename=\"consent-receipt-{id}.jws\"")
    );
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.text().await.unwrap()
}

/// A canary attendee of `event` who consents to its first sponsor: (registration, manage token).
async fn canary(app: &TestApp, event: &PublicEvent) -> (Value, String) {
    let mut body = registration_body("receipt.canary@example.org");
    body["first_name"] = json!("Ottoline");
    body["last_name"] = json!("Receiptwood");
    body["sponsor_opt_ins"] = json!([event.sponsors[0]]);
    let response = app.register(&event.slug, &body).await;
    assert_eq!(response.status(), 201);
    let registered: Value = response.json().await.unwrap();
    let token = registered["manage_token"].as_str().unwrap().to_owned();
    (registered, token)
}

#[tokio::test]
async fn each_grant_and_withdrawal_gets_a_receipt_that_verifies_with_the_published_key() {
    let app = spawn_app().await;
    let event = app.public_event("receipts").await;
    let sponsor = &event.sponsors[0];
    let (registered, token) = canary(&app, &event).await;

    let mine = me(&app, &token).await;
    let granted = &mine["consent_history"][0];
    assert_eq!(granted["occasion"], "registration");
    assert_eq!(granted["has_receipt"], true);
    let first = receipt_text(&app, &token, granted["id"].as_str().unwrap()).await;
    let keys = published_keys(&app).await;
    let claims = receipts::verify(&first, &keys).unwrap();
    assert_eq!(claims.action, ReceiptAction::Granted);
    assert_eq!(claims.purpose, format!("sponsor:{sponsor}"));
    assert_eq!(claims.iss, app.base);
    assert_eq!(claims.jti.to_string(), granted["id"].as_str().unwrap());
    assert_eq!(
        claims.subject.to_string(),
        registered["registration_id"].as_str().unwrap()
    );
    assert_eq!(claims.event.id.to_string(), event.id);
    assert_eq!(claims.controller, format!("org-{}", event.slug));
    assert_eq!(claims.channel, "api");
    assert_eq!(claims.occasion, "registration");
    assert_eq!(claims.notice.sentence_sha256, granted["text_sha256"]);
    assert_eq!(claims.notice.language, "en");
    assert_eq!(claims.previous, None);
    let recipient = claims.recipient.as_ref().expect("a sponsor receives");
    assert_eq!(recipient.sponsor_id.to_string(), *sponsor);
    assert_eq!(recipient.name, "Acme Analytics");
    assert!(recipient.receives.contains(&"email".to_owned()));

    // One changed byte anywhere after the header and it no longer verifies.
    let mut forged = first.clone().into_bytes();
    let at = first.len() / 2;
    forged[at] = if forged[at] == b'x' { b'y' } else { b'x' };
    assert!(receipts::verify(&String::from_utf8(forged).unwrap(), &keys).is_err());

    // The receipt names the registration by id only: no contact detail is in it.
    let payload = URL_SAFE_NO_PAD
        .decode(first.split('.').nth(1).unwrap())
        .unwrap();
    let payload = String::from_utf8(payload).unwrap();
    for canary in ["Ottoline", "Receiptwood", "receipt.canary", "example.org"] {
        assert!(!payload.contains(canary), "the receipt holds {canary}");
    }

    // A withdrawal from the manage link: a second receipt that links to the first.
    let withdrawn = app
        .client
        .put(app.url(&format!("/api/v1/me/{token}/consents")))
        .json(&json!({"consents": [{"purpose": format!("sponsor:{sponsor}"), "granted": false}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(withdrawn.status(), 200);
    let mine = me(&app, &token).await;
    let history = mine["consent_history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1]["occasion"], "manage");
    let second = receipt_text(&app, &token, history[1]["id"].as_str().unwrap()).await;
    let claims = receipts::verify(&second, &keys).unwrap();
    assert_eq!(claims.action, ReceiptAction::Withdrawn);
    assert_eq!(claims.occasion, "manage");
    assert_eq!(claims.previous, Some(receipts::digest(&first)));
    assert_eq!(
        claims.recipient.map(|r| r.name).as_deref(),
        Some("Acme Analytics"),
        "a withdrawal names what it withdraws"
    );

    // Another attendee's link cannot fetch it; an unknown id is not found.
    let other = app.attendee(&event, "someone.else@example.org", &[]).await;
    let other_token = other["manage_token"].as_str().unwrap();
    assert_eq!(
        receipt(&app, other_token, history[0]["id"].as_str().unwrap())
            .await
            .status(),
        404
    );
    assert_eq!(
        receipt(&app, &token, &uuid::Uuid::new_v4().to_string())
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn receipts_go_with_the_purge_while_the_key_stays_published() {
    let app = spawn_app().await;
    let mut event = app.public_event("receipts-purged").await;
    let (_, token) = canary(&app, &event).await;
    let mine = me(&app, &token).await;
    let kept = receipt_text(
        &app,
        &token,
        mine["consent_history"][0]["id"].as_str().unwrap(),
    )
    .await;
    let receipts_stored = |app: &TestApp| {
        let db = app.db.clone();
        async move {
            consentry_e2e::dump_database(&db)
                .await
                .into_iter()
                .filter(|(table, values)| {
                    table == "consent_ledger" && values.iter().any(|v| v.contains("eyJ"))
                })
                .count()
        }
    };
    assert!(receipts_stored(&app).await > 0);

    let due = app.purge_due_at(&event).await;
    app.travel_to(due + time::Duration::minutes(1), &mut event)
        .await;
    let report = app.purge().await;
    assert_eq!(report.purged.len(), 1);

    assert_eq!(
        receipts_stored(&app).await,
        0,
        "no receipt outlives the purge"
    );
    assert_eq!(app.count("consent_ledger").await, 0);
    // The receipt the attendee kept still verifies with the keys published now.
    let claims = receipts::verify(&kept, &published_keys(&app).await).unwrap();
    assert_eq!(claims.action, ReceiptAction::Granted);
}

#[tokio::test]
async fn the_organiser_sees_where_each_sponsors_current_opt_ins_were_given() {
    let app = spawn_app().await;
    let event = app.public_event("occasions").await;
    let sponsor = &event.sponsors[0];
    let purpose = format!("sponsor:{sponsor}");
    // At registration; later from the manage page; at registration, then withdrawn.
    app.attendee(&event, "at-registration@example.org", &[sponsor])
        .await;
    let later = app.attendee(&event, "later@example.org", &[]).await;
    let withdrawn = app
        .attendee(&event, "withdrawn@example.org", &[sponsor])
        .await;
    for (registered, granted) in [(&later, true), (&withdrawn, false)] {
        let token = registered["manage_token"].as_str().unwrap();
        let changed = app
            .client
            .put(app.url(&format!("/m/{token}/consents")))
            .json(&json!({"consents": [{"purpose": purpose, "granted": granted}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(changed.status(), 200);
    }
    let stats = app.stats(&event).await;
    let acme = stats["sponsors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["sponsor_id"] == json!(sponsor))
        .unwrap();
    assert_eq!(acme["opt_ins"], 2);
    assert_eq!(
        acme["opt_ins_by_occasion"],
        json!({"registration": 1, "manage": 1})
    );
    let globex = &stats["sponsors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["sponsor_id"] == json!(event.sponsors[1]))
        .unwrap()["opt_ins_by_occasion"];
    assert_eq!(globex, &json!({}));
}
