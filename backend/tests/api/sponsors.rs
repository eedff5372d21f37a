use serde_json::{Value, json};

use crate::common::{assert_problem, spawn_app};

#[tokio::test]
async fn an_organiser_manages_the_sponsors_of_an_event() {
    let app = spawn_app().await;
    let organiser = app.organiser("Acme").await;
    let event = app.create_event(&organiser.token, "summit").await;
    let event_id = event["id"].as_str().unwrap();
    let sponsors = format!("/api/v1/events/{event_id}/sponsors");

    let response = app
        .post(
            &organiser.token,
            &sponsors,
            &json!({
                "name": "Globex",
                "description": "Cloud hosting.",
                "privacy_policy_url": "https://globex.example/privacy"
            }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let globex: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("{sponsors}/{}", globex["id"].as_str().unwrap())
    );
    assert_eq!(globex["event_id"], event_id);
    app.create_sponsor(&organiser.token, event_id, "Acme Analytics")
        .await;

    let list: Vec<Value> = app
        .get(&organiser.token, &sponsors)
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Acme Analytics", "Globex"], "sorted by name");

    let duplicate = app
        .post(
            &organiser.token,
            &sponsors,
            &json!({"name": "Globex", "privacy_policy_url": "https://g.example/p"}),
        )
        .await;
    assert_problem(duplicate, 409, "sponsor_name_taken").await;

    let http = app
        .patch(
            &organiser.token,
            &location,
            &json!({"privacy_policy_url": "http://globex.example/privacy"}),
        )
        .await;
    let problem = assert_problem(http, 422, "invalid_url").await;
    assert_eq!(problem["field"], "privacy_policy_url");

    let renamed: Value = app
        .patch(&organiser.token, &location, &json!({"name": "Globex Corp"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(renamed["name"], "Globex Corp");
    assert_eq!(renamed["description"], "Cloud hosting.");

    assert_eq!(app.delete(&organiser.token, &location).await.status(), 204);
    assert_problem(app.get(&organiser.token, &location).await, 404, "not_found").await;
}

#[tokio::test]
async fn deleting_an_event_deletes_its_sponsors() {
    let app = spawn_app().await;
    let organiser = app.organiser("Acme").await;
    let event = app.create_event(&organiser.token, "summit").await;
    let event_id = event["id"].as_str().unwrap();
    let sponsor = app
        .create_sponsor(&organiser.token, event_id, "Globex")
        .await;
    assert_eq!(
        app.delete(&organiser.token, &format!("/api/v1/events/{event_id}"))
            .await
            .status(),
        204
    );

    use sea_orm::EntityTrait;
    let left = consentry::sponsors::entity::Entity::find_by_id(
        sponsor["id"]
            .as_str()
            .unwrap()
            .parse::<uuid::Uuid>()
            .unwrap(),
    )
    .one(&app.db)
    .await
    .unwrap();
    assert!(left.is_none());
}

#[tokio::test]
async fn a_sponsor_is_reached_only_through_its_own_event() {
    let app = spawn_app().await;
    let organiser = app.organiser("Acme").await;
    let one = app.create_event(&organiser.token, "one").await;
    let two = app.create_event(&organiser.token, "two").await;
    let sponsor = app
        .create_sponsor(&organiser.token, one["id"].as_str().unwrap(), "Globex")
        .await;
    let wrong = format!(
        "/api/v1/events/{}/sponsors/{}",
        two["id"].as_str().unwrap(),
        sponsor["id"].as_str().unwrap()
    );
    assert_problem(app.get(&organiser.token, &wrong).await, 404, "not_found").await;
    assert_problem(app.delete(&organiser.token, &wrong).await, 404, "not_found").await;
}

/// A sponsor's name is in every consent sentence and every lead export: it may not reorder the
/// text around it, hide characters, or carry a link or an address.
#[tokio::test]
async fn a_sponsor_name_that_shows_something_else_than_it_holds_is_refused() {
    let app = spawn_app().await;
    let organiser = app.organiser("Acme").await;
    let event = app.create_event(&organiser.token, "summit").await;
    let sponsors = format!("/api/v1/events/{}/sponsors", event["id"].as_str().unwrap());
    for (name, code) in [
        ("Globex \u{202E}xoN", "invalid_characters"),
        ("Glo\u{200B}bex", "invalid_characters"),
        ("Globex \u{FDD0}", "invalid_characters"),
        ("Globex https://evil.example", "address_in_name"),
        ("sales@globex.example", "address_in_name"),
    ] {
        let response = app
            .post(
                &organiser.token,
                &sponsors,
                &json!({
                    "name": name,
                    "description": "Cloud hosting.",
                    "privacy_policy_url": "https://globex.example/privacy"
                }),
            )
            .await;
        let problem = crate::common::assert_problem(response, 422, code).await;
        assert_eq!(problem["field"], "name", "{name:?}");
    }
    let list: Vec<Value> = app
        .get(&organiser.token, &sponsors)
        .await
        .json()
        .await
        .unwrap();
    assert!(list.is_empty(), "no refused sponsor was stored");
}
