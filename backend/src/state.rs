//! What every request handler can reach: the database, the clock, keys, settings, rate limits.

use std::sync::Arc;

use consentry_badge::BadgeSigner;
use jsonwebtoken::{DecodingKey, EncodingKey};
use sea_orm::DatabaseConnection;

use crate::schema::ids::EventId;
use crate::{
    clock::Clock,
    config::HttpConfig,
    crypto::{KeyPurpose, MasterKey},
    error::ApiResult,
    keystore::badge_keys::BadgeKeyCache,
    keystore::{Keystore, UnwrappedKeys},
    mail::Mailer,
    metrics::Metrics,
    rate_limit::{RateLimits, TrustForwardedFor},
    receipts::{ReceiptIssuer, ReceiptSigners},
    vault::EventVault,
};

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    /// Where event data keys and badge keys live: see [`crate::keystore`].
    pub keystore: Keystore,
    pub clock: Arc<dyn Clock>,
    pub keys: Arc<Keys>,
    pub config: Arc<HttpConfig>,
    pub limits: Arc<RateLimits>,
    pub mailer: Arc<Mailer>,
    pub badge_keys: Arc<BadgeKeyCache>,
    pub unwrapped: Arc<UnwrappedKeys>,
    /// On SQLite, scans take turns at the single write lock here, in a fair queue, rather than
    /// in SQLite's busy handler, which puts a waiting writer to sleep for up to 100 ms at a time
    /// (see `scans::attempt` and docs/BENCHMARKS.md).
    pub scan_writer: Arc<tokio::sync::Mutex<()>>,
    /// Each organisation's consent-receipt signing key (see [`crate::receipts`]).
    pub receipt_signers: Arc<ReceiptSigners>,
    /// What `--metrics-bind` serves (no personal data, no identifiers: see [`crate::metrics`]).
    pub metrics: Arc<Metrics>,
}

impl axum::extract::FromRef<AppState> for TrustForwardedFor {
    fn from_ref(state: &AppState) -> Self {
        Self(state.config.trust_forwarded_for)
    }
}

impl AppState {
    pub fn new(
        db: DatabaseConnection,
        keystore: Keystore,
        clock: Arc<dyn Clock>,
        master: MasterKey,
        config: HttpConfig,
        mailer: Mailer,
    ) -> Self {
        let metrics = Arc::new(Metrics::new(crate::db::backend_name(&db)));
        let mailer = mailer.with_metrics(metrics.clone());
        Self {
            metrics,
            db,
            keystore,
            clock,
            keys: Arc::new(Keys::new(master)),
            limits: Arc::new(RateLimits::new(config.rate_limits)),
            config: Arc::new(config),
            mailer: Arc::new(mailer),
            badge_keys: Arc::new(BadgeKeyCache::default()),
            unwrapped: Arc::new(UnwrappedKeys::default()),
            scan_writer: Arc::new(tokio::sync::Mutex::new(())),
            receipt_signers: Arc::new(ReceiptSigners::default()),
        }
    }

    /// The event's data keys (cached: see [`crate::keystore::KeyCache`]).
    pub async fn vault(&self, event_id: EventId) -> ApiResult<Arc<EventVault>> {
        self.unwrapped
            .vaults
            .get_or_load(event_id, || {
                EventVault::load(&self.keystore.db, &self.keys.master, event_id)
            })
            .await
    }

    /// What signs the consent receipts of `event` (its organisation's key, made on first use).
    pub async fn receipt_issuer(
        &self,
        organisation_id: uuid::Uuid,
        event_name: &str,
    ) -> ApiResult<ReceiptIssuer> {
        let signer = self
            .receipt_signers
            .get(
                &self.db,
                &self.keys.master,
                organisation_id,
                self.clock.now(),
            )
            .await?;
        Ok(ReceiptIssuer {
            signer,
            issuer: self.config.public_url.clone(),
            event_name: event_name.to_owned(),
        })
    }

    /// The event's current badge signing key (cached likewise).
    pub async fn badge_signer(&self, event_id: EventId) -> ApiResult<Arc<BadgeSigner>> {
        self.unwrapped
            .signers
            .get_or_load(event_id, || {
                crate::keystore::badge_keys::current_signer(
                    &self.keystore.db,
                    &self.keys.master,
                    event_id,
                )
            })
            .await
    }
}

/// Keys derived once at start-up from the master key.
pub struct Keys {
    pub master: MasterKey,
    pub session_encoding: EncodingKey,
    pub session_decoding: DecodingKey,
    pub kiosk_encoding: EncodingKey,
    pub kiosk_decoding: DecodingKey,
    /// HMAC key for pairing codes.
    pub pairing: [u8; 32],
}

impl Keys {
    pub fn new(master: MasterKey) -> Self {
        let session = master.derive(KeyPurpose::OrganiserSession);
        let kiosk = master.derive(KeyPurpose::KioskToken);
        Self {
            session_encoding: EncodingKey::from_secret(&session),
            session_decoding: DecodingKey::from_secret(&session),
            kiosk_encoding: EncodingKey::from_secret(&kiosk),
            kiosk_decoding: DecodingKey::from_secret(&kiosk),
            pairing: master.derive(KeyPurpose::PairingCode),
            master,
        }
    }
}
