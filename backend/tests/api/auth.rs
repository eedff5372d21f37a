use reqwest::header;
use serde_json::{Value, json};

use crate::common::{PASSWORD, assert_problem, spawn_app, spawn_app_behind_proxy};

#[tokio::test]
async fn login_gives_a_bearer_token_and_a_strict_http_only_cookie() {
    let app = spawn_app().await;
    let (email, organisation_id) = app.create_organiser("Acme").await;

    let response = app.login(&email.to_uppercase(), PASSWORD).await;
    assert_eq!(response.status(), 200);
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("consentry_session="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=7200"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["organiser"]["email"], email);
    assert_eq!(
        body["organiser"]["organisation"]["id"],
        organisation_id.to_string()
    );
    assert!(body.get("password_hash").is_none());

    // The same session works as Bearer token and as cookie.
    let token = body["token"].as_str().unwrap();
    let me: Value = app
        .get(token, "/api/v1/auth/me")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], email);
    let cookie_pair = cookie.split(';').next().unwrap();
    let via_cookie = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .header(header::COOKIE, cookie_pair)
        .send()
        .await
        .unwrap();
    assert_eq!(via_cookie.status(), 200);
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_answer() {
    let app = spawn_app().await;
    let (email, _) = app.create_organiser("Acme").await;

    let wrong_password = app.login(&email, "not the password at all").await;
    let wrong_password = assert_problem(wrong_password, 401, "invalid_credentials").await;
    let unknown = app.login("nobody@acme.example", PASSWORD).await;
    let unknown = assert_problem(unknown, 401, "invalid_credentials").await;
    assert_eq!(wrong_password, unknown);
    let malformed = app.login("not-an-email", PASSWORD).await;
    assert_eq!(
        assert_problem(malformed, 401, "invalid_credentials").await,
        unknown
    );
}

#[tokio::test]
async fn logout_ends_the_session_at_once() {
    let app = spawn_app().await;
    let organiser = app.organiser("Acme").await;
    assert_eq!(
        app.get(&organiser.token, "/api/v1/auth/me").await.status(),
        200
    );

    let response = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(&organiser.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let cleared = response
        .headers()
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");

    let after = app.get(&organiser.token, "/api/v1/auth/me").await;
    assert_problem(after, 401, "session_revoked").await;
    let events = app.get(&organiser.token, "/api/v1/events").await;
    assert_problem(events, 401, "session_revoked").await;
}

#[tokio::test]
async fn sessions_expire_by_the_clock() {
    let app = spawn_app().await;
    let organiser = app.organiser("Acme").await;
    app.clock.advance(time::Duration::minutes(119));
    assert_eq!(
        app.get(&organiser.token, "/api/v1/auth/me").await.status(),
        200
    );
    app.clock.advance(time::Duration::minutes(1));
    assert_problem(
        app.get(&organiser.token, "/api/v1/auth/me").await,
        401,
        "session_expired",
    )
    .await;
}

#[tokio::test]
async fn missing_or_forged_credentials_are_refused() {
    let app = spawn_app().await;
    let none = app.anonymous(reqwest::Method::GET, "/api/v1/events").await;
    assert_problem(none, 401, "authentication_required").await;
    let forged = app.get("eyJhbGciOiJub25lIn0.e30.", "/api/v1/events").await;
    assert_problem(forged, 401, "invalid_session").await;
}

#[tokio::test]
async fn repeated_failures_for_one_account_are_rate_limited() {
    let app = spawn_app().await;
    let (email, _) = app.create_organiser("Acme").await;
    for _ in 0..5 {
        assert_eq!(app.login(&email, "wrong password!").await.status(), 401);
    }
    let limited = app.login(&email, PASSWORD).await;
    let retry_after: u64 = limited.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    assert_problem(limited, 429, "rate_limited").await;

    // Unknown accounts are limited the same way, so the limit reveals nothing either.
    for _ in 0..5 {
        assert_eq!(
            app.login("ghost@acme.example", "wrong password!")
                .await
                .status(),
            401
        );
    }
    assert_problem(
        app.login("ghost@acme.example", PASSWORD).await,
        429,
        "rate_limited",
    )
    .await;
}

#[tokio::test]
async fn login_validates_its_body() {
    let app = spawn_app().await;
    let response = app
        .anonymous_json_request(
            reqwest::Method::POST,
            "/api/v1/auth/login",
            &json!({"email": "a@b.example"}),
        )
        .await;
    let body = assert_problem(response, 422, "missing_field").await;
    assert_eq!(body["field"], "password");
}

#[tokio::test]
async fn failed_logins_from_one_address_do_not_lock_out_another() {
    let app = spawn_app_behind_proxy().await;
    let (email, _) = app.create_organiser("Acme").await;
    let attacker = "203.0.113.7";
    for _ in 0..5 {
        let response = app.login_from(attacker, &email, "wrong password!").await;
        assert_eq!(response.status(), 401);
    }
    // The attacker's address is limited, even with the right password…
    assert_problem(
        app.login_from(attacker, &email, PASSWORD).await,
        429,
        "rate_limited",
    )
    .await;
    // …while the organiser, from an address that has not failed, logs in at once.
    let response = app.login_from("198.51.100.20", &email, PASSWORD).await;
    assert_eq!(response.status(), 200);
    // The attacker keeps failing at one guess a minute: the organiser is still not locked out.
    assert_problem(
        app.login_from(attacker, &email, "wrong again!!").await,
        429,
        "rate_limited",
    )
    .await;
    assert_eq!(
        app.login_from("198.51.100.21", &email, PASSWORD)
            .await
            .status(),
        200
    );
}

/// Guessing from many addresses, a few guesses each, stops at the account's ceiling: further
/// guesses from addresses that have already failed are refused without being checked. An address
/// that has not failed still gets the right password through.
#[tokio::test]
async fn the_account_ceiling_bounds_guessing_from_many_addresses() {
    let ceiling = usize::try_from(consentry::rate_limit::LOGIN_ACCOUNT_CEILING).unwrap();
    let per_address =
        usize::try_from(consentry::rate_limit::LOGIN_FAILURES_PER_ADDRESS).unwrap() - 1;
    let app = spawn_app_behind_proxy().await;
    let (email, _) = app.create_organiser("Acme").await;
    let addresses = ceiling / per_address + 10;
    let (mut checked, mut refused) = (0, 0);
    for n in 0..addresses {
        let ip = format!("10.0.{}.{}", n / 200, n % 200 + 1);
        for _ in 0..per_address {
            match app
                .login_from(&ip, &email, "wrong password!")
                .await
                .status()
                .as_u16()
            {
                401 => checked += 1,
                429 => refused += 1,
                other => panic!("unexpected status {other}"),
            }
        }
    }
    // At most the ceiling, plus one first guess per address, plus what the ceiling replenished
    // while the test ran.
    assert!(
        checked <= ceiling + addresses + 5,
        "{checked} guesses checked"
    );
    assert_eq!(checked + refused, per_address * addresses);
    assert!(refused > 0);
    // An address that failed is refused now, even with the right password.
    assert_problem(
        app.login_from("10.0.0.1", &email, PASSWORD).await,
        429,
        "rate_limited",
    )
    .await;
    // One that has not failed gets in.
    assert_eq!(
        app.login_from("192.0.2.1", &email, PASSWORD).await.status(),
        200
    );
    // Other accounts are untouched.
    let (other, _) = app.create_organiser("Other").await;
    assert_eq!(
        app.login_from("10.0.0.1", &other, PASSWORD).await.status(),
        200
    );
}

#[tokio::test]
async fn the_login_answer_is_never_stored() {
    let app = spawn_app().await;
    let (email, _) = app.create_organiser("Acme").await;
    let response = app.login(&email, PASSWORD).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
}

/// An IPv6 host holds a whole /64: its addresses count as one in the login limits, or it could
/// try a fresh address for every guess.
#[tokio::test]
async fn login_failures_from_one_ipv6_64_count_together() {
    let app = spawn_app_behind_proxy().await;
    let (email, _) = app.create_organiser("Acme").await;
    for n in 1..=5 {
        let ip = format!("2001:db8:1:2::{n}");
        assert_eq!(
            app.login_from(&ip, &email, "wrong password!")
                .await
                .status(),
            401
        );
    }
    assert_problem(
        app.login_from("2001:db8:1:2::99", &email, PASSWORD).await,
        429,
        "rate_limited",
    )
    .await;
    assert_eq!(
        app.login_from("2001:db8:1:3::1", &email, PASSWORD)
            .await
            .status(),
        200
    );
}
