//! Mail through a real SMTP exchange: lettre's SMTP client against a minimal SMTP server.

use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
    sync::mpsc,
};

use crate::common::{registration_body, spawn_app_with_smtp, unquote};

/// Accept SMTP sessions on a free port and pass each message's DATA to the channel.
async fn smtp_sink() -> (String, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 sink\r\n",
                        "DATA" => {
                            write.write_all(b"354 go ahead\r\n").await.unwrap();
                            let mut data = String::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                data.push_str(&l);
                                data.push('\n');
                            }
                            tx.send(data).unwrap();
                            b"250 queued\r\n"
                        }
                        "QUIT" => {
                            write.write_all(b"221 bye\r\n").await.unwrap();
                            break;
                        }
                        _ => b"250 ok\r\n",
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (format!("smtp://{addr}"), rx)
}

#[tokio::test]
async fn the_confirmation_is_sent_over_smtp_when_configured() {
    let (url, mut received) = smtp_sink().await;
    let app = spawn_app_with_smtp(Some(&url)).await;
    let event = app.public_event("summit").await;
    let created: Value = app
        .register(&event.slug, &registration_body("ada@example.org"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(created["confirmation_email_sent"], true);
    let data = unquote(
        &tokio::time::timeout(std::time::Duration::from_secs(10), received.recv())
            .await
            .unwrap()
            .unwrap(),
    );
    assert!(data.contains("To: ada@example.org"), "{data}");
    assert!(data.contains("From: Consentry <no-reply@consentry.test>"));
    assert!(data.contains(created["manage_url"].as_str().unwrap()));
    assert!(data.contains("badge.png"));
    assert!(app.outbox_mails().is_empty(), "SMTP replaces the outbox");
}

#[tokio::test]
async fn a_failing_smtp_server_does_not_lose_the_registration() {
    // Nothing listens here.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("smtp://{}", listener.local_addr().unwrap());
    drop(listener);
    let app = spawn_app_with_smtp(Some(&url)).await;
    let event = app.public_event("summit").await;
    let response = app
        .register(&event.slug, &registration_body("ada@example.org"))
        .await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["confirmation_email_sent"], false);
    assert!(
        created["manage_url"].is_string(),
        "the link is still given once in the response"
    );
    assert_eq!(app.count("registrations").await, 1);
}

/// The mail telling a registrant their data is kept longer goes over SMTP like every other; when
/// the server cannot be reached, the change stands all the same.
#[tokio::test]
async fn a_later_deletion_date_is_mailed_over_smtp_and_a_failure_does_not_undo_the_change() {
    let fmt = &time::format_description::well_known::Rfc3339;
    let later = |view: &Value| {
        let ends_at = time::OffsetDateTime::parse(view["ends_at"].as_str().unwrap(), fmt).unwrap();
        json!({"ends_at": (ends_at + time::Duration::days(1)).format(fmt).unwrap()})
    };

    let (url, mut received) = smtp_sink().await;
    let app = spawn_app_with_smtp(Some(&url)).await;
    let event = app.public_event("summit").await;
    app.register(&event.slug, &registration_body("ada@example.org"))
        .await;
    let ten_seconds = std::time::Duration::from_secs(10);
    let confirmation = unquote(
        &tokio::time::timeout(ten_seconds, received.recv())
            .await
            .unwrap()
            .unwrap(),
    );
    assert!(confirmation.contains("You are registered"));
    let path = format!("/api/v1/events/{}", event.id);
    let view = app.event_view(&event).await;
    let response = app
        .patch(&event.organiser.token, &path, &later(&view))
        .await;
    assert_eq!(response.status(), 200);
    let told = unquote(
        &tokio::time::timeout(ten_seconds, received.recv())
            .await
            .unwrap()
            .unwrap(),
    );
    assert!(told.contains("To: ada@example.org"), "{told}");
    assert!(told.contains("is now deleted on"), "{told}");

    // No SMTP server: the change is saved and audited; the mail is lost (and logged).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("smtp://{}", listener.local_addr().unwrap());
    drop(listener);
    let app = spawn_app_with_smtp(Some(&url)).await;
    let event = app.public_event("summit").await;
    app.register(&event.slug, &registration_body("ada@example.org"))
        .await;
    let path = format!("/api/v1/events/{}", event.id);
    let view = app.event_view(&event).await;
    let change = later(&view);
    let response = app.patch(&event.organiser.token, &path, &change).await;
    assert_eq!(response.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let after = app.event_view(&event).await;
    assert_eq!(
        time::OffsetDateTime::parse(after["ends_at"].as_str().unwrap(), fmt).unwrap(),
        time::OffsetDateTime::parse(change["ends_at"].as_str().unwrap(), fmt).unwrap()
    );
    assert!(
        crate::common::dump_audit(&app)
            .await
            .contains("retention_extended")
    );
}
