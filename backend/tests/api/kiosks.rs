use serde_json::{Value, json};

use crate::common::{PublicEvent, TestApp, assert_problem, dump_audit, spawn_app};

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
        .anonymous_json_request(
            reqwest::Method::POST,
            "/api/v1/kiosks/pair",
            &json!({"code": typed, "device_name": "Booth 12 tablet"}),
        )
        .await;
    assert_eq!(paired.status(), 200);
    let paired: Value = paired.json().await.unwrap();
    assert_eq!(paired["event"]["slug"], "summit");
    assert_eq!(paired["sponsor"]["id"], *sponsor);
    assert_eq!(paired["badge_keys"]["keys"].as_array().unwrap().len(), 1);
    let token = paired["token"].as_str().unwrap();

    let again = app
        .anonymous_json_request(
            reqwest::Method::POST,
            "/api/v1/kiosks/pair",
            &json!({"code": code}),
        )
        .await;
    assert_problem(again, 401, "invalid_pairing_code").await;

    let me = app.get(token, "/api/v1/kiosk").await;
    assert_eq!(me.status(), 200);
    let listed = listed_kiosks(&app, &event).await;
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
        .anonymous_json_request(
            reqwest::Method::POST,
            "/api/v1/kiosks/pair",
            &json!({"code": created["pairing_code"]}),
        )
        .await;
    assert_problem(late, 401, "invalid_pairing_code").await;
    let listed = listed_kiosks(&app, &event).await;
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
    let leads = app.get(&kiosk.token, "/api/v1/leads").await;
    assert_problem(leads, 401, "kiosk_revoked").await;
    let listed = listed_kiosks(&app, &event).await;
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
    let as_kiosk = app.get(&event.organiser.token, "/api/v1/kiosk").await;
    assert_problem(as_kiosk, 401, "invalid_kiosk_token").await;
    // The kiosk still works: nothing the stranger did touched it.
    let me = app.get(&kiosk.token, "/api/v1/kiosk").await;
    assert_eq!(me.status(), 200);
}

#[tokio::test]
async fn pairing_attempts_are_limited() {
    let app = spawn_app().await;
    for _ in 0..10 {
        let r = app
            .anonymous_json_request(
                reqwest::Method::POST,
                "/api/v1/kiosks/pair",
                &json!({"code": "ABCDEFGH"}),
            )
            .await;
        assert_eq!(r.status(), 401);
    }
    let r = app
        .anonymous_json_request(
            reqwest::Method::POST,
            "/api/v1/kiosks/pair",
            &json!({"code": "ABCDEFGH"}),
        )
        .await;
    assert_problem(r, 429, "rate_limited").await;
}

/// The event's kiosks as its organiser lists them.
async fn listed_kiosks(app: &TestApp, event: &PublicEvent) -> Vec<Value> {
    app.get(
        &event.organiser.token,
        &format!("/api/v1/events/{}/kiosks", event.id),
    )
    .await
    .json()
    .await
    .unwrap()
}

/// Pair the browser kiosk with `code` as its page does; the answer must be 200.
async fn pair_in_browser(app: &TestApp, code: &Value) -> reqwest::Response {
    let paired = app
        .anonymous_json_request(
            reqwest::Method::POST,
            "/kiosk/pair",
            &json!({"code": code, "device_name": "Phone"}),
        )
        .await;
    assert_eq!(paired.status(), 200);
    paired
}

/// The cookie a response sets: as a `Cookie` header value, and the whole `Set-Cookie` header.
fn kiosk_cookie_of(response: &reqwest::Response) -> (String, String) {
    let set_cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    let pair = set_cookie.split(';').next().unwrap().trim().to_owned();
    (pair, set_cookie)
}

#[tokio::test]
async fn the_browser_kiosk_holds_its_token_in_an_httponly_cookie_for_its_own_paths() {
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let sponsor = &event.sponsors[0];
    let ada = app.attendee(&event, "ada@example.org", &[sponsor]).await;
    let bob = app.attendee(&event, "bob@example.org", &[]).await;
    let created = app.unpaired_kiosk(&event, sponsor).await;

    let paired = pair_in_browser(&app, &created["pairing_code"]).await;
    let (cookie, set_cookie) = kiosk_cookie_of(&paired);
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/kiosk", "Max-Age="] {
        assert!(
            set_cookie.contains(attribute),
            "{attribute} in {set_cookie}"
        );
    }
    assert!(cookie.starts_with("consentry_kiosk=ey"));
    assert_eq!(paired.headers()["cache-control"], "no-store");
    let body: Value = paired.json().await.unwrap();
    // The page gets what it shows and checks badges with, never the token itself.
    assert!(body.get("token").is_none(), "{body}");
    assert!(
        !body
            .to_string()
            .contains(cookie.trim_start_matches("consentry_kiosk="))
    );
    assert_eq!(body["sponsor"]["id"], *sponsor);
    assert_eq!(body["badge_keys"]["keys"].as_array().unwrap().len(), 1);

    // Another site's page cannot make the kiosk forget its pairing.
    let cross_site = app
        .client
        .post(app.url("/kiosk/unpair"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert!(cross_site.headers().get("set-cookie").is_none());
    assert_problem(cross_site, 403, "cross_site_request").await;

    // The kiosk's operations under /kiosk/api/v1, with the cookie.
    let with_cookie = |method: reqwest::Method, path: &str| {
        app.client
            .request(method, app.url(path))
            .header("cookie", &cookie)
    };
    let me = with_cookie(reqwest::Method::GET, "/kiosk/api/v1/kiosk")
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let scan = |badge: &Value| {
        with_cookie(reqwest::Method::POST, "/kiosk/api/v1/scans").json(&json!({
            "badge_token": badge["badge"]["token"],
            "client_scan_id": uuid::Uuid::new_v4(),
            "scanned_at": app.state.clock.now()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap(),
        }))
    };
    let accepted: Value = scan(&ada).send().await.unwrap().json().await.unwrap();
    assert_eq!(accepted["outcome"], "accepted", "{accepted}");
    let refused: Value = scan(&bob).send().await.unwrap().json().await.unwrap();
    assert_eq!(refused["outcome"], "refused");
    let leads: Value = with_cookie(reqwest::Method::GET, "/kiosk/api/v1/leads")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(leads["total"], 1);
    let lead_id = leads["leads"][0]["id"].as_str().unwrap();
    let noted = with_cookie(
        reqwest::Method::PATCH,
        &format!("/kiosk/api/v1/leads/{lead_id}"),
    )
    .json(&json!({"note": "Demo in March", "tags": ["hot"]}))
    .send()
    .await
    .unwrap();
    assert_eq!(noted.status(), 200);
    let csv = with_cookie(reqwest::Method::GET, "/kiosk/api/v1/leads.csv")
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    let csv = csv.text().await.unwrap();
    assert!(csv.contains("ada@example.org") && csv.contains("Demo in March"));
    assert!(!csv.contains("bob@example.org"));

    // Unpairing revokes the kiosk and removes the cookie: the old value opens nothing.
    let unpaired = with_cookie(reqwest::Method::POST, "/kiosk/unpair")
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(unpaired.status(), 204);
    let (cleared, cleared_header) = kiosk_cookie_of(&unpaired);
    assert_eq!(cleared, "consentry_kiosk=");
    assert!(cleared_header.contains("Max-Age=0") && cleared_header.contains("Path=/kiosk"));
    let after = with_cookie(reqwest::Method::GET, "/kiosk/api/v1/leads")
        .send()
        .await
        .unwrap();
    assert_problem(after, 401, "kiosk_revoked").await;
    let listed = listed_kiosks(&app, &event).await;
    assert_eq!(listed[0]["status"], "revoked");
    assert!(dump_audit(&app).await.contains("kiosk_revoked"));

    // Unpairing a device whose kiosk is already gone still clears its cookie.
    let again = with_cookie(reqwest::Method::POST, "/kiosk/unpair")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 204);
    assert_eq!(kiosk_cookie_of(&again).0, "consentry_kiosk=");
    let anonymous = app
        .client
        .post(app.url("/kiosk/unpair"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 204);
}

#[tokio::test]
async fn the_kiosk_cookie_is_refused_once_the_organiser_revokes_the_kiosk() {
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let created = app.unpaired_kiosk(&event, &event.sponsors[0]).await;
    let paired = pair_in_browser(&app, &created["pairing_code"]).await;
    let (cookie, _) = kiosk_cookie_of(&paired);
    let revoked = app
        .delete(
            &event.organiser.token,
            &format!(
                "/api/v1/events/{}/kiosks/{}",
                event.id,
                created["kiosk_id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(revoked.status(), 204);
    let me = app
        .client
        .get(app.url("/kiosk/api/v1/kiosk"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_problem(me, 401, "kiosk_revoked").await;
}

#[tokio::test]
async fn the_browser_kiosk_gets_nothing_from_the_instant_the_data_is_due() {
    let app = spawn_app().await;
    let mut event = app.public_event("summit").await;
    let sponsor = event.sponsors[0].clone();
    let ada = app.attendee(&event, "ada@example.org", &[&sponsor]).await;
    let created = app.unpaired_kiosk(&event, &sponsor).await;
    let (cookie, _) = kiosk_cookie_of(&pair_in_browser(&app, &created["pairing_code"]).await);
    let get = |path: &'static str| {
        app.client
            .get(app.url(path))
            .header("cookie", &cookie)
            .send()
    };
    let scanned = app
        .client
        .post(app.url("/kiosk/api/v1/scans"))
        .header("cookie", &cookie)
        .json(&json!({
            "badge_token": ada["badge"]["token"],
            "client_scan_id": uuid::Uuid::new_v4(),
            "scanned_at": app.state.clock.now()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap(),
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(scanned.status(), 201);

    let due = app.purge_due_at(&event).await;
    app.travel_to(due - time::Duration::seconds(1), &mut event)
        .await;
    let leads: Value = get("/kiosk/api/v1/leads")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(leads["total"], 1, "held until the last second");

    app.travel_to(due, &mut event).await;
    for path in [
        "/kiosk/api/v1/leads",
        "/kiosk/api/v1/leads.csv",
        "/kiosk/api/v1/kiosk",
    ] {
        let answer = get(path).await.unwrap();
        let status = answer.status().as_u16();
        let body = answer.text().await.unwrap();
        assert!(
            status == 401 || status == 409,
            "{path} answered {status} at the due instant"
        );
        assert!(!body.contains("ada@example.org"), "{path}: {body}");
    }
}
