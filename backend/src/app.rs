//! The application, assembled in one place: its stores, keys, clock and mailer become the shared
//! state, bound to a listener, with the tasks that run beside the HTTP server (rate-limit
//! housekeeping and, in production, the retention purge). `consentry serve` and the API tests
//! build it the same way, so the tests exercise the wiring that runs in production; the
//! end-to-end tests run the `consentry` binary itself.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use sea_orm::DatabaseConnection;
use tokio::{net::TcpListener, sync::watch};

use crate::{
    clock::Clock,
    config::HttpConfig,
    crypto::MasterKey,
    db, http,
    keystore::{self, Keystore},
    mail::Mailer,
    metrics::{self, MetricsSource},
    retention::{self, Purger},
    state::AppState,
};

/// The application database and the key store (a separate database when configured).
#[derive(Clone)]
pub struct Stores {
    pub db: DatabaseConnection,
    pub keystore: Keystore,
}

impl Stores {
    /// Connect to both and bring the application database's schema up to date.
    pub async fn open(
        database_url: &str,
        keystore_url: Option<&str>,
        max_connections: Option<u32>,
    ) -> anyhow::Result<Self> {
        let db = db::connect(database_url, max_connections).await?;
        db::migrate(&db).await?;
        let keystore = keystore::open(&db, keystore_url, max_connections).await?;
        Ok(Self { db, keystore })
    }

    /// Close both pools (after the server has stopped).
    pub async fn close(self) {
        self.keystore.db.close().await.ok();
        self.db.close().await.ok();
    }
}

/// What the application is made of, apart from where it listens.
pub struct Ingredients {
    pub stores: Stores,
    pub master: MasterKey,
    pub clock: Arc<dyn Clock>,
    pub mailer: Mailer,
}

/// The application, listening, not yet serving.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    stores: Stores,
    purge_interval: Option<Duration>,
    metrics_listener: Option<TcpListener>,
}

impl Application {
    /// Listen on `bind` (port 0 picks a free one) and build the state. `http` gets the address
    /// actually bound, the default public URL.
    pub async fn build(
        bind: SocketAddr,
        ingredients: Ingredients,
        http: impl FnOnce(SocketAddr) -> HttpConfig,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(bind)
            .await
            .with_context(|| format!("cannot listen on {bind}"))?;
        let config = http(listener.local_addr()?);
        let Ingredients {
            stores,
            master,
            clock,
            mailer,
        } = ingredients;
        let state = AppState::new(
            stores.db.clone(),
            stores.keystore.clone(),
            clock,
            master,
            config,
            mailer,
        );
        Ok(Self {
            listener,
            state,
            stores,
            purge_interval: None,
            metrics_listener: None,
        })
    }

    /// Also serve `GET /metrics` on `bind`, a listener of its own (port 0 picks a free one).
    pub async fn serving_metrics_on(mut self, bind: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(bind)
            .await
            .with_context(|| format!("cannot listen on {bind} for metrics"))?;
        self.metrics_listener = Some(listener);
        Ok(self)
    }

    /// Where metrics are served, if they are.
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// Purge due events every `interval` while serving. Production does; the API tests leave it
    /// off and purge on their own clock.
    pub fn purging_every(mut self, interval: Duration) -> Self {
        self.purge_interval = Some(interval);
        self
    }

    pub fn address(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serve until `stop` turns true (or its sender is dropped), then let the purge loop finish
    /// its batch and close the stores.
    pub async fn run_until(self, stop: watch::Receiver<bool>) -> anyhow::Result<()> {
        let Self {
            listener,
            state,
            stores,
            purge_interval,
            metrics_listener,
        } = self;
        let housekeeping = tokio::spawn({
            let limits = state.limits.clone();
            async move {
                let mut tick = tokio::time::interval(Duration::from_secs(60));
                loop {
                    tick.tick().await;
                    limits.shrink();
                }
            }
        });
        let purging = purge_interval.map(|interval| {
            let purger = Purger::new(
                stores.db.clone(),
                stores.keystore.clone(),
                state.clock.clone(),
            )
            .with_outbox(state.mailer.outbox_dir().map(std::path::Path::to_path_buf))
            .with_unwrapped_keys(state.unwrapped.clone())
            .with_metrics(state.metrics.clone());
            tokio::spawn(retention::run_periodically(purger, interval, stop.clone()))
        });
        let metrics_server = metrics_listener.map(|listener| {
            let source = MetricsSource {
                metrics: state.metrics.clone(),
                db: stores.db.clone(),
                keystore: stores.keystore.db.clone(),
            };
            let mut stop = stop.clone();
            tokio::spawn(async move {
                let served = axum::serve(listener, metrics::router(source))
                    .with_graceful_shutdown(async move {
                        let _ = stop.wait_for(|stop| *stop).await;
                    })
                    .await;
                if let Err(e) = served {
                    tracing::error!(error = %e, "the metrics listener failed");
                }
            })
        });
        let served = http::serve(listener, state, stop).await;
        housekeeping.abort();
        if let Some(metrics_server) = metrics_server {
            metrics_server.await.ok();
        }
        if let Some(purging) = purging
            && purging.await.is_err()
        {
            tracing::error!("the purge loop ended abnormally");
        }
        stores.close().await;
        served.context("server failed")
    }
}
