//! Badges: each event's Ed25519 signing keys, badge tokens, the published key set (JWKS) that lets
//! a kiosk check a badge offline, and the badge images.

pub mod entity;
pub mod render;
pub mod token;

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::SigningKey;
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use time::OffsetDateTime;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use self::token::{BadgeClaims, BadgePublicKey, BadgeSigner};
use crate::{
    crypto::MasterKey,
    error::{ApiError, ApiResult, Problem},
    events,
    extract::ApiPath,
    state::AppState,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(badge_keys))
}

fn wrap_context(kid: &str) -> String {
    format!("badge-key:{kid}")
}

/// Make a new signing key for `event_id`; the newest key signs new badges, older ones keep
/// verifying the badges they signed.
pub async fn create_signing_key(
    db: &impl ConnectionTrait,
    master: &MasterKey,
    event_id: Uuid,
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
    event_id: Uuid,
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
    event_id: Uuid,
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
        event_id: row.event_id,
        public_key,
    })
}

/// The badge token of a registration, signed with the event's newest key. Ed25519 signatures are
/// deterministic, so the same badge re-issued with the same key is the same token.
pub fn badge_token(
    signer: &BadgeSigner,
    badge_id: Uuid,
    event_id: Uuid,
    issued_at: OffsetDateTime,
) -> ApiResult<String> {
    Ok(signer.sign(&BadgeClaims {
        bid: badge_id,
        eid: event_id,
        iat: issued_at.unix_timestamp(),
    })?)
}

/// What a badge's QR code holds: this server's `/b` page with the token in the fragment. A kiosk
/// reads the token out of it (`consentry_badge::token_in_scan`); a phone's own camera app opens
/// the page, which tells the attendee that the badge holds no personal data and how to manage
/// their choices. Browsers never send a fragment to a server, so the token stays on the phone.
pub fn qr_text(public_url: &str, token: &str) -> String {
    format!("{public_url}/b#{token}")
}

/// The public keys that verify this event's badges, as a JSON Web Key Set, so kiosks can check a
/// badge's signature while offline.
#[utoipa::path(
    get, path = "/events/{event}/badge-keys", tag = "registration",
    params(("event" = String, Path, description = "The event's slug")),
    responses(
        (status = 200, description = "JWKS (RFC 7517): OKP / Ed25519 keys with `kid`", content_type = "application/jwk-set+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
async fn badge_keys(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
) -> ApiResult<Response> {
    let event = events::find_public(&state.db, &slug).await?;
    let keys = public_keys(&state.keystore.db, event.id).await?;
    let mut response = Json(token::jwks(&keys)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jwk-set+json"),
    );
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(response)
}

/// Each event's public badge keys, kept in memory: a key never changes once created, so the only
/// reason to go back to the database is a `kid` not seen yet (a rotation on another instance).
#[derive(Default)]
pub struct BadgeKeyCache {
    events: std::sync::RwLock<std::collections::HashMap<Uuid, std::sync::Arc<Vec<BadgePublicKey>>>>,
}

impl BadgeKeyCache {
    /// The event's keys, loaded again when `kid` is not among the cached ones.
    pub async fn get(
        &self,
        db: &impl ConnectionTrait,
        event_id: Uuid,
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
