//! The retention purge: on time to the second, complete, crypto-shredding, resumable, and safe with
//! several purgers on one database.

use consentry::{
    clock::Clock,
    leads,
    registrations::entity::{manage_token, registration},
    rights::email_change::entity as email_change,
    vault::{self, EventVault},
};
use reqwest::Method;
use sea_orm::{ColumnTrait, DbBackend, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use time::Duration;
use uuid::Uuid;

use crate::common::{PublicEvent, TestApp, registration_body, rows_mentioning_all, spawn_app};

fn manage_path(created: &Value) -> String {
    format!("/api/v1/me/{}", created["manage_token"].as_str().unwrap())
}

async fn registrations_of(app: &TestApp, event: &PublicEvent) -> usize {
    registration::Entity::find()
        .filter(registration::Column::EventId.eq(event.id.parse::<Uuid>().unwrap()))
        .all(&app.db)
        .await
        .unwrap()
        .len()
}

async fn purged_audit_entries(app: &TestApp, event: &PublicEvent) -> usize {
    consentry::audit::entity::Entity::find()
        .filter(consentry::audit::entity::Column::Action.eq("event_purged"))
        .filter(consentry::audit::entity::Column::EventId.eq(event.id.parse::<Uuid>().unwrap()))
        .all(&app.db)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn the_purge_is_due_at_the_instant_and_not_a_second_before() {
    let app = spawn_app().await;
    let mut event = app.public_event("boundary").await;
    // Ends a day later, so it is due a day later.
    let later = app
        .public_event_starting("later-event", Duration::days(1))
        .await;
    let sponsor = event.sponsors[0].clone();
    let kept = app.attendee(&event, "kept@example.org", &[&sponsor]).await;
    app.attendee(&event, "other@example.org", &[]).await;
    let other = app.attendee(&later, "later@example.org", &[]).await;
    let due = app.purge_due_at(&event).await;
    let sponsor_id = event.sponsors[0].clone();

    app.travel_to(due - Duration::seconds(1), &mut event).await;
    let report = app.purge().await;
    assert!(report.purged.is_empty(), "{report:?}");
    assert_eq!(registrations_of(&app, &event).await, 2);
    assert_eq!(
        app.anonymous(Method::GET, &manage_path(&kept))
            .await
            .status(),
        200
    );
    assert_eq!(app.export_csv(&event, &sponsor_id).await.status(), 200);

    app.travel_to(due, &mut event).await;
    // From the instant it is due the data is out of reach, before the purge has even run.
    assert_eq!(
        app.anonymous(Method::GET, &manage_path(&kept))
            .await
            .status(),
        404
    );
    crate::common::assert_problem(
        app.export_csv(&event, &sponsor_id).await,
        409,
        "data_purged",
    )
    .await;
    let report = app.purge().await;
    assert_eq!(report.purged.len(), 1);
    assert_eq!(report.purged[0].event_id.to_string(), event.id);
    assert_eq!(report.purged[0].registrations, 2);
    assert_eq!(registrations_of(&app, &event).await, 0);
    // The other event is not due yet and keeps everything.
    assert_eq!(registrations_of(&app, &later).await, 1);
    assert_eq!(
        app.anonymous(Method::GET, &manage_path(&other))
            .await
            .status(),
        200
    );

    let view = app.event_view(&event).await;
    assert_eq!(
        view["purged_at"],
        json!(
            due.format(&time::format_description::well_known::Rfc3339)
                .unwrap()
        )
    );
    // The dashboard keeps its anonymous figures.
    let stats = app.stats(&event).await;
    assert_eq!(stats["registrations"], 2);
    assert_eq!(stats["sponsors"][0]["opt_ins"], 1);
    assert_eq!(stats["sponsors"][0]["opt_in_rate"], 0.5);
    assert_eq!(stats["purged_at"], view["purged_at"]);
    assert_eq!(purged_audit_entries(&app, &event).await, 1);

    // Running again finds nothing to do.
    assert!(app.purge().await.purged.is_empty());
    assert_eq!(purged_audit_entries(&app, &event).await, 1);
}

/// Every row that could name the attendee, as ids and values to look for afterwards.
struct Traces {
    values: Vec<String>,
    ciphertexts: Vec<Vec<u8>>,
}

#[tokio::test]
async fn after_the_purge_no_trace_of_an_attendee_is_left_and_earlier_backups_stay_sealed() {
    let app = spawn_app().await;
    let mut event = app.public_event("canary").await;
    let event_id: Uuid = event.id.parse().unwrap();
    let sponsor = event.sponsors[0].clone();
    let kiosk = app.kiosk(&event, &sponsor).await;
    let other_kiosk = app.kiosk(&event, &event.sponsors[1]).await;
    let tag = Uuid::new_v4().simple().to_string();
    let (name, email, note) = (
        format!("Zyxcanary{}", &tag[..8]),
        format!("canary-{tag}@example.org"),
        format!("Canary note {tag}"),
    );
    let mut body = registration_body(&email);
    body["last_name"] = json!(name);
    body["sponsor_opt_ins"] = json!([sponsor]);
    let response = app.register(&event.slug, &body).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let badge = created["badge"]["token"].as_str().unwrap();
    assert_eq!(app.scan(&kiosk, badge).await.1["outcome"], "accepted");
    assert_eq!(app.scan(&other_kiosk, badge).await.1["outcome"], "refused");
    let lead_id = app.kiosk_leads(&kiosk).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.annotate(&kiosk, &lead_id, &note).await;
    let csv = app.export_csv(&event, &sponsor).await.text().await.unwrap();
    assert!(csv.contains(&name) && csv.contains(&note));
    // A change of address asked for and not confirmed: the new address waits, sealed.
    let new_email = format!("canary-new-{tag}@example.org");
    let asked = app
        .anonymous_json_request(
            reqwest::Method::PATCH,
            &manage_path(&created),
            &json!({"email": new_email}),
        )
        .await;
    assert_eq!(asked.status(), 200);
    assert!(
        app.outbox_mails().iter().any(|m| m.contains(&email)),
        "the confirmation mail is in the outbox"
    );
    assert!(
        app.outbox_mails().iter().any(|m| m.contains(&new_email)),
        "the link to confirm the new address is in the outbox"
    );

    // A booth link asked for at the other sponsor's booth and never used: its row names the
    // registration.
    let other_sponsor: Value = app
        .get(
            &event.organiser.token,
            &format!("/api/v1/events/{}/sponsors/{}", event.id, event.sponsors[1]),
        )
        .await
        .json()
        .await
        .unwrap();
    let booth_code = other_sponsor["booth_code"].as_str().unwrap();
    let asked = app
        .anonymous_json_request(
            reqwest::Method::POST,
            &format!("/api/v1/booths/{booth_code}/links"),
            &json!({"email": email}),
        )
        .await;
    assert_eq!(asked.status(), 202);
    // The link's mail is sent after the answer: it is in the outbox before the purge runs.
    let booth_mail = || {
        app.outbox_mails()
            .iter()
            .any(|m| m.contains(&format!("/s/{booth_code}#")))
    };
    for _ in 0..100 {
        if booth_mail() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(booth_mail(), "the booth link is in the outbox");

    // A backup of the main database, taken now: its sealed rows.
    let backup_registrations = registration::Entity::find()
        .filter(registration::Column::EventId.eq(event_id))
        .all(&app.db)
        .await
        .unwrap();
    let backup_leads = leads::entity::Entity::find()
        .filter(leads::entity::Column::EventId.eq(event_id))
        .all(&app.db)
        .await
        .unwrap();
    let r = &backup_registrations[0];
    let token_hash = manage_token::Entity::find()
        .filter(manage_token::Column::RegistrationId.eq(r.id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .token_hash;
    let pending = email_change::Entity::find()
        .filter(email_change::Column::RegistrationId.eq(r.id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let booth_link = consentry::booths::entity::Entity::find()
        .filter(consentry::booths::entity::Column::RegistrationId.eq(r.id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let wrapped_key = vault::entity::Entity::find_by_id(event_id)
        .one(&app.keystore.db)
        .await
        .unwrap()
        .unwrap()
        .data_key_wrapped;
    // While the key exists, the backup opens: the check below can fail.
    let open_backup = || async {
        let vault =
            EventVault::load(&app.keystore.db, &app.state.keys.master, event_id.into()).await?;
        let details = consentry::registrations::open_details(&vault, r)?;
        let annotations = leads::open_annotations(&vault, &backup_leads[0])?;
        Ok::<_, consentry::error::ApiError>((details, annotations))
    };
    let (details, annotations) = open_backup().await.unwrap();
    assert_eq!(details.last_name, name);
    assert_eq!(annotations.note.as_deref(), Some(note.as_str()));
    let traces = Traces {
        values: vec![
            name.clone(),
            email.clone(),
            note.clone(),
            r.id.to_string(),
            r.badge_id.to_string(),
            r.email_index.clone(),
            lead_id.clone(),
            token_hash,
            new_email.clone(),
            pending.id.to_string(),
            pending.token_hash.clone(),
            booth_link.id.to_string(),
            booth_link.token_hash.clone(),
        ],
        ciphertexts: vec![
            r.personal_data.clone(),
            pending.new_email.clone(),
            backup_leads[0].annotations.clone().unwrap(),
            wrapped_key,
        ],
    };

    let due = app.purge_due_at(&event).await;
    app.travel_to(due, &mut event).await;
    assert_eq!(app.purge().await.purged.len(), 1);

    // No row of any table, in either database, mentions the attendee.
    for value in &traces.values {
        assert_eq!(
            rows_mentioning_all(&app.db, &[value]).await,
            Vec::<String>::new()
        );
        assert_eq!(
            rows_mentioning_all(&app.keystore.db, &[value]).await,
            Vec::<String>::new()
        );
    }
    // The backup no longer opens: the key that sealed it is gone.
    assert!(open_backup().await.is_err());
    // Nothing is left in the outbox either.
    assert!(
        !app.outbox_mails()
            .iter()
            .any(|m| m.contains(&email) || m.contains(&new_email))
    );
    // The kiosks are revoked with the event.
    let (status, _) = app.scan(&kiosk, badge).await;
    assert_eq!(status, 401);

    // On SQLite: not even freed pages of the files keep the values or the ciphertexts.
    if app.db.get_database_backend() == DbBackend::Sqlite {
        let mut files = 0;
        for entry in std::fs::read_dir(&app.dir).unwrap() {
            let path = entry.unwrap().path();
            if !path.is_file() {
                continue;
            }
            files += 1;
            let bytes = std::fs::read(&path).unwrap();
            let found = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
            for value in &traces.values {
                assert!(!found(value.as_bytes()), "{value} in {}", path.display());
            }
            for sealed in &traces.ciphertexts {
                assert!(
                    !found(sealed),
                    "a ciphertext survives in {}",
                    path.display()
                );
            }
        }
        assert!(
            files >= 2,
            "the database and the key store files were searched"
        );
    }
}

#[tokio::test]
async fn an_interrupted_purge_resumes_to_the_same_end_state() {
    let app = spawn_app().await;
    let mut event = app.public_event("interrupted").await;
    let sponsor = event.sponsors[0].clone();
    let kiosk = app.kiosk(&event, &sponsor).await;
    for i in 0..24 {
        let created = app
            .attendee(&event, &format!("a{i}@example.org"), &[&sponsor])
            .await;
        app.scan(&kiosk, created["badge"]["token"].as_str().unwrap())
            .await;
    }
    let before = app.stats(&event).await;
    let due = app.purge_due_at(&event).await;
    app.travel_to(due, &mut event).await;

    // Cut the first purger off in the middle, as a crash would: no clean-up runs, and its
    // connections close (a pool of its own, as another process would have).
    let crashed_pool = consentry::db::connect(&app.database_url, Some(2))
        .await
        .unwrap();
    let mut first = consentry::retention::Purger::new(
        crashed_pool.clone(),
        app.keystore.clone(),
        std::sync::Arc::new(app.clock.clone()),
    );
    first.batch_size = 1;
    first.pause = std::time::Duration::ZERO;
    let running = tokio::spawn(async move {
        let (_stop, stopping) = tokio::sync::watch::channel(false);
        first.run_once(&stopping).await.unwrap()
    });
    while registrations_of(&app, &event).await == 24 {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    running.abort();
    let _ = running.await;
    crashed_pool.close().await.unwrap();
    let left = registrations_of(&app, &event).await;
    assert!(left > 0 && left < 24, "interrupted part-way ({left} left)");
    assert!(app.event_view(&event).await["purged_at"].is_null());
    // Already unreadable: the keys went before the first row.
    assert!(
        EventVault::load(
            &app.keystore.db,
            &app.state.keys.master,
            event.id.parse().unwrap()
        )
        .await
        .is_err()
    );

    // Another purger respects the crashed one's lease until it runs out…
    let report = app.purge().await;
    assert!(report.purged.is_empty());
    assert_eq!(report.busy, 1);
    assert_eq!(registrations_of(&app, &event).await, left);
    // …then takes over and finishes.
    let later = app.clock.now() + consentry::retention::DEFAULT_LEASE + Duration::seconds(1);
    app.travel_to(later, &mut event).await;
    let report = app.purge().await;
    assert_eq!(report.purged.len(), 1);
    assert_eq!(report.purged[0].registrations, 24);
    assert_eq!(registrations_of(&app, &event).await, 0);
    assert_eq!(app.count("scan_requests").await, 0);
    assert_eq!(app.count("leads").await, 0);
    assert_eq!(app.count("consent_ledger").await, 0);
    assert_eq!(purged_audit_entries(&app, &event).await, 1);
    let after = app.stats(&event).await;
    for field in ["registrations", "marketing_opt_ins"] {
        assert_eq!(after[field], before[field], "{field}");
    }
    for key in ["opt_ins", "leads", "scans_accepted"] {
        assert_eq!(
            after["sponsors"][0][key], before["sponsors"][0][key],
            "{key}"
        );
    }
    assert_eq!(after["sponsors"][0]["leads"], 24);
}

#[tokio::test]
async fn a_purge_asked_to_stop_stops_between_batches_and_the_next_run_finishes() {
    let app = spawn_app().await;
    let mut event = app.public_event("stopped").await;
    for i in 0..6 {
        app.attendee(&event, &format!("s{i}@example.org"), &[])
            .await;
    }
    let due = app.purge_due_at(&event).await;
    app.travel_to(due, &mut event).await;
    let (stop, stopping) = tokio::sync::watch::channel(true);
    let report = app.purger().run_once(&stopping).await.unwrap();
    assert!(report.stopped && report.purged.is_empty());
    drop(stop);
    // A stop lets go of the lease: the next run need not wait for it to run out.
    let report = app.purge().await;
    assert_eq!(report.purged.len(), 1);
    assert_eq!(registrations_of(&app, &event).await, 0);
}

#[tokio::test]
async fn concurrent_purgers_share_the_work_without_doing_any_twice() {
    let app = spawn_app().await;
    let mut events = Vec::new();
    for name in ["first", "second", "third"] {
        let event = app.public_event(&format!("{name}-due")).await;
        for i in 0..5 {
            app.attendee(
                &event,
                &format!("{name}{i}@example.org"),
                &[&event.sponsors[0]],
            )
            .await;
        }
        events.push(event);
    }
    let mut due = app.purge_due_at(&events[0]).await;
    for e in &events {
        due = due.max(app.purge_due_at(e).await);
    }
    app.clock.set(due);

    let mut one = app.purger();
    let mut two = app.purger();
    one.batch_size = 2;
    two.batch_size = 2;
    let (_stop, stopping) = tokio::sync::watch::channel(false);
    let (a, b) = tokio::join!(one.run_once(&stopping), two.run_once(&stopping));
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut purged: Vec<consentry::schema::ids::EventId> = a
        .purged
        .iter()
        .chain(&b.purged)
        .map(|p| p.event_id)
        .collect();
    purged.sort();
    let mut expected: Vec<consentry::schema::ids::EventId> =
        events.iter().map(|e| e.id.parse().unwrap()).collect();
    expected.sort();
    assert_eq!(
        purged, expected,
        "every event purged, none twice: {a:?} {b:?}"
    );
    for e in &events {
        assert_eq!(registrations_of(&app, e).await, 0);
        assert_eq!(purged_audit_entries(&app, e).await, 1);
    }
}

#[tokio::test]
async fn the_background_loop_purges_on_its_own_and_stops_on_shutdown() {
    let app = spawn_app().await;
    let mut event = app.public_event("background").await;
    app.attendee(&event, "bg@example.org", &[]).await;
    let due = app.purge_due_at(&event).await;
    app.travel_to(due, &mut event).await;
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(consentry::retention::run_periodically(
        app.purger(),
        std::time::Duration::from_millis(50),
        stopping,
    ));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while app.event_view(&event).await["purged_at"].is_null() {
        assert!(std::time::Instant::now() < deadline, "purged in time");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stop.send(true).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), running)
        .await
        .expect("the loop ends on shutdown")
        .unwrap();
}

#[tokio::test]
async fn retention_can_be_shortened_but_never_lengthened_once_the_event_has_ended() {
    let app = spawn_app().await;
    let mut event = app.public_event("shorten").await;
    let sponsor = event.sponsors[0].clone();
    let kiosk = app.kiosk(&event, &sponsor).await;
    let created = app.attendee(&event, "short@example.org", &[&sponsor]).await;
    let view = app.event_view(&event).await;
    let ends_at = time::OffsetDateTime::parse(
        view["ends_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    app.travel_to(ends_at + Duration::days(1), &mut event).await;
    let path = format!("/api/v1/events/{}", event.id);
    let response = app
        .patch(&event.organiser.token, &path, &json!({"retention_days": 5}))
        .await;
    assert_eq!(response.status(), 200);
    crate::common::assert_problem(
        app.patch(
            &event.organiser.token,
            &path,
            &json!({"retention_days": 10}),
        )
        .await,
        409,
        "event_ended",
    )
    .await;
    let later = (ends_at + Duration::days(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    crate::common::assert_problem(
        app.patch(&event.organiser.token, &path, &json!({"ends_at": later}))
            .await,
        409,
        "event_ended",
    )
    .await;
    assert_eq!(app.purge_due_at(&event).await, ends_at + Duration::days(5));
    assert!(app.purge().await.purged.is_empty());
    let response = app
        .patch(&event.organiser.token, &path, &json!({"retention_days": 1}))
        .await;
    assert_eq!(response.status(), 200);
    // Shortened to one day after the end: due now. The kiosk's token was issued to last until the
    // old date, yet nothing of the event's data is handed out any more.
    let (status, problem) = app
        .scan(&kiosk, created["badge"]["token"].as_str().unwrap())
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("data_purged"))
    );
    let leads = app.get(&kiosk.token, "/api/v1/leads").await;
    crate::common::assert_problem(leads, 409, "data_purged").await;
    assert_eq!(
        app.anonymous(Method::GET, &manage_path(&created))
            .await
            .status(),
        404
    );
    assert_eq!(app.purge().await.purged.len(), 1);
}
