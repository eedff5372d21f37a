//! Each event's Ed25519 badge keys in the key store: created with the event, the newest signing
//! new badges, all of them verifying. The private half is stored wrapped under the master key.
//! (The badge tokens themselves, and their verification rule, are `consentry_badge`.)

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use consentry_badge::{BadgePublicKey, BadgeSigner};
use ed25519_dalek::SigningKey;
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use time::OffsetDateTime;

use crate::schema::ids::EventId;
use crate::{
    crypto::MasterKey,
    error::{ApiError, ApiResult},
    schema::badge_keys as entity,
};

fn wrap_context(kid: &str) -> String {
    format!("badge-key:{kid}")
}

/// Make a new signing key for `event_id`; the newest key signs new badges, older ones keep
/// verifying the badges they signed.
pub async fn create_signing_key(
    db: &impl ConnectionTrait,
    master: &MasterKey,
    event_id: EventId,
    now: OffsetDateTime,
) -> ApiResult<String> {
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    let public_key = SigningKey::from_bytes(&seed).verifying_key().to_bytes();
    // A short random key id keeps the badge token (and so the QR code) small.
    let mut kid_bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut kid_bytes);
    let kid = URL_SAFE_NO_PAD.encode(kid_bytes);
    entity::ActiveModel {
        kid: Set(kid.clone()),
        event_id: Set(event_id),
        public_key: Set(public_key.to_vec()),
        private_key_wrapped: Set(master.wrap(&wrap_context(&kid), &seed)?),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(kid)
}

/// The event's newest signing key.
pub async fn current_signer(
    db: &impl ConnectionTrait,
    master: &MasterKey,
    event_id: EventId,
) -> ApiResult<BadgeSigner> {
    let row = entity::Entity::find()
        .filter(entity::Column::EventId.eq(event_id))
        .order_by_desc(entity::Column::CreatedAt)
        .order_by_desc(entity::Column::Kid)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)?;
    let seed = master.unwrap_secret(&wrap_context(&row.kid), &row.private_key_wrapped)?;
    let seed: [u8; 32] = seed
        .as_slice()
        .try_into()
        .map_err(|_| anyhow::anyhow!("badge key seed has the wrong length"))?;
    Ok(BadgeSigner::from_seed(row.kid, &seed)?)
}

/// Every public badge key of the event.
pub async fn public_keys(
    db: &impl ConnectionTrait,
    event_id: EventId,
) -> ApiResult<Vec<BadgePublicKey>> {
    let rows = entity::Entity::find()
        .filter(entity::Column::EventId.eq(event_id))
        .order_by_asc(entity::Column::CreatedAt)
        .order_by_asc(entity::Column::Kid)
        .all(db)
        .await?;
    rows.into_iter().map(public_key_of).collect()
}

fn public_key_of(row: entity::Model) -> ApiResult<BadgePublicKey> {
    let public_key: [u8; 32] = row
        .public_key
        .as_slice()
        .try_into()
        .map_err(|_| anyhow::anyhow!("stored badge public key has the wrong length"))?;
    Ok(BadgePublicKey {
        kid: row.kid,
        event_id: row.event_id.as_uuid(),
        public_key,
    })
}

/// Each event's public badge keys, kept in memory: a key never changes once created, so the only
/// reason to go back to the database is a `kid` not seen yet (a rotation on another instance).
#[derive(Default)]
pub struct BadgeKeyCache {
    events:
        std::sync::RwLock<std::collections::HashMap<EventId, std::sync::Arc<Vec<BadgePublicKey>>>>,
}

impl BadgeKeyCache {
    /// The event's keys, loaded again when `kid` is not among the cached ones.
    pub async fn get(
        &self,
        db: &impl ConnectionTrait,
        event_id: EventId,
        kid: Option<&str>,
    ) -> ApiResult<std::sync::Arc<Vec<BadgePublicKey>>> {
        let cached = self
            .events
            .read()
            .ok()
            .and_then(|map| map.get(&event_id).cloned());
        if let Some(keys) = cached
            && kid.is_none_or(|kid| keys.iter().any(|k| k.kid == kid))
        {
            return Ok(keys);
        }
        let keys = std::sync::Arc::new(public_keys(db, event_id).await?);
        if let Ok(mut map) = self.events.write() {
            map.insert(event_id, keys.clone());
        }
        Ok(keys)
    }
}

/// The public key with this `kid`, of whichever event: tells a genuine badge of another event
/// (`wrong_event`) from a forgery (`invalid_badge`).
pub async fn key_by_kid(db: &impl ConnectionTrait, kid: &str) -> ApiResult<Option<BadgePublicKey>> {
    entity::Entity::find_by_id(kid.to_owned())
        .one(db)
        .await?
        .map(public_key_of)
        .transpose()
}
