//! Rate limits that fit venues: every number configurable, clients counted by network (an IPv6
//! /64 as one), secrets' limits keyed on what they protect, and a venue's own networks allowed a
//! crowd during the event's on-site hours. The apps here trust `X-Forwarded-For`, so a test speaks
//! from any address; the limits are small so that a test reaches them quickly.

use std::time::Duration;

use clap::Parser;
use consentry::{
    cli::{Cli, Command},
    config::HttpConfig,
    rate_limit::{LimitSettings, Rate},
};
use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::common::{
    PASSWORD, PublicEvent, TestApp, assert_problem, event_body, registration_body,
    spawn_app_with_limits,
};

const HOUR: Duration = Duration::from_secs(3600);

/// `burst` at once, then one an hour: nothing replenishes while a test runs.
fn per_hour(burst: u32) -> Rate {
    Rate::new(burst, HOUR)
}

impl TestApp {
    async fn request_from(
        &self,
        ip: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Response {
        let mut request = self
            .client
            .request(method, self.url(path))
            .header("x-forwarded-for", ip);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.unwrap()
    }

    async fn manage_from(&self, ip: &str, token: &str) -> u16 {
        self.request_from(ip, Method::GET, &format!("/api/v1/me/{token}"), None)
            .await
            .status()
            .as_u16()
    }

    async fn register_from(&self, ip: &str, slug: &str, email: &str) -> u16 {
        self.request_from(
            ip,
            Method::POST,
            &format!("/api/v1/events/{slug}/registrations"),
            Some(&registration_body(email)),
        )
        .await
        .status()
        .as_u16()
    }

    async fn pair_from(&self, ip: &str, code: &str) -> u16 {
        self.request_from(
            ip,
            Method::POST,
            "/api/v1/kiosks/pair",
            Some(&json!({"code": code})),
        )
        .await
        .status()
        .as_u16()
    }

    /// Register `email` from `ip` and return its manage token.
    async fn manage_token_from(&self, ip: &str, slug: &str, email: &str) -> String {
        let response = self
            .request_from(
                ip,
                Method::POST,
                &format!("/api/v1/events/{slug}/registrations"),
                Some(&registration_body(email)),
            )
            .await;
        assert_eq!(response.status(), 201);
        let created: Value = response.json().await.unwrap();
        created["manage_token"].as_str().unwrap().to_owned()
    }
}

/// A token of the right shape that opens nothing.
fn unknown_token(n: usize) -> String {
    format!("{n:0>43}")
}

#[tokio::test]
async fn two_manage_links_from_one_address_do_not_share_a_bucket() {
    let app = spawn_app_with_limits(LimitSettings {
        manage_link: per_hour(3),
        ..LimitSettings::DEFAULT
    })
    .await;
    let event = app.public_event("summit").await;
    let nat = "203.0.113.10";
    let ada = app
        .manage_token_from(nat, &event.slug, "ada@example.org")
        .await;
    let bob = app
        .manage_token_from(nat, &event.slug, "bob@example.org")
        .await;
    for _ in 0..3 {
        assert_eq!(app.manage_from(nat, &ada).await, 200);
    }
    assert_problem(
        app.request_from(nat, Method::GET, &format!("/api/v1/me/{ada}"), None)
            .await,
        429,
        "rate_limited",
    )
    .await;
    // Ada's link is limited wherever she is; Bob, behind the same address, is not.
    assert_eq!(app.manage_from("198.51.100.1", &ada).await, 429);
    for _ in 0..3 {
        assert_eq!(app.manage_from(nat, &bob).await, 200);
    }
}

#[tokio::test]
async fn guessing_manage_links_is_counted_per_network_before_the_lookup() {
    let app = spawn_app_with_limits(LimitSettings {
        manage_failures: per_hour(3),
        ..LimitSettings::DEFAULT
    })
    .await;
    let event = app.public_event("summit").await;
    let guesser = "203.0.113.66";
    let valid = app
        .manage_token_from("198.51.100.1", &event.slug, "ada@example.org")
        .await;
    // Valid links cost the network's failures nothing.
    for _ in 0..5 {
        assert_eq!(app.manage_from(guesser, &valid).await, 200);
    }
    for n in 0..3 {
        assert_eq!(app.manage_from(guesser, &unknown_token(n)).await, 404);
    }
    // Used up: refused before the lookup, so a right guess now is refused like a wrong one and
    // the network learns nothing.
    assert_eq!(app.manage_from(guesser, &unknown_token(3)).await, 429);
    assert_problem(
        app.request_from(guesser, Method::GET, &format!("/api/v1/me/{valid}"), None)
            .await,
        429,
        "rate_limited",
    )
    .await;
    // The e-mail change confirmation is the same kind of secret and shares the count.
    let confirmed = app
        .request_from(
            guesser,
            Method::POST,
            "/api/v1/email-changes/confirm",
            Some(&json!({"token": unknown_token(4)})),
        )
        .await;
    assert_eq!(confirmed.status(), 429);
    // Another network is not affected.
    assert_eq!(app.manage_from("198.51.100.2", &valid).await, 200);
    assert_eq!(
        app.manage_from("198.51.100.2", &unknown_token(5)).await,
        404
    );
}

#[tokio::test]
async fn guessing_manage_links_from_many_networks_stops_at_the_total() {
    let app = spawn_app_with_limits(LimitSettings {
        manage_failures: per_hour(10),
        manage_failures_total: per_hour(4),
        ..LimitSettings::DEFAULT
    })
    .await;
    let event = app.public_event("summit").await;
    let valid = app
        .manage_token_from("198.51.100.1", &event.slug, "ada@example.org")
        .await;
    for n in 1..=4 {
        assert_eq!(
            app.manage_from(&format!("203.0.113.{n}"), &unknown_token(n))
                .await,
            404
        );
    }
    // The total is reached: a network that failed is refused, with a valid link too…
    assert_eq!(app.manage_from("203.0.113.1", &unknown_token(9)).await, 429);
    assert_eq!(app.manage_from("203.0.113.2", &valid).await, 429);
    // …a network that has not failed gets one guess, then waits like the others…
    assert_eq!(app.manage_from("203.0.113.5", &unknown_token(5)).await, 404);
    assert_eq!(app.manage_from("203.0.113.5", &unknown_token(6)).await, 429);
    // …and the people using their own links elsewhere are never refused by it.
    for _ in 0..3 {
        assert_eq!(app.manage_from("198.51.100.1", &valid).await, 200);
    }
}

#[tokio::test]
async fn an_ipv6_64_is_one_network() {
    let app = spawn_app_with_limits(LimitSettings {
        registration: per_hour(2),
        ..LimitSettings::DEFAULT
    })
    .await;
    let event = app.public_event("summit").await;
    assert_eq!(
        app.register_from("2001:db8:1:2::1", &event.slug, "a@example.org")
            .await,
        201
    );
    assert_eq!(
        app.register_from("2001:db8:1:2:ffff::2", &event.slug, "b@example.org")
            .await,
        201
    );
    assert_eq!(
        app.register_from("2001:db8:1:2::99", &event.slug, "c@example.org")
            .await,
        429
    );
    // The next /64 is another network; an IPv4 client stays one address.
    assert_eq!(
        app.register_from("2001:db8:1:3::1", &event.slug, "c@example.org")
            .await,
        201
    );
    assert_eq!(
        app.register_from("203.0.113.1", &event.slug, "d@example.org")
            .await,
        201
    );
    assert_eq!(
        app.register_from("::ffff:203.0.113.1", &event.slug, "e@example.org")
            .await,
        201
    );
    assert_eq!(
        app.register_from("203.0.113.1", &event.slug, "f@example.org")
            .await,
        429
    );
}

/// Set `event`'s venue networks as its organiser does.
async fn set_venue_networks(app: &TestApp, event: &PublicEvent, networks: Value) -> Response {
    app.patch(
        &event.organiser.token,
        &format!("/api/v1/events/{}", event.id),
        &json!({"venue_networks": networks}),
    )
    .await
}

#[tokio::test]
async fn a_venue_network_lets_a_crowd_register_during_the_on_site_hours_and_not_outside_them() {
    let app = spawn_app_with_limits(LimitSettings {
        registration: per_hour(2),
        registration_at_venue: per_hour(40),
        ..LimitSettings::DEFAULT
    })
    .await;
    // Starts in 3 hours and 1 minute: one minute before the venue counts.
    let event = app
        .public_event_starting("summit", time::Duration::minutes(181))
        .await;
    let other = app.public_event("other-summit").await;
    let response = set_venue_networks(&app, &event, json!(["203.0.113.0/24"])).await;
    assert_eq!(response.status(), 200);
    let venue_wifi = "203.0.113.77";

    // Before the on-site hours the venue's address is one address like any other.
    for n in 0..2 {
        assert_eq!(
            app.register_from(venue_wifi, &event.slug, &format!("early{n}@example.org"))
                .await,
            201
        );
    }
    assert_eq!(
        app.register_from(venue_wifi, &event.slug, "early2@example.org")
            .await,
        429
    );

    // Three hours before the start, the crowd at the venue registers through one address.
    app.clock.advance(time::Duration::minutes(1));
    for n in 0..30 {
        assert_eq!(
            app.register_from(venue_wifi, &event.slug, &format!("walk-in{n}@example.org"))
                .await,
            201,
            "walk-in {n}"
        );
    }
    // The venue's quota is bounded too, and it is this event's alone: another event, or another
    // address, still has the ordinary limit.
    assert_eq!(
        app.register_from(venue_wifi, &other.slug, "x@example.org")
            .await,
        429
    );
    for n in 0..2 {
        assert_eq!(
            app.register_from("198.51.100.9", &event.slug, &format!("home{n}@example.org"))
                .await,
            201
        );
    }
    assert_eq!(
        app.register_from("198.51.100.9", &event.slug, "home2@example.org")
            .await,
        429
    );

    // Once the event has ended the venue's address is an ordinary address again (refused by its
    // used-up limit before anything else is checked).
    app.clock
        .advance(time::Duration::days(2) + time::Duration::hours(3));
    assert_eq!(
        app.register_from(venue_wifi, &event.slug, "late@example.org")
            .await,
        429
    );
}

#[tokio::test]
async fn the_venue_quota_is_itself_a_limit() {
    let app = spawn_app_with_limits(LimitSettings {
        registration: per_hour(1),
        registration_at_venue: per_hour(3),
        ..LimitSettings::DEFAULT
    })
    .await;
    let event = app.public_event("summit").await;
    assert_eq!(
        set_venue_networks(&app, &event, json!(["2001:db8:5::/48"]))
            .await
            .status(),
        200
    );
    for n in 0..3 {
        let ip = format!("2001:db8:5:1::{n}");
        assert_eq!(
            app.register_from(&ip, &event.slug, &format!("v{n}@example.org"))
                .await,
            201
        );
    }
    assert_eq!(
        app.register_from("2001:db8:5:1::9", &event.slug, "v9@example.org")
            .await,
        429
    );
    // Another /64 of the venue is another bucket of the venue's size.
    assert_eq!(
        app.register_from("2001:db8:5:2::1", &event.slug, "w@example.org")
            .await,
        201
    );
}

#[tokio::test]
async fn venue_networks_are_checked_cleaned_shown_and_audited() {
    let app = spawn_app_with_limits(LimitSettings::DEFAULT).await;
    let organiser = app.organiser("Acme").await;
    let mut body = event_body("venue-summit");
    body["venue_networks"] = json!(["203.0.113.7/24", "2001:DB8:5::/48", "203.0.113.0/24"]);
    let created = app.post(&organiser.token, "/api/v1/events", &body).await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(
        created["venue_networks"],
        json!(["203.0.113.0/24", "2001:db8:5::/48"])
    );
    let id = created["id"].as_str().unwrap();
    let shown: Value = app
        .get(&organiser.token, &format!("/api/v1/events/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["venue_networks"], created["venue_networks"]);

    let patch = |networks: Value| {
        let token = organiser.token.clone();
        let app = &app;
        async move {
            app.patch(
                &token,
                &format!("/api/v1/events/{id}"),
                &json!({"venue_networks": networks}),
            )
            .await
        }
    };
    for (networks, code, field) in [
        (
            json!(["0.0.0.0/0"]),
            "network_too_broad",
            "venue_networks[0]",
        ),
        (
            json!(["203.0.113.0/24", "10.0.0.0/15"]),
            "network_too_broad",
            "venue_networks[1]",
        ),
        (
            json!(["2001:db8::/32"]),
            "network_too_broad",
            "venue_networks[0]",
        ),
        (json!(["the venue"]), "invalid_network", "venue_networks[0]"),
        (
            json!(["203.0.113.0/33"]),
            "invalid_network",
            "venue_networks[0]",
        ),
        (
            json!((0..9).map(|i| format!("10.{i}.0.0/16")).collect::<Vec<_>>()),
            "too_many_networks",
            "venue_networks",
        ),
    ] {
        let problem = assert_problem(patch(networks.clone()).await, 422, code).await;
        assert_eq!(problem["field"], field, "{networks}");
    }
    // A change is saved; a patch without the field keeps them; an empty list removes them.
    let changed: Value = patch(json!(["198.51.100.0/24"]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(changed["venue_networks"], json!(["198.51.100.0/24"]));
    let kept: Value = app
        .patch(
            &organiser.token,
            &format!("/api/v1/events/{id}"),
            &json!({"name": "Renamed"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(kept["venue_networks"], changed["venue_networks"]);
    let cleared: Value = patch(json!([])).await.json().await.unwrap();
    assert_eq!(cleared["venue_networks"], json!([]));

    // Each change is audited, by whom and with how many networks the event has after it (1, then
    // 0); the rename and the refused changes are not.
    let audit: Value = app
        .get(
            &organiser.token,
            &format!("/api/v1/events/{id}/audit?action=venue_networks_changed"),
        )
        .await
        .json()
        .await
        .unwrap();
    let entries = audit["entries"].as_array().unwrap();
    let mut counts: Vec<i64> = entries
        .iter()
        .map(|e| e["count"].as_i64().unwrap())
        .collect();
    counts.sort_unstable();
    assert_eq!(counts, [0, 1], "{audit}");
    assert!(
        entries.iter().all(|e| e["actor_kind"] == "organiser"),
        "{audit}"
    );
}

#[tokio::test]
async fn logins_that_succeed_from_one_address_use_up_nothing() {
    let app = spawn_app_with_limits(LimitSettings {
        login: per_hour(3),
        ..LimitSettings::DEFAULT
    })
    .await;
    let venue = "203.0.113.10";
    // More organisers than the limit log in from one address behind the venue's NAT.
    for n in 0..6 {
        let (email, _) = app.create_organiser(&format!("Org{n}")).await;
        assert_eq!(
            app.login_from(venue, &email, PASSWORD).await.status(),
            200,
            "organiser {n}"
        );
    }
    // Failures, whatever the account, are what the network is limited by.
    for n in 0..3 {
        let wrong = app
            .login_from(venue, &format!("ghost{n}@acme.example"), "wrong password!")
            .await;
        assert_eq!(wrong.status(), 401);
    }
    let (email, _) = app.create_organiser("Late").await;
    assert_problem(
        app.login_from(venue, &email, PASSWORD).await,
        429,
        "rate_limited",
    )
    .await;
    assert_eq!(
        app.login_from("198.51.100.1", &email, PASSWORD)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn pairing_counts_wrong_codes_and_not_kiosks_that_pair() {
    let app = spawn_app_with_limits(LimitSettings {
        pairing_failures: per_hour(2),
        ..LimitSettings::DEFAULT
    })
    .await;
    let event = app.public_event("summit").await;
    let booths = "203.0.113.10";
    for n in 0..4 {
        let kiosk = app.unpaired_kiosk(&event, &event.sponsors[n % 3]).await;
        let code = kiosk["pairing_code"].as_str().unwrap();
        assert_eq!(app.pair_from(booths, code).await, 200, "kiosk {n}");
    }
    assert_eq!(app.pair_from(booths, "ABCD-EFGH").await, 401);
    assert_eq!(app.pair_from(booths, "ABCD-EFGJ").await, 401);
    let kiosk = app.unpaired_kiosk(&event, &event.sponsors[0]).await;
    let code = kiosk["pairing_code"].as_str().unwrap();
    assert_eq!(app.pair_from(booths, code).await, 429);
    assert_eq!(app.pair_from("198.51.100.1", code).await, 200);
}

/// `consentry serve`'s flags, read as the binary reads them, into the limits the app is built
/// with.
fn limits_from_flags(flags: &[&str]) -> LimitSettings {
    let argv = ["consentry", "serve"].iter().chain(flags);
    let Command::Serve(args) = Cli::try_parse_from(argv).unwrap().command else {
        panic!("not the serve command");
    };
    HttpConfig::from_serve_args(&args, "127.0.0.1:8080".parse().unwrap()).rate_limits
}

#[tokio::test]
async fn the_flags_set_the_numbers() {
    let defaults = limits_from_flags(&[]);
    assert_eq!(defaults, LimitSettings::DEFAULT);
    let limits = limits_from_flags(&[
        "--limit-registration",
        "2/1h",
        "--limit-manage-failures=1/1h",
        "--limit-registration-at-venue",
        "500/100ms",
    ]);
    assert_eq!(limits.registration, per_hour(2));
    assert_eq!(
        limits.registration_at_venue,
        Rate::new(500, Duration::from_millis(100))
    );
    assert_eq!(limits.login, LimitSettings::DEFAULT.login);
    assert!(Cli::try_parse_from(["consentry", "serve", "--limit-registration", "30"]).is_err());
    assert!(Cli::try_parse_from(["consentry", "serve", "--limit-login", "0/1s"]).is_err());
    let disabled = limits_from_flags(&["--disable-rate-limits"]);
    assert!(!disabled.enabled);

    // The app built with them answers by them: the third registration from one address, and the
    // second unknown manage link.
    let app = spawn_app_with_limits(limits).await;
    let event = app.public_event("summit").await;
    let ip = "203.0.113.5";
    assert_eq!(
        app.register_from(ip, &event.slug, "a@example.org").await,
        201
    );
    assert_eq!(
        app.register_from(ip, &event.slug, "b@example.org").await,
        201
    );
    assert_eq!(
        app.register_from(ip, &event.slug, "c@example.org").await,
        429
    );
    assert_eq!(app.manage_from(ip, &unknown_token(1)).await, 404);
    assert_eq!(app.manage_from(ip, &unknown_token(2)).await, 429);
}
