//! Where consent is enforced: scans at a booth.

use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::common::{TestApp, assert_problem, rows_mentioning_all, spawn_app};

async fn leads(app: &TestApp, token: &str) -> Vec<Value> {
    let page: Value = app.get(token, "/api/v1/leads").await.json().await.unwrap();
    page["leads"].as_array().unwrap().clone()
}

async fn registration_and_badge_ids(app: &TestApp, registration_id: &str) -> (String, String) {
    use sea_orm::EntityTrait;
    let r = consentry::registrations::entity::registration::Entity::find_by_id(
        registration_id.parse::<Uuid>().unwrap(),
    )
    .one(&app.db)
    .await
    .unwrap()
    .unwrap();
    (r.id.to_string(), r.badge_id.to_string())
}

#[tokio::test]
async fn a_consenting_attendee_becomes_a_lead_with_only_the_shared_fields() {
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let attendee = app
        .attendee(&event, "ada@example.org", &[&event.sponsors[0]])
        .await;
    let kiosk = app.kiosk(&event, &event.sponsors[0]).await;
    let (status, body) = app
        .scan(&kiosk, attendee["badge"]["token"].as_str().unwrap())
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["outcome"], "accepted");
    let contact = &body["lead"]["contact"];
    assert_eq!(contact["first_name"], "Ada");
    assert_eq!(contact["email"], "ada@example.org");
    assert_eq!(contact["company"], "Analytical Engines Ltd");
    assert!(
        contact.get("phone").is_none(),
        "phone was given but is not shared: {contact}"
    );
    assert_eq!(body["lead"]["scan_count"], 1);

    let listed = leads(&app, &kiosk.token).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], body["lead"]["id"]);
}

#[tokio::test]
async fn a_refused_scan_leaves_no_trace_linking_the_attendee_to_the_sponsor() {
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    // Consented to another sponsor only.
    let attendee = app
        .attendee(&event, "ada@example.org", &[&event.sponsors[1]])
        .await;
    let kiosk = app.kiosk(&event, &event.sponsors[0]).await;
    let badge = attendee["badge"]["token"].as_str().unwrap();
    let (status, body) = app.scan(&kiosk, badge).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"outcome": "refused", "reason": "no_consent"}),
        "the reason only"
    );

    assert!(leads(&app, &kiosk.token).await.is_empty());
    let (registration_id, badge_id) =
        registration_and_badge_ids(&app, attendee["registration_id"].as_str().unwrap()).await;
    for person in [&registration_id, &badge_id, &badge.to_owned()] {
        for booth in [&kiosk.sponsor_id, &kiosk.id] {
            let linked = rows_mentioning_all(&app.db, &[person, booth]).await;
            assert!(linked.is_empty(), "{person} linked to {booth}: {linked:?}");
        }
    }
    // Only anonymous counters remember it.
    let kiosks: Vec<Value> = app
        .get(
            &event.organiser.token,
            &format!("/api/v1/events/{}/kiosks", event.id),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(kiosks[0]["refused_scans"], 1);
    assert_eq!(app.count("scan_counters").await, 1);
}

#[tokio::test]
async fn the_same_scan_twice_gets_the_same_answer_and_stores_nothing_new() {
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let yes = app
        .attendee(&event, "yes@example.org", &[&event.sponsors[0]])
        .await;
    let no = app.attendee(&event, "no@example.org", &[]).await;
    let kiosk = app.kiosk(&event, &event.sponsors[0]).await;
    let now = OffsetDateTime::now_utc();

    let id = Uuid::new_v4();
    let first = app
        .scan_with(&kiosk, yes["badge"]["token"].as_str().unwrap(), id, now)
        .await;
    let second = app
        .scan_with(&kiosk, yes["badge"]["token"].as_str().unwrap(), id, now)
        .await;
    assert_eq!(first, second);
    assert_eq!(second.1["lead"]["scan_count"], 1);

    let refused_id = Uuid::new_v4();
    let first = app
        .scan_with(
            &kiosk,
            no["badge"]["token"].as_str().unwrap(),
            refused_id,
            now,
        )
        .await;
    let second = app
        .scan_with(
            &kiosk,
            no["badge"]["token"].as_str().unwrap(),
            refused_id,
            now,
        )
        .await;
    assert_eq!(first, second);
    assert_eq!(app.count("scan_requests").await, 2);
    let kiosks: Vec<Value> = app
        .get(
            &event.organiser.token,
            &format!("/api/v1/events/{}/kiosks", event.id),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            kiosks[0]["accepted_scans"].as_i64(),
            kiosks[0]["refused_scans"].as_i64()
        ),
        (Some(1), Some(1))
    );
}

#[tokio::test]
async fn a_badge_scanned_again_is_one_lead_with_a_count() {
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let attendee = app
        .attendee(&event, "ada@example.org", &[&event.sponsors[0]])
        .await;
    let kiosk = app.kiosk(&event, &event.sponsors[0]).await;
    let other_booth_device = app.kiosk(&event, &event.sponsors[0]).await;
    let badge = attendee["badge"]["token"].as_str().unwrap();
    let now = OffsetDateTime::now_utc();
    app.scan_with(&kiosk, badge, Uuid::new_v4(), now - Duration::minutes(30))
        .await;
    let (_, body) = app
        .scan_with(&other_booth_device, badge, Uuid::new_v4(), now)
        .await;
    assert_eq!(body["lead"]["scan_count"], 2);
    assert_eq!(app.count("leads").await, 1);
    let lead = &leads(&app, &kiosk.token).await[0];
    assert!(lead["first_scanned_at"].as_str() < lead["last_scanned_at"].as_str());
}

#[tokio::test]
async fn a_queued_scan_arriving_late_widens_the_lead_range_and_never_narrows_it() {
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let attendee = app
        .attendee(&event, "ada@example.org", &[&event.sponsors[0]])
        .await;
    let kiosk = app.kiosk(&event, &event.sponsors[0]).await;
    let badge = attendee["badge"]["token"].as_str().unwrap();
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let at = |minutes_ago: i64| now - Duration::minutes(minutes_ago);
    let range = |body: &serde_json::Value| {
        let parse = |field: &str| {
            OffsetDateTime::parse(
                body["lead"][field].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap()
        };
        (
            parse("first_scanned_at"),
            parse("last_scanned_at"),
            body["lead"]["scan_count"].as_i64().unwrap(),
        )
    };
    app.scan_with(&kiosk, badge, Uuid::new_v4(), at(30)).await;
    // An offline queue synced later: one scan from before the first, one between.
    let (_, earlier) = app.scan_with(&kiosk, badge, Uuid::new_v4(), at(90)).await;
    assert_eq!(range(&earlier), (at(90), at(30), 2));
    let (_, between) = app.scan_with(&kiosk, badge, Uuid::new_v4(), at(60)).await;
    assert_eq!(range(&between), (at(90), at(30), 3));
    let (_, later) = app.scan_with(&kiosk, badge, Uuid::new_v4(), at(5)).await;
    assert_eq!(range(&later), (at(90), at(5), 4));
}

#[tokio::test]
async fn withdrawing_consent_removes_the_lead_and_refuses_the_next_scan() {
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let attendee = app
        .attendee(&event, "ada@example.org", &[&event.sponsors[0]])
        .await;
    let kiosk = app.kiosk(&event, &event.sponsors[0]).await;
    let badge = attendee["badge"]["token"].as_str().unwrap();
    let accepted_id = Uuid::new_v4();
    let (status, _) = app
        .scan_with(&kiosk, badge, accepted_id, OffsetDateTime::now_utc())
        .await;
    assert_eq!(status, 201);

    let token = attendee["manage_token"].as_str().unwrap();
    let withdrawn = app.anonymous_json_request(reqwest::Method::PUT, &format!("/api/v1/me/{token}/consents"), &json!({"consents": [{"purpose": format!("sponsor:{}", event.sponsors[0]), "granted": false}]})).await;
    assert_eq!(withdrawn.status(), 200);

    assert!(
        leads(&app, &kiosk.token).await.is_empty(),
        "gone from the list at once"
    );
    assert_eq!(app.count("leads").await, 0);
    let (status, body) = app.scan(&kiosk, badge).await;
    assert_eq!((status, body["reason"].as_str()), (200, Some("no_consent")));
    // Replaying the earlier accepted scan hands out nothing any more.
    let (status, body) = app
        .scan_with(&kiosk, badge, accepted_id, OffsetDateTime::now_utc())
        .await;
    assert_eq!((status, body["reason"].as_str()), (200, Some("no_consent")));
    assert!(body.get("lead").is_none());
}

#[tokio::test]
async fn badges_of_other_events_forged_or_unknown_are_refused_with_their_reason() {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let other = app.public_event("other").await;
    let kiosk = app.kiosk(&event, &event.sponsors[0]).await;
    let elsewhere = app
        .attendee(&other, "ada@example.org", &[&other.sponsors[0]])
        .await;
    let elsewhere_badge = elsewhere["badge"]["token"].as_str().unwrap();
    assert_eq!(
        app.scan(&kiosk, elsewhere_badge).await.1["reason"],
        "wrong_event"
    );

    let here = app
        .attendee(&event, "bob@example.org", &[&event.sponsors[0]])
        .await;
    let genuine = here["badge"]["token"].as_str().unwrap();
    let (head, rest) = genuine.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(rest.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    let mut forged_claims = claims.clone();
    forged_claims["bid"] = json!(URL_SAFE_NO_PAD.encode(Uuid::new_v4().as_bytes()));
    let forged = format!(
        "{head}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(forged_claims.to_string())
    );
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
        rest.split('.').next().unwrap()
    );
    for bad in [forged.as_str(), unsigned.as_str(), "hello", ""] {
        assert_eq!(
            app.scan(&kiosk, bad).await.1["reason"],
            "invalid_badge",
            "{bad}"
        );
    }

    // Validly signed by this event's key, but no registration has it.
    let signer = consentry::keystore::badge_keys::current_signer(
        &app.keystore.db,
        &app.state.keys.master,
        event.id.parse().unwrap(),
    )
    .await
    .unwrap();
    let unknown = consentry::badges::badge_token(
        &signer,
        Uuid::new_v4(),
        event.id.parse().unwrap(),
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    assert_eq!(
        app.scan(&kiosk, &unknown).await.1["reason"],
        "unknown_badge"
    );
    assert_eq!(app.count("leads").await, 0);
}

#[tokio::test]
async fn scans_count_only_inside_the_window_by_the_scan_time_bounded_by_receipt() {
    let app = spawn_app().await;
    let event = app.public_event_starting("summit", Duration::days(7)).await;
    let attendee = app
        .attendee(&event, "ada@example.org", &[&event.sponsors[0]])
        .await;
    let kiosk = app.kiosk(&event, &event.sponsors[0]).await;
    let badge = attendee["badge"]["token"].as_str().unwrap();
    let starts_at = OffsetDateTime::parse(
        event.view["starts_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();

    // Today is a week early, even if the kiosk claims the scan happened at the start.
    let (_, body) = app
        .scan_with(&kiosk, badge, Uuid::new_v4(), starts_at)
        .await;
    assert_eq!(body["reason"], "outside_scan_window");
    // A day before the start it counts (the kiosk's token is long-lived enough).
    app.clock.set(starts_at - Duration::days(1));
    let (status, _) = app
        .scan_with(&kiosk, badge, Uuid::new_v4(), starts_at - Duration::days(1))
        .await;
    assert_eq!(status, 201);
    // A queued scan synced long after the event keeps its real (in-window) time.
    app.clock.set(starts_at + Duration::days(5));
    let (status, _) = app
        .scan_with(
            &kiosk,
            badge,
            Uuid::new_v4(),
            starts_at + Duration::hours(2),
        )
        .await;
    assert_eq!(status, 201);
    let (_, body) = app
        .scan_with(&kiosk, badge, Uuid::new_v4(), starts_at + Duration::days(4))
        .await;
    assert_eq!(body["reason"], "outside_scan_window");
}

#[tokio::test]
async fn a_restricted_attendee_is_refused_and_hidden_from_leads() {
    use sea_orm::{ActiveModelTrait, Set};
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let attendee = app
        .attendee(&event, "ada@example.org", &[&event.sponsors[0]])
        .await;
    let kiosk = app.kiosk(&event, &event.sponsors[0]).await;
    let badge = attendee["badge"]["token"].as_str().unwrap();
    assert_eq!(app.scan(&kiosk, badge).await.0, 201);

    let id: Uuid = attendee["registration_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let restrict =
        |at: Option<OffsetDateTime>| consentry::registrations::entity::registration::ActiveModel {
            id: Set(id.into()),
            restricted_at: Set(at),
            ..Default::default()
        };
    restrict(Some(
        OffsetDateTime::now_utc().replace_nanosecond(0).unwrap(),
    ))
    .update(&app.db)
    .await
    .unwrap();
    assert_eq!(app.scan(&kiosk, badge).await.1["reason"], "restricted");
    assert!(leads(&app, &kiosk.token).await.is_empty());

    restrict(None).update(&app.db).await.unwrap();
    assert_eq!(
        leads(&app, &kiosk.token).await.len(),
        1,
        "shown again once lifted"
    );
}

#[tokio::test]
async fn a_kiosk_rates_and_annotates_only_its_own_sponsors_leads() {
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let attendee = app
        .attendee(
            &event,
            "ada@example.org",
            &[&event.sponsors[0], &event.sponsors[1]],
        )
        .await;
    let mine = app.kiosk(&event, &event.sponsors[0]).await;
    let theirs = app.kiosk(&event, &event.sponsors[1]).await;
    let badge = attendee["badge"]["token"].as_str().unwrap();
    let (_, body) = app.scan(&mine, badge).await;
    let lead_id = body["lead"]["id"].as_str().unwrap();
    app.scan(&theirs, badge).await;
    assert_eq!(
        leads(&app, &theirs.token).await.len(),
        1,
        "each sponsor sees its own lead"
    );

    let path = format!("/api/v1/leads/{lead_id}");
    let patched = app
        .patch(
            &mine.token,
            &path,
            &json!({"rating": 4, "note": "Wants a demo in Q1 — canary-note-7731", "tags": ["hot", "demo"]}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let lead: Value = patched.json().await.unwrap();
    assert_eq!(
        (lead["rating"].as_i64(), lead["tags"].clone()),
        (Some(4), json!(["hot", "demo"]))
    );
    assert_eq!(
        leads(&app, &mine.token).await[0]["note"],
        "Wants a demo in Q1 — canary-note-7731"
    );
    assert!(
        rows_mentioning_all(&app.db, &["canary-note-7731"])
            .await
            .is_empty(),
        "notes are sealed"
    );

    let bad = app.patch(&mine.token, &path, &json!({"rating": 6})).await;
    assert_problem(bad, 422, "invalid_rating").await;
    let foreign = app.patch(&theirs.token, &path, &json!({"rating": 1})).await;
    assert_problem(foreign, 404, "not_found").await;
    let page = app.get(&mine.token, "/api/v1/leads?per_page=0").await;
    assert_problem(page, 400, "invalid_query").await;
}

#[tokio::test]
async fn revocation_and_withdrawal_hold_at_once_on_every_instance() {
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let attendee = app
        .attendee(&event, "ada@example.org", &[&event.sponsors[0]])
        .await;
    let other = app
        .attendee(&event, "bob@example.org", &[&event.sponsors[0]])
        .await;
    let kiosk = app.kiosk(&event, &event.sponsors[0]).await;
    let second = app.second_instance().await;
    let scan_on = |base: String, badge: String| {
        let client = app.client.clone();
        let token = kiosk.token.clone();
        async move {
            let response = client.post(format!("{base}/api/v1/scans")).bearer_auth(token)
                .json(&json!({"badge_token": badge, "client_scan_id": Uuid::new_v4(),
                    "scanned_at": OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap()}))
                .send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        }
    };
    let badge = attendee["badge"]["token"].as_str().unwrap().to_owned();
    // Both instances have seen this kiosk and this event's badge keys.
    assert_eq!(scan_on(app.base.clone(), badge.clone()).await.0, 201);
    assert_eq!(scan_on(second.clone(), badge.clone()).await.0, 201);

    // Withdrawn through the first instance: refused on the second at once.
    let token = attendee["manage_token"].as_str().unwrap();
    app.anonymous_json_request(
        reqwest::Method::PUT,
        &format!("/api/v1/me/{token}/consents"),
        &json!({"withdraw_all": true}),
    )
    .await;
    let (status, body) = scan_on(second.clone(), badge).await;
    assert_eq!((status, body["reason"].as_str()), (200, Some("no_consent")));

    // Revoked through the first instance: refused on the second at once.
    app.delete(
        &event.organiser.token,
        &format!("/api/v1/events/{}/kiosks/{}", event.id, kiosk.id),
    )
    .await;
    let (status, body) =
        scan_on(second, other["badge"]["token"].as_str().unwrap().to_owned()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("kiosk_revoked"))
    );
}

/// Regression: concurrent accepted scans once failed on SQLite with "database is locked" (a
/// deferred transaction cannot upgrade to a write lock), and a read-then-write count could lose
/// increments on PostgreSQL.
#[tokio::test]
async fn concurrent_scans_of_one_badge_all_succeed_and_all_count() {
    let app = spawn_app().await;
    let event = app.public_event("summit").await;
    let attendee = app
        .attendee(&event, "ada@example.org", &[&event.sponsors[0]])
        .await;
    let kiosks = [
        app.kiosk(&event, &event.sponsors[0]).await,
        app.kiosk(&event, &event.sponsors[0]).await,
    ];
    let badge = attendee["badge"]["token"].as_str().unwrap();
    let scans = (0..24).map(|i| app.scan(&kiosks[i % 2], badge));
    let results = futures_util::future::join_all(scans).await;
    for (status, body) in &results {
        assert_eq!(*status, 201, "{body}");
    }
    let listed = leads(&app, &kiosks[0].token).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["scan_count"], 24);
}
