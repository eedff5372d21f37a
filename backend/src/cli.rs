//! The `consentry` command: its flags and what each subcommand does.

use std::{io::BufRead, sync::Arc, time::Duration};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use uuid::Uuid;

use crate::{
    app::{Application, Ingredients, Stores},
    backup::{self, BackupOutcome, KeysAfterwards, RestoreOutcome},
    clock::{Clock, SystemClock},
    config::{HttpConfig, ServeArgs, StoreArgs},
    crypto::{self, MasterKey},
    db, demo, http,
    mail::Mailer,
    organisers::{self, OrganisationChoice},
    retention::{self, Purger},
};

#[derive(Debug, Parser)]
#[command(
    name = "consentry",
    version,
    about = "Privacy-aware event registration and badge scanning",
    long_about = "Privacy-aware event registration and badge scanning.\n\n\
                  Attendees register and choose, per sponsor, who may receive their contact \
                  details; sponsors scan QR badges at their booth; organisers export consented \
                  leads. Attendee data is purged automatically after the event.\n\n\
                  Every flag can also be set with the CONSENTRY_* environment variable shown \
                  in its help."
)]
pub struct Cli {
    /// Log format on standard error.
    #[arg(long, env = "CONSENTRY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (applies migrations first).
    // Boxed: its flags (every rate limit among them) dwarf the other commands'.
    Serve(Box<ServeArgs>),
    /// Apply database migrations and exit.
    Migrate(StoreArgs),
    /// Manage organiser accounts.
    #[command(subcommand)]
    Organiser(OrganiserCommand),
    /// Show which events' attendee data is due for purging and when, and purge what is due now.
    /// `consentry serve` does this by itself every few minutes; this is for operators and cron.
    Purge(PurgeArgs),
    /// Back up the main database, without any key, into a new directory (safe while `serve` runs).
    ///
    /// SQLite is copied with `VACUUM INTO`, PostgreSQL with `pg_dump` (whose commands are printed
    /// instead when it is not installed). The key store and the master key are left out, so that
    /// purged events stay unreadable in the backup; see --include-keys. See docs/OPERATIONS.md.
    Backup(BackupArgs),
    /// Restore a backup made by `consentry backup`, then apply migrations (stop the server first).
    ///
    /// Into the configured data directory and database (PostgreSQL: with `pg_restore`). Existing
    /// data, keys or a different master key are replaced only with --force.
    Restore(RestoreArgs),
    /// Check a signed consent receipt (a `.jws` file from the manage page) and show what it says.
    ///
    /// The keys are fetched from the issuing site (`{iss}/.well-known/consent-receipt-keys.json`)
    /// unless --keys names a saved key set (a file) or another URL. Exits 0 when the receipt
    /// verifies, 1 when it does not.
    VerifyReceipt(VerifyReceiptArgs),
}

#[derive(Debug, Args)]
pub struct VerifyReceiptArgs {
    /// The receipt: a file holding the compact JWS, or `-` for standard input.
    #[arg(value_name = "FILE")]
    pub file: std::path::PathBuf,
    /// The published keys (JWKS): a file, or an `https://` (or `http://`) URL.
    #[arg(long, value_name = "FILE_OR_URL")]
    pub keys: Option<String>,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Directory to write the backup into: created owner-only; it must be new or empty.
    #[arg(long, value_name = "DIR")]
    pub to: std::path::PathBuf,
    /// Also copy the key store and the master key, into DIR/keys/. That copy opens every copy of
    /// the data, including events purged since: keep it for less time than the retention period
    /// (30 days after an event by default), apart from the data backups.
    #[arg(long)]
    pub include_keys: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Directory holding a backup made by `consentry backup`.
    #[arg(long, value_name = "DIR")]
    pub from: std::path::PathBuf,
    /// Replace a database that holds data, and (when the backup holds keys) a key store that holds
    /// keys and a different master key.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Only print what is due and when; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Decide what is due as of this time (RFC 3339) instead of now.
    #[arg(long, value_parser = parse_timestamp)]
    pub as_of: Option<time::OffsetDateTime>,
    /// Registrations deleted per transaction. Smaller batches hold SQLite's write lock for less
    /// time, so scans at other events wait less, and the purge takes longer.
    #[arg(long, default_value_t = retention::DEFAULT_BATCH_SIZE,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub batch_size: u64,
}

fn parse_timestamp(value: &str) -> Result<time::OffsetDateTime, String> {
    time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
        .map_err(|_| "expected an RFC 3339 time such as 2027-01-01T12:00:00Z".to_owned())
}

#[derive(Debug, Subcommand)]
pub enum OrganiserCommand {
    /// Create an organiser account. The password is read from a prompt, or from standard input
    /// with --password-stdin; never from the command line.
    Create(CreateOrganiser),
    /// Set a new password for an organiser and end all of its sessions.
    SetPassword(SetPassword),
}

#[derive(Debug, Args)]
pub struct CreateOrganiser {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The organiser's e-mail address (the login).
    #[arg(long)]
    pub email: String,
    /// The organiser's name as shown in the console.
    #[arg(long)]
    pub name: String,
    /// Create a new organisation of this name for the organiser.
    #[arg(
        long,
        conflicts_with = "organisation_id",
        required_unless_present = "organisation_id"
    )]
    pub organisation: Option<String>,
    /// Add the organiser to this existing organisation.
    #[arg(long)]
    pub organisation_id: Option<Uuid>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct SetPassword {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The organiser's e-mail address.
    #[arg(long)]
    pub email: String,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::Migrate(store) => {
            open_stores(&store).await?.close().await;
            println!("migrations applied");
            Ok(())
        }
        Command::Organiser(OrganiserCommand::Create(args)) => create_organiser(args).await,
        Command::Organiser(OrganiserCommand::SetPassword(args)) => set_password(args).await,
        Command::Purge(args) => purge(args).await,
        Command::Backup(args) => backup(args).await,
        Command::Restore(args) => restore(args).await,
        Command::VerifyReceipt(args) => verify_receipt(args).await,
    }
}

/// Create the data directory (owner-only), connect and migrate.
async fn open_store(store: &StoreArgs) -> anyhow::Result<sea_orm::DatabaseConnection> {
    db::create_private_dir(&store.data_dir)?;
    let db = db::connect(&store.database_url(), store.db_max_connections).await?;
    db::migrate(&db).await?;
    Ok(db)
}

/// The main database and the key store, both migrated.
async fn open_stores(store: &StoreArgs) -> anyhow::Result<Stores> {
    db::create_private_dir(&store.data_dir)?;
    Stores::open(
        &store.database_url(),
        store.keystore_url().as_deref(),
        store.db_max_connections,
    )
    .await
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let stores = open_stores(&args.store).await?;
    let master = MasterKey::load_or_create(
        &args.store.master_key_path(),
        args.store.may_create_master_key(),
    )?;
    let mailer = match &args.mail.smtp_url {
        Some(url) => Mailer::smtp(url, &args.mail.mail_from)?,
        None => Mailer::outbox(args.store.data_dir.join("outbox"), &args.mail.mail_from)?,
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let app = Application::build(
        args.bind,
        Ingredients {
            stores,
            master,
            clock: clock.clone(),
            mailer,
        },
        |bound| HttpConfig::from_serve_args(&args, bound),
    )
    .await?
    .purging_every(Duration::from_secs(args.purge_interval_secs));
    let app = match args.metrics_bind {
        Some(bind) => app.serving_metrics_on(bind).await?,
        None => app,
    };
    let bound = app.address()?;
    let state = app.state();
    let public_url = state.config.public_url.clone();

    if args.disable_rate_limits {
        tracing::warn!("rate limits are disabled: use this only for load tests on loopback");
    }
    // Machine-readable first line: tests and scripts read the bound address from it.
    println!("consentry listening on http://{bound}");
    tracing::info!(address = %bound, database = db::backend_name(&state.db), "listening");
    if let Some(metrics) = app.metrics_address() {
        println!("metrics on http://{metrics}/metrics");
    }

    if args.demo {
        let login = demo::seed(&state.db, &state.keystore, &state.keys.master, clock.now()).await?;
        let verb = if login.created {
            "created"
        } else {
            "ready (new password)"
        };
        println!("demo {verb}:");
        println!("  organiser console: {public_url}/admin (kiosks: /kiosk)");
        println!("  login:             {} / {}", login.email, login.password);
        println!("  registration page: {public_url}/e/{}", login.event_slug);
        println!("  API docs:          {public_url}/api/docs");
    }

    // One shutdown signal for the HTTP server and the purge loop.
    app.run_until(stop_on_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// A flag that turns true on Ctrl-C or SIGTERM.
fn stop_on_signal() -> tokio::sync::watch::Receiver<bool> {
    let (stop, stopping) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        http::shutdown_signal().await;
        let _ = stop.send(true);
    });
    stopping
}

async fn purge(args: PurgeArgs) -> anyhow::Result<()> {
    let Stores { db, keystore } = open_stores(&args.store).await?;
    let clock: Arc<dyn Clock> = match args.as_of {
        Some(at) => Arc::new(crate::clock::FixedClock::new(at)),
        None => Arc::new(SystemClock),
    };
    let now = clock.now();
    let outbox = args.store.data_dir.join("outbox");
    let mut purger = Purger::new(db.clone(), keystore.clone(), clock).with_outbox(Some(outbox));
    purger.batch_size = args.batch_size;
    let fmt = &time::format_description::well_known::Rfc3339;
    let schedule = purger.schedule().await?;
    println!("as of {}", now.format(fmt)?);
    if schedule.is_empty() {
        println!("no event holds attendee data");
    }
    for s in &schedule {
        println!(
            "{:<8} {}  due {}  {} registrations  ({})",
            s.stage.as_str(),
            s.slug,
            s.due_at.format(fmt)?,
            s.registrations,
            s.event_id,
        );
    }
    if !args.dry_run {
        // Ctrl-C stops between two batches; the next run resumes.
        let stopping = stop_on_signal();
        let report = purger.run_once(&stopping).await?;
        for p in &report.purged {
            println!("purged {}: {} registrations", p.event_id, p.registrations);
        }
        for event_id in &report.deleted {
            println!("finished deleting {event_id}");
        }
        if report.busy > 0 {
            println!(
                "{} due events are being purged by another instance",
                report.busy
            );
        }
        if report.stopped {
            println!("stopped early; run again to resume");
        }
        if report.purged.is_empty()
            && report.deleted.is_empty()
            && report.busy == 0
            && !report.stopped
        {
            println!("nothing was due");
        }
    }
    keystore.db.close().await.ok();
    db.close().await.ok();
    Ok(())
}

async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let to = &args.to;
    let manifest =
        match backup::backup(&args.store, to, args.include_keys, SystemClock.now()).await? {
            BackupOutcome::Written(manifest) => manifest,
            BackupOutcome::ToolMissing { tool, commands } => {
                for command in commands {
                    println!("{command}");
                }
                bail!(
                    "{tool} is not installed here, so no backup was made: run the commands above \
                     where it is (or install the PostgreSQL client programs)"
                );
            }
        };
    let fmt = &time::format_description::well_known::Rfc3339;
    println!(
        "backup written to {}: {} ({}, schema {}, {})",
        to.display(),
        manifest.backend.data_file(),
        manifest.backend.name(),
        manifest.schema,
        manifest.created_at.format(fmt)?,
    );
    if manifest.keys_included {
        println!(
            "key store and master key written apart to {}",
            to.join(backup::KEYS_DIR).display()
        );
        eprintln!(
            "warning: {} holds the key store and the master key. With them, this and every other \
             copy of the database opens the attendee data of events purged since. Keep that copy \
             for less time than the retention period (30 days after an event by default), apart \
             from the data backups, then destroy it; see {}.",
            to.join(backup::KEYS_DIR).display(),
            to.join(backup::WARNING_FILE).display(),
        );
    } else {
        println!(
            "the key store and the master key are not in this backup (by design): without them it \
             cannot be read, and once an event is purged it never can again"
        );
    }
    Ok(())
}

async fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let report = match backup::restore(&args.store, &args.from, args.force).await? {
        RestoreOutcome::Restored(report) => report,
        RestoreOutcome::ToolMissing { tool, commands } => {
            for command in commands {
                println!("{command}");
            }
            bail!(
                "{tool} is not installed here, so nothing was restored: run the commands above \
                 where it is, into an empty database, then `consentry migrate`"
            );
        }
    };
    let fmt = &time::format_description::well_known::Rfc3339;
    let manifest = &report.manifest;
    println!(
        "restored the {} backup of {} (schema {}) into {}; migrations applied",
        manifest.backend.name(),
        manifest.created_at.format(fmt)?,
        manifest.schema,
        report.database,
    );
    let master_key = report.master_key.display();
    match report.plan.keys {
        KeysAfterwards::FromBackup => println!(
            "key store ({}) and master key ({master_key}) restored from the backup",
            report.keystore
        ),
        KeysAfterwards::InPlace => println!(
            "the key store ({}) and the master key ({master_key}) in place open the restored data; \
             events purged or deleted since the backup stay unreadable: their keys are gone",
            report.keystore
        ),
        KeysAfterwards::Missing {
            keystore,
            master_key: master_key_missing,
        } => {
            let missing = match (keystore, master_key_missing) {
                (true, true) => format!(
                    "the key store ({}) and the master key ({master_key})",
                    report.keystore
                ),
                (true, false) => format!("the key store ({})", report.keystore),
                _ => format!("the master key ({master_key})"),
            };
            eprintln!(
                "warning: this backup holds no key store and no master key (by design), and \
                 {missing} {verb} not in place. Put {them} in place before `consentry serve`: until \
                 then the attendee data restored here stays unreadable.",
                verb = if keystore && master_key_missing {
                    "are"
                } else {
                    "is"
                },
                them = if keystore && master_key_missing {
                    "them"
                } else {
                    "it"
                },
            );
        }
    }
    Ok(())
}

async fn create_organiser(args: CreateOrganiser) -> anyhow::Result<()> {
    let password = read_new_password(args.password_stdin)?;
    let db = open_store(&args.store).await?;
    let hash = tokio::task::spawn_blocking(move || crypto::hash_password(&password)).await??;
    let choice = match (args.organisation, args.organisation_id) {
        (_, Some(id)) => OrganisationChoice::Existing(id),
        (Some(name), None) => OrganisationChoice::New { name },
        (None, None) => bail!("give --organisation NAME or --organisation-id ID"),
    };
    let (organisation_id, organiser_id) = organisers::create_organiser(
        &db,
        choice,
        &args.email,
        &args.name,
        hash,
        SystemClock.now(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("organiser {organiser_id} created in organisation {organisation_id}");
    Ok(())
}

async fn set_password(args: SetPassword) -> anyhow::Result<()> {
    let password = read_new_password(args.password_stdin)?;
    let db = open_store(&args.store).await?;
    let email = String::from(
        crate::contact::Email::parse("email", &args.email)
            .map_err(|e| anyhow::anyhow!("--email: {}", e.detail))?,
    );
    let Some(organiser) = organisers::find_by_email(&db, &email).await? else {
        bail!("no organiser has this e-mail address");
    };
    let hash = tokio::task::spawn_blocking(move || crypto::hash_password(&password)).await??;
    organisers::set_password(&db, organiser.id, hash, SystemClock.now())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("password changed; all sessions of {} ended", organiser.id);
    Ok(())
}

/// A new password from standard input or an interactive prompt (asked twice).
fn read_new_password(from_stdin: bool) -> anyhow::Result<String> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        let first = rpassword::prompt_password("Password: ")
            .context("cannot prompt for a password (use --password-stdin without a terminal)")?;
        let second = rpassword::prompt_password("Repeat password: ")?;
        if first != second {
            bail!("the passwords differ");
        }
        first
    };
    organisers::check_new_password(&password).map_err(|e| anyhow::anyhow!("{}", e.detail))?;
    Ok(password)
}

async fn verify_receipt(args: VerifyReceiptArgs) -> anyhow::Result<()> {
    use crate::receipts;
    let receipt = if args.file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("cannot read standard input")?
    } else {
        std::fs::read_to_string(&args.file)
            .with_context(|| format!("cannot read {}", args.file.display()))?
    };
    let source = match args.keys {
        Some(keys) => keys,
        None => {
            let issuer = receipts::unverified_issuer(&receipt)
                .context("not a consent receipt: it names no issuer (iss)")?;
            format!("{}{}", issuer.trim_end_matches('/'), receipts::KEYS_PATH)
        }
    };
    let keys_text = if source.starts_with("https://") || source.starts_with("http://") {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()?;
        client
            .get(&source)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .with_context(|| format!("cannot fetch the keys from {source}"))?
            .text()
            .await?
    } else {
        std::fs::read_to_string(&source).with_context(|| format!("cannot read {source}"))?
    };
    let keys: jsonwebtoken::jwk::JwkSet =
        serde_json::from_str(&keys_text).with_context(|| format!("{source} is not a JWKS"))?;
    match receipts::verify(&receipt, &keys) {
        Ok(claims) => {
            println!("valid: signed by a key published at {source}");
            println!("{}", serde_json::to_string_pretty(&claims)?);
            Ok(())
        }
        Err(rejection) => bail!("not valid: {rejection}"),
    }
}
