//! The attendee's own page behind the secret manage link: what is held about them, their badge,
//! and each consent, which they can grant or withdraw one by one or all at once; a full copy of
//! their data, correction, restriction and erasure (`data`); and the erasure notices organisers
//! pass on to sponsors (`notices`).
//!
//! Possession of the link is the identity. The token travels only in the URL path, which is never
//! logged (spans carry the route template) and never leaves as a referrer (`no-referrer`).

use axum::{
    Json,
    body::Body,
    extract::{FromRequestParts, State},
    http::{HeaderValue, header, request::Parts},
    response::{IntoResponse, Response},
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::schema::ids::RegistrationId;
use crate::{
    badges::{self, BadgeView, render},
    consents::{self, Channel, ConsentContext, Language, Occasion, Purpose, Shown},
    crypto,
    error::{ApiError, ApiResult, Problem},
    events::{self, entity as event, rules::ContactField},
    extract::{ApiJson, ApiPath, RequestedLanguage},
    problem::ProblemCode,
    rate_limit::ClientIp,
    registrations::{
        self,
        entity::{manage_token, registration},
        rules::ContactDetails,
    },
    response::no_store_layer,
    state::AppState,
};

mod data;
pub mod email_change;
pub mod notices;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me, data::correct_details, data::erase))
        .routes(routes!(data::export_my_data))
        .routes(routes!(data::restrict, data::lift_restriction))
        .routes(routes!(change_consents))
        .routes(routes!(badge_png))
        .routes(routes!(badge_svg))
        .routes(routes!(badge_printable))
        .routes(routes!(consent_receipt))
        .routes(routes!(email_change::confirm))
        // Everything here is personal or opened by a secret link: never stored by a browser or a
        // proxy, errors included.
        .layer(no_store_layer())
}

/// The manage page's own route, beside the page (`/m/{token}`): the same consent changes as the
/// API's, with the consent channel `web`. Mounted at the root, not under `/api/v1`.
pub fn page_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(change_consents_on_page))
        .layer(no_store_layer())
}

/// The registration a manage token opens, with its event.
pub struct Holder {
    pub registration: registration::Model,
    pub event: event::Model,
}

/// Resolve a manage token. Lookup is by the token's SHA-256; the stored hash is compared again in
/// constant time. An unknown token is a plain 404, and so is the token of an event whose data is
/// due for purging: from that instant on the data is treated as gone.
pub async fn resolve(
    db: &impl ConnectionTrait,
    token: &str,
    now: OffsetDateTime,
) -> ApiResult<Holder> {
    let hash = lookup_hash(token)?;
    let row = manage_token::Entity::find_by_id(hash.clone())
        .one(db)
        .await?;
    let Some(row) = row.filter(|r| same_hash(&r.token_hash, &hash)) else {
        return Err(ApiError::NotFound);
    };
    let registration = registration::Entity::find_by_id(row.registration_id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)?;
    let event = event::Entity::find_by_id(registration.event_id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)?;
    if !crate::events::lifecycle::stage_of(&event, now).data_available() {
        return Err(ApiError::NotFound);
    }
    Ok(Holder {
        registration,
        event,
    })
}

/// The SHA-256 a secret link's token is stored and looked up by; a token of another shape (not 43
/// characters of base64url) is a plain 404 without a query.
fn lookup_hash(token: &str) -> ApiResult<String> {
    if token.len() != 43 {
        return Err(ApiError::NotFound);
    }
    Ok(crypto::token_hash(token))
}

/// Whether the stored hash is the one looked up, compared again in constant time.
fn same_hash(stored: &str, looked_up: &str) -> bool {
    bool::from(stored.as_bytes().ct_eq(looked_up.as_bytes()))
}

/// The registration a manage link opens: the `{token}` of the route's path, resolved (404 for a
/// token that opens nothing) and rate-limited ([`limited_lookup`]). Every manage-link route takes
/// this; the routers answer them all with `Cache-Control: no-store` ([`router`], [`page_router`]).
pub struct ManageLink {
    pub holder: Holder,
    /// The link's token, for the links an answer gives back (the badge's images).
    pub token: String,
}

impl FromRequestParts<AppState> for ManageLink {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let client = ClientIp::from_request_parts(parts, state).await?;
        // The token is the route's `{token}`, whatever other parameters the route has.
        let ApiPath(mut params) =
            ApiPath::<std::collections::HashMap<String, String>>::from_request_parts(parts, state)
                .await?;
        let token = params.remove("token").ok_or(ApiError::NotFound)?;
        let now = state.clock.now();
        let holder = limited_lookup(state, client, &token, resolve(&state.db, &token, now)).await?;
        Ok(Self { holder, token })
    }
}

/// A look-up of a secret link (a manage link, an e-mail change link), rate-limited:
///
/// - before the look-up, it is counted as a failure of the client's network
///   (`RateLimits::manage_failures`, per network and in all), and refused if the network has used
///   up its failures: a guess is counted before anything about its token is known, and past its
///   quota learns nothing, right or wrong;
/// - a link that opens something is given back to those counts and counted against itself
///   instead (`RateLimits::manage_link`, by a keyed hash of the token), so the people behind one
///   address (a venue's Wi-Fi) each use their own link without sharing a bucket;
/// - an error that is not "opens nothing" (the database away) is given back: it was no guess.
pub(crate) async fn limited_lookup<T>(
    state: &AppState,
    client: ClientIp,
    token: &str,
    lookup: impl std::future::Future<Output = ApiResult<T>>,
) -> ApiResult<T> {
    let guess =
        state
            .limits
            .manage_failures
            .begin((), client.network(), std::time::Instant::now())?;
    match lookup.await {
        Err(ApiError::NotFound) => Err(ApiError::NotFound),
        Err(other) => {
            state.limits.manage_failures.give_back(guess);
            Err(other)
        }
        Ok(found) => {
            state.limits.manage_failures.give_back(guess);
            state
                .limits
                .manage_link
                .check(&state.limits.link_key(token))?;
            Ok(found)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Views

#[derive(Debug, Serialize, ToSchema)]
pub struct MyRegistration {
    /// The language of the consent sentences below: send it back as `language` with changes.
    pub language: Language,
    pub registration_id: RegistrationId,
    #[serde(with = "time::serde::rfc3339")]
    pub registered_at: OffsetDateTime,
    /// Set while processing is restricted (`POST /me/{token}/restriction`).
    #[serde(with = "time::serde::rfc3339::option")]
    pub restricted_at: Option<OffsetDateTime>,
    pub event: MyEvent,
    pub details: ContactDetails,
    /// A new address asked for and not yet confirmed from that address: `details.email` changes
    /// when the link mailed to it is followed (within 24 hours).
    pub pending_email: Option<String>,
    /// Every purpose of this event and whether it is granted now.
    pub consents: Vec<MyConsent>,
    /// Every grant and withdrawal, oldest first.
    pub consent_history: Vec<ConsentRecord>,
    pub badge: BadgeView,
    /// Sponsors that received my data in an export, and when.
    pub recipients: Vec<notices::Recipient>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyEvent {
    pub slug: String,
    pub name: String,
    pub venue: String,
    /// IANA time zone of the venue, for showing times.
    pub time_zone: String,
    #[serde(with = "time::serde::rfc3339")]
    pub starts_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub ends_at: OffsetDateTime,
    /// The contact fields a sponsor you consented to receives when it scans your badge.
    pub shared_fields: Vec<ContactField>,
    /// The most characters each bounded contact field takes (a form's `maxlength`).
    #[schema(value_type = std::collections::BTreeMap<String, usize>)]
    pub field_max_chars: std::collections::BTreeMap<ContactField, usize>,
    #[serde(with = "time::serde::rfc3339")]
    pub data_deleted_at: OffsetDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyConsent {
    pub purpose: Purpose,
    /// The sponsor's name, for sponsor purposes.
    pub sponsor: Option<String>,
    pub granted: bool,
    /// The sentence this consent stands for: while granted, the one agreed to; otherwise the one
    /// a grant would agree to now.
    pub text: String,
    /// For a sponsor: the contact fields it may receive under this consent (while granted, those
    /// the sentence agreed to named, whatever the event shares since; otherwise those it would
    /// receive under a grant now).
    pub covers: Vec<ContactField>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentRecord {
    /// The entry's id, and its receipt's (`GET /api/v1/me/{token}/receipts/{id}`).
    pub id: Uuid,
    pub purpose: String,
    pub granted: bool,
    pub channel: Channel,
    pub notice_version: i32,
    /// SHA-256 of the exact consent text shown.
    pub text_sha256: String,
    /// The language that text was shown in.
    pub language: Language,
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: OffsetDateTime,
    /// Where it was made: `registration`, `manage` or `booth` (none for entries made before this
    /// was recorded).
    pub occasion: Option<consents::Occasion>,
    /// Whether a signed receipt can be downloaded for it (entries made before receipts have none).
    pub has_receipt: bool,
}

impl From<consents::entity::ledger::Model> for ConsentRecord {
    fn from(m: consents::entity::ledger::Model) -> Self {
        Self {
            id: m.id,
            occasion: m.occasion,
            has_receipt: m.receipt.is_some(),
            purpose: m.purpose,
            granted: m.granted,
            channel: m.channel,
            notice_version: m.notice_version,
            text_sha256: m.text_sha256,
            language: m.language,
            recorded_at: m.recorded_at,
        }
    }
}

/// The badge token of a holder.
async fn holder_badge_token(state: &AppState, h: &Holder) -> ApiResult<String> {
    let signer = state.badge_signer(h.event.id).await?;
    badges::badge_token(
        &signer,
        h.registration.badge_id,
        h.event.id,
        h.registration.created_at,
    )
}

async fn my_consents(
    db: &impl ConnectionTrait,
    event: &event::Model,
    registration_id: RegistrationId,
    language: Language,
) -> ApiResult<Vec<MyConsent>> {
    let grants = consents::grants(db, registration_id).await?;
    let grant_of = |purpose: Purpose| {
        let purpose = purpose.to_string();
        grants.iter().find(|g| g.purpose == purpose)
    };
    let texts = registrations::public_event::consent_texts(db, event, language).await?;
    let mut out: Vec<MyConsent> = texts
        .sponsors
        .iter()
        .map(|(s, text_now)| {
            let purpose = Purpose::Sponsor(s.id);
            let granted = grant_of(purpose);
            let (text, covers) = match granted.and_then(consents::coverage_of) {
                Some(agreed) => (agreed.sentence(language), agreed.fields),
                None => (text_now.clone(), texts.fields.clone()),
            };
            MyConsent {
                granted: granted.is_some(),
                purpose,
                sponsor: Some(s.name.clone()),
                text,
                covers,
            }
        })
        .collect();
    out.push(MyConsent {
        purpose: Purpose::Marketing,
        sponsor: None,
        granted: grant_of(Purpose::Marketing).is_some(),
        text: texts.marketing,
        covers: Vec::new(),
    });
    Ok(out)
}

async fn my_registration(
    state: &AppState,
    h: Holder,
    manage_token: &str,
    language: Language,
) -> ApiResult<MyRegistration> {
    let vault = state.vault(h.event.id).await?;
    let details = registrations::open_details(&vault, &h.registration)?;
    let token = holder_badge_token(state, &h).await?;
    let png = render::qr_png(&badges::qr_text(&state.config.public_url, &token))?;
    let consents = my_consents(&state.db, &h.event, h.registration.id, language).await?;
    let history = consents::history(&state.db, h.registration.id).await?;
    let pending_email =
        email_change::pending_email(&state.db, &vault, h.registration.id, state.clock.now())
            .await?;
    Ok(MyRegistration {
        language,
        registration_id: h.registration.id,
        registered_at: h.registration.created_at,
        restricted_at: h.registration.restricted_at,
        details,
        pending_email,
        consents,
        consent_history: history.into_iter().map(ConsentRecord::from).collect(),
        badge: BadgeView::new(token, &png, &state.config.public_url, manage_token),
        recipients: notices::recipients_of(&state.db, h.event.id, h.registration.id).await?,
        event: my_event(&h.event),
    })
}

fn my_event(e: &event::Model) -> MyEvent {
    MyEvent {
        shared_fields: events::rules::parse_shared_fields(&e.shared_fields),
        field_max_chars: registrations::rules::field_max_chars(),
        data_deleted_at: events::rules::purge_due_at(e.ends_at, e.retention_days),
        slug: e.slug.clone(),
        name: e.name.clone(),
        venue: e.venue.clone(),
        time_zone: e.time_zone.clone(),
        starts_at: e.starts_at,
        ends_at: e.ends_at,
    }
}

// ---------------------------------------------------------------------------------------------
// Routes

/// Everything about my registration: details, consents with their history, and my badge.
#[utoipa::path(
    get, path = "/me/{token}", tag = "attendee",
    params(
        ("token" = String, Path, description = "The secret manage token"),
        ("lang" = Option<String>, Query, description = "The language of the consent sentences: `en` or `nl` (any other value is read as English); absent, `Accept-Language`, else English"),
    ),
    responses(
        (status = 200, body = MyRegistration),
        (status = 404, description = "Unknown token", body = Problem, content_type = "application/problem+json"),
        crate::error::responses::RateLimited,
    )
)]
async fn me(
    State(state): State<AppState>,
    RequestedLanguage(language): RequestedLanguage,
    link: ManageLink,
) -> ApiResult<Response> {
    let ManageLink { holder: h, token } = link;
    let view = my_registration(&state, h, &token, language).await?;
    Ok(Json(view).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentChanges {
    /// Grant or withdraw purposes one by one.
    #[serde(default)]
    pub consents: Vec<ConsentChange>,
    /// Withdraw every consent at once (applied before `consents`).
    #[serde(default)]
    pub withdraw_all: bool,
    /// The language of the sentences the attendee was shown (the manage view's `language`): the
    /// ledger records it with each sentence's hash. Absent: English.
    #[serde(default)]
    pub language: Language,
    // No `channel`: the route sets it (`api` here, `web` on the page's route); a body naming one
    // is refused (`unknown_field`).
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentChange {
    pub purpose: Purpose,
    pub granted: bool,
}

/// Grant or withdraw my consents. Each change is a ledger entry, with the channel `api`, and
/// takes effect at once; a request that changes nothing records nothing. A body naming a
/// `channel` is refused as `unknown_field` (422): the route, not the client, says where.
#[utoipa::path(
    put, path = "/me/{token}/consents", tag = "attendee",
    params(("token" = String, Path, description = "The secret manage token")),
    request_body = ConsentChanges,
    responses(
        (status = 200, body = Vec<MyConsent>),
        crate::error::responses::NotFound,
        (status = 422, description = "`unknown_purpose`, `no_changes`, `unknown_field`", body = Problem, content_type = "application/problem+json"),
        crate::error::responses::RateLimited,
    )
)]
async fn change_consents(
    State(state): State<AppState>,
    link: ManageLink,
    ApiJson(request): ApiJson<ConsentChanges>,
) -> ApiResult<Response> {
    apply_consent_changes(state, link.holder, request, Channel::Api).await
}

/// Grant or withdraw my consents from Consentry's manage page (`/m/{token}`): the same as `PUT
/// /api/v1/me/{token}/consents`, except that the ledger records the channel `web`. For the page
/// only; other clients use the API route.
#[utoipa::path(
    put, path = "/m/{token}/consents", tag = "attendee",
    params(("token" = String, Path, description = "The secret manage token")),
    request_body = ConsentChanges,
    responses(
        (status = 200, body = Vec<MyConsent>),
        crate::error::responses::NotFound,
        (status = 422, description = "`unknown_purpose`, `no_changes`, `unknown_field`", body = Problem, content_type = "application/problem+json"),
        crate::error::responses::RateLimited,
    )
)]
async fn change_consents_on_page(
    State(state): State<AppState>,
    link: ManageLink,
    ApiJson(request): ApiJson<ConsentChanges>,
) -> ApiResult<Response> {
    apply_consent_changes(state, link.holder, request, Channel::Web).await
}

/// Consent changes through the route whose `channel` the ledger records.
async fn apply_consent_changes(
    state: AppState,
    h: Holder,
    request: ConsentChanges,
    channel: Channel,
) -> ApiResult<Response> {
    if request.consents.is_empty() && !request.withdraw_all {
        return Err(ApiError::invalid(
            ProblemCode::NoChanges,
            "consents",
            "Give at least one consent change or withdraw_all.",
        ));
    }
    let texts =
        registrations::public_event::consent_texts(&state.db, &h.event, request.language).await?;
    for (i, change) in request.consents.iter().enumerate() {
        if texts.shown(change.purpose).is_none() {
            return Err(ApiError::invalid(
                ProblemCode::UnknownPurpose,
                format!("consents[{i}].purpose"),
                "Not a purpose of this event.",
            ));
        }
    }
    // A withdrawal records the sentence it withdraws; a purpose whose sponsor has left the event
    // still gets its withdrawal recorded, with an empty sentence.
    let shown_for = |purpose: Purpose| {
        texts
            .shown(purpose)
            .unwrap_or_else(|| Shown::text_only(String::new(), request.language))
    };

    let receipts = state
        .receipt_issuer(h.event.organisation_id, &h.event.name)
        .await?;
    let context = ConsentContext {
        organisation_id: h.event.organisation_id,
        registration_id: h.registration.id,
        event_id: h.event.id,
        channel,
        occasion: Occasion::Manage,
        language: request.language,
        notice_version: h.event.privacy_notice_version,
        at: state.clock.now(),
        receipts: &receipts,
    };
    let txn = crate::db::begin_write(&state.db).await?;
    if request.withdraw_all {
        for purpose in consents::granted(&txn, h.registration.id).await? {
            consents::set(&txn, &context, purpose, false, &shown_for(purpose)).await?;
        }
    }
    for change in &request.consents {
        let shown = shown_for(change.purpose);
        consents::set(&txn, &context, change.purpose, change.granted, &shown).await?;
    }
    txn.commit().await?;
    tracing::info!(registration_id = %h.registration.id, "consents changed");
    let view = my_consents(&state.db, &h.event, h.registration.id, request.language).await?;
    Ok(Json(view).into_response())
}

fn image(content_type: &'static str, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// One of my signed consent receipts, as a file: a compact JWS (RFC 7515, EdDSA) that anyone can
/// verify with the keys at `/.well-known/consent-receipt-keys.json` or `consentry verify-receipt`.
/// Its claims are documented in docs/PRIVACY.md.
#[utoipa::path(
    get, path = "/me/{token}/receipts/{receipt_id}", tag = "attendee",
    params(
        ("token" = String, Path, description = "The secret manage token"),
        ("receipt_id" = Uuid, Path, description = "The consent history entry's `id`"),
    ),
    responses(
        (status = 200, description = "The receipt (compact JWS)", content_type = "application/jose"),
        crate::error::responses::NotFound,
        crate::error::responses::RateLimited,
    )
)]
async fn consent_receipt(
    State(state): State<AppState>,
    link: ManageLink,
    ApiPath(path): ApiPath<(String, Uuid)>,
) -> ApiResult<Response> {
    let receipt_id = path.1;
    let receipt = consents::entity::ledger::Entity::find_by_id(receipt_id)
        .filter(consents::entity::ledger::Column::RegistrationId.eq(link.holder.registration.id))
        .one(&state.db)
        .await?
        .and_then(|entry| entry.receipt)
        .ok_or(ApiError::NotFound)?;
    let mut response = Response::new(Body::from(receipt));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jose"),
    );
    let disposition = format!("attachment; filename=\"consent-receipt-{receipt_id}.jws\"");
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// My badge's QR code as PNG.
#[utoipa::path(
    get, path = "/me/{token}/badge.png", tag = "attendee",
    params(("token" = String, Path, description = "The secret manage token")),
    responses(
        (status = 200, description = "PNG image", content_type = "image/png"),
        crate::error::responses::NotFound,
    )
)]
async fn badge_png(State(state): State<AppState>, link: ManageLink) -> ApiResult<Response> {
    let h = link.holder;
    let badge = holder_badge_token(&state, &h).await?;
    let qr = badges::qr_text(&state.config.public_url, &badge);
    Ok(image("image/png", render::qr_png(&qr)?))
}

/// My badge's QR code as SVG.
#[utoipa::path(
    get, path = "/me/{token}/badge.svg", tag = "attendee",
    params(("token" = String, Path, description = "The secret manage token")),
    responses(
        (status = 200, description = "SVG image", content_type = "image/svg+xml"),
        crate::error::responses::NotFound,
    )
)]
async fn badge_svg(State(state): State<AppState>, link: ManageLink) -> ApiResult<Response> {
    let h = link.holder;
    let badge = holder_badge_token(&state, &h).await?;
    let qr = badges::qr_text(&state.config.public_url, &badge);
    Ok(image("image/svg+xml", render::qr_svg(&qr)?))
}

/// My printable badge: A6, with name, company and QR code.
#[utoipa::path(
    get, path = "/me/{token}/badge-print.svg", tag = "attendee",
    params(("token" = String, Path, description = "The secret manage token")),
    responses(
        (status = 200, description = "SVG document, 105 × 148 mm", content_type = "image/svg+xml"),
        crate::error::responses::NotFound,
    )
)]
async fn badge_printable(State(state): State<AppState>, link: ManageLink) -> ApiResult<Response> {
    let h = link.holder;
    let vault = state.vault(h.event.id).await?;
    let details = registrations::open_details(&vault, &h.registration)?;
    let badge = holder_badge_token(&state, &h).await?;
    let svg = render::printable_svg(&render::PrintedBadge {
        event_name: &h.event.name,
        full_name: &details.full_name(),
        company: details.company.as_deref(),
        qr_text: &badges::qr_text(&state.config.public_url, &badge),
    })?;
    Ok(image("image/svg+xml", svg))
}
