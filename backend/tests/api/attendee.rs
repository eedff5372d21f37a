//! The attendee's manage link: see everything, change each consent, get the badge.

use serde_json::{Value, json};

use crate::common::{TestApp, assert_problem, registration_body, spawn_app};

struct Attendee {
    token: String,
    created: Value,
}

async fn register(app: &TestApp, slug: &str, opt_ins: &[&String], marketing: bool) -> Attendee {
    let mut body = registration_body("ada@example.org");
    body["sponsor_opt_ins"] = json!(opt_ins);
    body["marketing_opt_in"] = json!(marketing);
    let response = app.register(slug, &body).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    Attendee {
        token: created["manage_token"].as_str().unwrap().to_owned(),
        created,
    }
}

impl TestApp {
    async fn me(&self, token: &str) -> Value {
        let response = self
            .anonymous(reqwest::Method::GET, &format!("/api/v1/me/{token}"))
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "no-store");
        response.json().await.unwrap()
    }

    async fn change(&self, token: &str, body: &Value) -> reqwest::Response {
        self.anonymous_json_request(
            reqwest::Method::PUT,
            &format!("/api/v1/me/{token}/consents"),
            body,
        )
        .await
    }
}

fn granted(consents: &Value) -> Vec<String> {
    consents
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["granted"] == true)
        .map(|c| c["purpose"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_manage_link_shows_everything_held() {
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let attendee = register(&app, &event.slug, &[&event.sponsors[0]], true).await;
    let me = app.me(&attendee.token).await;
    assert_eq!(me["registration_id"], attendee.created["registration_id"]);
    assert_eq!(me["details"]["first_name"], "Ada");
    assert_eq!(me["details"]["email"], "ada@example.org");
    assert_eq!(me["details"]["company"], "Analytical Engines Ltd");
    assert_eq!(me["event"]["slug"], "summit");
    assert_eq!(
        me["consents"].as_array().unwrap().len(),
        4,
        "three sponsors and marketing"
    );
    assert_eq!(
        granted(&me["consents"]),
        [format!("sponsor:{}", event.sponsors[0]), "marketing".into()]
    );
    assert_eq!(me["consent_history"].as_array().unwrap().len(), 2);
    assert_eq!(
        me["badge"]["token"], attendee.created["badge"]["token"],
        "the same badge every time"
    );
}

#[tokio::test]
async fn a_withdrawal_appends_to_the_ledger_and_takes_effect_at_once() {
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let sponsor = format!("sponsor:{}", event.sponsors[0]);
    let attendee = register(&app, &event.slug, &[&event.sponsors[0]], false).await;
    let before = app.me(&attendee.token).await["consent_history"].clone();

    let response = app
        .change(
            &attendee.token,
            &json!({"consents": [{"purpose": sponsor, "granted": false}]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let consents: Value = response.json().await.unwrap();
    assert!(granted(&consents).is_empty());
    assert_eq!(app.count("consent_grants").await, 0);

    let me = app.me(&attendee.token).await;
    let history = me["consent_history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0], before[0], "the grant's record is untouched");
    assert_eq!(history[1]["purpose"], sponsor);
    assert_eq!(history[1]["granted"], false);
    assert_eq!(history[1]["channel"], "api");

    // Withdrawing again changes nothing and records nothing.
    app.change(
        &attendee.token,
        &json!({"consents": [{"purpose": sponsor, "granted": false}]}),
    )
    .await;
    assert_eq!(app.count("consent_ledger").await, 2);
    // Granting again is a new entry.
    let again: Value = app
        .change(
            &attendee.token,
            &json!({"consents": [{"purpose": sponsor, "granted": true}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(granted(&again), std::slice::from_ref(&sponsor));
    assert_eq!(app.count("consent_ledger").await, 3);
}

/// A consent change is recorded with the route's channel: `api` through the API, `web` through
/// the manage page's own route. A body naming a channel (`booth`, which no route records yet) is
/// refused and records nothing.
#[tokio::test]
async fn consent_changes_record_the_route_as_channel_whatever_the_client_claims() {
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let sponsor = format!("sponsor:{}", event.sponsors[0]);
    let attendee = register(&app, &event.slug, &[], false).await;
    let page = |body: &Value| {
        let request = app
            .client
            .put(app.url(&format!("/m/{}/consents", attendee.token)))
            .json(body);
        async move { request.send().await.unwrap() }
    };
    let grant = |granted: bool| json!({"consents": [{"purpose": sponsor, "granted": granted}]});

    for channel in ["booth", "web", "api"] {
        let mut claiming = grant(true);
        claiming["channel"] = json!(channel);
        let problem = assert_problem(
            app.change(&attendee.token, &claiming).await,
            422,
            "unknown_field",
        )
        .await;
        assert_eq!(problem["field"], "channel");
        let problem = assert_problem(page(&claiming).await, 422, "unknown_field").await;
        assert_eq!(problem["field"], "channel");
    }
    assert_eq!(app.count("consent_ledger").await, 0);
    assert_eq!(app.count("consent_grants").await, 0);

    let response = page(&grant(true)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let consents: Value = response.json().await.unwrap();
    assert_eq!(granted(&consents), std::slice::from_ref(&sponsor));
    let response = app.change(&attendee.token, &grant(false)).await;
    assert_eq!(response.status(), 200);

    let history = app.me(&attendee.token).await["consent_history"].clone();
    let recorded: Vec<(bool, &str)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["granted"].as_bool().unwrap(),
                r["channel"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(recorded, [(true, "web"), (false, "api")]);

    // The page route answers an unknown link like the API does.
    let response = app
        .anonymous_json_request(
            reqwest::Method::PUT,
            &format!("/m/{}/consents", "x".repeat(43)),
            &grant(true),
        )
        .await;
    assert_problem(response, 404, "not_found").await;
}

#[tokio::test]
async fn withdraw_all_is_one_call() {
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let all: Vec<&String> = event.sponsors.iter().collect();
    let attendee = register(&app, &event.slug, &all, true).await;
    assert_eq!(app.count("consent_grants").await, 4);
    let consents: Value = app
        .change(&attendee.token, &json!({"withdraw_all": true}))
        .await
        .json()
        .await
        .unwrap();
    assert!(granted(&consents).is_empty());
    assert_eq!(app.count("consent_grants").await, 0);
    assert_eq!(
        app.count("consent_ledger").await,
        8,
        "four grants, four withdrawals"
    );
}

#[tokio::test]
async fn consent_changes_are_checked() {
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let other = app.public_event("other").await;
    let attendee = register(&app, &event.slug, &[], false).await;
    let foreign = json!({"consents": [{"purpose": format!("sponsor:{}", other.sponsors[0]), "granted": true}]});
    let problem = assert_problem(
        app.change(&attendee.token, &foreign).await,
        422,
        "unknown_purpose",
    )
    .await;
    assert_eq!(problem["field"], "consents[0].purpose");
    let bad = json!({"consents": [{"purpose": "partners", "granted": true}]});
    assert_problem(
        app.change(&attendee.token, &bad).await,
        422,
        "invalid_value",
    )
    .await;
    assert_problem(
        app.change(&attendee.token, &json!({})).await,
        422,
        "no_changes",
    )
    .await;
    assert_eq!(app.count("consent_ledger").await, 0);
}

#[tokio::test]
async fn unknown_tokens_are_not_found() {
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let attendee = register(&app, &event.slug, &[], false).await;
    let mut wrong = attendee.token.clone();
    wrong.replace_range(0..1, if wrong.starts_with('A') { "B" } else { "A" });
    for token in [wrong.as_str(), "short", &"x".repeat(43)] {
        for path in ["", "/badge.png", "/badge.svg", "/badge-print.svg"] {
            let response = app
                .anonymous(reqwest::Method::GET, &format!("/api/v1/me/{token}{path}"))
                .await;
            assert_problem(response, 404, "not_found").await;
        }
        let response = app.change(token, &json!({"withdraw_all": true})).await;
        assert_problem(response, 404, "not_found").await;
    }
}

#[tokio::test]
async fn badge_images_from_the_manage_link() {
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let attendee = register(&app, &event.slug, &[], false).await;
    let badge = &attendee.created["badge"];

    let png = app
        .client
        .get(badge["png_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(png.headers()["content-type"], "image/png");
    let image = image::load_from_memory(&png.bytes().await.unwrap())
        .unwrap()
        .to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    assert_eq!(
        prepared.detect_grids()[0].decode().unwrap().1,
        app.url(&format!("/b#{}", badge["token"].as_str().unwrap()))
    );

    let svg = app
        .client
        .get(badge["svg_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().await.unwrap().contains("<svg"));

    let print = app
        .client
        .get(badge["printable_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let print = print.text().await.unwrap();
    assert!(
        print.contains("Ada Lovelace")
            && print.contains("Analytical Engines Ltd")
            && print.contains("Privacy Summit")
    );
    assert!(print.contains("width=\"105mm\" height=\"148mm\""));
}
