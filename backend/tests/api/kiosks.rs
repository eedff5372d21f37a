use serde_json::{Value, json};

use crate::common::{assert_problem, spawn_app};

#[tokio::test]
async fn a_kiosk_pairs_once_with_its_code_and_sees_its_event_and_sponsor() {
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let sponsor = &event.sponsors[0];
    let created = app.unpaired_kiosk(&event, sponsor).await;
    let code = created["pairing_code"].as_str().unwrap();
    assert_eq!(code.len(), 8);

    // People type codes in lower case with a hyphen: still the code.
    let typed = format!("{}-{}", code[..4].to_lowercase(), &code[4..]);
    let paired = app
        .client
        .post(app.url("/api/v1/kiosks/pair"))
        .json(&json!({"code": typed, "device_name": "Booth 12 tablet"}))
        .send()
        .await
        .unwrap();
    assert_eq!(paired.status(), 200);
    let paired: Value = paired.json().await.unwrap();
    assert_eq!(paired["event"]["slug"], "summit");
    assert_eq!(paired["sponsor"]["id"], *sponsor);
    assert_eq!(paired["badge_keys"]["keys"].as_array().unwrap().len(), 1);
    let token = paired["token"].as_str().unwrap();

    let again = app
        .client
        .post(app.url("/api/v1/kiosks/pair"))
        .json(&json!({"code": code}))
        .send()
        .await
        .unwrap();
    assert_problem(again, 401, "invalid_pairing_code").await;

    let me = app
        .client
        .get(app.url("/api/v1/kiosk"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let listed: Vec<Value> = app
        .get(
            &event.organiser.token,
            &format!("/api/v1/events/{}/kiosks", event.id),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["status"], "paired");
    assert_eq!(listed[0]["device_name"], "Booth 12 tablet");
    assert_eq!(listed[0]["sponsor_name"], "Acme Analytics");
    assert!(listed[0]["last_seen_at"].is_string());
}

#[tokio::test]
async fn pairing_codes_expire_after_fifteen_minutes() {
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let created = app.unpaired_kiosk(&event, &event.sponsors[0]).await;
    app.clock.advance(time::Duration::minutes(15));
    let late = app
        .client
        .post(app.url("/api/v1/kiosks/pair"))
        .json(&json!({"code": created["pairing_code"]}))
        .send()
        .await
        .unwrap();
    assert_problem(late, 401, "invalid_pairing_code").await;
    let listed: Vec<Value> = app
        .get(
            &event.organiser.token,
            &format!("/api/v1/events/{}/kiosks", event.id),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["status"], "expired");
}

#[tokio::test]
async fn a_revoked_kiosk_is_refused_on_its_next_request() {
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let attendee = app
        .attendee(&event, "ada@example.org", &[&event.sponsors[0]])
        .await;
    let kiosk = app.kiosk(&event, &event.sponsors[0]).await;
    let badge = attendee["badge"]["token"].as_str().unwrap();
    assert_eq!(app.scan(&kiosk, badge).await.0, 201);

    let revoked = app
        .delete(
            &event.organiser.token,
            &format!("/api/v1/events/{}/kiosks/{}", event.id, kiosk.id),
        )
        .await;
    assert_eq!(revoked.status(), 204);
    let (status, body) = app.scan(&kiosk, badge).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("kiosk_revoked"))
    );
    let leads = app
        .client
        .get(app.url("/api/v1/leads"))
        .bearer_auth(&kiosk.token)
        .send()
        .await
        .unwrap();
    assert_problem(leads, 401, "kiosk_revoked").await;
    let listed: Vec<Value> = app
        .get(
            &event.organiser.token,
            &format!("/api/v1/events/{}/kiosks", event.id),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["status"], "revoked");
    assert_eq!(listed[0]["accepted_scans"], 1);
}

#[tokio::test]
async fn kiosks_and_organisers_cannot_use_each_others_tokens_or_tenants() {
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let stranger = app.organiser("Stranger").await;
    let kiosk = app.kiosk(&event, &event.sponsors[0]).await;

    let path = format!(
        "/api/v1/events/{}/sponsors/{}/kiosks",
        event.id, event.sponsors[0]
    );
    assert_problem(
        app.post(&stranger.token, &path, &json!({})).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.get(
            &stranger.token,
            &format!("/api/v1/events/{}/kiosks", event.id),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    let revoke = format!("/api/v1/events/{}/kiosks/{}", event.id, kiosk.id);
    assert_problem(app.delete(&stranger.token, &revoke).await, 404, "not_found").await;

    assert_problem(
        app.get(&kiosk.token, "/api/v1/events").await,
        401,
        "invalid_session",
    )
    .await;
    let as_kiosk = app
        .client
        .get(app.url("/api/v1/kiosk"))
        .bearer_auth(&event.organiser.token)
        .send()
        .await
        .unwrap();
    assert_problem(as_kiosk, 401, "invalid_kiosk_token").await;
    // The kiosk still works: nothing the stranger did touched it.
    let me = app
        .client
        .get(app.url("/api/v1/kiosk"))
        .bearer_auth(&kiosk.token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
}

#[tokio::test]
async fn pairing_attempts_are_limited() {
    let app = spawn_app().await;
    for _ in 0..10 {
        let r = app
            .client
            .post(app.url("/api/v1/kiosks/pair"))
            .json(&json!({"code": "ABCDEFGH"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let r = app
        .client
        .post(app.url("/api/v1/kiosks/pair"))
        .json(&json!({"code": "ABCDEFGH"}))
        .send()
        .await
        .unwrap();
    assert_problem(r, 429, "rate_limited").await;
}
