use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Value, json};

use crate::common::{assert_problem, registration_body, spawn_app};

const PERSONAL_TABLES: [&str; 4] = [
    "registrations",
    "manage_tokens",
    "consent_grants",
    "consent_ledger",
];

#[tokio::test]
async fn the_public_event_view_shows_what_an_attendee_needs_and_no_organiser_data() {
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let view = &event.view;
    assert_eq!(view["name"], "Privacy Summit");
    assert_eq!(
        view["privacy_notice"],
        "We process your registration to run the event."
    );
    assert_eq!(view["privacy_notice_version"], 1);
    assert_eq!(view["min_age"], 16);
    assert_eq!(view["registration_open"], true);
    assert_eq!(
        view["shared_fields"],
        json!(["first_name", "last_name", "email", "company", "job_title"])
    );
    // What a form's `maxlength` is set from: the server's own bounds.
    assert_eq!(
        view["field_max_chars"],
        json!({"first_name": 100, "last_name": 100, "email": 254, "company": 200, "job_title": 200, "country": 2})
    );
    let sponsors = view["sponsors"].as_array().unwrap();
    assert_eq!(sponsors.len(), 3);
    for sponsor in sponsors {
        assert_eq!(
            sponsor["privacy_policy_url"],
            "https://sponsor.example/privacy"
        );
        let text = sponsor["consent_text"].as_str().unwrap();
        assert!(text.contains(sponsor["name"].as_str().unwrap()), "{text}");
        assert!(
            text.contains("first name, last name, e-mail address, company and job title"),
            "{text}"
        );
    }
    assert!(
        view["marketing_consent_text"]
            .as_str()
            .unwrap()
            .contains("Privacy Summit")
    );
    for organiser_data in ["organisation_id", "id", "retention_days", "created_at"] {
        assert!(
            view.get(organiser_data).is_none(),
            "{organiser_data} leaked: {view}"
        );
    }

    // By id it is the organiser's view, which needs credentials.
    let by_id = app
        .anonymous(
            reqwest::Method::GET,
            &format!("/api/v1/events/{}", event.id),
        )
        .await;
    assert_problem(by_id, 401, "authentication_required").await;
    let unknown = app
        .anonymous(reqwest::Method::GET, "/api/v1/events/no-such-event")
        .await;
    assert_problem(unknown, 404, "not_found").await;
}

#[tokio::test]
async fn opt_ins_are_recorded_per_sponsor_exactly_as_chosen_and_none_by_default() {
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let chosen = &event.sponsors[1];

    let mut body = registration_body("one@example.org");
    body["sponsor_opt_ins"] = json!([chosen, chosen]);
    let response = app.register(&event.slug, &body).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["consents"], json!([format!("sponsor:{chosen}")]));

    // Omitted lists and flags mean no consent at all.
    let created_none: Value = app
        .register(&event.slug, &registration_body("two@example.org"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(created_none["consents"], json!([]));

    let mut all = registration_body("three@example.org");
    all["sponsor_opt_ins"] = json!(event.sponsors);
    all["marketing_opt_in"] = json!(true);
    let created_all: Value = app.register(&event.slug, &all).await.json().await.unwrap();
    assert_eq!(created_all["consents"].as_array().unwrap().len(), 4);

    assert_eq!(app.count("registrations").await, 3);
    // One, none and four purposes.
    assert_eq!(app.count("consent_grants").await, 5);
    assert_eq!(app.count("consent_ledger").await, 5);

    // The ledger entry proves who, what, when, where, and the exact text shown.
    let me: Value = app
        .anonymous(
            reqwest::Method::GET,
            &format!("/api/v1/me/{}", created["manage_token"].as_str().unwrap()),
        )
        .await
        .json()
        .await
        .unwrap();
    let history = me["consent_history"].as_array().unwrap();
    assert_eq!(history.len(), 1);
    let entry = &history[0];
    assert_eq!(entry["purpose"], format!("sponsor:{chosen}"));
    assert_eq!(entry["granted"], true);
    assert_eq!(entry["channel"], "api");
    assert_eq!(entry["notice_version"], 1);
    assert_eq!(entry["language"], "en");
    let shown = event.view["sponsors"][1]["consent_text"].as_str().unwrap();
    assert_eq!(
        entry["text_sha256"],
        consentry::crypto::sha256_hex(shown.as_bytes())
    );
    let granted: Vec<(&str, bool)> = me["consents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["purpose"].as_str().unwrap(),
                c["granted"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(granted.iter().filter(|(_, g)| *g).count(), 1);
    assert!(granted.contains(&(&format!("sponsor:{chosen}")[..], true)));
    assert!(granted.contains(&("marketing", false)));
}

/// The consent ledger's channel is the route's, never the client's: the API route records `api`,
/// the registration page's own route `web`, and a body that names a channel is refused.
#[tokio::test]
async fn the_ledger_channel_is_set_by_the_route_whatever_the_client_claims() {
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let page_route = format!("/e/{}/registrations", event.slug);
    let post = |path: String, body: Value| {
        let request = app.client.post(app.url(&path)).json(&body);
        async move { request.send().await.unwrap() }
    };
    let opting_in = |email: &str| {
        let mut body = registration_body(email);
        body["sponsor_opt_ins"] = json!([event.sponsors[0]]);
        body
    };
    let claiming = |email: &str, channel: &str| {
        let mut body = opting_in(email);
        body["channel"] = json!(channel);
        body
    };

    // A client claiming a channel, on either route, is refused before anything is stored.
    for (path, channel) in [
        (
            format!("/api/v1/events/{}/registrations", event.slug),
            "booth",
        ),
        (
            format!("/api/v1/events/{}/registrations", event.slug),
            "web",
        ),
        (page_route.clone(), "booth"),
        (page_route.clone(), "api"),
    ] {
        let response = post(path, claiming("claims@example.org", channel)).await;
        let problem = assert_problem(response, 422, "unknown_field").await;
        assert_eq!(problem["field"], "channel");
    }
    for table in PERSONAL_TABLES {
        assert_eq!(app.count(table).await, 0, "{table}");
    }

    let through_api: Value = app
        .register(&event.slug, &opting_in("api@example.org"))
        .await
        .json()
        .await
        .unwrap();
    let response = post(page_route, opting_in("web@example.org")).await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let through_page: Value = response.json().await.unwrap();
    assert_eq!(
        through_page["consents"],
        json!([format!("sponsor:{}", event.sponsors[0])])
    );

    for (created, channel) in [(&through_api, "api"), (&through_page, "web")] {
        let me = app
            .anonymous_json(&format!(
                "/api/v1/me/{}",
                created["manage_token"].as_str().unwrap()
            ))
            .await;
        let history = me["consent_history"].as_array().unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0]["channel"], channel, "{history:?}");
    }
}

#[tokio::test]
async fn every_refusal_has_its_code_and_stores_nothing() {
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let other = app.public_event("other-summit").await;

    let with = |field: &str, value: Value| {
        let mut body = registration_body("ada@example.org");
        body[field] = value;
        body
    };
    let cases: Vec<(Value, u16, &str, Option<&str>)> = vec![
        (
            with("age_confirmed", json!(false)),
            422,
            "age_not_confirmed",
            Some("age_confirmed"),
        ),
        (
            with("notice_version", json!(2)),
            409,
            "notice_outdated",
            Some("notice_version"),
        ),
        (
            with(
                "sponsor_opt_ins",
                json!([event.sponsors[0], other.sponsors[0]]),
            ),
            422,
            "unknown_sponsor",
            Some("sponsor_opt_ins[1]"),
        ),
        (
            with("sponsor_opt_ins", json!(["not-a-uuid"])),
            422,
            "invalid_value",
            Some("sponsor_opt_ins[0]"),
        ),
        (
            with("email", json!("ada@example")),
            422,
            "invalid_email",
            Some("email"),
        ),
        (
            with("phone", json!("0612345678")),
            422,
            "invalid_phone",
            Some("phone"),
        ),
        (
            with("country", json!("XX")),
            422,
            "invalid_country",
            Some("country"),
        ),
        (
            with("first_name", json!(" ")),
            422,
            "too_short",
            Some("first_name"),
        ),
        (
            with("last_name", json!("x".repeat(101))),
            422,
            "too_long",
            Some("last_name"),
        ),
        (
            with("shoe_size", json!(44)),
            422,
            "unknown_field",
            Some("shoe_size"),
        ),
        // The organiser's genuine confirmation mail greets the registrant by name: a name may
        // not carry a link to any address someone types in.
        (
            with(
                "first_name",
                json!("Please re-confirm at https://evil.example/login"),
            ),
            422,
            "address_in_name",
            Some("first_name"),
        ),
        (
            with("last_name", json!("re-confirm at evil.example/login")),
            422,
            "address_in_name",
            Some("last_name"),
        ),
        (
            with("company", json!("write to sales@evil.example")),
            422,
            "address_in_name",
            Some("company"),
        ),
        // An address the mailer would never send to is never registered (nor exported).
        (
            with("email", json!("fay,attacker@evil.example")),
            422,
            "invalid_email",
            Some("email"),
        ),
        // Text that shows something else than it holds.
        (
            with("company", json!("Acme \u{202E}evil")),
            422,
            "invalid_characters",
            Some("company"),
        ),
        (
            with("last_name", json!("Love\u{200B}lace")),
            422,
            "invalid_characters",
            Some("last_name"),
        ),
        (
            with("job_title", json!("CTO\u{FFFF}")),
            422,
            "invalid_characters",
            Some("job_title"),
        ),
    ];
    for (body, status, code, field) in cases {
        let problem = assert_problem(app.register(&event.slug, &body).await, status, code).await;
        assert_eq!(problem["field"].as_str(), field, "{code}");
        assert!(
            !problem.to_string().contains("ada@"),
            "no personal data in problems: {problem}"
        );
    }
    let missing = json!({"first_name": "Ada", "notice_version": 1, "age_confirmed": true});
    assert_problem(
        app.register(&event.slug, &missing).await,
        422,
        "missing_field",
    )
    .await;
    assert_problem(
        app.register("no-such-event", &registration_body("ada@example.org"))
            .await,
        404,
        "not_found",
    )
    .await;

    // After the end, registration is closed.
    let ends_at = time::OffsetDateTime::parse(
        event.view["ends_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    app.clock.set(ends_at);
    assert_problem(
        app.register(&event.slug, &registration_body("ada@example.org"))
            .await,
        409,
        "registration_closed",
    )
    .await;

    for table in PERSONAL_TABLES {
        assert_eq!(app.count(table).await, 0, "{table} after refusals");
    }
    assert!(app.outbox_mails().is_empty());
}

#[tokio::test]
async fn a_changed_notice_makes_the_old_version_outdated() {
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    app.patch(
        &event.organiser.token,
        &format!("/api/v1/events/{}", event.id),
        &json!({"privacy_notice": "A stricter notice."}),
    )
    .await;
    let outdated = app
        .register(&event.slug, &registration_body("ada@example.org"))
        .await;
    assert_problem(outdated, 409, "notice_outdated").await;
    let mut current = registration_body("ada@example.org");
    current["notice_version"] = json!(2);
    assert_eq!(app.register(&event.slug, &current).await.status(), 201);
}

#[tokio::test]
async fn a_duplicate_address_gets_its_manage_link_by_mail_and_nothing_in_the_response() {
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let first: Value = app
        .register(&event.slug, &registration_body("Ada@Example.org"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(app.outbox_mails().len(), 1);

    // Later (the confirmation just mailed the link; a re-send within minutes would be noise)…
    app.clock.advance(time::Duration::minutes(11));
    let again = app
        .register(&event.slug, &registration_body("  ada@example.ORG "))
        .await;
    let problem = assert_problem(again, 409, "already_registered").await;
    let text = problem.to_string();
    assert!(
        !text.contains("ada") && !text.contains("Ada") && !text.contains("manage_token"),
        "{text}"
    );
    assert_eq!(app.count("registrations").await, 1);

    let mails = app.outbox_mails();
    assert_eq!(mails.len(), 2);
    let resent = &mails[1];
    assert!(resent.contains("To: ada@example.org"), "{resent}");
    let link = resent.lines().find(|l| l.contains("/m/")).unwrap().trim();
    let token = link.rsplit('/').next().unwrap();
    assert_ne!(
        token,
        first["manage_token"].as_str().unwrap(),
        "a new link; the old one is only a hash"
    );
    let via_resent = app
        .anonymous(reqwest::Method::GET, &format!("/api/v1/me/{token}"))
        .await;
    assert_eq!(via_resent.status(), 200);
    let via_first = app
        .anonymous(
            reqwest::Method::GET,
            &format!("/api/v1/me/{}", first["manage_token"].as_str().unwrap()),
        )
        .await;
    assert_eq!(via_first.status(), 200, "the first link keeps working");

    // Re-sends are throttled: a third attempt right away mails nothing more.
    assert_problem(
        app.register(&event.slug, &registration_body("ada@example.org"))
            .await,
        409,
        "already_registered",
    )
    .await;
    assert_eq!(app.outbox_mails().len(), 2);
    // The same address may register for another event.
    let other = app.public_event("other-summit").await;
    assert_eq!(
        app.register(&other.slug, &registration_body("ada@example.org"))
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn the_confirmation_mail_carries_the_manage_link_and_the_badge() {
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let mut body = registration_body("ada@example.org");
    body["sponsor_opt_ins"] = json!([event.sponsors[0]]);
    let created: Value = app.register(&event.slug, &body).await.json().await.unwrap();
    assert_eq!(created["confirmation_email_sent"], true);
    let mails = app.outbox_mails();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert!(mail.contains("To: ada@example.org"));
    assert!(mail.contains("Subject: Your registration for Privacy Summit"));
    assert!(mail.contains(created["manage_url"].as_str().unwrap()));
    assert!(
        mail.contains("Acme Analytics"),
        "names the sponsors consented to"
    );
    assert!(mail.contains("filename=\"badge.png\""));
    assert!(mail.contains("Content-Type: image/png"));
}

#[tokio::test]
async fn personal_data_and_manage_tokens_are_not_stored_in_clear() {
    use sea_orm::EntityTrait;
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let created: Value = app
        .register(&event.slug, &registration_body("ada.canary@example.org"))
        .await
        .json()
        .await
        .unwrap();
    let token = created["manage_token"].as_str().unwrap();
    assert_eq!(token.len(), 43);
    assert_eq!(created["manage_url"], app.url(&format!("/m/{token}")));

    let rows = consentry::registrations::entity::registration::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    for clear in [&b"Lovelace"[..], b"ada.canary", b"Analytical"] {
        assert!(!row.personal_data.windows(clear.len()).any(|w| w == clear));
    }
    // A keyed hash (64 hex digits), not the address: hex can spell "ada" by chance, so check the
    // form rather than the absence of letters.
    assert_eq!(row.email_index.len(), 64);
    assert!(row.email_index.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(!row.email_index.contains("canary") && !row.email_index.contains('@'));
    let tokens = consentry::registrations::entity::manage_token::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(tokens.len(), 1);
    assert_ne!(tokens[0].token_hash, token);
    assert_eq!(tokens[0].token_hash, consentry::crypto::token_hash(token));
    // The per-event data key is stored wrapped, never raw, and in the key store, not beside the
    // data it seals.
    let keys = consentry::vault::entity::Entity::find()
        .all(&app.keystore.db)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys[0].data_key_wrapped.len() > 32);
    assert!(app.keystore.separate);
    for table in ["event_keys", "badge_keys"] {
        assert_eq!(app.count(table).await, 0, "{table} in the main database");
    }
}

#[tokio::test]
async fn the_badge_qr_decodes_to_a_token_that_verifies_with_the_published_key_and_says_nothing_personal()
 {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let created: Value = app
        .register(&event.slug, &registration_body("ada@example.org"))
        .await
        .json()
        .await
        .unwrap();
    let badge = &created["badge"];
    let token = badge["token"].as_str().unwrap();

    let png = STANDARD
        .decode(badge["qr_png_base64"].as_str().unwrap())
        .unwrap();
    let image = image::load_from_memory(&png).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1);
    // A link to the badge page with the token in the fragment, which no browser sends on.
    assert_eq!(
        grids[0].decode().unwrap().1,
        app.url(&format!("/b#{token}"))
    );

    let response = app
        .anonymous(reqwest::Method::GET, "/api/v1/events/summit/badge-keys")
        .await;
    assert_eq!(
        response.headers()["content-type"],
        "application/jwk-set+json"
    );
    let jwks: JwkSet = response.json().await.unwrap();
    assert_eq!(jwks.keys.len(), 1);
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, Algorithm::EdDSA);
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.required_spec_claims.clear();
    let claims =
        jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
            .unwrap()
            .claims;
    let mut names: Vec<&String> = claims.as_object().unwrap().keys().collect();
    names.sort();
    assert_eq!(names, ["bid", "eid", "iat"]);
    let payload = String::from_utf8(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    for personal in [
        "Ada",
        "Lovelace",
        "ada@",
        "Analytical",
        created["registration_id"].as_str().unwrap(),
    ] {
        assert!(!payload.contains(personal), "{personal} in {payload}");
    }

    // Another event's published key does not verify this badge.
    let other = app.public_event("other-summit").await;
    let other_jwks: JwkSet = app
        .anonymous(
            reqwest::Method::GET,
            &format!("/api/v1/events/{}/badge-keys", other.slug),
        )
        .await
        .json()
        .await
        .unwrap();
    let other_key = DecodingKey::from_jwk(&other_jwks.keys[0]).unwrap();
    assert!(jsonwebtoken::decode::<Value>(token, &other_key, &validation).is_err());
}

#[tokio::test]
async fn registrations_are_rate_limited_per_address() {
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let refused = json!({"first_name": "A", "last_name": "B", "email": "a@b.example", "age_confirmed": false, "notice_version": 1});
    for _ in 0..30 {
        assert_eq!(app.register(&event.slug, &refused).await.status(), 422);
    }
    assert_problem(
        app.register(&event.slug, &refused).await,
        429,
        "rate_limited",
    )
    .await;
}

/// A person who gets several fields wrong is told all of them in one answer, in the order of the
/// form, each with its field and code; the problem's own `field` and `code` are the first.
#[tokio::test]
async fn every_field_in_error_is_told_at_once() {
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let mut body = registration_body("bad");
    body["last_name"] = json!("");
    body["phone"] = json!("abc");
    body["age_confirmed"] = json!(false);
    body["company"] = json!("x".repeat(201));
    let problem = assert_problem(app.register(&event.slug, &body).await, 422, "too_short").await;
    assert_eq!(problem["field"], "last_name");
    let errors: Vec<(&str, &str)> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        errors,
        [
            ("last_name", "too_short"),
            ("email", "invalid_email"),
            ("company", "too_long"),
            ("phone", "invalid_phone"),
            ("age_confirmed", "age_not_confirmed"),
        ]
    );
    // A bound broken is stated, so that the form can say it.
    assert_eq!(problem["errors"][2]["limit"], 200);
    assert!(problem["errors"][0].get("limit").is_none());
    for table in PERSONAL_TABLES {
        assert_eq!(app.count(table).await, 0, "{table}");
    }
}

/// A Dutch reader is shown Dutch sentences and agrees to them: the ledger records the language and
/// the hash of the Dutch sentence read, and a withdrawal on a Dutch page records the Dutch sentence
/// withdrawn. The language comes from `?lang=`, else from `Accept-Language`.
#[tokio::test]
async fn a_dutch_reader_agrees_to_the_dutch_sentence_and_the_ledger_says_so() {
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let sponsor = &event.sponsors[0];
    let dutch = app
        .anonymous_json(&format!("/api/v1/events/{}?lang=nl", event.slug))
        .await;
    assert_eq!(dutch["language"], "nl");
    let shown = dutch["sponsors"][0]["consent_text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(shown.starts_with("Ik ga ermee akkoord dat "), "{shown}");
    assert!(
        dutch["marketing_consent_text"]
            .as_str()
            .unwrap()
            .starts_with("Ik wil graag")
    );
    // The same from the browser's own language, and English for a language not written.
    let by_header: Value = app
        .client
        .get(app.url(&format!("/api/v1/events/{}", event.slug)))
        .header("accept-language", "nl-BE,nl;q=0.9")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_header["sponsors"][0]["consent_text"], shown.as_str());
    let german = app
        .anonymous_json(&format!("/api/v1/events/{}?lang=de", event.slug))
        .await;
    assert_eq!(german["language"], "en");

    let mut body = registration_body("lotte@example.org");
    body["sponsor_opt_ins"] = json!([sponsor]);
    body["language"] = json!("nl");
    let created: Value = app.register(&event.slug, &body).await.json().await.unwrap();
    let token = created["manage_token"].as_str().unwrap();
    // The confirmation mail is in the language the page was read in.
    let mail = app.outbox_mails().pop().unwrap();
    assert!(
        mail.contains("Subject: Je aanmelding voor Privacy Summit"),
        "{mail}"
    );
    assert!(
        mail.contains("Je bent aangemeld voor Privacy Summit op "),
        "{mail}"
    );
    // A later mail is in that language too: a manage link re-sent because the address registered
    // again (from an English page).
    app.clock.advance(time::Duration::minutes(11));
    let mut again = registration_body("lotte@example.org");
    again["language"] = json!("en");
    assert_problem(
        app.register(&event.slug, &again).await,
        409,
        "already_registered",
    )
    .await;
    let resent = app.outbox_mails().pop().unwrap();
    assert!(
        resent.contains("Iemand (misschien jij) probeerde dit adres opnieuw"),
        "{resent}"
    );
    let me = app
        .anonymous_json(&format!("/api/v1/me/{token}?lang=nl"))
        .await;
    assert_eq!(me["language"], "nl");
    let entry = &me["consent_history"][0];
    assert_eq!(entry["language"], "nl");
    assert_eq!(
        entry["text_sha256"],
        consentry::crypto::sha256_hex(shown.as_bytes())
    );
    // The manage page shows the sentence agreed to, in the reader's language.
    let consent = me["consents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["granted"] == true)
        .unwrap();
    assert_eq!(consent["text"], shown.as_str());

    let withdrawn = app
        .anonymous_json_request(
            reqwest::Method::PUT,
            &format!("/api/v1/me/{token}/consents"),
            &json!({"consents": [{"purpose": format!("sponsor:{sponsor}"), "granted": false}], "language": "nl"}),
        )
        .await;
    assert_eq!(withdrawn.status(), 200);
    let me = app.anonymous_json(&format!("/api/v1/me/{token}")).await;
    let entry = &me["consent_history"][1];
    assert_eq!(
        (entry["granted"].as_bool(), entry["language"].as_str()),
        (Some(false), Some("nl"))
    );
    assert_eq!(
        entry["text_sha256"],
        consentry::crypto::sha256_hex(shown.as_bytes())
    );
}
