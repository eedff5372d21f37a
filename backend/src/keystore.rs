//! The key store: each event's wrapped data key and badge signing keys, kept apart from the data
//! they protect.
//!
//! Crypto-shredding only protects backups if the backup does not also hold the key. Every key here
//! is wrapped by the master key, and the master key outlives any one event, so a backup that held
//! both the ciphertexts and their wrapped key would stay readable after the purge. Hence the key
//! store is its own database by default (`keys.db` beside the SQLite file): a backup of the main
//! database holds ciphertexts only, and once the purge deletes an event's rows here nothing can
//! open them. With PostgreSQL, point `CONSENTRY_KEYSTORE_URL` at a database of its own whose
//! backups are kept for a shorter time than the retention; without it the keys live in the main
//! database, which still works but loses the backup guarantee (the server says so at start).

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use anyhow::Context;
use consentry_badge::BadgeSigner;
use consentry_migration::{KeystoreMigrator, MigratorTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter,
};

pub mod badge_keys;

use crate::schema::ids::EventId;
use crate::{
    db,
    error::ApiResult,
    schema::badge_keys as badge_key_rows,
    vault::{self, EventVault},
};

/// The key store's connection, and whether it is a database of its own.
#[derive(Clone)]
pub struct Keystore {
    pub db: DatabaseConnection,
    pub separate: bool,
}

/// The default key store next to a SQLite data directory.
pub fn default_sqlite_url(data_dir: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("keys.db").display())
}

/// Open the key store at `url`, or use the main database when there is none; apply its schema and
/// move in any keys an older version kept in the main database.
pub async fn open(
    main: &DatabaseConnection,
    url: Option<&str>,
    max_connections: Option<u32>,
) -> anyhow::Result<Keystore> {
    let keystore = match url {
        Some(url) => Keystore {
            db: db::connect(url, max_connections)
                .await
                .context("cannot open the key store")?,
            separate: true,
        },
        None => Keystore {
            db: main.clone(),
            separate: false,
        },
    };
    KeystoreMigrator::up(&keystore.db, None)
        .await
        .context("cannot apply the key store's migrations")?;
    if keystore.separate {
        adopt_keys(main, &keystore.db).await?;
    } else {
        tracing::warn!(
            "the key store is the main database: backups of it keep purged events readable; \
             set CONSENTRY_KEYSTORE_URL to a database of its own"
        );
    }
    Ok(keystore)
}

/// Move keys that an earlier version stored in the main database into the separate key store.
async fn adopt_keys(
    main: &DatabaseConnection,
    keystore: &DatabaseConnection,
) -> anyhow::Result<()> {
    let data_keys = vault::entity::Entity::find().all(main).await?;
    let signing_keys = badge_key_rows::Entity::find().all(main).await?;
    if data_keys.is_empty() && signing_keys.is_empty() {
        return Ok(());
    }
    for row in &data_keys {
        vault::entity::Entity::insert(vault::entity::ActiveModel::from(row.clone()))
            .on_conflict_do_nothing()
            .exec(keystore)
            .await?;
    }
    for row in &signing_keys {
        badge_key_rows::Entity::insert(badge_key_rows::ActiveModel::from(row.clone()))
            .on_conflict_do_nothing()
            .exec(keystore)
            .await?;
    }
    vault::entity::Entity::delete_many().exec(main).await?;
    badge_key_rows::Entity::delete_many().exec(main).await?;
    tracing::info!(
        data_keys = data_keys.len(),
        signing_keys = signing_keys.len(),
        "moved keys from the main database into the key store"
    );
    Ok(())
}

/// Destroy every key of `event_id`: its data key and its badge signing keys. Afterwards nothing
/// sealed for the event opens, and no badge of it verifies.
pub async fn destroy_event_keys(
    keystore: &impl ConnectionTrait,
    event_id: EventId,
) -> Result<(), sea_orm::DbErr> {
    vault::entity::Entity::delete_many()
        .filter(vault::entity::Column::EventId.eq(event_id))
        .exec(keystore)
        .await?;
    badge_key_rows::Entity::delete_many()
        .filter(badge_key_rows::Column::EventId.eq(event_id))
        .exec(keystore)
        .await?;
    Ok(())
}

/// On SQLite, copy the write-ahead log into the database file and empty it, so that pages freed
/// (and zeroed by `secure_delete`) do not survive as older copies in the log.
pub async fn checkpoint(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
            .await?;
    }
    Ok(())
}

/// How long an unwrapped key stays in memory.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(60);

/// Keys unwrapped from the key store, kept in memory per event so that a scan or a registration
/// neither reads the key store nor unwraps a key on every request (an event's keys do not change
/// until its purge). An entry lives at most [`KEY_CACHE_TTL`]. The purge evicts its event at
/// once on the instance that runs it; another instance drops its copy within the TTL. Until then
/// that copy opens nothing, since the ciphertexts are deleted, and every route refuses the event's
/// data from its due date on (`events::lifecycle::ensure_data_held`).
pub struct KeyCache<T> {
    entries: RwLock<HashMap<EventId, (Instant, Arc<T>)>>,
}

impl<T> Default for KeyCache<T> {
    fn default() -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
        }
    }
}

impl<T> KeyCache<T> {
    /// The event's key, from memory while fresh, else from `load`.
    pub async fn get_or_load<F, Fut>(&self, event_id: EventId, load: F) -> ApiResult<Arc<T>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = ApiResult<T>>,
    {
        let now = Instant::now();
        let fresh = |loaded: &Instant| now.duration_since(*loaded) < KEY_CACHE_TTL;
        let cached = self.entries.read().ok().and_then(|entries| {
            entries
                .get(&event_id)
                .filter(|(loaded, _)| fresh(loaded))
                .map(|(_, key)| key.clone())
        });
        if let Some(key) = cached {
            return Ok(key);
        }
        let key = Arc::new(load().await?);
        if let Ok(mut entries) = self.entries.write() {
            entries.retain(|_, (loaded, _)| fresh(loaded));
            entries.insert(event_id, (now, key.clone()));
        }
        Ok(key)
    }

    fn forget(&self, event_id: EventId) {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(&event_id);
        }
    }
}

/// The server's unwrapped keys: each event's vault and current badge signer.
#[derive(Default)]
pub struct UnwrappedKeys {
    pub vaults: KeyCache<EventVault>,
    pub signers: KeyCache<BadgeSigner>,
}

impl UnwrappedKeys {
    /// Drop everything held for the event (its keys are being destroyed).
    pub fn forget(&self, event_id: EventId) {
        self.vaults.forget(event_id);
        self.signers.forget(event_id);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use uuid::Uuid;

    use super::*;
    use crate::error::ApiError;

    /// A cache of numbers whose loads are counted.
    async fn get(cache: &KeyCache<usize>, event: EventId, loads: &AtomicUsize) -> ApiResult<usize> {
        cache
            .get_or_load(event, || async { Ok(loads.fetch_add(1, Ordering::SeqCst)) })
            .await
            .map(|key| *key)
    }

    #[tokio::test]
    async fn a_key_is_loaded_once_per_event_until_forgotten() {
        let cache = KeyCache::default();
        let loads = AtomicUsize::new(0);
        let (a, b) = (EventId(Uuid::new_v4()), EventId(Uuid::new_v4()));
        assert_eq!(get(&cache, a, &loads).await.unwrap(), 0);
        assert_eq!(get(&cache, a, &loads).await.unwrap(), 0);
        assert_eq!(get(&cache, b, &loads).await.unwrap(), 1);
        cache.forget(a);
        assert_eq!(get(&cache, a, &loads).await.unwrap(), 2);
        assert_eq!(get(&cache, b, &loads).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn forgetting_an_event_drops_both_its_vault_and_its_signer() {
        let keys = UnwrappedKeys::default();
        let (event, other) = (EventId(Uuid::new_v4()), EventId(Uuid::new_v4()));
        let loads = AtomicUsize::new(0);
        let vault = || async {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok(EventVault::from_data_key(&[1; 32]))
        };
        let signer = || async {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok(BadgeSigner::from_seed("kid".into(), &[2; 32])?)
        };
        for id in [event, other] {
            keys.vaults.get_or_load(id, vault).await.unwrap();
            keys.signers.get_or_load(id, signer).await.unwrap();
        }
        assert_eq!(loads.load(Ordering::SeqCst), 4);
        keys.forget(event);
        for id in [event, other] {
            keys.vaults.get_or_load(id, vault).await.unwrap();
            keys.signers.get_or_load(id, signer).await.unwrap();
        }
        // Only the forgotten event's two keys were loaded again.
        assert_eq!(loads.load(Ordering::SeqCst), 6);
    }

    #[tokio::test]
    async fn a_failed_load_is_not_remembered() {
        let cache = KeyCache::<usize>::default();
        let event = EventId(Uuid::new_v4());
        let failed = cache
            .get_or_load(event, || async { Err(ApiError::NotFound) })
            .await;
        assert!(matches!(failed, Err(ApiError::NotFound)));
        let loads = AtomicUsize::new(7);
        assert_eq!(get(&cache, event, &loads).await.unwrap(), 7);
    }
}
