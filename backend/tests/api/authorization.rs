//! The authorization matrix: every operation of the OpenAPI document, called by each of nine
//! actors, with the status each must get. The table below is the specification; the test fails on
//! any cell that differs, on an operation the table leaves out, and on a success that carries data
//! its caller has no right to, and on any answer the OpenAPI document does not list.
//!
//! Every actor sends the one secret it holds on every request, as a Bearer token: an organiser its
//! session, a kiosk its device token, an attendee the manage token of their link (which must not
//! open anything else). Attendee routes (`/me/{token}`) take the manage token in the path; there an
//! actor without a manage link puts its own secret, or a random token of the right shape for the
//! anonymous caller, so a token of one kind never passes for another.
//!
//! "This" is the event E of organisation O with sponsors S1 (the kiosk's), S2 (the other kiosk's)
//! and S3. Attendees A and B registered for E and consented to S1; the kiosk scanned both, so A has
//! a lead at S1. An operation that deletes something deletes a spare of the same kind (a second
//! event of O, sponsor S3, an unpaired kiosk of S1), so no cell depends on another's side effects;
//! the attendee's own erasure runs last of all successes.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{TestApp, content_type, event_body, spawn_app_without_rate_limits};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Actor {
    Anonymous,
    /// Attendee A of E, holding A's manage link.
    Attendee,
    /// Attendee B of E, holding B's manage link.
    OtherAttendee,
    /// An organiser of O.
    Organiser,
    /// An organiser of another organisation.
    OtherOrganiser,
    /// A paired kiosk of S1.
    Kiosk,
    /// A paired kiosk of S2, at the same event.
    OtherKiosk,
    /// A kiosk of S1 that the organiser revoked.
    RevokedKiosk,
    /// An organiser of O whose session has expired.
    ExpiredSession,
}

use Actor::*;

/// The columns of the table, in its order.
const ACTORS: [Actor; 9] = [
    Anonymous,
    Attendee,
    OtherAttendee,
    Organiser,
    OtherOrganiser,
    Kiosk,
    OtherKiosk,
    RevokedKiosk,
    ExpiredSession,
];

type BodyFn = fn(&World, Actor) -> Value;

struct Row {
    method: Method,
    /// The OpenAPI path, with `{slug}`, `{spare_event}`, `{spare_sponsor}` and `{spare_kiosk}`
    /// where the row needs another value than the operation's usual one.
    path: &'static str,
    body: Option<BodyFn>,
    expected: [u16; 9],
}

fn row(method: Method, path: &'static str, body: Option<BodyFn>, expected: [u16; 9]) -> Row {
    Row {
        method,
        path,
        body,
        expected,
    }
}

/// The matrix. Columns: anonymous, attendee, other attendee, organiser, other organiser, kiosk,
/// other kiosk, revoked kiosk, expired session. Successes run in this order, after every refusal.
#[rustfmt::skip]
fn matrix() -> Vec<Row> {
    // Organiser routes of E: only O; another organisation learns nothing, not even that E exists.
    const ORGANISER: [u16; 9] = [401, 401, 401, 200, 404, 401, 401, 401, 401];
    // Routes of the caller's own organisation.
    const ANY_ORGANISER: [u16; 9] = [401, 401, 401, 200, 200, 401, 401, 401, 401];
    // Kiosk routes: the sponsor the kiosk is paired to.
    const ANY_KIOSK: [u16; 9] = [401, 401, 401, 401, 401, 200, 200, 401, 401];
    // The manage link opens the record it was issued for and nothing else: B's opens B's (and the
    // leak check below makes sure none of A's data is in it); no other secret opens any.
    const HOLDER: [u16; 9] = [404, 200, 200, 404, 404, 404, 404, 404, 404];
    const EVERYONE: [u16; 9] = [200; 9];

    vec![
        row(Method::GET, "/healthz", None, EVERYONE),
        // The keys that verify consent receipts are public.
        row(Method::GET, "/.well-known/consent-receipt-keys.json", None, EVERYONE),
        row(Method::GET, "/readyz", None, EVERYONE),
        row(Method::GET, "/api/v1/auth/me", None, ANY_ORGANISER),
        // Anyone may try to log in; the credentials decide, not the caller.
        row(Method::POST, "/api/v1/auth/login", Some(login), EVERYONE),

        row(Method::GET, "/api/v1/events", None, ANY_ORGANISER),
        row(Method::POST, "/api/v1/events", Some(new_event), [401, 401, 401, 201, 201, 401, 401, 401, 401]),
        row(Method::GET, "/api/v1/events/{event}", None, ORGANISER),
        // By slug, the public page attendees register from.
        row(Method::GET, "/api/v1/events/{slug}", None, EVERYONE),
        // The country codes a form offers: the same for everyone.
        row(Method::GET, "/api/v1/countries", None, EVERYONE),
        row(Method::PATCH, "/api/v1/events/{event}", Some(|_, _| json!({"venue": "Rotterdam"})), ORGANISER),
        row(Method::DELETE, "/api/v1/events/{spare_event}", None, [401, 401, 401, 204, 404, 401, 401, 401, 401]),
        row(Method::GET, "/api/v1/events/{event}/stats", None, ORGANISER),
        row(Method::GET, "/api/v1/events/{event}/audit", None, ORGANISER),
        row(Method::GET, "/api/v1/audit", None, ANY_ORGANISER),
        row(Method::GET, "/api/v1/events/{slug}/badge-keys", None, EVERYONE),
        row(Method::POST, "/api/v1/events/{slug}/registrations", Some(registration), [201; 9]),
        // The registration page's own route: the same operation, recorded as channel `web`.
        row(Method::POST, "/e/{page_slug}/registrations", Some(page_registration), [201; 9]),
        // A sponsor's booth link is public, and names the sponsor only.
        row(Method::GET, "/api/v1/booths/{code}", None, EVERYONE),
        row(Method::GET, "/api/v1/booths/{code}/qr.svg", None, EVERYONE),
        // The same answer for everyone, whatever the address.
        row(Method::POST, "/api/v1/booths/{code}/links", Some(booth_link_request), [202; 9]),
        // The booth page's grant: the manage token in the body opens its holder's record only.
        row(Method::POST, "/s/{code}/grant", Some(booth_grant), HOLDER),

        row(Method::GET, "/api/v1/events/{event}/sponsors", None, ORGANISER),
        row(Method::POST, "/api/v1/events/{event}/sponsors", Some(new_sponsor), [401, 401, 401, 201, 404, 401, 401, 401, 401]),
        row(Method::GET, "/api/v1/events/{event}/sponsors/{sponsor_id}", None, ORGANISER),
        row(Method::PATCH, "/api/v1/events/{event}/sponsors/{sponsor_id}", Some(|_, _| json!({"description": "Booth 12"})), ORGANISER),
        row(Method::DELETE, "/api/v1/events/{event}/sponsors/{spare_sponsor}", None, [401, 401, 401, 204, 404, 401, 401, 401, 401]),

        row(Method::POST, "/api/v1/events/{event}/sponsors/{sponsor_id}/kiosks", Some(|_, _| json!({})), [401, 401, 401, 201, 404, 401, 401, 401, 401]),
        row(Method::GET, "/api/v1/events/{event}/kiosks", None, ORGANISER),
        row(Method::DELETE, "/api/v1/events/{event}/kiosks/{spare_kiosk}", None, [401, 401, 401, 204, 404, 401, 401, 401, 401]),
        // Pairing is public: the one-time code is the credential (each actor has its own).
        row(Method::POST, "/api/v1/kiosks/pair", Some(pairing), EVERYONE),
        row(Method::GET, "/api/v1/kiosk", None, ANY_KIOSK),
        // The browser kiosk's pairing: the same, with the token in an HttpOnly cookie.
        row(Method::POST, "/kiosk/pair", Some(page_pairing), EVERYONE),

        // A consents to S1 only: S1's kiosk stores the scan (201), S2's is refused (200).
        row(Method::POST, "/api/v1/scans", Some(scan), [401, 401, 401, 401, 401, 201, 200, 401, 401]),
        row(Method::GET, "/api/v1/leads", None, ANY_KIOSK),
        // A lead is its sponsor's alone.
        row(Method::PATCH, "/api/v1/leads/{lead_id}", Some(|_, _| json!({"rating": 5})), [401, 401, 401, 401, 401, 200, 404, 401, 401]),
        row(Method::GET, "/api/v1/leads.csv", None, ANY_KIOSK),
        row(Method::GET, "/api/v1/leads.json", None, ANY_KIOSK),
        row(Method::GET, "/api/v1/events/{event}/sponsors/{sponsor_id}/leads.csv", None, ORGANISER),
        row(Method::GET, "/api/v1/events/{event}/sponsors/{sponsor_id}/leads.json", None, ORGANISER),
        row(Method::GET, "/api/v1/events/{event}/leads.zip", None, ORGANISER),

        row(Method::GET, "/api/v1/events/{event}/erasure-notices", None, ORGANISER),
        row(Method::POST, "/api/v1/events/{event}/erasure-notices/{notice_id}/passed-on", None, ORGANISER),

        row(Method::GET, "/api/v1/me/{token}", None, HOLDER),
        row(Method::GET, "/api/v1/me/{token}/export", None, HOLDER),
        row(Method::GET, "/api/v1/me/{token}/badge.png", None, HOLDER),
        row(Method::GET, "/api/v1/me/{token}/badge.svg", None, HOLDER),
        row(Method::GET, "/api/v1/me/{token}/badge-print.svg", None, HOLDER),
        // A's receipt, by its id: through A's link only (B's link does not open A's receipt).
        row(Method::GET, "/api/v1/me/{token}/receipts/{receipt_id}", None, [404, 200, 404, 404, 404, 404, 404, 404, 404]),
        row(Method::PATCH, "/api/v1/me/{token}", Some(|_, _| json!({"company": "Matrix Ltd"})), HOLDER),
        row(Method::PUT, "/api/v1/me/{token}/consents", Some(keep_consent), HOLDER),
        // The manage page's own route: the same operation, recorded as channel `web`.
        row(Method::PUT, "/m/{token}/consents", Some(keep_consent), HOLDER),
        row(Method::POST, "/api/v1/me/{token}/restriction", None, HOLDER),
        row(Method::DELETE, "/api/v1/me/{token}/restriction", None, HOLDER),
        row(Method::DELETE, "/api/v1/me/{token}", None, HOLDER),
        // Public like pairing: the one-time link mailed to the new address is the credential (each
        // actor has its own).
        row(Method::POST, "/api/v1/email-changes/confirm", Some(confirm_email), EVERYONE),

        // Unpairing the browser kiosk revokes the caller's kiosk, if it has one, and clears the
        // cookie: for anyone else there is nothing to revoke. Near the end: it ends the kiosks the
        // rows above use.
        row(Method::POST, "/kiosk/unpair", None, [204; 9]),

        // Last: it ends the sessions the rows above use.
        row(Method::POST, "/api/v1/auth/logout", None, [401, 401, 401, 204, 204, 401, 401, 401, 401]),
    ]
}

fn login(world: &World, _: Actor) -> Value {
    json!({"email": world.organiser_email, "password": crate::common::PASSWORD})
}

fn new_event(_: &World, actor: Actor) -> Value {
    event_body(&format!("matrix-new-{}", actor_slug(actor)))
}

fn registration(_: &World, actor: Actor) -> Value {
    crate::common::registration_body(&format!("{}@registers.example", actor_slug(actor)))
}

fn page_registration(_: &World, actor: Actor) -> Value {
    crate::common::registration_body(&format!("{}@page.registers.example", actor_slug(actor)))
}

fn new_sponsor(_: &World, actor: Actor) -> Value {
    json!({"name": format!("Sponsor of {}", actor_slug(actor)), "privacy_policy_url": "https://sponsor.example/privacy"})
}

fn pairing(world: &World, actor: Actor) -> Value {
    json!({"code": world.pairing_codes[index(actor)], "device_name": "Matrix tablet"})
}

fn page_pairing(world: &World, actor: Actor) -> Value {
    json!({"code": world.page_pairing_codes[index(actor)]})
}

fn scan(world: &World, _: Actor) -> Value {
    json!({
        "badge_token": world.badge_token,
        "client_scan_id": Uuid::new_v4(),
        "scanned_at": time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap(),
    })
}

fn confirm_email(world: &World, actor: Actor) -> Value {
    json!({"token": world.email_change_tokens[index(actor)]})
}

fn booth_link_request(world: &World, _: Actor) -> Value {
    json!({"email": world.attendee_email})
}

fn booth_grant(world: &World, actor: Actor) -> Value {
    json!({"manage_token": world.manage_token[index(actor)], "notice_version": world.notice_version})
}

fn keep_consent(world: &World, _: Actor) -> Value {
    json!({"consents": [{"purpose": format!("sponsor:{}", world.sponsor_id), "granted": true}]})
}

fn index(actor: Actor) -> usize {
    ACTORS.iter().position(|a| *a == actor).unwrap()
}

fn actor_slug(actor: Actor) -> String {
    format!("{actor:?}").to_lowercase()
}

/// What each actor holds, and the identifiers of E's resources.
struct World {
    organiser_email: String,
    event_id: String,
    slug: String,
    spare_event_id: String,
    sponsor_id: String,
    spare_sponsor_id: String,
    spare_kiosk_id: String,
    lead_id: String,
    notice_id: String,
    /// The id of A's first consent receipt.
    receipt_id: String,
    /// A's badge.
    badge_token: String,
    /// S1's booth code.
    booth_code: String,
    /// E's privacy notice version.
    notice_version: i64,
    /// A's e-mail address, which only A, O and S1's kiosk may ever see.
    attendee_email: String,
    /// The secret each actor sends as a Bearer token.
    bearer: [Option<String>; 9],
    /// What each actor puts where a manage token goes.
    manage_token: [String; 9],
    /// A fresh pairing code for each actor.
    pairing_codes: Vec<String>,
    /// The same for the browser kiosk's pairing route.
    page_pairing_codes: Vec<String>,
    /// For each actor, the link token of an address change of an attendee of its own.
    email_change_tokens: Vec<String>,
}

impl World {
    async fn build(app: &TestApp) -> Self {
        let now = app.state.clock.now();
        let event = app.public_event("matrix").await;
        let organiser = &event.organiser.token;
        let [s1, s2, s3] = [0, 1, 2].map(|i| event.sponsors[i].clone());
        let other = app.organiser("Elsewhere").await;

        // An expired session of O: logged in longer ago than a session lasts.
        app.clock
            .set(now - app.state.config.session_ttl - time::Duration::minutes(1));
        let expired = app.session_token(&event.organiser.email).await;
        app.clock.set(now);

        let kiosk = app.kiosk(&event, &s1).await;
        let other_kiosk = app.kiosk(&event, &s2).await;
        let revoked = app.kiosk(&event, &s1).await;
        let response = app
            .delete(
                organiser,
                &format!("/api/v1/events/{}/kiosks/{}", event.id, revoked.id),
            )
            .await;
        assert_eq!(response.status(), 204);

        let spare_kiosk_id = app.unpaired_kiosk(&event, &s1).await["kiosk_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut pairing_codes = Vec::new();
        let mut page_pairing_codes = Vec::new();
        for _ in ACTORS {
            let created = app.unpaired_kiosk(&event, &s1).await;
            pairing_codes.push(created["pairing_code"].as_str().unwrap().to_owned());
            let created = app.unpaired_kiosk(&event, &s1).await;
            page_pairing_codes.push(created["pairing_code"].as_str().unwrap().to_owned());
        }

        let attendee_email = "ada@matrix.example".to_owned();
        let a = app.attendee(&event, &attendee_email, &[s1.as_str()]).await;
        let b = app
            .attendee(&event, "grace@matrix.example", &[s1.as_str()])
            .await;
        let c = app
            .attendee(&event, "erased@matrix.example", &[s1.as_str()])
            .await;
        let badge = |r: &Value| r["badge"]["token"].as_str().unwrap().to_owned();
        for attendee in [&a, &b, &c] {
            let (status, answer) = app.scan(&kiosk, &badge(attendee)).await;
            assert_eq!(
                (status, answer["outcome"].as_str()),
                (201, Some("accepted"))
            );
        }
        let lead_id = app
            .kiosk_leads(&kiosk)
            .await
            .iter()
            .find(|l| l["contact"]["email"] == attendee_email.as_str())
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();

        // An erasure notice: C's lead was exported, then C erased their data. The export is read
        // to its end: it streams, and records each batch's recipients only as it sends the batch,
        // so a response dropped at its headers may have recorded nobody.
        let csv = app.export_csv(&event, &s1).await.text().await.unwrap();
        assert!(csv.contains("erased@matrix.example"), "{csv}");
        let c_token = c["manage_token"].as_str().unwrap();
        let erased = app
            .anonymous(Method::DELETE, &format!("/api/v1/me/{c_token}"))
            .await;
        assert_eq!(erased.status(), 200);
        let notices: Value = app
            .get(
                organiser,
                &format!("/api/v1/events/{}/erasure-notices", event.id),
            )
            .await
            .json()
            .await
            .unwrap();
        let notice_id = notices[0]["id"].as_str().unwrap().to_owned();

        let spare_event = app.create_event(organiser, "matrix-spare").await;

        let mut email_change_tokens = Vec::new();
        for actor in ACTORS {
            let slug = actor_slug(actor);
            let changing = app
                .attendee(&event, &format!("{slug}@changing.example"), &[])
                .await;
            let new_address = format!("{slug}@changed.example");
            let response = app
                .patch(
                    changing["manage_token"].as_str().unwrap(),
                    &format!("/api/v1/me/{}", changing["manage_token"].as_str().unwrap()),
                    &json!({"email": new_address}),
                )
                .await;
            assert_eq!(response.status(), 200);
            let mail = app
                .outbox_mails()
                .into_iter()
                .rfind(|m| m.contains(&format!("To: {new_address}")))
                .unwrap();
            let token = mail.split_once("/confirm-email#").unwrap().1[..43].to_owned();
            email_change_tokens.push(token);
        }

        let manage = |r: &Value| r["manage_token"].as_str().unwrap().to_owned();
        let receipt_id = app
            .anonymous_json(&format!("/api/v1/me/{}", manage(&a)))
            .await["consent_history"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let booth_code: Value = app
            .get(
                organiser,
                &format!("/api/v1/events/{}/sponsors/{s1}", event.id),
            )
            .await
            .json()
            .await
            .unwrap();
        let booth_code = booth_code["booth_code"].as_str().unwrap().to_owned();
        // In the order of `ACTORS`.
        let bearer = [
            None,
            Some(manage(&a)),
            Some(manage(&b)),
            Some(organiser.clone()),
            Some(other.token.clone()),
            Some(kiosk.token.clone()),
            Some(other_kiosk.token.clone()),
            Some(revoked.token.clone()),
            Some(expired),
        ];
        // The shape of a manage token (43 characters of base64url), known to nobody.
        let guessed =
            format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())[..43].to_owned();
        let manage_token = bearer.clone().map(|t| t.unwrap_or_else(|| guessed.clone()));
        World {
            organiser_email: event.organiser.email.clone(),
            event_id: event.id.clone(),
            slug: event.slug.clone(),
            spare_event_id: spare_event["id"].as_str().unwrap().to_owned(),
            sponsor_id: s1,
            spare_sponsor_id: s3,
            spare_kiosk_id,
            lead_id,
            notice_id,
            receipt_id,
            badge_token: badge(&a),
            booth_code,
            notice_version: event.view["privacy_notice_version"].as_i64().unwrap(),
            attendee_email,
            bearer,
            manage_token,
            pairing_codes,
            page_pairing_codes,
            email_change_tokens,
        }
    }

    fn path(&self, template: &str, actor: Actor) -> String {
        template
            .replace("{event}", &self.event_id)
            .replace("{slug}", &self.slug)
            .replace("{page_slug}", &self.slug)
            .replace("{spare_event}", &self.spare_event_id)
            .replace("{sponsor_id}", &self.sponsor_id)
            .replace("{spare_sponsor}", &self.spare_sponsor_id)
            .replace("{spare_kiosk}", &self.spare_kiosk_id)
            .replace("{lead_id}", &self.lead_id)
            .replace("{notice_id}", &self.notice_id)
            .replace("{receipt_id}", &self.receipt_id)
            .replace("{code}", &self.booth_code)
            .replace("{token}", &self.manage_token[index(actor)])
    }

    /// What `actor` must never receive: A's contact and lead, unless it is A, O or S1's kiosk.
    fn secrets_from(&self, actor: Actor) -> Vec<&str> {
        match actor {
            Attendee | Organiser | Kiosk => vec![],
            _ => vec![&self.attendee_email, &self.lead_id],
        }
    }
}

/// The OpenAPI path a row's template stands for.
fn operation_path(template: &str) -> String {
    [
        ("{slug}", "{event}"),
        // The page route names the slug `slug`, as its page `/e/{slug}` does.
        ("{page_slug}", "{slug}"),
        ("{spare_event}", "{event}"),
        ("{spare_sponsor}", "{sponsor_id}"),
        ("{spare_kiosk}", "{kiosk_id}"),
    ]
    .iter()
    .fold(template.to_owned(), |path, (from, to)| {
        path.replace(from, to)
    })
}

#[tokio::test]
async fn every_operation_answers_each_actor_as_the_matrix_says() {
    let app = spawn_app_without_rate_limits().await;
    let world = World::build(&app).await;
    let matrix = matrix();

    // The table covers every operation the API documents, and nothing it does not.
    let document = app.anonymous_json("/api/openapi.json").await;
    let mut documented: Vec<String> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
                .map(move |method| format!("{} {path}", method.to_uppercase()))
        })
        .collect();
    let mut covered: Vec<String> = matrix
        .iter()
        .map(|r| format!("{} {}", r.method, operation_path(r.path)))
        .collect();
    documented.sort();
    covered.sort();
    covered.dedup();
    assert_eq!(
        covered, documented,
        "the matrix and the OpenAPI document differ"
    );

    // Refusals first, then successes in the table's order.
    let cells = matrix.iter().flat_map(|row| {
        ACTORS
            .iter()
            .enumerate()
            .map(move |(column, actor)| (row, *actor, row.expected[column]))
    });
    let (successes, refusals): (Vec<_>, Vec<_>) =
        cells.partition(|(_, _, expected)| (200..300).contains(expected));

    let mut failures = Vec::new();
    for (row, actor, expected) in refusals.into_iter().chain(successes) {
        let path = world.path(row.path, actor);
        let mut request = app.client.request(row.method.clone(), app.url(&path));
        if let Some(token) = &world.bearer[index(actor)] {
            request = request.bearer_auth(token);
        }
        if let Some(body) = row.body {
            request = request.json(&body(&world, actor));
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = content_type(&response);
        let body = String::from_utf8_lossy(&response.bytes().await.unwrap()).into_owned();
        let cell = format!("{} {} as {actor:?}", row.method, row.path);
        if status != expected {
            failures.push(format!("{cell}: expected {expected}, got {status}: {body}"));
        } else if status >= 400 && content_type != "application/problem+json" {
            failures.push(format!("{cell}: a {status} as {content_type}"));
        }
        // The OpenAPI document promises this answer too.
        let documented = &document["paths"][operation_path(row.path)]
            [row.method.as_str().to_lowercase()]["responses"][status.to_string()];
        if documented.is_null() {
            failures.push(format!("{cell}: {status} is not documented"));
        }
        if (200..300).contains(&status) {
            for secret in world.secrets_from(actor) {
                if body.contains(secret) {
                    failures.push(format!("{cell}: the answer holds {secret}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} cells differ from the matrix:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The operations that can return an attendee's personal data, or change it. From the instant
/// the event's data is due, each must refuse (409 `data_purged`, or 404 where the data is treated
/// as gone, or 401 where the credential expired with the data).
const PERSONAL_DATA: [&str; 22] = [
    "POST /api/v1/scans",
    "GET /api/v1/leads",
    "PATCH /api/v1/leads/{lead_id}",
    "GET /api/v1/leads.csv",
    "GET /api/v1/leads.json",
    "GET /api/v1/events/{event}/sponsors/{sponsor_id}/leads.csv",
    "GET /api/v1/events/{event}/sponsors/{sponsor_id}/leads.json",
    "GET /api/v1/events/{event}/leads.zip",
    "GET /api/v1/me/{token}",
    "GET /api/v1/me/{token}/export",
    "GET /api/v1/me/{token}/badge.png",
    "GET /api/v1/me/{token}/badge.svg",
    "GET /api/v1/me/{token}/badge-print.svg",
    "GET /api/v1/me/{token}/receipts/{receipt_id}",
    "PATCH /api/v1/me/{token}",
    "PUT /api/v1/me/{token}/consents",
    "PUT /m/{token}/consents",
    "POST /s/{code}/grant",
    "POST /api/v1/email-changes/confirm",
    "POST /api/v1/me/{token}/restriction",
    "DELETE /api/v1/me/{token}/restriction",
    "DELETE /api/v1/me/{token}",
];

/// Every operation of the OpenAPI document (the matrix covers them all, as the test above
/// checks), called once the event's data is due but before any purge has run, by each actor the
/// matrix lets in: those that can return personal data refuse, and no answer of any operation
/// holds an attendee's address or lead id. A new operation joins the matrix, and so this walk.
#[tokio::test]
async fn once_the_data_is_due_no_operation_releases_personal_data() {
    let app = spawn_app_without_rate_limits().await;
    let mut world = World::build(&app).await;
    let document = app.anonymous_json("/api/openapi.json").await;
    let view: Value = app
        .get(
            world.bearer[index(Organiser)].as_ref().unwrap(),
            &format!("/api/v1/events/{}", world.event_id),
        )
        .await
        .json()
        .await
        .unwrap();
    let due = time::OffsetDateTime::parse(
        view["purge_due_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    // To the second: the data is due at this instant, and nothing has been purged yet.
    app.clock.set(due);
    world.bearer[index(Organiser)] = Some(app.session_token(&world.organiser_email).await);
    let canaries = [
        world.attendee_email.clone(),
        "grace@matrix.example".to_owned(),
        world.lead_id.clone(),
    ];

    let mut failures = Vec::new();
    for row in matrix() {
        let operation = format!("{} {}", row.method, operation_path(row.path));
        let personal = PERSONAL_DATA.contains(&operation.as_str());
        // Each actor the matrix lets in (anonymous routes: the anonymous caller).
        for (column, actor) in ACTORS.iter().enumerate() {
            if !(200..300).contains(&row.expected[column]) {
                continue;
            }
            let mut request = app
                .client
                .request(row.method.clone(), app.url(&world.path(row.path, *actor)));
            if let Some(token) = &world.bearer[column] {
                request = request.bearer_auth(token);
            }
            if let Some(body) = row.body {
                request = request.json(&body(&world, *actor));
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body = String::from_utf8_lossy(&response.bytes().await.unwrap()).into_owned();
            let cell = format!("{operation} as {actor:?}");
            if personal && status < 400 {
                failures.push(format!("{cell}: {status} after the due date: {body}"));
            }
            if personal && status == 409 && !body.contains("\"data_purged\"") {
                failures.push(format!("{cell}: a 409 other than data_purged: {body}"));
            }
            for canary in &canaries {
                if body.contains(canary.as_str()) {
                    failures.push(format!("{cell}: the answer holds {canary}"));
                }
            }
            let documented = &document["paths"][operation_path(row.path)]
                [row.method.as_str().to_lowercase()]["responses"][status.to_string()];
            if documented.is_null() {
                failures.push(format!("{cell}: {status} is not documented"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} answers release data after the due date:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
