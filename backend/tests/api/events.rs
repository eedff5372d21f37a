use serde_json::{Value, json};

use crate::common::{PASSWORD, assert_problem, event_body, spawn_app};

#[tokio::test]
async fn an_organiser_creates_reads_changes_and_deletes_an_event() {
    let app = spawn_app().await;
    let organiser = app.organiser("Acme").await;

    let response = app
        .post(
            &organiser.token,
            "/api/v1/events",
            &event_body("privacy-summit"),
        )
        .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let event: Value = response.json().await.unwrap();
    let id = event["id"].as_str().unwrap();
    assert_eq!(location, format!("/api/v1/events/{id}"));
    // Privacy-friendly defaults.
    assert_eq!(event["retention_days"], 30);
    assert_eq!(event["min_age"], 16);
    assert_eq!(event["privacy_notice_version"], 1);
    assert_eq!(
        event["shared_fields"],
        json!(["first_name", "last_name", "email", "company", "job_title"])
    );
    let ends_at = time::OffsetDateTime::parse(
        event["ends_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let purge = time::OffsetDateTime::parse(
        event["purge_due_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(purge - ends_at, time::Duration::days(30));

    let read: Value = app
        .get(&organiser.token, &location)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read, event);

    // Same notice: same version. New notice: next version.
    let same = app
        .patch(
            &organiser.token,
            &location,
            &json!({"name": "Privacy Summit 2026",
        "privacy_notice": "We process your registration to run the event."}),
        )
        .await;
    let same: Value = same.json().await.unwrap();
    assert_eq!(same["name"], "Privacy Summit 2026");
    assert_eq!(same["privacy_notice_version"], 1);
    let changed: Value = app
        .patch(
            &organiser.token,
            &location,
            &json!({"privacy_notice": "A new notice."}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(changed["privacy_notice_version"], 2);
    assert_eq!(
        changed["name"], "Privacy Summit 2026",
        "omitted fields stay"
    );

    let list: Vec<Value> = app
        .get(&organiser.token, "/api/v1/events")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 1);

    assert_eq!(app.delete(&organiser.token, &location).await.status(), 204);
    assert_problem(app.get(&organiser.token, &location).await, 404, "not_found").await;
    assert_problem(
        app.delete(&organiser.token, &location).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn each_invalid_setting_is_refused_with_its_code_and_field() {
    let app = spawn_app().await;
    let organiser = app.organiser("Acme").await;
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        ("slug", json!("Bad Slug"), "invalid_slug", "slug"),
        (
            "slug",
            json!("0192f3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b"),
            "invalid_slug",
            "slug",
        ),
        (
            "ends_at",
            json!("2020-01-01T00:00:00Z"),
            "ends_before_start",
            "ends_at",
        ),
        (
            "retention_days",
            json!(31),
            "invalid_retention",
            "retention_days",
        ),
        (
            "retention_days",
            json!(-1),
            "invalid_retention",
            "retention_days",
        ),
        ("min_age", json!(12), "invalid_min_age", "min_age"),
        ("min_age", json!(22), "invalid_min_age", "min_age"),
        (
            "time_zone",
            json!("Europe/Atlantis"),
            "invalid_time_zone",
            "time_zone",
        ),
        ("name", json!("x".repeat(201)), "too_long", "name"),
        ("name", json!("  "), "too_short", "name"),
        // A noncharacter is not allowed in XML: this name would break every printable badge.
        (
            "name",
            json!("Privacy Summit \u{FFFF}"),
            "invalid_characters",
            "name",
        ),
        (
            "venue",
            json!("\u{202E}madretsmA"),
            "invalid_characters",
            "venue",
        ),
        (
            "name",
            json!("Summit, tickets at https://evil.example"),
            "address_in_name",
            "name",
        ),
        (
            "privacy_notice",
            json!("We process\u{2028}your data."),
            "invalid_characters",
            "privacy_notice",
        ),
        ("privacy_notice", json!(""), "too_short", "privacy_notice"),
        (
            "shared_fields",
            json!([]),
            "no_shared_fields",
            "shared_fields",
        ),
        (
            "shared_fields",
            json!(["shoe_size"]),
            "invalid_value",
            "shared_fields[0]",
        ),
        (
            "starts_at",
            json!("next tuesday"),
            "invalid_value",
            "starts_at",
        ),
    ];
    for (field, value, code, reported) in cases {
        let mut body = event_body("valid-slug");
        body[field] = value;
        let response = app.post(&organiser.token, "/api/v1/events", &body).await;
        let problem = assert_problem(response, 422, code).await;
        assert_eq!(problem["field"], reported, "{field}: {problem}");
    }
    let list: Vec<Value> = app
        .get(&organiser.token, "/api/v1/events")
        .await
        .json()
        .await
        .unwrap();
    assert!(list.is_empty(), "no refused event was stored");
}

#[tokio::test]
async fn slugs_are_unique_across_organisations() {
    let app = spawn_app().await;
    let acme = app.organiser("Acme").await;
    let globex = app.organiser("Globex").await;
    app.create_event(&acme.token, "summit").await;
    let taken = app
        .post(&globex.token, "/api/v1/events", &event_body("summit"))
        .await;
    let problem = assert_problem(taken, 409, "slug_taken").await;
    assert_eq!(problem["field"], "slug");

    let other = app.create_event(&acme.token, "other").await;
    let path = format!("/api/v1/events/{}", other["id"].as_str().unwrap());
    assert_problem(
        app.patch(&acme.token, &path, &json!({"slug": "summit"}))
            .await,
        409,
        "slug_taken",
    )
    .await;
}

#[tokio::test]
async fn after_an_event_ends_its_data_can_only_be_kept_shorter() {
    let app = spawn_app().await;
    let organiser = app.organiser("Acme").await;
    let event = app.create_event(&organiser.token, "ended").await;
    let path = format!("/api/v1/events/{}", event["id"].as_str().unwrap());
    let ends_at = time::OffsetDateTime::parse(
        event["ends_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();

    app.clock.set(ends_at);
    // Days have passed: a fresh session.
    let login: Value = app
        .login(&organiser.email, PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let organiser = crate::common::Organiser {
        token: login["token"].as_str().unwrap().to_owned(),
        ..organiser
    };
    let later = (ends_at + time::Duration::hours(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let moved = app
        .patch(&organiser.token, &path, &json!({"ends_at": later}))
        .await;
    assert_problem(moved, 409, "event_ended").await;
    let shorter = app
        .patch(&organiser.token, &path, &json!({"retention_days": 7}))
        .await;
    assert_eq!(shorter.status(), 200);
    let longer = app
        .patch(&organiser.token, &path, &json!({"retention_days": 8}))
        .await;
    let problem = assert_problem(longer, 409, "event_ended").await;
    assert_eq!(problem["field"], "retention_days");
    let read: Value = app.get(&organiser.token, &path).await.json().await.unwrap();
    assert_eq!(read["retention_days"], 7);
    assert_eq!(read["ends_at"], event["ends_at"]);
}

/// Every mail in the outbox that is not one of `before`, waiting up to ten seconds for `expected`
/// of them: registrants are mailed after the change has been answered.
async fn new_mails(
    app: &crate::common::TestApp,
    before: &[String],
    expected: usize,
) -> Vec<String> {
    let fresh = || -> Vec<String> {
        app.outbox_mails()
            .into_iter()
            .filter(|m| !before.contains(m))
            .collect()
    };
    for _ in 0..100 {
        if fresh().len() >= expected {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    fresh()
}

async fn retention_extended_entries(app: &crate::common::TestApp) -> Vec<Option<i64>> {
    use sea_orm::{ActiveEnum, ColumnTrait, EntityTrait, QueryFilter};
    consentry::audit::entity::Entity::find()
        .filter(consentry::audit::entity::Column::Action.eq("retention_extended"))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            assert_eq!(e.actor_kind.to_value(), "organiser");
            assert!(e.subject_id.is_none());
            e.count
        })
        .collect()
}

/// Moving the end of an event later moves the deletion of its attendees' data later: each
/// registrant is mailed the new date, and the change is audited with the number told. Moving it
/// earlier, or changing anything else, tells nobody.
#[tokio::test]
async fn keeping_registrants_data_longer_tells_each_of_them_the_new_deletion_date() {
    let app = spawn_app().await;
    let event = app.public_event("extended").await;
    let mut ada = crate::common::registration_body("ada@extended.example");
    ada["first_name"] = json!("Ada");
    let mut grace = crate::common::registration_body("grace@extended.example");
    grace["first_name"] = json!("Grace");
    let mut created = Vec::new();
    for body in [&ada, &grace] {
        let response = app.register(&event.slug, body).await;
        assert_eq!(response.status(), 201);
        created.push(response.json::<Value>().await.unwrap());
    }
    let before = app.outbox_mails();
    assert_eq!(before.len(), 2, "the two confirmations");
    let path = format!("/api/v1/events/{}", event.id);
    let view = app.event_view(&event).await;
    let fmt = &time::format_description::well_known::Rfc3339;
    let ends_at = time::OffsetDateTime::parse(view["ends_at"].as_str().unwrap(), fmt).unwrap();
    let old_due = app.purge_due_at(&event).await;

    let later = (ends_at + time::Duration::days(1)).format(fmt).unwrap();
    let response = app
        .patch(&event.organiser.token, &path, &json!({"ends_at": later}))
        .await;
    assert_eq!(response.status(), 200);
    let new_due = app.purge_due_at(&event).await;
    assert_eq!(new_due, old_due + time::Duration::days(1));
    let date = new_due
        .format(time::macros::format_description!(
            "[day] [month repr:long] [year], [hour]:[minute] UTC"
        ))
        .unwrap();

    let mails = new_mails(&app, &before, 2).await;
    assert_eq!(mails.len(), 2, "one mail per registrant: {mails:?}");
    for (address, first_name, registration) in [
        ("ada@extended.example", "Ada", &created[0]),
        ("grace@extended.example", "Grace", &created[1]),
    ] {
        let mine: Vec<&String> = mails
            .iter()
            .filter(|m| m.contains(&format!("To: {address}")))
            .collect();
        assert_eq!(mine.len(), 1, "{address}: {mails:?}");
        let mail = mine[0];
        assert!(mail.contains(&format!("Hello {first_name},")), "{mail}");
        assert!(mail.contains(&date), "{date} not in {mail}");
        assert!(mail.contains("Privacy Summit"), "{mail}");
        let other = if first_name == "Ada" {
            "grace@"
        } else {
            "ada@"
        };
        assert!(!mail.contains(other), "{mail}");
        assert!(
            !mail.contains(created[0]["manage_token"].as_str().unwrap())
                && !mail.contains(created[1]["manage_token"].as_str().unwrap()),
            "no manage link: only its hash is kept"
        );
        // Filed with the registration, so an erasure takes it along.
        let id = registration["registration_id"].as_str().unwrap();
        assert_eq!(
            std::fs::read_dir(app.outbox.join(&event.id))
                .unwrap()
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(id))
                .count(),
            2
        );
    }
    assert_eq!(retention_extended_entries(&app).await, [Some(2)]);
    let audit = crate::common::dump_audit(&app).await;
    for personal in ["ada@", "grace@", "Ada", "Grace"] {
        assert!(!audit.contains(personal), "{personal} in the audit log");
    }

    // Earlier, back where it was; other fields; the same end again: nobody is told.
    let told = app.outbox_mails();
    let earlier = ends_at.format(fmt).unwrap();
    for change in [
        json!({"ends_at": earlier}),
        json!({"venue": "Rotterdam", "name": "Privacy Summit II"}),
        json!({"ends_at": earlier, "retention_days": 20}),
    ] {
        let response = app.patch(&event.organiser.token, &path, &change).await;
        assert_eq!(response.status(), 200, "{change}");
    }
    // A longer retention is an extension too (and proves the quiet changes sent nothing: their
    // mails would have come before this one's).
    let response = app
        .patch(
            &event.organiser.token,
            &path,
            &json!({"retention_days": 25}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let mails = new_mails(&app, &told, 2).await;
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert!(mails.iter().all(|m| m.contains("Privacy Summit II")));
    assert_eq!(retention_extended_entries(&app).await, [Some(2), Some(2)]);
}

/// An event nobody registered for is extended silently, and the audit says so.
#[tokio::test]
async fn extending_an_event_without_registrants_mails_nobody() {
    let app = spawn_app().await;
    let event = app.public_event("empty").await;
    let response = app
        .patch(
            &event.organiser.token,
            &format!("/api/v1/events/{}", event.id),
            &json!({"retention_days": 30, "min_age": 18}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let view = app.event_view(&event).await;
    let fmt = &time::format_description::well_known::Rfc3339;
    let ends_at = time::OffsetDateTime::parse(view["ends_at"].as_str().unwrap(), fmt).unwrap();
    let later = (ends_at + time::Duration::days(1)).format(fmt).unwrap();
    let response = app
        .patch(
            &event.organiser.token,
            &format!("/api/v1/events/{}", event.id),
            &json!({"ends_at": later}),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(app.outbox_mails().is_empty());
    assert!(retention_extended_entries(&app).await.is_empty());
}

/// The organiser writes the privacy notice per language: a Dutch reader is shown the Dutch one
/// (and told which language it is in), or the English one where there is none; changing either
/// is a new notice version, so a page showing the old text cannot register anyone.
#[tokio::test]
async fn the_privacy_notice_is_shown_in_the_readers_language_where_the_organiser_wrote_it() {
    let app = spawn_app().await;
    let organiser = app.organiser("Acme").await;
    let mut body = event_body("tweetalig");
    body["privacy_notice_nl"] = json!("Wij verwerken je aanmelding om het evenement te houden.");
    let created: Value = app
        .post(&organiser.token, "/api/v1/events", &body)
        .await
        .json()
        .await
        .unwrap();
    let event_id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created["privacy_notice_nl"],
        "Wij verwerken je aanmelding om het evenement te houden."
    );
    let dutch = app.anonymous_json("/api/v1/events/tweetalig?lang=nl").await;
    assert_eq!(
        (
            dutch["privacy_notice"].as_str(),
            dutch["privacy_notice_language"].as_str()
        ),
        (
            Some("Wij verwerken je aanmelding om het evenement te houden."),
            Some("nl")
        )
    );
    let english = app.anonymous_json("/api/v1/events/tweetalig?lang=en").await;
    assert_eq!(
        (
            english["privacy_notice"].as_str(),
            english["privacy_notice_language"].as_str()
        ),
        (
            Some("We process your registration to run the event."),
            Some("en")
        )
    );

    let path = format!("/api/v1/events/{event_id}");
    let changed: Value = app
        .patch(
            &organiser.token,
            &path,
            &json!({"privacy_notice_nl": "Nieuwe tekst."}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(changed["privacy_notice_version"], 2);
    // Removed: Dutch readers are shown the English notice, said to be English.
    let removed: Value = app
        .patch(&organiser.token, &path, &json!({"privacy_notice_nl": null}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(removed["privacy_notice_version"], 3);
    assert!(removed["privacy_notice_nl"].is_null());
    let dutch = app.anonymous_json("/api/v1/events/tweetalig?lang=nl").await;
    assert_eq!(dutch["privacy_notice_language"], "en");
    // Saving the same text again changes nothing.
    let same: Value = app
        .patch(&organiser.token, &path, &json!({"privacy_notice_nl": null}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(same["privacy_notice_version"], 3);
}
