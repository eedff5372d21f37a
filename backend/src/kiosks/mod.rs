//! Kiosks: an organiser creates one for a sponsor of an event and hands over a one-time pairing
//! code; the device exchanges it for a kiosk token scoped to that event and sponsor. Organisers
//! see their kiosks and revoke them; a revoked token is refused on its next request.

pub use crate::schema::kiosks as entity;
pub mod rules;

use axum::{
    Json,
    extract::{FromRequestParts, State},
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::schema::ids::EventId;
use crate::schema::ids::{KioskId, SponsorId};
use crate::{
    audit,
    auth::{OrganiserAuth, bearer_token, cookie},
    badges,
    error::{ApiError, ApiResult, Problem},
    events::{self, entity as event},
    extract::{ApiJson, ApiPath},
    problem::ProblemCode,
    rate_limit::{self, ClientIp},
    sponsors,
    state::AppState,
    validation,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_kiosk))
        .routes(routes!(list_kiosks))
        .routes(routes!(revoke_kiosk))
        .routes(routes!(pair))
        .routes(routes!(whoami))
}

/// The browser kiosk's own routes, beside its page (`/kiosk`): pairing stores the kiosk token in
/// a cookie that no script can read, and unpairing revokes it. Mounted at the root.
pub fn page_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(pair_on_page))
        .routes(routes!(unpair_on_page))
}

/// The browser kiosk's credential: the kiosk token in an HttpOnly, SameSite=Strict cookie sent
/// only to the kiosk's paths, so a script (on the kiosk page or any other page of the site) can
/// never read it or carry it off. `consentry-scan` and other API clients send the token as a
/// Bearer header instead.
pub const KIOSK_COOKIE: &str = "consentry_kiosk";
/// The page, its service worker and its calls (`/kiosk/api/v1/...`) all live under this path.
const KIOSK_COOKIE_PATH: &str = "/kiosk";

fn kiosk_cookie(
    token: &str,
    expires_at: OffsetDateTime,
    now: OffsetDateTime,
    secure: bool,
) -> ApiResult<HeaderValue> {
    let max_age = (expires_at - now).whole_seconds().max(0);
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{KIOSK_COOKIE}={token}; Path={KIOSK_COOKIE_PATH}; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .map_err(|e| ApiError::Internal(e.into()))
}

fn cleared_kiosk_cookie(secure: bool) -> HeaderValue {
    if secure {
        HeaderValue::from_static(
            "consentry_kiosk=; Path=/kiosk; HttpOnly; SameSite=Strict; Max-Age=0; Secure",
        )
    } else {
        HeaderValue::from_static(
            "consentry_kiosk=; Path=/kiosk; HttpOnly; SameSite=Strict; Max-Age=0",
        )
    }
}

/// The kiosk token of a request: the Bearer header if there is one, else the browser kiosk's
/// cookie.
fn kiosk_token(headers: &HeaderMap) -> Option<&str> {
    if headers.contains_key(header::AUTHORIZATION) {
        return bearer_token(headers);
    }
    cookie(headers, KIOSK_COOKIE)
}

/// Kiosk tokens work until the event's data is purged (leads are gone then), and at least until
/// the scan window closes.
fn token_expiry(event: &event::Model) -> OffsetDateTime {
    let purge = events::rules::purge_due_at(event.ends_at, event.retention_days);
    purge.max(event.ends_at + Duration::days(1))
}

/// Revoke every kiosk of an event and void its open pairing codes (the purge does this: nothing is
/// left to scan or list).
pub async fn revoke_all_of_event(
    db: &impl ConnectionTrait,
    event_id: EventId,
    now: OffsetDateTime,
) -> Result<(), sea_orm::DbErr> {
    entity::Entity::update_many()
        .col_expr(entity::Column::RevokedAt, Expr::value(now))
        .col_expr(
            entity::Column::PairingCodeHash,
            Expr::value(Option::<String>::None),
        )
        .filter(entity::Column::EventId.eq(event_id))
        .filter(entity::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// A paired, unrevoked kiosk, from its Bearer token, with its event. Every kiosk endpoint takes
/// this.
#[derive(Debug, Clone)]
pub struct KioskAuth {
    pub kiosk_id: KioskId,
    pub sponsor_id: SponsorId,
    /// The kiosk's event as it stands now, read in the same query as the kiosk (every kiosk
    /// endpoint needs it, and a scan cannot afford a second round trip).
    pub event: crate::events::entity::Model,
}

impl FromRequestParts<AppState> for KioskAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = kiosk_token(&parts.headers).ok_or(ApiError::Unauthorized {
            code: ProblemCode::AuthenticationRequired,
        })?;
        let now = state.clock.now();
        let claims = rules::verify_token(&state.keys.kiosk_decoding, token, now)?;
        // The row is read on every request: a revocation takes effect on the very next one, on
        // every instance.
        let (kiosk, event) = entity::Entity::find_by_id(claims.jti)
            .find_also_related(crate::events::entity::Entity)
            .one(&state.db)
            .await?
            .and_then(|(kiosk, event)| Some((kiosk, event?)))
            .filter(|(k, _)| {
                k.revoked_at.is_none()
                    && k.paired_at.is_some()
                    && k.event_id == claims.eid
                    && k.sponsor_id == claims.sid
            })
            .ok_or(ApiError::Unauthorized {
                code: ProblemCode::KioskRevoked,
            })?;
        // "Last seen" to the minute is enough; it saves a write per request.
        if kiosk
            .last_seen_at
            .is_none_or(|seen| now - seen >= Duration::minutes(1))
        {
            entity::Entity::update_many()
                .col_expr(entity::Column::LastSeenAt, Expr::value(now))
                .filter(entity::Column::Id.eq(kiosk.id))
                .exec(&state.db)
                .await?;
        }
        Ok(Self {
            kiosk_id: kiosk.id,
            sponsor_id: kiosk.sponsor_id,
            event,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Organiser routes

#[derive(Debug, Serialize, ToSchema)]
pub struct NewKiosk {
    pub kiosk_id: KioskId,
    /// One-time code for `consentry-scan pair` or the browser kiosk: 8 characters, single use.
    pub pairing_code: String,
    #[serde(with = "time::serde::rfc3339")]
    pub pairing_expires_at: OffsetDateTime,
    /// The browser kiosk with the code filled in (`/kiosk#code=…`: the fragment never reaches a
    /// server log), for a tablet to open by scanning `pairing_qr_svg`.
    pub pairing_url: String,
    /// That URL as a QR code (SVG document).
    pub pairing_qr_svg: String,
}

/// Create a kiosk for a sponsor of the organiser's event; answers its one-time pairing code
/// (valid 15 minutes, single use).
#[utoipa::path(
    post, path = "/events/{event}/sponsors/{sponsor_id}/kiosks", tag = "kiosks",
    security(("bearer" = []), ("session_cookie" = [])),
    params(("event" = Uuid, Path, description = "The event id"), ("sponsor_id" = Uuid, Path)),
    responses(
        (status = 201, body = NewKiosk),
        crate::error::responses::Unauthorized,
        crate::error::responses::NotFound,
    )
)]
async fn create_kiosk(
    State(state): State<AppState>,
    auth: OrganiserAuth,
    ApiPath((event_id, sponsor_id)): ApiPath<(EventId, SponsorId)>,
) -> ApiResult<Response> {
    let txn = crate::db::begin_write(&state.db).await?;
    let sponsor = sponsors::find_owned(&txn, &auth, event_id, sponsor_id).await?;
    let now = state.clock.now();
    let code = rules::new_pairing_code();
    let kiosk = entity::ActiveModel {
        id: Set(KioskId::new()),
        event_id: Set(sponsor.event_id),
        sponsor_id: Set(sponsor.id),
        device_name: Set(None),
        pairing_code_hash: Set(Some(rules::code_hash(&state.keys.pairing, &code))),
        pairing_expires_at: Set(Some(now + rules::CODE_TTL)),
        paired_at: Set(None),
        revoked_at: Set(None),
        last_seen_at: Set(None),
        accepted_count: Set(0),
        refused_count: Set(0),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    tracing::info!(kiosk_id = %kiosk.id, %sponsor_id, "kiosk created");
    let pairing_url = format!("{}/kiosk#code={code}", state.config.public_url);
    let body = NewKiosk {
        kiosk_id: kiosk.id,
        pairing_qr_svg: crate::badges::render::qr_svg(&pairing_url)?,
        pairing_url,
        pairing_code: code,
        pairing_expires_at: now + rules::CODE_TTL,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KioskStatus {
    /// Waiting for its pairing code.
    Pending,
    /// The pairing code expired unused.
    Expired,
    Paired,
    Revoked,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KioskView {
    pub id: KioskId,
    pub sponsor_id: SponsorId,
    pub sponsor_name: String,
    pub device_name: Option<String>,
    pub status: KioskStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub paired_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_seen_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    pub accepted_scans: i64,
    pub refused_scans: i64,
}

/// The kiosks of the organiser's event.
#[utoipa::path(
    get, path = "/events/{event}/kiosks", tag = "kiosks",
    security(("bearer" = []), ("session_cookie" = [])),
    params(("event" = Uuid, Path, description = "The event id")),
    responses(
        (status = 200, body = Vec<KioskView>),
        crate::error::responses::Unauthorized,
        crate::error::responses::NotFound,
    )
)]
async fn list_kiosks(
    State(state): State<AppState>,
    auth: OrganiserAuth,
    ApiPath(event_id): ApiPath<EventId>,
) -> ApiResult<Json<Vec<KioskView>>> {
    events::find_owned(&state.db, auth.organisation_id, event_id).await?;
    let sponsors = sponsors::list_for_event(&state.db, event_id).await?;
    let kiosks = entity::Entity::find()
        .filter(entity::Column::EventId.eq(event_id))
        .order_by_asc(entity::Column::CreatedAt)
        .order_by_asc(entity::Column::Id)
        .all(&state.db)
        .await?;
    let now = state.clock.now();
    let views = kiosks
        .into_iter()
        .map(|k| {
            let status = if k.revoked_at.is_some() {
                KioskStatus::Revoked
            } else if k.paired_at.is_some() {
                KioskStatus::Paired
            } else if k.pairing_expires_at.is_some_and(|e| e > now) {
                KioskStatus::Pending
            } else {
                KioskStatus::Expired
            };
            KioskView {
                sponsor_name: sponsors
                    .iter()
                    .find(|s| s.id == k.sponsor_id)
                    .map(|s| s.name.clone())
                    .unwrap_or_default(),
                id: k.id,
                sponsor_id: k.sponsor_id,
                device_name: k.device_name,
                status,
                created_at: k.created_at,
                paired_at: k.paired_at,
                last_seen_at: k.last_seen_at,
                revoked_at: k.revoked_at,
                accepted_scans: k.accepted_count,
                refused_scans: k.refused_count,
            }
        })
        .collect();
    Ok(Json(views))
}

/// Revoke a kiosk: its token is refused from the next request on, and an unused pairing code dies.
#[utoipa::path(
    delete, path = "/events/{event}/kiosks/{kiosk_id}", tag = "kiosks",
    security(("bearer" = []), ("session_cookie" = [])),
    params(("event" = Uuid, Path, description = "The event id"), ("kiosk_id" = Uuid, Path)),
    responses(
        (status = 204, description = "Revoked"),
        crate::error::responses::Unauthorized,
        crate::error::responses::NotFound,
    )
)]
async fn revoke_kiosk(
    State(state): State<AppState>,
    auth: OrganiserAuth,
    ApiPath((event_id, kiosk_id)): ApiPath<(EventId, KioskId)>,
) -> ApiResult<StatusCode> {
    let txn = crate::db::begin_write(&state.db).await?;
    events::find_owned(&txn, auth.organisation_id, event_id).await?;
    let kiosk = entity::Entity::find_by_id(kiosk_id)
        .filter(entity::Column::EventId.eq(event_id))
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound)?;
    revoke(
        &txn,
        &kiosk,
        auth.organisation_id,
        audit::Actor::Organiser(auth.organiser_id),
        state.clock.now(),
    )
    .await?;
    txn.commit().await?;
    tracing::info!(%kiosk_id, "kiosk revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// Revoke `kiosk` (if it is not already) and void its pairing code, with an audit entry.
async fn revoke(
    db: &impl ConnectionTrait,
    kiosk: &entity::Model,
    organisation_id: Uuid,
    actor: audit::Actor,
    now: OffsetDateTime,
) -> ApiResult<()> {
    if kiosk.revoked_at.is_some() {
        return Ok(());
    }
    entity::ActiveModel {
        id: Set(kiosk.id),
        revoked_at: Set(Some(now)),
        pairing_code_hash: Set(None),
        ..Default::default()
    }
    .update(db)
    .await?;
    audit::record(
        db,
        audit::Entry {
            organisation_id,
            event_id: Some(kiosk.event_id),
            actor,
            action: audit::Action::KioskRevoked,
            subject_id: Some(kiosk.id.into()),
            count: None,
        },
        now,
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Kiosk routes

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PairRequest {
    /// The 8-character code from the organiser (case and hyphens do not matter).
    pub code: String,
    /// A name for this device, shown to the organiser.
    #[serde(default)]
    pub device_name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KioskInfo {
    pub kiosk_id: KioskId,
    pub event: KioskEvent,
    pub sponsor: KioskSponsor,
    /// The event's badge keys (JWKS), to check badges while offline.
    #[schema(value_type = Object)]
    pub badge_keys: jsonwebtoken::jwk::JwkSet,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KioskEvent {
    pub id: EventId,
    pub slug: String,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub starts_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub ends_at: OffsetDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KioskSponsor {
    pub id: SponsorId,
    pub name: String,
    /// The sponsor's booth link: the kiosk shows it as a QR code (`booth_qr_url`) when it refuses a
    /// badge for `no_consent`, for the attendee to share their details on their own phone.
    pub booth_url: String,
    /// The booth link's QR code, as SVG.
    pub booth_qr_url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Paired {
    /// Bearer token for every kiosk request.
    pub token: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(flatten)]
    pub kiosk: KioskInfo,
}

async fn kiosk_info(
    state: &AppState,
    kiosk: &entity::Model,
) -> ApiResult<(KioskInfo, event::Model)> {
    let event = event::Entity::find_by_id(kiosk.event_id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound)?;
    let sponsor = sponsors::entity::Entity::find_by_id(kiosk.sponsor_id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound)?;
    let keys = crate::keystore::badge_keys::public_keys(&state.keystore.db, event.id).await?;
    let info = KioskInfo {
        kiosk_id: kiosk.id,
        event: KioskEvent {
            id: event.id,
            slug: event.slug.clone(),
            name: event.name.clone(),
            starts_at: event.starts_at,
            ends_at: event.ends_at,
        },
        sponsor: KioskSponsor {
            id: sponsor.id,
            name: sponsor.name,
            booth_url: sponsors::booth_url(&state.config.public_url, &sponsor.booth_code),
            booth_qr_url: format!("/api/v1/booths/{}/qr.svg", sponsor.booth_code),
        },
        badge_keys: badges::token::jwks(&keys),
    };
    Ok((info, event))
}

/// Exchange a one-time pairing code for a kiosk token. Wrong, expired and used codes all answer
/// `invalid_pairing_code`; attempts are limited per address and overall.
#[utoipa::path(
    post, path = "/kiosks/pair", tag = "kiosks",
    request_body = PairRequest,
    responses(
        (status = 200, body = Paired),
        (status = 401, description = "`invalid_pairing_code`", body = Problem, content_type = "application/problem+json"),
        crate::error::responses::Unprocessable,
        crate::error::responses::RateLimited,
    )
)]
async fn pair(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(request): ApiJson<PairRequest>,
) -> ApiResult<Json<Paired>> {
    Ok(Json(pair_device(&state, ip, request).await?))
}

/// The browser kiosk paired: its event and sponsor, without the token (that is in the cookie).
#[derive(Debug, Serialize, ToSchema)]
pub struct PairedBrowser {
    /// When the kiosk cookie expires.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(flatten)]
    pub kiosk: KioskInfo,
}

/// Pair the browser kiosk (`/kiosk`): the same as `POST /api/v1/kiosks/pair`, except that the
/// kiosk token is set as an HttpOnly cookie for the kiosk's paths (`/kiosk`, where its calls go
/// to `/kiosk/api/v1/...`) instead of being handed to the page's scripts.
#[utoipa::path(
    post, path = "/kiosk/pair", tag = "kiosks",
    request_body = PairRequest,
    responses(
        (status = 200, body = PairedBrowser, headers(("set-cookie" = String, description = "`consentry_kiosk`: HttpOnly, SameSite=Strict, Path=/kiosk"))),
        (status = 401, description = "`invalid_pairing_code`", body = Problem, content_type = "application/problem+json"),
        crate::error::responses::Unprocessable,
        crate::error::responses::RateLimited,
    )
)]
async fn pair_on_page(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(request): ApiJson<PairRequest>,
) -> ApiResult<Response> {
    let paired = pair_device(&state, ip, request).await?;
    let cookie = kiosk_cookie(
        &paired.token,
        paired.expires_at,
        state.clock.now(),
        state.config.secure_cookies,
    )?;
    let mut response = Json(PairedBrowser {
        expires_at: paired.expires_at,
        kiosk: paired.kiosk,
    })
    .into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Unpair the browser kiosk: the kiosk is revoked (a new pairing code is needed to scan again on
/// this or any device) and its cookie is removed. Without a valid kiosk cookie only the cookie is
/// removed.
#[utoipa::path(
    post, path = "/kiosk/unpair", tag = "kiosks",
    // Without a kiosk it only clears the cookie: no credential is required.
    security((), ("kiosk_cookie" = []), ("kiosk" = [])),
    responses(
        (status = 204, description = "Revoked, and the cookie removed"),
        (status = 403, description = "`cross_site_request`: sent by a page of another site", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn unpair_on_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    auth: Result<KioskAuth, ApiError>,
) -> ApiResult<Response> {
    // The cookie is SameSite=Strict, so another site's form cannot revoke the kiosk; this keeps it
    // from clearing the cookie either (a booth device knocked out of its pairing by any web page
    // its browser opens). Browsers say where a request comes from; other clients send no such
    // header.
    if headers
        .get("sec-fetch-site")
        .is_some_and(|site| site != "same-origin")
    {
        return Err(ApiError::Forbidden {
            code: ProblemCode::CrossSiteRequest,
        });
    }
    if let Ok(auth) = auth {
        let txn = crate::db::begin_write(&state.db).await?;
        let kiosk = entity::Entity::find_by_id(auth.kiosk_id)
            .one(&txn)
            .await?
            .ok_or(ApiError::NotFound)?;
        revoke(
            &txn,
            &kiosk,
            auth.event.organisation_id,
            audit::Actor::Kiosk(auth.kiosk_id),
            state.clock.now(),
        )
        .await?;
        txn.commit().await?;
        tracing::info!(kiosk_id = %auth.kiosk_id, "kiosk unpaired by its device");
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        cleared_kiosk_cookie(state.config.secure_cookies),
    );
    Ok(response)
}

/// Check a pairing code and claim it for this device: the kiosk token and what the kiosk needs.
async fn pair_device(
    state: &AppState,
    ip: std::net::IpAddr,
    request: PairRequest,
) -> ApiResult<Paired> {
    let device_name = match request.device_name {
        Some(name) if !name.trim().is_empty() => {
            Some(validation::label("device_name", &name, 1, 100)?)
        }
        _ => None,
    };
    // Counted as a wrong code before the code is looked up; given back once it pairs.
    let guess = state.limits.pairing_failures.begin(
        (),
        rate_limit::client_network(ip),
        std::time::Instant::now(),
    )?;
    let invalid = || ApiError::Unauthorized {
        code: ProblemCode::InvalidPairingCode,
    };
    let code = rules::normalise_code(&request.code).ok_or_else(invalid)?;
    let hash = rules::code_hash(&state.keys.pairing, &code);
    let now = state.clock.now();

    let txn = crate::db::begin_write(&state.db).await?;
    let kiosk = entity::Entity::find()
        .filter(entity::Column::PairingCodeHash.eq(&hash))
        .one(&txn)
        .await?
        .filter(|k| k.revoked_at.is_none() && k.pairing_expires_at.is_some_and(|e| now < e))
        .ok_or_else(invalid)?;
    // Single use: the code is cleared in the same statement that checks it is still there, so two
    // devices racing with one code cannot both win.
    let claimed = entity::Entity::update_many()
        .col_expr(
            entity::Column::PairingCodeHash,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            entity::Column::PairingExpiresAt,
            Expr::value(Option::<OffsetDateTime>::None),
        )
        .col_expr(entity::Column::PairedAt, Expr::value(Some(now)))
        .col_expr(entity::Column::LastSeenAt, Expr::value(Some(now)))
        .col_expr(entity::Column::DeviceName, Expr::value(device_name))
        .filter(entity::Column::Id.eq(kiosk.id))
        .filter(entity::Column::PairingCodeHash.eq(&hash))
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Err(invalid());
    }
    let organisation_id = event::Entity::find_by_id(kiosk.event_id)
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound)?
        .organisation_id;
    audit::record(
        &txn,
        audit::Entry {
            organisation_id,
            event_id: Some(kiosk.event_id),
            actor: audit::Actor::Kiosk(kiosk.id),
            action: audit::Action::KioskPaired,
            subject_id: Some(kiosk.sponsor_id.into()),
            count: None,
        },
        now,
    )
    .await?;
    txn.commit().await?;
    state.limits.pairing_failures.give_back(guess);
    let (info, event) = kiosk_info(state, &kiosk).await?;
    let expires_at = token_expiry(&event);
    let token = rules::issue_token(
        &state.keys.kiosk_encoding,
        kiosk.id,
        kiosk.event_id,
        kiosk.sponsor_id,
        now,
        expires_at,
    )?;
    tracing::info!(kiosk_id = %kiosk.id, "kiosk paired");
    Ok(Paired {
        token,
        expires_at,
        kiosk: info,
    })
}

/// This kiosk: its event, its sponsor and the current badge keys.
#[utoipa::path(
    get, path = "/kiosk", tag = "kiosks",
    security(("kiosk" = [])),
    responses(
        (status = 200, body = KioskInfo),
        (status = 401, description = "`kiosk_revoked`, `invalid_kiosk_token`, `kiosk_token_expired`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn whoami(
    State(state): State<AppState>,
    auth: KioskAuth,
) -> ApiResult<Json<KioskInfo>> {
    let kiosk = entity::Entity::find_by_id(auth.kiosk_id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(kiosk_info(&state, &kiosk).await?.0))
}
