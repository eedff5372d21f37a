//! Badges: badge tokens, the published key set (JWKS) that lets a kiosk check a badge offline, and
//! the badge images. The keys themselves live in the key store (`keystore::badge_keys`).

pub use crate::schema::badge_keys as entity;
pub mod render;
pub mod token;

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use self::token::{BadgeClaims, BadgeSigner};
use crate::schema::ids::EventId;
use crate::{error::ApiResult, events, extract::ApiPath, state::AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(badge_keys))
}

/// The badge token of a registration, signed with the event's newest key. Ed25519 signatures are
/// deterministic, so the same badge re-issued with the same key is the same token.
pub fn badge_token(
    signer: &BadgeSigner,
    badge_id: Uuid,
    event_id: EventId,
    issued_at: OffsetDateTime,
) -> ApiResult<String> {
    Ok(signer.sign(&BadgeClaims {
        bid: badge_id,
        eid: event_id.as_uuid(),
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
        crate::error::responses::NotFound,
    )
)]
async fn badge_keys(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
) -> ApiResult<Response> {
    let event = events::find_public(&state.db, &slug).await?;
    let keys = crate::keystore::badge_keys::public_keys(&state.keystore.db, event.id).await?;
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

/// A badge: its token and where to get its images.
#[derive(Debug, Serialize, ToSchema)]
pub struct BadgeView {
    /// What the QR code encodes: a signed token with a random badge id, the event id and the time
    /// of issue. No personal data.
    pub token: String,
    /// The QR code as PNG, base64-encoded.
    pub qr_png_base64: String,
    pub png_url: String,
    pub svg_url: String,
    /// A printable A6 badge (SVG) with name, company and the QR code.
    pub printable_url: String,
}

impl BadgeView {
    pub fn new(token: String, png: &[u8], public_url: &str, manage_token: &str) -> Self {
        let base = format!("{public_url}/api/v1/me/{manage_token}");
        Self {
            qr_png_base64: STANDARD.encode(png),
            png_url: format!("{base}/badge.png"),
            svg_url: format!("{base}/badge.svg"),
            printable_url: format!("{base}/badge-print.svg"),
            token,
        }
    }
}
