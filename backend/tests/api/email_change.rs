//! Changing the e-mail address from the manage link: the new address confirms the change, so the
//! manage link cannot be used to learn whether an address is registered for the event.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{
    PublicEvent, TestApp, assert_problem, registration_body, rows_mentioning_all, spawn_app,
};

fn me(created: &Value) -> String {
    format!("/api/v1/me/{}", created["manage_token"].as_str().unwrap())
}

async fn patch_me(app: &TestApp, created: &Value, body: Value) -> (u16, Value) {
    let response = app
        .anonymous_json_request(reqwest::Method::PATCH, &me(created), &body)
        .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn my_page(app: &TestApp, created: &Value) -> Value {
    let response = app.anonymous(Method::GET, &me(created)).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn confirm(app: &TestApp, token: &str) -> reqwest::Response {
    app.anonymous_json_request(
        reqwest::Method::POST,
        "/api/v1/email-changes/confirm",
        &json!({"token": token}),
    )
    .await
}

/// The mails in the outbox addressed to `address`.
fn mails_to(app: &TestApp, address: &str) -> Vec<String> {
    app.outbox_mails()
        .into_iter()
        .filter(|m| {
            m.contains(&format!("To: {address}\r\n")) || m.contains(&format!("To: {address}\n"))
        })
        .collect()
}

/// The confirmation token in the newest mail to `address`.
fn link_token(app: &TestApp, address: &str) -> String {
    let mails = mails_to(app, address);
    let mail = mails
        .last()
        .unwrap_or_else(|| panic!("no mail to {address}"));
    let (_, after) = mail
        .split_once("/confirm-email#")
        .unwrap_or_else(|| panic!("no confirmation link in {mail}"));
    after
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// The JSON value with every leaf replaced by its type: what a client could tell apart without
/// reading values.
fn shape(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), shape(v))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(shape).collect()),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => json!("null"),
    }
}

async fn event_with_two(app: &TestApp, slug: &str) -> (PublicEvent, Value, Value) {
    let event = app.public_event(slug).await;
    let ada = app.attendee(&event, "ada@example.org", &[]).await;
    let grace = app.attendee(&event, "grace@example.org", &[]).await;
    (event, ada, grace)
}

#[tokio::test]
async fn a_new_address_gets_the_same_answer_whether_or_not_it_is_taken() {
    let app = spawn_app().await;
    let (event, ada, _grace) = event_with_two(&app, "same-answer").await;

    let (taken_status, taken) = patch_me(
        &app,
        &ada,
        json!({"email": "Grace@Example.org", "company": "Engines Ltd"}),
    )
    .await;
    let (free_status, free) = patch_me(
        &app,
        &ada,
        json!({"email": "ada.king@example.org", "company": "Engines Ltd"}),
    )
    .await;
    assert_eq!((taken_status, free_status), (200, 200), "{taken} {free}");
    assert_eq!(shape(&taken), shape(&free));
    // The only difference is the address the holder typed, shown back to them.
    assert_eq!(taken["pending_email"], "grace@example.org");
    assert_eq!(free["pending_email"], "ada.king@example.org");
    let strip = |mut v: Value| {
        v["pending_email"] = Value::Null;
        v
    };
    assert_eq!(strip(taken.clone()), strip(free.clone()));
    // The other fields apply at once, the address not yet.
    for body in [&taken, &free] {
        assert_eq!(body["details"]["email"], "ada@example.org");
        assert_eq!(body["details"]["company"], "Engines Ltd");
    }
    let page = my_page(&app, &ada).await;
    assert_eq!(page["details"]["email"], "ada@example.org");
    assert_eq!(page["details"]["company"], "Engines Ltd");
    assert_eq!(page["pending_email"], "ada.king@example.org");
    // The blind index has not moved: the old address is still registered, the new one is not.
    assert_problem(
        app.register(&event.slug, &registration_body("ada@example.org"))
            .await,
        409,
        "already_registered",
    )
    .await;
    assert_eq!(app.count("email_changes").await, 1);
}

#[tokio::test]
async fn the_confirmation_goes_to_the_new_address_only_and_following_it_changes_the_address() {
    let app = spawn_app().await;
    let (event, ada, grace) = event_with_two(&app, "confirm").await;
    let before = app.outbox_mails();

    let (status, _) = patch_me(&app, &ada, json!({"email": " Ada.King@Example.org "})).await;
    assert_eq!(status, 200);
    let new_mails: Vec<String> = app
        .outbox_mails()
        .into_iter()
        .filter(|m| !before.contains(m))
        .collect();
    assert_eq!(new_mails.len(), 1, "{new_mails:?}");
    assert!(new_mails[0].contains("To: ada.king@example.org"));
    assert!(new_mails[0].contains(&format!("{}/confirm-email#", app.base)));
    assert!(!new_mails[0].contains("ada@example.org"));
    assert!(
        mails_to(&app, "ada@example.org")
            .iter()
            .all(|m| !m.contains("/confirm-email#"))
    );
    let token = link_token(&app, "ada.king@example.org");
    assert_eq!(token.len(), 43);
    // Only the hash of the token is stored, and the new address is sealed.
    assert_eq!(
        rows_mentioning_all(&app.db, &[&token]).await,
        Vec::<String>::new()
    );
    assert_eq!(
        rows_mentioning_all(&app.db, &["ada.king@example.org"]).await,
        Vec::<String>::new()
    );

    let response = confirm(&app, &token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let changed: Value = response.json().await.unwrap();
    assert_eq!(changed["email"], "ada.king@example.org");

    let page = my_page(&app, &ada).await;
    assert_eq!(page["details"]["email"], "ada.king@example.org");
    assert!(page["pending_email"].is_null());
    assert_eq!(app.count("email_changes").await, 0);
    // The blind index moved with the address.
    assert_problem(
        app.register(&event.slug, &registration_body("ada.king@example.org"))
            .await,
        409,
        "already_registered",
    )
    .await;
    assert_eq!(
        app.register(&event.slug, &registration_body("ada@example.org"))
            .await
            .status(),
        201
    );
    // The old address is told, without a link; the bystander gets nothing.
    let notices: Vec<String> = mails_to(&app, "ada@example.org")
        .into_iter()
        .filter(|m| m.contains("was changed"))
        .collect();
    assert_eq!(notices.len(), 1);
    let notice = &notices[0];
    assert!(!notice.contains("/confirm-email") && !notice.contains("ada.king@example.org"));
    assert_eq!(mails_to(&app, "grace@example.org").len(), 1);
    assert_eq!(
        my_page(&app, &grace).await["details"]["email"],
        "grace@example.org"
    );

    // The link works once.
    assert_problem(confirm(&app, &token).await, 404, "not_found").await;

    // The page the link opens: a shell that is never cached, with its script.
    let page = app.anonymous(Method::GET, "/confirm-email").await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(html.contains("/js/confirm-email.js"), "{html}");
    let script = app.anonymous(Method::GET, "/js/confirm-email.js").await;
    assert_eq!(script.status(), 200);
    assert!(
        script
            .text()
            .await
            .unwrap()
            .contains("/email-changes/confirm")
    );
}

#[tokio::test]
async fn an_address_taken_by_the_time_of_confirmation_is_refused_and_nothing_changes() {
    let app = spawn_app().await;
    let (event, ada, _) = event_with_two(&app, "raced").await;
    let (status, _) = patch_me(&app, &ada, json!({"email": "later@example.org"})).await;
    assert_eq!(status, 200);
    let token = link_token(&app, "later@example.org");
    // Someone registers the address before Ada's change is confirmed.
    app.attendee(&event, "later@example.org", &[]).await;

    let problem = assert_problem(confirm(&app, &token).await, 409, "email_taken").await;
    assert!(
        !problem.to_string().contains("later@example.org"),
        "{problem}"
    );
    let page = my_page(&app, &ada).await;
    assert_eq!(page["details"]["email"], "ada@example.org");
    assert_eq!(page["pending_email"], "later@example.org");
    assert_eq!(app.count("email_changes").await, 1);
    assert_problem(
        app.register(&event.slug, &registration_body("ada@example.org"))
            .await,
        409,
        "already_registered",
    )
    .await;
    // Nobody was told of a change that did not happen.
    assert!(
        mails_to(&app, "ada@example.org")
            .iter()
            .all(|m| !m.contains("was changed"))
    );
}

#[tokio::test]
async fn an_expired_or_unknown_confirmation_link_is_refused() {
    let app = spawn_app().await;
    let (_event, ada, _) = event_with_two(&app, "expired").await;
    let start = app.state.clock.now();
    patch_me(&app, &ada, json!({"email": "slow@example.org"})).await;
    let token = link_token(&app, "slow@example.org");

    for unknown in ["", "short", &"A".repeat(43), &format!("{token}x")] {
        assert_problem(confirm(&app, unknown).await, 404, "not_found").await;
    }
    app.clock.set(start + time::Duration::hours(24));
    assert_problem(confirm(&app, &token).await, 404, "not_found").await;
    let page = my_page(&app, &ada).await;
    assert_eq!(page["details"]["email"], "ada@example.org");
    assert!(page["pending_email"].is_null());

    // A new request replaces the old one; a second replaces that, and only the newest works.
    patch_me(&app, &ada, json!({"email": "first@example.org"})).await;
    let first = link_token(&app, "first@example.org");
    patch_me(&app, &ada, json!({"email": "second@example.org"})).await;
    let second = link_token(&app, "second@example.org");
    assert_eq!(app.count("email_changes").await, 1);
    assert_problem(confirm(&app, &first).await, 404, "not_found").await;
    // A second before it expires, it still works.
    app.clock
        .set(start + time::Duration::hours(48) - time::Duration::seconds(1));
    assert_eq!(confirm(&app, &second).await.status(), 200);
    assert_eq!(
        my_page(&app, &ada).await["details"]["email"],
        "second@example.org"
    );
}

#[tokio::test]
async fn asking_for_the_current_address_again_cancels_a_pending_change() {
    let app = spawn_app().await;
    let (_event, ada, _) = event_with_two(&app, "cancel").await;
    patch_me(&app, &ada, json!({"email": "typo@example.org"})).await;
    let token = link_token(&app, "typo@example.org");
    // Correcting another field keeps the pending change.
    let (_, page) = patch_me(&app, &ada, json!({"job_title": "Analyst"})).await;
    assert_eq!(page["pending_email"], "typo@example.org");
    let before = app.outbox_mails().len();
    let (status, page) = patch_me(&app, &ada, json!({"email": "ADA@example.org"})).await;
    assert_eq!(status, 200);
    assert!(page["pending_email"].is_null());
    assert_eq!(app.outbox_mails().len(), before, "no mail for no change");
    assert_eq!(app.count("email_changes").await, 0);
    assert_problem(confirm(&app, &token).await, 404, "not_found").await;
}

#[tokio::test]
async fn a_pending_change_goes_with_the_erasure_and_with_the_purge() {
    let app = spawn_app().await;
    let (mut event, ada, grace) = event_with_two(&app, "pending-gone").await;
    patch_me(&app, &ada, json!({"email": "ada.new@example.org"})).await;
    patch_me(&app, &grace, json!({"email": "grace.new@example.org"})).await;
    let grace_token = link_token(&app, "grace.new@example.org");
    assert_eq!(app.count("email_changes").await, 2);

    let erased = app.anonymous(Method::DELETE, &me(&ada)).await;
    assert_eq!(erased.status(), 200);
    assert_eq!(app.count("email_changes").await, 1);
    let ada_id = ada["registration_id"].as_str().unwrap();
    assert_eq!(
        rows_mentioning_all(&app.db, &[ada_id]).await,
        Vec::<String>::new()
    );
    // The confirmation mail went with the erasure, like the attendee's other mails.
    assert!(mails_to(&app, "ada.new@example.org").is_empty());

    let due = app.purge_due_at(&event).await;
    app.travel_to(due, &mut event).await;
    assert_eq!(app.purge().await.purged.len(), 1);
    assert_eq!(app.count("email_changes").await, 0);
    let grace_id = grace["registration_id"].as_str().unwrap();
    assert_eq!(
        rows_mentioning_all(&app.db, &[grace_id]).await,
        Vec::<String>::new()
    );
    assert_problem(confirm(&app, &grace_token).await, 404, "not_found").await;
}

#[tokio::test]
async fn confirming_is_rate_limited_like_the_manage_link() {
    let app = spawn_app().await;
    let mut limited = false;
    for _ in 0..100 {
        let response = confirm(&app, &"B".repeat(43)).await;
        if response.status() == 429 {
            assert_problem(response, 429, "rate_limited").await;
            limited = true;
            break;
        }
        assert_eq!(response.status(), 404);
    }
    assert!(limited);
}
