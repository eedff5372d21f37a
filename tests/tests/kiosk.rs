//! The booth, end to end: the real `consentry` server and the real `consentry-scan` binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use consentry_e2e::{Server, TestDatabase, bin, consentry_scan, rows_mentioning_all};
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

struct Demo {
    server: Server,
    token: String,
    event_id: String,
    sponsors: Vec<String>,
    notice_version: i64,
}

async fn demo(dir: &Path, db: &TestDatabase) -> Demo {
    let server = Server::start(dir, db, &["--demo", "--disable-rate-limits"], 5);
    let line = server
        .stdout
        .iter()
        .find(|l| l.trim_start().starts_with("login:"))
        .unwrap();
    let password = line.rsplit(" / ").next().unwrap().trim().to_owned();
    let login: Value = client()
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"email": "demo@consentry.example", "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let public: Value = client()
        .get(server.url("/api/v1/events/consentry-demo"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let events: Value = client()
        .get(server.url("/api/v1/events"))
        .bearer_auth(login["token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Demo {
        token: login["token"].as_str().unwrap().to_owned(),
        event_id: events[0]["id"].as_str().unwrap().to_owned(),
        sponsors: public["sponsors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect(),
        notice_version: public["privacy_notice_version"].as_i64().unwrap(),
        server,
    }
}

impl Demo {
    async fn register(&self, slug: &str, email: &str, opt_ins: &[&str]) -> Value {
        let response = client()
            .post(
                self.server
                    .url(&format!("/api/v1/events/{slug}/registrations")),
            )
            .json(&json!({
                "first_name": "Ada", "last_name": "Lovelace", "email": email,
                "company": "Analytical Engines Ltd", "age_confirmed": true,
                "notice_version": self.notice_version, "sponsor_opt_ins": opt_ins,
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        response.json().await.unwrap()
    }

    async fn pairing_code(&self, sponsor: &str) -> (String, String) {
        let created: Value = client()
            .post(self.server.url(&format!(
                "/api/v1/events/{}/sponsors/{sponsor}/kiosks",
                self.event_id
            )))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            created["kiosk_id"].as_str().unwrap().to_owned(),
            created["pairing_code"].as_str().unwrap().to_owned(),
        )
    }
}

fn save_png(dir: &Path, name: &str, registration: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        STANDARD
            .decode(registration["badge"]["qr_png_base64"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    path
}

fn text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn kiosk_token(config: &Path) -> String {
    let pairing: Value = serde_json::from_str(&std::fs::read_to_string(config).unwrap()).unwrap();
    pairing["token"].as_str().unwrap().to_owned()
}

async fn leads(server: &Server, config: &Path) -> Vec<Value> {
    let page: Value = client()
        .get(server.url("/api/v1/leads?per_page=200"))
        .bearer_auth(kiosk_token(config))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["leads"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_kiosk_scans_photos_and_a_usb_stream_and_only_consent_makes_a_lead() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::new().await;
    let demo = demo(dir.path(), &db).await;
    let sponsor = demo.sponsors[0].clone();
    let yes = demo
        .register("consentry-demo", "yes@example.org", &[&sponsor])
        .await;
    let no = demo
        .register("consentry-demo", "no@example.org", &[&demo.sponsors[1]])
        .await;
    let yes_png = save_png(dir.path(), "yes.png", &yes);
    let no_png = save_png(dir.path(), "no.png", &no);

    let (kiosk_id, code) = demo.pairing_code(&sponsor).await;
    let config = dir.path().join("kiosk/config.json");
    let paired = consentry_scan(
        &config,
        &[
            "pair",
            "--server",
            &demo.server.base,
            "--code",
            &code,
            "--name",
            "Booth A",
        ],
        "",
    );
    assert!(paired.status.success(), "{}", text(&paired));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&config).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    let accepted = consentry_scan(&config, &["scan", yes_png.to_str().unwrap()], "");
    assert_eq!(accepted.status.code(), Some(0), "{}", text(&accepted));
    assert_eq!(
        String::from_utf8_lossy(&accepted.stdout).trim(),
        "ACCEPTED Ada Lovelace, Analytical Engines Ltd"
    );

    let refused = consentry_scan(&config, &["scan", no_png.to_str().unwrap()], "");
    assert_eq!(refused.status.code(), Some(7), "{}", text(&refused));
    assert_eq!(
        String::from_utf8_lossy(&refused.stdout).trim(),
        "REFUSED no_consent"
    );

    // Nothing anywhere links the refused attendee to this sponsor or kiosk.
    let conn = consentry::db::connect(&db.url_in(dir.path()), Some(1))
        .await
        .unwrap();
    let registration_id: uuid::Uuid = no["registration_id"].as_str().unwrap().parse().unwrap();
    use sea_orm::EntityTrait;
    let badge_id =
        consentry::registrations::entity::registration::Entity::find_by_id(registration_id)
            .one(&conn)
            .await
            .unwrap()
            .unwrap()
            .badge_id
            .to_string();
    for person in [
        registration_id.to_string(),
        badge_id,
        no["badge"]["token"].as_str().unwrap().to_owned(),
    ] {
        for booth in [&sponsor, &kiosk_id] {
            let linked = rows_mentioning_all(&conn, &[&person, booth]).await;
            assert!(linked.is_empty(), "{linked:?}");
        }
    }

    // One photo with both badges, turned a quarter: both codes are read. (Small codes are covered
    // by consentry-scan's decoding test over fixed tokens; here the tokens are random, so the
    // photo stays at a size every token reads at.)
    let both = {
        let a = image::open(&yes_png).unwrap().to_luma8();
        let b = image::open(&no_png).unwrap().to_luma8();
        let mut canvas = image::GrayImage::from_pixel(
            a.width() + b.width() + 40,
            a.height().max(b.height()),
            image::Luma([255]),
        );
        image::imageops::overlay(&mut canvas, &a, 0, 0);
        image::imageops::overlay(&mut canvas, &b, i64::from(a.width()) + 40, 0);
        image::imageops::rotate90(&canvas)
    };
    let both_path = dir.path().join("both.png");
    both.save(&both_path).unwrap();
    let out = consentry_scan(&config, &["scan", both_path.to_str().unwrap()], "");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("ACCEPTED Ada Lovelace, Analytical Engines Ltd (scan 2)"),
        "{}",
        text(&out)
    );
    assert!(stdout.contains("REFUSED no_consent"), "{stdout}");

    // A USB scanner types one token per line.
    let typed = format!(
        "{}\nnot-a-badge\n\n{}\n",
        yes["badge"]["token"].as_str().unwrap(),
        no["badge"]["token"].as_str().unwrap()
    );
    let out = consentry_scan(&config, &["listen"], &typed);
    assert!(out.status.success(), "{}", text(&out));
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        lines,
        [
            "ACCEPTED Ada Lovelace, Analytical Engines Ltd (scan 3)",
            "REFUSED invalid_badge",
            "REFUSED no_consent"
        ]
    );

    let csv = consentry_scan(&config, &["leads", "--csv"], "");
    let csv = String::from_utf8_lossy(&csv.stdout).to_string();
    assert_eq!(csv.lines().count(), 2, "header and one lead: {csv}");
    assert!(csv.contains("yes@example.org") && !csv.contains("no@example.org"));
    let lead_id = leads(&demo.server, &config).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let noted = consentry_scan(
        &config,
        &[
            "note",
            &lead_id,
            "--rating",
            "5",
            "--text",
            "Call back",
            "--tag",
            "hot",
        ],
        "",
    );
    assert!(noted.status.success(), "{}", text(&noted));
    let lead = &leads(&demo.server, &config).await[0];
    assert_eq!(
        (lead["rating"].as_i64(), lead["note"].as_str()),
        (Some(5), Some("Call back"))
    );

    // The booth's own export: only the consented lead, in a private file.
    let exported = dir.path().join("booth-leads.csv");
    let out = consentry_scan(
        &config,
        &["export", "--csv", exported.to_str().unwrap()],
        "",
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("exported 1 leads"));
    let csv = std::fs::read_to_string(&exported).unwrap();
    assert!(csv.contains("yes@example.org") && !csv.contains("no@example.org"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&exported).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    // A forged badge.
    let tampered = {
        let token = yes["badge"]["token"].as_str().unwrap();
        let mut t = token.to_owned();
        let last = t.pop().unwrap();
        t.push(if last == 'A' { 'B' } else { 'A' });
        t
    };
    let out = consentry_scan(&config, &["scan", "--token", &tampered], "");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "REFUSED invalid_badge"
    );

    // Withdrawal: the lead is gone at once, and the next scan is refused.
    let manage = yes["manage_token"].as_str().unwrap();
    let withdrawn = client()
        .put(demo.server.url(&format!("/api/v1/me/{manage}/consents")))
        .json(&json!({"withdraw_all": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(withdrawn.status(), 200);
    assert!(leads(&demo.server, &config).await.is_empty());
    let out = consentry_scan(&config, &["scan", yes_png.to_str().unwrap()], "");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "REFUSED no_consent"
    );

    // Revoked: refused with its own exit code.
    let revoked = client()
        .delete(demo.server.url(&format!(
            "/api/v1/events/{}/kiosks/{kiosk_id}",
            demo.event_id
        )))
        .bearer_auth(&demo.token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    let out = consentry_scan(&config, &["scan", no_png.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("kiosk_revoked"));
}

#[tokio::test]
async fn a_badge_of_another_event_is_refused_by_its_event() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::new().await;
    let demo = demo(dir.path(), &db).await;
    let now = time::OffsetDateTime::now_utc();
    let rfc = &time::format_description::well_known::Rfc3339;
    let other: Value = client().post(demo.server.url("/api/v1/events")).bearer_auth(&demo.token)
        .json(&json!({"slug": "other-event", "name": "Other", "time_zone": "UTC",
            "starts_at": (now - time::Duration::hours(1)).format(rfc).unwrap(),
            "ends_at": (now + time::Duration::days(1)).format(rfc).unwrap(), "privacy_notice": "x"}))
        .send().await.unwrap().json().await.unwrap();
    let other_sponsor: Value = client()
        .post(demo.server.url(&format!(
            "/api/v1/events/{}/sponsors",
            other["id"].as_str().unwrap()
        )))
        .bearer_auth(&demo.token)
        .json(&json!({"name": "Elsewhere", "privacy_policy_url": "https://elsewhere.example/p"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let registered = demo
        .register(
            "other-event",
            "x@example.org",
            &[other_sponsor["id"].as_str().unwrap()],
        )
        .await;
    let elsewhere = &registered["badge"]["token"];

    let (_, code) = demo.pairing_code(&demo.sponsors[0]).await;
    let config = dir.path().join("kiosk.json");
    assert!(
        consentry_scan(
            &config,
            &["pair", "--server", &demo.server.base, "--code", &code],
            ""
        )
        .status
        .success()
    );
    let out = consentry_scan(
        &config,
        &["scan", "--token", elsewhere.as_str().unwrap()],
        "",
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "REFUSED wrong_event"
    );
    // Offline, the cached keys refuse it too (it is not this event's badge).
    drop(demo.server);
    let out = consentry_scan(
        &config,
        &["scan", "--token", elsewhere.as_str().unwrap()],
        "",
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "REFUSED invalid_badge (checked offline)"
    );
}

#[tokio::test]
async fn offline_scans_are_queued_and_synced_exactly_once_even_when_sync_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::new().await;
    let demo = demo(dir.path(), &db).await;
    let sponsor = demo.sponsors[0].clone();
    let mut badges = Vec::new();
    for i in 0..40 {
        let r = demo
            .register("consentry-demo", &format!("a{i}@example.org"), &[&sponsor])
            .await;
        badges.push(r["badge"]["token"].as_str().unwrap().to_owned());
    }
    let refused = demo.register("consentry-demo", "no@example.org", &[]).await;
    let (_, code) = demo.pairing_code(&sponsor).await;
    let config = dir.path().join("kiosk/config.json");
    assert!(
        consentry_scan(
            &config,
            &["pair", "--server", &demo.server.base, "--code", &code],
            ""
        )
        .status
        .success()
    );

    let address = demo.server.address().to_owned();
    let status = demo.server.terminate();
    assert!(status.success());

    // Offline: forgeries are refused at once; genuine badges are queued, consent undecided.
    let forged = format!("{}x", badges[0]);
    let out = consentry_scan(&config, &["scan", "--token", &forged], "");
    assert_eq!(
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).trim()
        ),
        (Some(7), "REFUSED invalid_badge (checked offline)")
    );
    let stream: String = badges
        .iter()
        .chain([refused["badge"]["token"].as_str().unwrap().to_owned()].iter())
        .map(|b| format!("{b}\n"))
        .collect();
    let out = consentry_scan(&config, &["listen"], &stream);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("QUEUED"))
            .count(),
        41
    );
    let queue = std::fs::read_to_string(config.with_file_name("queue.jsonl")).unwrap();
    assert!(
        !queue.contains("Ada") && !queue.contains("example.org"),
        "the queue holds no personal data"
    );
    let status = consentry_scan(&config, &["status"], "");
    assert!(String::from_utf8_lossy(&status.stdout).contains("queued scans: 41"));

    // Back online on the same address; a sync killed part-way, then run again.
    let server = Server::start_at(&address, dir.path(), &db, &["--disable-rate-limits"], 0);
    let mut sync = Command::new(bin("consentry-scan"))
        .args(["--config"])
        .arg(&config)
        .arg("sync")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(sync.stdout.take().unwrap()).lines();
    for _ in 0..3 {
        lines.next().unwrap().unwrap();
    }
    sync.kill().unwrap();
    sync.wait().unwrap();
    let left = consentry_scan(&config, &["status"], "");
    let left = String::from_utf8_lossy(&left.stdout).to_string();
    assert!(
        !left.contains("queued scans: 0"),
        "the first sync was interrupted: {left}"
    );

    let out = consentry_scan(&config, &["sync"], "");
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("synced"));
    assert!(
        String::from_utf8_lossy(&consentry_scan(&config, &["status"], "").stdout)
            .contains("queued scans: 0")
    );

    let all = leads(&server, &config).await;
    assert_eq!(all.len(), 40, "each consenting attendee once");
    assert!(
        all.iter().all(|l| l["scan_count"] == 1),
        "each scan counted once"
    );
    let conn = consentry::db::connect(&db.url_in(dir.path()), Some(1))
        .await
        .unwrap();
    use sea_orm::{EntityTrait, PaginatorTrait};
    assert_eq!(
        consentry::scans::entity::request::Entity::find()
            .count(&conn)
            .await
            .unwrap(),
        41
    );
}
