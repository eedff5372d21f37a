//! Deleting an event: crypto-shredding like the retention purge (keys first, then rows, mails and
//! an audit entry), so that a backup of the main database taken before the deletion stays sealed;
//! and resumable when interrupted.

use consentry::{
    badges, keystore, leads,
    registrations::{self, entity::registration},
    vault::{self, EventVault},
};
use reqwest::Method;
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, Statement};
use serde_json::Value;
use uuid::Uuid;

use crate::common::{PublicEvent, TestApp, rows_mentioning_all, spawn_app};

fn manage_path(created: &Value) -> String {
    format!("/api/v1/me/{}", created["manage_token"].as_str().unwrap())
}

fn id_of(event: &PublicEvent) -> Uuid {
    event.id.parse().unwrap()
}

async fn delete(app: &TestApp, event: &PublicEvent) -> reqwest::Response {
    app.delete(
        &event.organiser.token,
        &format!("/api/v1/events/{}", event.id),
    )
    .await
}

/// The event's rows in the key store: (data keys, badge keys).
async fn keys_of(app: &TestApp, event_id: Uuid) -> (usize, usize) {
    let data_keys = vault::entity::Entity::find()
        .filter(vault::entity::Column::EventId.eq(event_id))
        .all(&app.keystore.db)
        .await
        .unwrap()
        .len();
    let badge_keys = badges::entity::Entity::find()
        .filter(badges::entity::Column::EventId.eq(event_id))
        .all(&app.keystore.db)
        .await
        .unwrap()
        .len();
    (data_keys, badge_keys)
}

async fn registrations_of(app: &TestApp, event_id: Uuid) -> Vec<registration::Model> {
    registration::Entity::find()
        .filter(registration::Column::EventId.eq(event_id))
        .all(&app.db)
        .await
        .unwrap()
}

async fn deletion_audit_entries(app: &TestApp, event_id: Uuid) -> usize {
    consentry::audit::entity::Entity::find()
        .filter(consentry::audit::entity::Column::Action.eq("event_deleted"))
        .filter(consentry::audit::entity::Column::EventId.eq(event_id))
        .all(&app.db)
        .await
        .unwrap()
        .len()
}

/// Every row of the main database that mentions the event, outside the audit log (which keeps
/// ids only, by design).
async fn rows_of_event(app: &TestApp, event_id: Uuid) -> Vec<String> {
    rows_mentioning_all(&app.db, &[&event_id.to_string()])
        .await
        .into_iter()
        .filter(|row| !row.starts_with("audit_events:"))
        .collect()
}

fn outbox_of(app: &TestApp, event_id: Uuid) -> std::path::PathBuf {
    app.outbox.join(event_id.to_string())
}

/// An event with an attendee who opted in to a sponsor, was scanned and annotated, and a second
/// event of another organisation that must survive the deletion.
struct Scene {
    event: PublicEvent,
    other: PublicEvent,
    created: Value,
    other_created: Value,
}

async fn scene(app: &TestApp) -> Scene {
    let event = app.public_event("doomed").await;
    let other = app.public_event("survivor").await;
    let sponsor = event.sponsors[0].clone();
    let kiosk = app.kiosk(&event, &sponsor).await;
    let created = app
        .attendee(&event, "doomed@example.org", &[&sponsor])
        .await;
    app.attendee(&event, "doomed2@example.org", &[]).await;
    let badge = created["badge"]["token"].as_str().unwrap();
    assert_eq!(app.scan(&kiosk, badge).await.1["outcome"], "accepted");
    let lead_id = app.kiosk_leads(&kiosk).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.annotate(&kiosk, &lead_id, "Wants a demo").await;
    let other_created = app
        .attendee(&other, "survivor@example.org", &[&other.sponsors[0]])
        .await;
    Scene {
        event,
        other,
        created,
        other_created,
    }
}

#[tokio::test]
async fn deleting_an_event_destroys_its_keys_rows_and_mails_and_is_audited() {
    let app = spawn_app().await;
    let Scene {
        event,
        other,
        created,
        other_created,
    } = scene(&app).await;
    let (event_id, other_id) = (id_of(&event), id_of(&other));
    assert_eq!(keys_of(&app, event_id).await, (1, 1));
    assert!(outbox_of(&app, event_id).is_dir(), "the event has mails");
    let registration_ids: Vec<String> = registrations_of(&app, event_id)
        .await
        .iter()
        .map(|r| r.id.to_string())
        .collect();

    let response = delete(&app, &event).await;
    assert_eq!(response.status(), 204);

    // The key store keeps nothing of the event: no data key, no badge key.
    assert_eq!(keys_of(&app, event_id).await, (0, 0));
    // No row of the main database refers to it, except the audit log's ids.
    assert_eq!(rows_of_event(&app, event_id).await, Vec::<String>::new());
    // Nor to its registrations (manage tokens, consent grants refer to those only).
    for id in &registration_ids {
        assert_eq!(
            rows_mentioning_all(&app.db, &[id]).await,
            Vec::<String>::new()
        );
    }
    // Its mails are gone from the outbox; the other event's stay.
    assert!(!outbox_of(&app, event_id).exists(), "the event's outbox");
    assert!(outbox_of(&app, other_id).is_dir());
    // The deletion is in the audit log.
    assert_eq!(deletion_audit_entries(&app, event_id).await, 1);

    // Nothing of the event is served any more.
    assert_eq!(delete(&app, &event).await.status(), 404);
    assert_eq!(
        app.get(
            &event.organiser.token,
            &format!("/api/v1/events/{}", event.id)
        )
        .await
        .status(),
        404
    );
    assert_eq!(
        app.anonymous(Method::GET, &format!("/api/v1/events/{}", event.slug))
            .await
            .status(),
        404
    );
    assert_eq!(
        app.anonymous(Method::GET, &manage_path(&created))
            .await
            .status(),
        404
    );
    // The other event keeps everything.
    assert_eq!(keys_of(&app, other_id).await, (1, 1));
    assert_eq!(registrations_of(&app, other_id).await.len(), 1);
    assert_eq!(
        app.anonymous(Method::GET, &manage_path(&other_created))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_backup_taken_before_a_deletion_cannot_be_opened_with_any_key_left() {
    let app = spawn_app().await;
    let Scene { event, .. } = scene(&app).await;
    let event_id = id_of(&event);

    // A backup of the main database, taken now: its sealed rows.
    let backup = registrations_of(&app, event_id).await;
    let backup_leads = leads::entity::Entity::find()
        .filter(leads::entity::Column::EventId.eq(event_id))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!((backup.len(), backup_leads.len()), (2, 1));
    // Try every data key the key store holds on every sealed value of the backup.
    let opened_with_surviving_keys = || async {
        let mut opened = 0;
        for key in vault::entity::Entity::find()
            .all(&app.keystore.db)
            .await
            .unwrap()
        {
            let vault = EventVault::load(&app.keystore.db, &app.state.keys.master, key.event_id)
                .await
                .unwrap();
            opened += backup
                .iter()
                .filter(|r| registrations::open_details(&vault, r).is_ok())
                .count();
            opened += backup_leads
                .iter()
                .filter(|l| leads::open_annotations(&vault, l).is_ok())
                .count();
        }
        opened
    };
    // While the event's key exists, the backup opens: the check below can fail.
    assert_eq!(opened_with_surviving_keys().await, 3);

    assert_eq!(delete(&app, &event).await.status(), 204);

    assert!(
        !vault::entity::Entity::find()
            .all(&app.keystore.db)
            .await
            .unwrap()
            .is_empty(),
        "the other event's key survives, and is tried"
    );
    assert_eq!(opened_with_surviving_keys().await, 0);
    assert!(
        EventVault::load(&app.keystore.db, &app.state.keys.master, event_id.into())
            .await
            .is_err()
    );
}

/// Mark the event deleted and destroy its keys — the first steps of a deletion — as a process
/// killed right after them would leave it.
async fn interrupt_a_deletion(app: &TestApp, event_id: Uuid) {
    let backend = app.db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => "UPDATE events SET deleted_at = $1 WHERE id = $2",
        _ => "UPDATE events SET deleted_at = ? WHERE id = ?",
    };
    app.db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [app.state.clock.now().into(), event_id.into()],
        ))
        .await
        .unwrap();
    keystore::destroy_event_keys(&app.keystore.db, event_id.into())
        .await
        .unwrap();
}

#[tokio::test]
async fn an_interrupted_deletion_is_not_served_and_the_purge_finishes_it() {
    let app = spawn_app().await;
    let Scene {
        event,
        other,
        created,
        ..
    } = scene(&app).await;
    let event_id = id_of(&event);
    interrupt_a_deletion(&app, event_id).await;

    // Marked: gone for everyone at once, though its rows are still there.
    assert_eq!(registrations_of(&app, event_id).await.len(), 2);
    assert_eq!(
        app.get(
            &event.organiser.token,
            &format!("/api/v1/events/{}", event.id)
        )
        .await
        .status(),
        404
    );
    let listed: Value = app
        .get(&event.organiser.token, "/api/v1/events")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed, serde_json::json!([]));
    assert_eq!(
        app.anonymous(Method::GET, &format!("/api/v1/events/{}", event.slug))
            .await
            .status(),
        404
    );
    assert_eq!(
        app.anonymous(Method::GET, &manage_path(&created))
            .await
            .status(),
        404
    );

    // The purge loop's next run finishes the deletion, although the event is not due.
    app.purge().await;
    assert_eq!(rows_of_event(&app, event_id).await, Vec::<String>::new());
    assert_eq!(keys_of(&app, event_id).await, (0, 0));
    assert!(!outbox_of(&app, event_id).exists());
    // The other event is not touched.
    assert_eq!(registrations_of(&app, id_of(&other)).await.len(), 1);
    assert_eq!(keys_of(&app, id_of(&other)).await, (1, 1));
}

#[tokio::test]
async fn a_repeated_delete_finishes_an_interrupted_deletion() {
    let app = spawn_app().await;
    let Scene { event, .. } = scene(&app).await;
    let event_id = id_of(&event);
    interrupt_a_deletion(&app, event_id).await;

    assert_eq!(delete(&app, &event).await.status(), 204);
    assert_eq!(rows_of_event(&app, event_id).await, Vec::<String>::new());
    assert_eq!(keys_of(&app, event_id).await, (0, 0));
    assert!(!outbox_of(&app, event_id).exists());
    assert_eq!(delete(&app, &event).await.status(), 404);
}
