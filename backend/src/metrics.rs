//! Operational metrics in the Prometheus exposition format (OpenMetrics text), served by
//! `consentry serve --metrics-bind ADDR` on a listener of its own, never on the public one.
//!
//! **No label carries personal data or an identifier**: no event, sponsor, kiosk or registration
//! id, no address, no path (routes appear as their templates, `/api/v1/events/{event_id}`). Every
//! figure is a total for this process. A label value comes from a closed set: route templates,
//! HTTP methods and status codes, scan outcomes and refusal codes, export formats.

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    body::Body,
    extract::{MatchedPath, Request, State},
    http::{HeaderValue, Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
        info::Info,
    },
    registry::Registry,
};
use sea_orm::{DatabaseConnection, DbBackend};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScanLabels {
    outcome: &'static str,
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FormatLabels {
    format: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MailLabels {
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    pool: &'static str,
    state: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolName {
    pool: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    database: &'static str,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms … about 16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// Every metric of one server.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_duration: Family<RequestLabels, Histogram, fn() -> Histogram>,
    scans: Family<ScanLabels, Counter>,
    registrations: Counter,
    exports: Family<FormatLabels, Counter>,
    purge_runs: Counter,
    purge_failures: Counter,
    purged_events: Counter,
    purged_registrations: Counter,
    purge_duration: Histogram,
    mails: Family<MailLabels, Counter>,
    connections_open: Gauge,
    connections_closed: Family<ReasonLabels, Counter>,
    pool_connections: Family<PoolLabels, Gauge>,
    pool_max: Family<PoolName, Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// The metrics of a server on `database` (`sqlite` or `postgres`, for the build info).
    pub fn new(database: &'static str) -> Self {
        let mut registry = Registry::with_prefix("consentry");
        let metrics = Self {
            requests: Family::default(),
            request_duration: Family::new_with_constructor(latency_histogram),
            scans: Family::default(),
            registrations: Counter::default(),
            exports: Family::default(),
            purge_runs: Counter::default(),
            purge_failures: Counter::default(),
            purged_events: Counter::default(),
            purged_registrations: Counter::default(),
            purge_duration: Histogram::new(exponential_buckets(0.01, 2.0, 16)),
            mails: Family::default(),
            connections_open: Gauge::default(),
            connections_closed: Family::default(),
            pool_connections: Family::default(),
            pool_max: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "build",
            "The running version and its database",
            Info::new(BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
                database,
            }),
        );
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            metrics.requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to the response head, by method, route template and status",
            metrics.request_duration.clone(),
        );
        registry.register(
            "scans",
            "Scans answered, by outcome and refusal reason (replays included)",
            metrics.scans.clone(),
        );
        registry.register(
            "registrations",
            "Registrations stored",
            metrics.registrations.clone(),
        );
        registry.register(
            "exports",
            "Lead exports served, by format",
            metrics.exports.clone(),
        );
        registry.register(
            "purge_runs",
            "Runs of the retention purge",
            metrics.purge_runs.clone(),
        );
        registry.register(
            "purge_failures",
            "Runs of the retention purge that failed (they are retried on the next run)",
            metrics.purge_failures.clone(),
        );
        registry.register(
            "purged_events",
            "Events whose attendee data was purged",
            metrics.purged_events.clone(),
        );
        registry.register(
            "purged_registrations",
            "Registrations deleted by the retention purge",
            metrics.purged_registrations.clone(),
        );
        registry.register(
            "purge_duration_seconds",
            "Duration of retention purge runs that purged something",
            metrics.purge_duration.clone(),
        );
        registry.register(
            "mails",
            "Mails handed to SMTP or written to the outbox, by result",
            metrics.mails.clone(),
        );
        registry.register(
            "connections_open",
            "HTTP connections open now",
            metrics.connections_open.clone(),
        );
        registry.register(
            "connections_closed_by_server",
            "HTTP connections the server closed on its own, by reason",
            metrics.connections_closed.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Database connections, by pool (main, keys) and state (in_use, idle)",
            metrics.pool_connections.clone(),
        );
        registry.register(
            "db_pool_max_connections",
            "Largest number of connections each pool opens",
            metrics.pool_max.clone(),
        );
        let db = crate::db::write_waits();
        registry.register(
            "db_write_begin_waiting",
            "Requests waiting to begin a write transaction (a pool connection and, on SQLite, \
             the write lock)",
            db.waiting,
        );
        registry.register(
            "db_write_begin_seconds",
            "Time to begin a write transaction, waiting included",
            db.duration,
        );
        Self {
            registry,
            ..metrics
        }
    }

    pub fn scan(&self, outcome: &'static str, reason: Option<&'static str>) {
        self.scans
            .get_or_create(&ScanLabels {
                outcome,
                reason: reason.unwrap_or(""),
            })
            .inc();
    }

    pub fn registration(&self) {
        self.registrations.inc();
    }

    pub fn export(&self, format: &'static str) {
        self.exports.get_or_create(&FormatLabels { format }).inc();
    }

    /// One purge run: how long it took, what it purged, whether it failed.
    pub fn purge_run(&self, took: Duration, events: u64, registrations: u64, failed: bool) {
        self.purge_runs.inc();
        if failed {
            self.purge_failures.inc();
        }
        self.purged_events.inc_by(events);
        self.purged_registrations.inc_by(registrations);
        if events > 0 {
            self.purge_duration.observe(took.as_secs_f64());
        }
    }

    pub fn mail(&self, sent: bool) {
        let result = if sent { "sent" } else { "failed" };
        self.mails.get_or_create(&MailLabels { result }).inc();
    }

    /// A connection opened; it counts as open until the guard is dropped.
    pub fn connection_opened(self: &Arc<Self>) -> OpenConnection {
        self.connections_open.inc();
        OpenConnection(self.clone())
    }

    /// The server closed a connection on its own (`reason`: a fixed word, see `connections`).
    pub fn connection_closed(&self, reason: &'static str) {
        self.connections_closed
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    fn request(&self, method: &Method, route: String, status: u16, took: Duration) {
        let labels = RequestLabels {
            method: method_label(method),
            route,
            status,
        };
        self.requests.get_or_create(&labels).inc();
        self.request_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    fn sample_pools(&self, pools: &[(&'static str, &DatabaseConnection)]) {
        for &(pool, db) in pools {
            let (size, idle, max) = match db.get_database_backend() {
                DbBackend::Sqlite => {
                    let p = db.get_sqlite_connection_pool();
                    (p.size(), p.num_idle(), p.options().get_max_connections())
                }
                DbBackend::Postgres => {
                    let p = db.get_postgres_connection_pool();
                    (p.size(), p.num_idle(), p.options().get_max_connections())
                }
                _ => continue,
            };
            let idle = i64::try_from(idle).unwrap_or(i64::MAX);
            let size = i64::from(size);
            self.pool_connections
                .get_or_create(&PoolLabels {
                    pool,
                    state: "in_use",
                })
                .set((size - idle).max(0));
            self.pool_connections
                .get_or_create(&PoolLabels {
                    pool,
                    state: "idle",
                })
                .set(idle);
            self.pool_max
                .get_or_create(&PoolName { pool })
                .set(i64::from(max));
        }
    }

    /// The exposition, with the pools sampled now.
    pub fn render(&self, pools: &[(&'static str, &DatabaseConnection)]) -> String {
        self.sample_pools(pools);
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            tracing::error!("metrics could not be encoded");
        }
        text
    }
}

/// Keeps a connection counted as open.
pub struct OpenConnection(Arc<Metrics>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.connections_open.dec();
    }
}

/// Methods outside the standard set share one label value, so a client cannot mint label values.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware counting every answered request by its route template (`(static)` for the pages
/// and assets the fallback serves: their paths are a closed set, but not one worth a label each).
pub async fn record_request(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "(static)".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    metrics.request(
        &method,
        route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// What the metrics listener serves.
#[derive(Clone)]
pub struct MetricsSource {
    pub metrics: Arc<Metrics>,
    pub db: DatabaseConnection,
    pub keystore: DatabaseConnection,
}

/// The metrics listener's application: `GET /metrics` and nothing else.
pub fn router(source: MetricsSource) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(source)
}

async fn scrape(State(source): State<MetricsSource>) -> Response {
    let text = source
        .metrics
        .render(&[("main", &source.db), ("keys", &source.keystore)]);
    let mut response = Body::from(text).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_names_routes_by_template_and_nothing_else() {
        let metrics = Metrics::new("sqlite");
        metrics.request(
            &Method::GET,
            "/api/v1/events/{event_id}".into(),
            200,
            Duration::from_millis(3),
        );
        metrics.request(
            &Method::from_bytes(b"BREW").unwrap(),
            "(static)".into(),
            405,
            Duration::from_millis(1),
        );
        metrics.scan("refused", Some("no_consent"));
        let text = metrics.render(&[]);
        assert!(text.contains(
            "consentry_http_requests_total{method=\"GET\",route=\"/api/v1/events/{event_id}\",status=\"200\"} 1"
        ), "{text}");
        assert!(text.contains("method=\"other\""), "{text}");
        assert!(!text.contains("BREW"));
        assert!(
            text.contains("consentry_scans_total{outcome=\"refused\",reason=\"no_consent\"} 1"),
            "{text}"
        );
        assert!(text.contains("consentry_build_info{"), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }
}
