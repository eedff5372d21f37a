//! `consentry-bench`: drives a running Consentry server on loopback with bounded phases and prints
//! throughput and latency percentiles per phase.
//!
//! It only ever talks to loopback addresses, sends a bounded number of requests, and stops by
//! itself at `--max-seconds`. Start the server with `--disable-rate-limits` (every request comes
//! from one address) and give the organiser password in `CONSENTRY_BENCH_PASSWORD`.

use std::{
    net::IpAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use serde_json::{Value, json};

#[derive(Debug, Parser)]
#[command(
    name = "consentry-bench",
    version,
    about = "Load generator for a Consentry server on loopback"
)]
struct Cli {
    /// Base URL of the server; must be a loopback address.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Organiser login used to set up the benchmark event.
    #[arg(long, default_value = "demo@consentry.example")]
    email: String,
    /// Organiser password.
    #[arg(long, env = "CONSENTRY_BENCH_PASSWORD", hide_env_values = true)]
    password: String,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// Stop each phase after this many seconds even if requests remain.
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=3600))]
    max_seconds: u64,
    /// The server's process id, to report its memory (Linux /proc) around each phase.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Sponsors of the benchmark event.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=50))]
    sponsors: u16,
    #[command(subcommand)]
    phase: Phase,
}

#[derive(Debug, Subcommand)]
enum Phase {
    /// Register attendees (each with a different mix of sponsor opt-ins).
    Registrations {
        #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        count: u32,
    },
    /// Seed attendees (some consenting to the first sponsor), pair kiosks for that sponsor, then
    /// measure accepted scans, refused scans and repeated (idempotent) scans.
    Scans {
        /// Attendees to register first.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(2..=1_000_000))]
        attendees: u32,
        /// Share of them consenting to the first sponsor, evenly spread (1–99 %: both accepted
        /// and refused scans need badges).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u8).range(1..=99))]
        consenting_percent: u8,
        /// Scans per phase.
        #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
        scans: u32,
        /// Kiosks scanning at once (each its own paired device).
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
        kiosks: u16,
    },
    /// Seed `leads` consenting attendees, scan each once, then time the organiser's streamed CSV
    /// export of the sponsor's leads (give --server-pid to see its memory).
    Exports {
        #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        leads: u32,
    },
    /// Fill an event that ends within the hour (retention 0 days) with attendees, leads, scan
    /// records and an export, then run `consentry purge` as of just after its end while kiosks
    /// keep scanning at another event; report the purge's wall time and those scans' latencies
    /// before and during the purge.
    ///
    /// `consentry purge` purges every event due by then, so this refuses to start when a dry run
    /// shows any due event but its own: point it at a benchmark database only.
    Purge(PurgeArgs),
}

#[derive(Debug, clap::Args)]
struct PurgeArgs {
    /// Attendees of the event that is purged; every second one consents to the first sponsor
    /// and is scanned once.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(2..=1_000_000))]
    attendees: u32,
    /// Attendees of the event that keeps scanning (every second one consenting).
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(2..=1_000_000))]
    other_attendees: u32,
    /// Kiosks scanning at the other event.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    kiosks: u16,
    /// How long to measure scans before the purge starts.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=600))]
    baseline_seconds: u64,
    /// The `consentry` binary that runs the purge.
    #[arg(long)]
    consentry_bin: std::path::PathBuf,
    /// One argument for `consentry purge` (repeat it): the same store options as the
    /// server's, e.g. `--purge-arg=--data-dir --purge-arg=/tmp/bench-data`.
    #[arg(long = "purge-arg", allow_hyphen_values = true)]
    purge_args: Vec<String>,
    /// Kill the purge (it resumes on its next run) if it takes longer than this.
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    purge_max_seconds: u64,
}

/// `VmRSS` and `VmHWM` of a process, in MiB (Linux).
fn memory_mib(pid: Option<u32>) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Refuse anything but loopback: this tool generates load and must never point elsewhere.
fn loopback_base(server: &str) -> anyhow::Result<String> {
    let url = url::Url::parse(server).context("--server is not a URL")?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    };
    if !loopback || url.scheme() != "http" {
        bail!("--server must be http:// on a loopback address (127.0.0.0/8, ::1, localhost)");
    }
    Ok(server.trim_end_matches('/').to_owned())
}

struct Setup {
    token: String,
    event_id: String,
    slug: String,
    notice_version: i64,
    sponsors: Vec<String>,
}

/// When a benchmark event runs, and how many days after its end its attendee data is kept
/// (`None`: the server's default).
struct Window {
    starts_at: time::OffsetDateTime,
    ends_at: time::OffsetDateTime,
    retention_days: Option<i16>,
}

async fn login(client: &reqwest::Client, base: &str, cli: &Cli) -> anyhow::Result<String> {
    let login = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": cli.email, "password": cli.password}))
        .send()
        .await?;
    if !login.status().is_success() {
        bail!("login failed: {}", login.status());
    }
    Ok(login.json::<Value>().await?["token"]
        .as_str()
        .context("no token in the login response")?
        .to_owned())
}

/// Create a fresh event with `sponsors` sponsors as the organiser holding `token`.
async fn create_event(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    name: &str,
    window: &Window,
    sponsors: u16,
) -> anyhow::Result<Setup> {
    let slug = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    let mut body = json!({
        "slug": slug,
        "name": name,
        "time_zone": "Europe/Amsterdam",
        "starts_at": window.starts_at.format(rfc3339)?,
        "ends_at": window.ends_at.format(rfc3339)?,
        "privacy_notice": "Benchmark event.",
    });
    if let (Some(days), Some(fields)) = (window.retention_days, body.as_object_mut()) {
        fields.insert("retention_days".into(), days.into());
    }
    let event = client
        .post(format!("{base}/api/v1/events"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    if !event.status().is_success() {
        bail!("cannot create the benchmark event: {}", event.status());
    }
    let event: Value = event.json().await?;
    let event_id = event["id"].as_str().context("no event id")?;
    let mut sponsor_ids = Vec::new();
    for i in 0..sponsors {
        let sponsor: Value = client
            .post(format!("{base}/api/v1/events/{event_id}/sponsors"))
            .bearer_auth(token)
            .json(&json!({"name": format!("Sponsor {i}"), "privacy_policy_url": "https://sponsor.example/privacy"}))
            .send()
            .await?
            .json()
            .await?;
        sponsor_ids.push(sponsor["id"].as_str().context("no sponsor id")?.to_owned());
    }
    Ok(Setup {
        token: token.to_owned(),
        event_id: event_id.to_owned(),
        slug,
        notice_version: event["privacy_notice_version"].as_i64().unwrap_or(1),
        sponsors: sponsor_ids,
    })
}

/// Log in and create the benchmark event: running since an hour ago, ending in two days.
async fn setup(client: &reqwest::Client, base: &str, cli: &Cli) -> anyhow::Result<Setup> {
    let token = login(client, base, cli).await?;
    let now = time::OffsetDateTime::now_utc();
    let window = Window {
        starts_at: now - time::Duration::hours(1),
        ends_at: now + time::Duration::days(2),
        retention_days: None,
    };
    create_event(
        client,
        base,
        &token,
        "Benchmark Summit",
        &window,
        cli.sponsors,
    )
    .await
}

/// What one phase measured.
struct Report {
    name: &'static str,
    latencies: Vec<Duration>,
    errors: usize,
    elapsed: Duration,
}

impl Report {
    fn print(mut self) {
        self.latencies.sort();
        let ok = self.latencies.len();
        let pct = |p: f64| -> f64 {
            if ok == 0 {
                return 0.0;
            }
            let i = ((ok as f64 * p).ceil() as usize).clamp(1, ok) - 1;
            self.latencies[i].as_secs_f64() * 1000.0
        };
        println!(
            "{:<14} {:>8} ok {:>6} errors {:>8.1} s {:>9.0} req/s   p50 {:>6.2} ms  p90 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms",
            self.name,
            ok,
            self.errors,
            self.elapsed.as_secs_f64(),
            ok as f64 / self.elapsed.as_secs_f64().max(1e-9),
            pct(0.50),
            pct(0.90),
            pct(0.99),
            pct(1.0),
        );
    }
}

/// Run `count` requests built by `request(i)` with `concurrency` in flight, until done or
/// `max` has passed.
async fn run_phase<F>(
    name: &'static str,
    count: usize,
    concurrency: usize,
    max: Duration,
    request: F,
) -> Report
where
    F: Fn(usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    run_until(
        name,
        count,
        concurrency,
        max,
        Arc::new(AtomicBool::new(false)),
        request,
    )
    .await
}

/// [`run_phase`] that also stops once `stop` turns true, for load that lasts as long as
/// something else does.
async fn run_until<F>(
    name: &'static str,
    count: usize,
    concurrency: usize,
    max: Duration,
    stop: Arc<AtomicBool>,
    request: F,
) -> Report
where
    F: Fn(usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let request = Arc::new(request);
    let started = Instant::now();
    let deadline = started + max;
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let next = next.clone();
        let request = request.clone();
        let stop = stop.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count || Instant::now() >= deadline || stop.load(Ordering::Relaxed) {
                    break;
                }
                let sent = Instant::now();
                match request(i).send().await {
                    Ok(r) if r.status().is_success() => {
                        // Read the body: the response is only complete once it has arrived.
                        let _ = r.bytes().await;
                        latencies.push(sent.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let mut report = Report {
        name,
        // `count` may be unbounded when `stop` ends the run.
        latencies: Vec::with_capacity(count.min(1 << 20)),
        errors: 0,
        elapsed: Duration::ZERO,
    };
    for worker in workers {
        if let Ok((latencies, errors)) = worker.await {
            report.latencies.extend(latencies);
            report.errors += errors;
        }
    }
    report.elapsed = started.elapsed();
    report
}

fn registration(i: usize, notice_version: i64, opt_ins: &[String]) -> serde_json::Value {
    json!({
        "first_name": "Bench",
        "last_name": format!("Attendee {i}"),
        "email": format!("bench-{i}@example.invalid"),
        "company": "Load Testing Ltd",
        "age_confirmed": true,
        "notice_version": notice_version,
        "sponsor_opt_ins": opt_ins,
        "marketing_opt_in": i.is_multiple_of(2),
    })
}

/// Register `count` attendees, those for whom `consents(i)` holds consenting to the first
/// sponsor; returns (consenting badges, refusing badges).
async fn seed_attendees(
    client: &reqwest::Client,
    base: &str,
    setup: &Setup,
    count: usize,
    concurrency: usize,
    consents: impl Fn(usize) -> bool + Clone + Send + 'static,
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let url = format!("{base}/api/v1/events/{}/registrations", setup.slug);
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (client, url, next) = (client.clone(), url.clone(), next.clone());
        let (sponsor, notice) = (setup.sponsors[0].clone(), setup.notice_version);
        let consents = consents.clone();
        workers.push(tokio::spawn(async move {
            let mut badges = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let consenting = consents(i);
                let opt_ins = if consenting {
                    vec![sponsor.clone()]
                } else {
                    Vec::new()
                };
                let response = client
                    .post(&url)
                    .json(&registration(i, notice, &opt_ins))
                    .send()
                    .await?;
                let body: Value = response.error_for_status()?.json().await?;
                let badge = body["badge"]["token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                badges.push((consenting, badge));
            }
            anyhow::Ok(badges)
        }));
    }
    let (mut yes, mut no) = (Vec::new(), Vec::new());
    for worker in workers {
        for (consenting, badge) in worker.await?? {
            if consenting {
                yes.push(badge)
            } else {
                no.push(badge)
            }
        }
    }
    Ok((yes, no))
}

/// `percent` of attendees, evenly spread: attendee `i` consents when the running share
/// `(i + 1) × percent / 100` passes a whole number (50 % is every second one).
fn spread(percent: u8) -> impl Fn(usize) -> bool + Clone + Send + 'static {
    let percent = usize::from(percent);
    move |i| (i + 1) * percent / 100 > i * percent / 100
}

/// Create and pair `count` kiosks for the first sponsor; returns their tokens.
async fn pair_kiosks(
    client: &reqwest::Client,
    base: &str,
    setup: &Setup,
    count: u16,
) -> anyhow::Result<Vec<String>> {
    let mut tokens = Vec::new();
    for i in 0..count {
        let created: Value = client
            .post(format!(
                "{base}/api/v1/events/{}/sponsors/{}/kiosks",
                setup.event_id, setup.sponsors[0]
            ))
            .bearer_auth(&setup.token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let paired: Value = client
            .post(format!("{base}/api/v1/kiosks/pair"))
            .json(&json!({"code": created["pairing_code"], "device_name": format!("bench kiosk {i}")}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        tokens.push(
            paired["token"]
                .as_str()
                .context("no kiosk token")?
                .to_owned(),
        );
    }
    Ok(tokens)
}

fn scan_body(badge: &str, client_scan_id: uuid::Uuid) -> Value {
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    json!({"badge_token": badge, "client_scan_id": client_scan_id, "scanned_at": now})
}

/// Scan each badge once with `kiosk`: a lead and a scan record each. Prints the phase.
async fn seed_scans(
    client: &reqwest::Client,
    base: &str,
    kiosk: String,
    badges: Vec<String>,
    concurrency: usize,
) {
    let count = badges.len();
    let (client, url) = (client.clone(), format!("{base}/api/v1/scans"));
    run_phase(
        "seed scans",
        count,
        concurrency,
        Duration::from_secs(3600),
        move |i| {
            client
                .post(&url)
                .bearer_auth(&kiosk)
                .json(&scan_body(&badges[i], uuid::Uuid::new_v4()))
        },
    )
    .await
    .print();
}

/// Lines of `consentry purge --dry-run` output that name an event which the purge would touch
/// (due, or a purge left unfinished): `(stage, slug)`.
fn purgeable_events(dry_run: &str) -> Vec<(&str, &str)> {
    dry_run
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            Some((words.next()?, words.next()?))
        })
        .filter(|(stage, _)| matches!(*stage, "due" | "purging"))
        .collect()
}

/// Registrations `consentry purge` reports for `event_id` (`purged <id>: N registrations`).
fn purged_registrations(output: &str, event_id: &str) -> Option<u64> {
    let prefix = format!("purged {event_id}: ");
    output
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Scans slower than `limit`, to show stalls that percentiles round away.
fn slower_than(report: &Report, limit: Duration) -> usize {
    report.latencies.iter().filter(|l| **l > limit).count()
}

fn purge_command(args: &PurgeArgs, as_of: &str) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(&args.consentry_bin);
    command
        .arg("purge")
        .arg("--as-of")
        .arg(as_of)
        .args(&args.purge_args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        // Dropped on timeout: the purge stops there and resumes on its next run.
        .kill_on_drop(true);
    command
}

async fn purge_phase(
    client: &reqwest::Client,
    base: &str,
    other: &Setup,
    concurrency: usize,
    sponsors: u16,
    server_pid: Option<u32>,
    args: PurgeArgs,
) -> anyhow::Result<()> {
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    let now = time::OffsetDateTime::now_utc().replace_nanosecond(0)?;
    // Ending in an hour leaves time to register 100,000 attendees while registration is open,
    // and keeps the server's own purge loop (which goes by the real clock) off the event.
    let window = Window {
        starts_at: now - time::Duration::hours(1),
        ends_at: now + time::Duration::hours(1),
        retention_days: Some(0),
    };
    let doomed = create_event(
        client,
        base,
        &other.token,
        "Purge Benchmark",
        &window,
        sponsors,
    )
    .await?;
    // Due at its end (0 days' retention); one second later leaves no doubt.
    let as_of = (window.ends_at + time::Duration::seconds(1)).format(rfc3339)?;

    let started = Instant::now();
    let (yes, no) = seed_attendees(
        client,
        base,
        &doomed,
        args.attendees as usize,
        concurrency,
        |i| i.is_multiple_of(2),
    )
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "event to purge {} ({}): {} attendees ({} consenting) registered in {seconds:.1} s ({:.0}/s)",
        doomed.slug,
        doomed.event_id,
        yes.len() + no.len(),
        yes.len(),
        (yes.len() + no.len()) as f64 / seconds.max(1e-9),
    );
    // One scan per consenting attendee: a lead and a scan record each.
    let kiosk = pair_kiosks(client, base, &doomed, 1)
        .await?
        .pop()
        .context("no kiosk")?;
    seed_scans(client, base, kiosk, yes, concurrency).await;
    // One export, so that the purge also deletes the rows recording who received whose data.
    let mut export = client
        .get(format!(
            "{base}/api/v1/events/{}/sponsors/{}/leads.csv",
            doomed.event_id, doomed.sponsors[0]
        ))
        .bearer_auth(&doomed.token)
        .timeout(Duration::from_secs(3600))
        .send()
        .await?
        .error_for_status()?;
    let mut lines = 0usize;
    while let Some(chunk) = export.chunk().await? {
        lines += chunk.windows(2).filter(|w| w == b"\r\n").count();
    }
    println!("exported {} leads once", lines.saturating_sub(1));

    // The event that keeps scanning.
    let (consenting, _) = seed_attendees(
        client,
        base,
        other,
        args.other_attendees as usize,
        concurrency,
        |i| i.is_multiple_of(2),
    )
    .await?;
    let kiosks = Arc::new(pair_kiosks(client, base, other, args.kiosks).await?);
    println!(
        "event scanning {}: {} consenting attendees, {} kiosks",
        other.slug,
        consenting.len(),
        kiosks.len()
    );

    // The purge takes every event due by `as_of`: refuse unless that is only ours, which also
    // shows that the purge arguments reach the server's database.
    let dry_run = purge_command(&args, &as_of)
        .arg("--dry-run")
        .output()
        .await
        .context("cannot run consentry purge --dry-run")?;
    let dry_stdout = String::from_utf8_lossy(&dry_run.stdout);
    if !dry_run.status.success() {
        bail!(
            "consentry purge --dry-run failed ({}): {}",
            dry_run.status,
            String::from_utf8_lossy(&dry_run.stderr).trim()
        );
    }
    let purgeable = purgeable_events(&dry_stdout);
    if !purgeable.contains(&("due", doomed.slug.as_str())) {
        bail!(
            "the dry run does not show {} as due: do the --purge-arg options name the server's \
             database?\n{dry_stdout}",
            doomed.slug
        );
    }
    if purgeable.iter().any(|(_, slug)| *slug != doomed.slug) {
        bail!("the purge would also take other events; use a benchmark database\n{dry_stdout}");
    }

    // Accepted scans at the other event, with new client scan ids (so each one writes).
    let scan = {
        let (client, url) = (client.clone(), Arc::new(format!("{base}/api/v1/scans")));
        let badges = Arc::new(consenting);
        move |i: usize| {
            client
                .post(url.as_str())
                .bearer_auth(&kiosks[i % kiosks.len()])
                .json(&scan_body(&badges[i % badges.len()], uuid::Uuid::new_v4()))
        }
    };
    let baseline = run_phase(
        "baseline scans",
        usize::MAX,
        concurrency,
        Duration::from_secs(args.baseline_seconds),
        scan.clone(),
    )
    .await;

    let memory_before = memory_mib(server_pid);
    let limit = Duration::from_secs(args.purge_max_seconds);
    let stop = Arc::new(AtomicBool::new(false));
    let during = tokio::spawn(run_until(
        "scans in purge",
        usize::MAX,
        concurrency,
        limit,
        stop.clone(),
        scan,
    ));
    let started = Instant::now();
    let child = purge_command(&args, &as_of)
        .spawn()
        .context("cannot start consentry purge")?;
    let finished = tokio::time::timeout(limit, child.wait_with_output()).await;
    let wall = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let during = during.await?;

    let slow = |r: &Report| {
        format!(
            "{} over 100 ms, {} over 1 s",
            slower_than(r, Duration::from_millis(100)),
            slower_than(r, Duration::from_secs(1))
        )
    };
    println!(
        "slow scans     baseline: {}; during the purge: {}",
        slow(&baseline),
        slow(&during)
    );
    baseline.print();
    during.print();
    let failure = match finished {
        Ok(Ok(output)) => {
            let stdout = String::from_utf8_lossy(&output.stdout);
            let purged = purged_registrations(&stdout, &doomed.event_id).unwrap_or(0);
            println!(
                "purge          {purged:>8} registrations {:>8.1} s {:>9.0} registrations/s   {}",
                wall.as_secs_f64(),
                purged as f64 / wall.as_secs_f64().max(1e-9),
                output.status,
            );
            for line in stdout.lines() {
                println!("  purge | {line}");
            }
            (!output.status.success()).then(|| {
                format!(
                    "consentry purge failed ({}): {}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr).trim()
                )
            })
        }
        Ok(Err(e)) => Some(format!("cannot wait for consentry purge: {e}")),
        Err(_) => Some(format!(
            "consentry purge did not finish within {} s and was stopped",
            args.purge_max_seconds
        )),
    };
    if let (Some((rss_before, _)), Some((rss_after, hwm))) = (memory_before, memory_mib(server_pid))
    {
        println!(
            "server memory  RSS before the purge {rss_before:.1} MiB, after {rss_after:.1} MiB, process peak {hwm:.1} MiB"
        );
    }
    let event: Value = client
        .get(format!("{base}/api/v1/events/{}", doomed.event_id))
        .bearer_auth(&doomed.token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    println!(
        "event {}: purged_at {}",
        doomed.slug,
        event["purged_at"].as_str().unwrap_or("(not set)")
    );
    match failure {
        Some(why) => bail!(why),
        None => Ok(()),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let base = loopback_base(&cli.server)?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::from(cli.concurrency))
        .timeout(Duration::from_secs(30))
        .build()?;
    let setup = setup(&client, &base, &cli).await?;
    let max = Duration::from_secs(cli.max_seconds);
    let concurrency = usize::from(cli.concurrency);
    println!(
        "server {base}, event {}, {} sponsors, {concurrency} in flight",
        setup.slug,
        setup.sponsors.len()
    );
    match cli.phase {
        Phase::Registrations { count } => {
            let url = format!("{base}/api/v1/events/{}/registrations", setup.slug);
            let sponsors = setup.sponsors.clone();
            let notice_version = setup.notice_version;
            let client = client.clone();
            let report = run_phase(
                "registrations",
                count as usize,
                concurrency,
                max,
                move |i| {
                    // Attendee i opts in to the first i mod (sponsors + 1) sponsors: a spread of
                    // none, some and all.
                    let opt_ins = &sponsors[..i % (sponsors.len() + 1)];
                    client.post(&url).json(&json!({
                        "first_name": "Bench",
                        "last_name": format!("Attendee {i}"),
                        "email": format!("bench-{i}@example.invalid"),
                        "company": "Load Testing Ltd",
                        "age_confirmed": true,
                        "notice_version": notice_version,
                        "sponsor_opt_ins": opt_ins,
                        "marketing_opt_in": i.is_multiple_of(2),
                    }))
                },
            )
            .await;
            report.print();
        }
        Phase::Scans {
            attendees,
            consenting_percent,
            scans,
            kiosks,
        } => {
            let (yes, no) = seed_attendees(
                &client,
                &base,
                &setup,
                attendees as usize,
                concurrency,
                spread(consenting_percent),
            )
            .await?;
            let kiosks = Arc::new(pair_kiosks(&client, &base, &setup, kiosks).await?);
            println!(
                "seeded {} consenting and {} refusing attendees, {} kiosks",
                yes.len(),
                no.len(),
                kiosks.len()
            );
            let url = Arc::new(format!("{base}/api/v1/scans"));
            for (name, badges) in [("accepted scans", yes.clone()), ("refused scans", no)] {
                let badges = Arc::new(badges);
                let (client, url, kiosks) = (client.clone(), url.clone(), kiosks.clone());
                run_phase(name, scans as usize, concurrency, max, move |i| {
                    client
                        .post(url.as_str())
                        .bearer_auth(&kiosks[i % kiosks.len()])
                        .json(&scan_body(&badges[i % badges.len()], uuid::Uuid::new_v4()))
                })
                .await
                .print();
            }
            // The same request again: answered from the idempotency record.
            let repeated = uuid::Uuid::new_v4();
            let first = yes.first().cloned().unwrap_or_default();
            let (client2, url2, kiosk) = (client.clone(), url.clone(), kiosks[0].clone());
            client2
                .post(url2.as_str())
                .bearer_auth(&kiosk)
                .json(&scan_body(&first, repeated))
                .send()
                .await?;
            run_phase(
                "repeated scans",
                scans as usize,
                concurrency,
                max,
                move |_| {
                    client2
                        .post(url2.as_str())
                        .bearer_auth(&kiosk)
                        .json(&scan_body(&first, repeated))
                },
            )
            .await
            .print();
        }
        Phase::Exports { leads } => {
            let (yes, _) =
                seed_attendees(&client, &base, &setup, leads as usize, concurrency, |_| {
                    true
                })
                .await?;
            let kiosk = pair_kiosks(&client, &base, &setup, 1).await?.remove(0);
            seed_scans(&client, &base, kiosk, yes, concurrency).await;
            let before = memory_mib(cli.server_pid);
            let started = Instant::now();
            let mut response = client
                .get(format!(
                    "{base}/api/v1/events/{}/sponsors/{}/leads.csv",
                    setup.event_id, setup.sponsors[0]
                ))
                .bearer_auth(&setup.token)
                .timeout(Duration::from_secs(3600))
                .send()
                .await?
                .error_for_status()?;
            let (mut bytes, mut lines, mut peak_rss) =
                (0usize, 0usize, before.map_or(0.0, |m| m.0));
            while let Some(chunk) = response.chunk().await? {
                bytes += chunk.len();
                lines += chunk.windows(2).filter(|w| w == b"\r\n").count();
                if let Some((rss, _)) = memory_mib(cli.server_pid) {
                    peak_rss = peak_rss.max(rss);
                }
            }
            let elapsed = started.elapsed();
            println!(
                "export         {:>8} leads {:>8.1} MiB {:>8.2} s {:>9.0} leads/s",
                lines.saturating_sub(1),
                bytes as f64 / 1_048_576.0,
                elapsed.as_secs_f64(),
                lines.saturating_sub(1) as f64 / elapsed.as_secs_f64().max(1e-9),
            );
            if let (Some((rss_before, _)), Some((rss_after, hwm))) =
                (before, memory_mib(cli.server_pid))
            {
                println!(
                    "server memory  RSS before {rss_before:.1} MiB, highest seen during {peak_rss:.1} MiB (+{:.1}), after {rss_after:.1} MiB, process peak {hwm:.1} MiB",
                    peak_rss - rss_before
                );
            }
        }
        Phase::Purge(args) => {
            purge_phase(
                &client,
                &base,
                &setup,
                concurrency,
                cli.sponsors,
                cli.server_pid,
                args,
            )
            .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consent_shares_are_spread_evenly() {
        let share = |percent| (0..1000).filter(|i| spread(percent)(*i)).count();
        assert_eq!(
            (share(50), share(1), share(25), share(99)),
            (500, 10, 250, 990)
        );
        let half = spread(50);
        assert_eq!(
            (half(0), half(1), half(2), half(3)),
            (false, true, false, true)
        );
    }

    #[test]
    fn only_loopback_servers_are_accepted() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.1.2.3:1/",
            "http://localhost:9",
            "http://[::1]:8080",
        ] {
            assert!(loopback_base(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1:8080",
            "http://example.org",
            "https://127.0.0.1",
            "http://192.168.1.1",
        ] {
            assert!(loopback_base(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_dry_run_shows_which_events_the_purge_would_take() {
        let dry_run = "as of 2026-11-23T05:04:47Z\n\
            due      bench-a  due 2026-11-23T05:04:46Z  100000 registrations  (01a2)\n\
            purging  bench-b  due 2026-11-20T00:00:00Z  10 registrations  (01a3)\n\
            kept     consentry-demo  due 2026-12-23T12:00:00Z  0 registrations  (01a4)\n\
            purged   bench-c  due 2026-11-01T00:00:00Z  0 registrations  (01a5)\n";
        assert_eq!(
            purgeable_events(dry_run),
            [("due", "bench-a"), ("purging", "bench-b")]
        );
        assert!(
            purgeable_events("as of 2026-11-23T05:04:47Z\nno event holds attendee data\n")
                .is_empty()
        );
    }

    #[test]
    fn purged_registrations_are_read_from_the_purge_output() {
        let output = "as of 2026-11-23T05:04:47Z\npurged 01a2: 100000 registrations\npurged 01a3: 7 registrations\n";
        assert_eq!(purged_registrations(output, "01a2"), Some(100_000));
        assert_eq!(purged_registrations(output, "01a3"), Some(7));
        assert_eq!(purged_registrations(output, "01a4"), None);
    }
}
