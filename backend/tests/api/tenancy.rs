//! Least privilege between tenants: an organiser of one organisation can neither see nor change
//! another's events or sponsors, and cannot even learn that they exist (404, never 403).

use serde_json::{Value, json};

use crate::common::{assert_problem, event_body, spawn_app};

#[tokio::test]
async fn an_organiser_cannot_see_or_change_another_organisations_events_or_sponsors() {
    let app = spawn_app().await;
    let a = app.organiser("Acme").await;
    let b = app.organiser("Globex").await;
    let event = app.create_event(&a.token, "acme-summit").await;
    let event_id = event["id"].as_str().unwrap();
    let sponsor = app.create_sponsor(&a.token, event_id, "Initech").await;
    let event_path = format!("/api/v1/events/{event_id}");
    let sponsors_path = format!("{event_path}/sponsors");
    let sponsor_path = format!("{sponsors_path}/{}", sponsor["id"].as_str().unwrap());

    // B's view: nothing there.
    let listed: Vec<Value> = app
        .get(&b.token, "/api/v1/events")
        .await
        .json()
        .await
        .unwrap();
    assert!(listed.is_empty());
    let absent = format!("/api/v1/events/{}", uuid::Uuid::now_v7());
    let absent_body = assert_problem(app.get(&b.token, &absent).await, 404, "not_found").await;
    for response in [
        app.get(&b.token, &event_path).await,
        app.patch(&b.token, &event_path, &json!({"name": "Hijacked"}))
            .await,
        app.delete(&b.token, &event_path).await,
        app.get(&b.token, &sponsors_path).await,
        app.post(
            &b.token,
            &sponsors_path,
            &json!({"name": "Evil", "privacy_policy_url": "https://evil.example/"}),
        )
        .await,
        app.get(&b.token, &sponsor_path).await,
        app.patch(&b.token, &sponsor_path, &json!({"name": "Hijacked"}))
            .await,
        app.delete(&b.token, &sponsor_path).await,
    ] {
        // Exactly what an id that exists nowhere gets.
        assert_eq!(
            assert_problem(response, 404, "not_found").await,
            absent_body
        );
    }

    // A's data is untouched.
    let read: Value = app.get(&a.token, &event_path).await.json().await.unwrap();
    assert_eq!(read, event);
    let sponsors: Vec<Value> = app
        .get(&a.token, &sponsors_path)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sponsors, vec![sponsor]);

    // And B's own events are B's alone.
    app.post(&b.token, "/api/v1/events", &event_body("globex-summit"))
        .await;
    let a_list: Vec<Value> = app
        .get(&a.token, "/api/v1/events")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(a_list.len(), 1);
    assert_eq!(a_list[0]["slug"], "acme-summit");
}
