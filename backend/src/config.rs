//! Configuration: command-line flags with `CONSENTRY_*` environment variables as fallbacks.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::Args;

use crate::{
    connections::ConnectionLimits,
    crypto, db,
    rate_limit::{LimitSettings, Rate},
};

/// Where data lives: shared by every command that touches the database.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Directory for the SQLite database, the master key and the mail outbox; created if missing.
    #[arg(long, env = "CONSENTRY_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Database URL: `sqlite://PATH?mode=rwc` or `postgres://USER@HOST/DB`. Defaults to
    /// `consentry.db` inside the data directory.
    #[arg(long, env = "CONSENTRY_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Key store URL: where each event's data key and badge keys live, apart from the data they
    /// protect, so that backups of the main database become unreadable once an event is purged.
    /// Defaults to `keys.db` in the data directory with SQLite, and to the main database with
    /// PostgreSQL (give a database of its own there).
    #[arg(long, env = "CONSENTRY_KEYSTORE_URL", hide_env_values = true)]
    pub keystore_url: Option<String>,

    /// Maximum database connections per process (default: 4 for SQLite, 16 for PostgreSQL).
    #[arg(long, env = "CONSENTRY_DB_MAX_CONNECTIONS")]
    pub db_max_connections: Option<u32>,

    /// File holding the master key (32 bytes, base64url). Defaults to `master.key` in the data
    /// directory, generated with mode 0600 on first start. Several instances sharing one database
    /// must share this key.
    #[arg(long, env = "CONSENTRY_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
}

/// Where mail goes.
#[derive(Debug, Clone, Args)]
pub struct MailArgs {
    /// SMTP server for outgoing mail: `smtp://host:25`, `smtp://user:pass@host:587?tls=required`
    /// or `smtps://user:pass@host:465`. Without it, mails are written as .eml files to the
    /// outbox in the data directory.
    #[arg(long, env = "CONSENTRY_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// Sender of outgoing mail.
    #[arg(
        long,
        env = "CONSENTRY_MAIL_FROM",
        default_value = "Consentry <no-reply@consentry.invalid>"
    )]
    pub mail_from: String,
}

impl StoreArgs {
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| db::default_sqlite_url(&self.data_dir))
    }

    /// The key store's URL; `None` means the main database.
    pub fn keystore_url(&self) -> Option<String> {
        if self.keystore_url.is_some() {
            return self.keystore_url.clone();
        }
        self.database_url
            .as_deref()
            .is_none_or(|url| url.starts_with("sqlite:"))
            .then(|| crate::keystore::default_sqlite_url(&self.data_dir))
    }

    pub fn master_key_path(&self) -> PathBuf {
        self.master_key_file
            .clone()
            .unwrap_or_else(|| crypto::default_master_key_path(&self.data_dir))
    }

    /// Whether a missing master key may be generated: only at its default place. An explicitly
    /// configured file that is missing is an operator error, not something to paper over.
    pub fn may_create_master_key(&self) -> bool {
        self.master_key_file.is_none()
    }
}

/// Flags of `consentry serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,

    #[command(flatten)]
    pub mail: MailArgs,

    /// Address to listen on; port 0 picks a free port (the chosen address is printed).
    #[arg(long, env = "CONSENTRY_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Public base URL, used in links sent to people (manage links). An `https://` URL also marks
    /// session cookies `Secure`. Defaults to `http://` + the bound address.
    #[arg(long, env = "CONSENTRY_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Seed a demo organisation, organiser and event (three sponsors) and print the login.
    #[arg(long, env = "CONSENTRY_DEMO")]
    pub demo: bool,

    /// Organiser session lifetime in minutes.
    #[arg(long, env = "CONSENTRY_SESSION_TTL_MINUTES", default_value_t = 120,
          value_parser = clap::value_parser!(u32).range(5..=1440))]
    pub session_ttl_minutes: u32,

    /// Take the client address for rate limits from the last `X-Forwarded-For` entry. Enable only
    /// behind a reverse proxy that sets it.
    #[arg(long, env = "CONSENTRY_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,

    /// Turn every rate limit off. Only for load tests against a server on loopback.
    #[arg(long, env = "CONSENTRY_DISABLE_RATE_LIMITS")]
    pub disable_rate_limits: bool,

    /// How often the retention purge looks for events whose attendee data is due, in seconds.
    #[arg(long, env = "CONSENTRY_PURGE_INTERVAL_SECS", default_value_t = 600,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub purge_interval_secs: u64,

    /// Longest time one request may take, in seconds.
    #[arg(long, env = "CONSENTRY_REQUEST_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub request_timeout_secs: u64,

    /// Time for a request's head (request line and headers) to arrive once it has begun, in
    /// seconds; a slower connection is closed.
    #[arg(long, env = "CONSENTRY_HEADER_READ_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=300))]
    pub header_read_timeout_secs: u64,

    /// Time a kept-alive connection may sit idle before the server closes it, in seconds. Keep it
    /// longer than the reverse proxy's own idle timeout for upstream connections (nginx: 60 s).
    #[arg(long, env = "CONSENTRY_IDLE_TIMEOUT_SECS", default_value_t = 75,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub idle_timeout_secs: u64,

    /// Connections open at once; beyond it new connections wait in the kernel's backlog until
    /// one closes. Keep it below the process's open-file limit (`ulimit -n`).
    #[arg(long, env = "CONSENTRY_MAX_CONNECTIONS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,

    /// On SIGTERM or Ctrl-C, how long to wait for requests in flight before closing what is
    /// left, in seconds.
    #[arg(long, env = "CONSENTRY_SHUTDOWN_GRACE_SECS", default_value_t = 20,
          value_parser = clap::value_parser!(u64).range(0..=600))]
    pub shutdown_grace_secs: u64,

    /// Serve Prometheus metrics at `http://ADDR/metrics` on this separate address (off by
    /// default). Keep it private: bind it to loopback or an internal network.
    #[arg(long, env = "CONSENTRY_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,

    /// Last: its help heading would take in the flags after it.
    #[command(flatten)]
    pub limits: RateLimitArgs,
}

impl ServeArgs {
    /// The connection limits these flags ask for.
    pub fn connection_limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            header_read: Duration::from_secs(self.header_read_timeout_secs),
            idle: Duration::from_secs(self.idle_timeout_secs),
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
            shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
            ..ConnectionLimits::default()
        }
    }
}

/// The numbers of every rate limit, each `BURST/PERIOD`: BURST at once, then one more every PERIOD
/// (`ms`, `s`, `m` or `h`). A network is an IPv4 address or an IPv6 /64. docs/SECURITY.md explains
/// the defaults.
#[derive(Debug, Clone, Args)]
#[command(
    next_help_heading = "Rate limits (BURST/PERIOD: 30/2s is 30 at once, then one every 2 s)"
)]
pub struct RateLimitArgs {
    /// Failed login attempts from one network, whatever the account.
    #[arg(long, env = "CONSENTRY_LIMIT_LOGIN", value_name = "RATE",
          default_value_t = LimitSettings::DEFAULT.login)]
    pub limit_login: Rate,

    /// Failed logins for one account from one network.
    #[arg(long, env = "CONSENTRY_LIMIT_LOGIN_FAILURES", value_name = "RATE",
          default_value_t = LimitSettings::DEFAULT.login_failures)]
    pub limit_login_failures: Rate,

    /// Failed logins for one account from all networks together; refuses only networks that
    /// failed for the account in the last hour.
    #[arg(long, env = "CONSENTRY_LIMIT_LOGIN_FAILURES_PER_ACCOUNT", value_name = "RATE",
          default_value_t = LimitSettings::DEFAULT.login_failures_per_account)]
    pub limit_login_failures_per_account: Rate,

    /// Registrations from one network.
    #[arg(long, env = "CONSENTRY_LIMIT_REGISTRATION", value_name = "RATE",
          default_value_t = LimitSettings::DEFAULT.registration)]
    pub limit_registration: Rate,

    /// Registrations for one event from one of its venue networks, from 3 hours before its start
    /// to its end.
    #[arg(long, env = "CONSENTRY_LIMIT_REGISTRATION_AT_VENUE", value_name = "RATE",
          default_value_t = LimitSettings::DEFAULT.registration_at_venue)]
    pub limit_registration_at_venue: Rate,

    /// Requests with one valid manage link (or e-mail change link).
    #[arg(long, env = "CONSENTRY_LIMIT_MANAGE_LINK", value_name = "RATE",
          default_value_t = LimitSettings::DEFAULT.manage_link)]
    pub limit_manage_link: Rate,

    /// Manage and e-mail change links that open nothing, from one network.
    #[arg(long, env = "CONSENTRY_LIMIT_MANAGE_FAILURES", value_name = "RATE",
          default_value_t = LimitSettings::DEFAULT.manage_failures)]
    pub limit_manage_failures: Rate,

    /// The same from all networks together; refuses only networks that failed in the last hour.
    #[arg(long, env = "CONSENTRY_LIMIT_MANAGE_FAILURES_TOTAL", value_name = "RATE",
          default_value_t = LimitSettings::DEFAULT.manage_failures_total)]
    pub limit_manage_failures_total: Rate,

    /// Booth links asked for by e-mail from one network (each may send a mail).
    #[arg(long, env = "CONSENTRY_LIMIT_BOOTH_MAIL", value_name = "RATE",
          default_value_t = LimitSettings::DEFAULT.booth_mail)]
    pub limit_booth_mail: Rate,

    /// Booth links asked for one address, from all networks.
    #[arg(long, env = "CONSENTRY_LIMIT_BOOTH_MAIL_PER_ADDRESS", value_name = "RATE",
          default_value_t = LimitSettings::DEFAULT.booth_mail_per_address)]
    pub limit_booth_mail_per_address: Rate,

    /// Wrong pairing codes from one network.
    #[arg(long, env = "CONSENTRY_LIMIT_PAIRING_FAILURES", value_name = "RATE",
          default_value_t = LimitSettings::DEFAULT.pairing_failures)]
    pub limit_pairing_failures: Rate,

    /// Wrong pairing codes from all networks together; refuses only networks that failed in the
    /// last hour.
    #[arg(long, env = "CONSENTRY_LIMIT_PAIRING_FAILURES_TOTAL", value_name = "RATE",
          default_value_t = LimitSettings::DEFAULT.pairing_failures_total)]
    pub limit_pairing_failures_total: Rate,
}

impl RateLimitArgs {
    pub fn settings(&self, enabled: bool) -> LimitSettings {
        LimitSettings {
            enabled,
            login: self.limit_login,
            login_failures: self.limit_login_failures,
            login_failures_per_account: self.limit_login_failures_per_account,
            registration: self.limit_registration,
            registration_at_venue: self.limit_registration_at_venue,
            manage_link: self.limit_manage_link,
            manage_failures: self.limit_manage_failures,
            manage_failures_total: self.limit_manage_failures_total,
            booth_mail: self.limit_booth_mail,
            booth_mail_per_address: self.limit_booth_mail_per_address,
            pairing_failures: self.limit_pairing_failures,
            pairing_failures_total: self.limit_pairing_failures_total,
        }
    }
}

/// What the HTTP layer needs to know, independent of how it was configured.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub public_url: String,
    pub session_ttl: time::Duration,
    pub secure_cookies: bool,
    pub trust_forwarded_for: bool,
    pub request_timeout: Duration,
    pub body_limit_bytes: usize,
    pub rate_limits: LimitSettings,
    pub connections: ConnectionLimits,
}

impl HttpConfig {
    pub fn from_serve_args(args: &ServeArgs, bound: SocketAddr) -> Self {
        let public_url = args
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"))
            .trim_end_matches('/')
            .to_owned();
        Self {
            secure_cookies: public_url.starts_with("https://"),
            public_url,
            session_ttl: time::Duration::minutes(i64::from(args.session_ttl_minutes)),
            trust_forwarded_for: args.trust_forwarded_for,
            request_timeout: Duration::from_secs(args.request_timeout_secs),
            body_limit_bytes: DEFAULT_BODY_LIMIT,
            rate_limits: args.limits.settings(!args.disable_rate_limits),
            connections: args.connection_limits(),
        }
    }

    /// Settings for tests and embedding: loopback URL, defaults everywhere else.
    pub fn for_tests() -> Self {
        Self {
            public_url: "http://127.0.0.1".into(),
            session_ttl: time::Duration::minutes(120),
            secure_cookies: false,
            trust_forwarded_for: false,
            request_timeout: Duration::from_secs(30),
            body_limit_bytes: DEFAULT_BODY_LIMIT,
            rate_limits: LimitSettings::DEFAULT,
            connections: ConnectionLimits::default(),
        }
    }
}

/// No API request needs more than this; larger bodies are refused with 413 before parsing.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
