//! Consent at the booth, on the attendee's own phone. Each sponsor has a booth link
//! (`/s/{booth_code}`), which its kiosk shows as a QR code when it refuses a badge for
//! `no_consent` and the console prints. The page shows what the sponsor would receive, under which
//! sentence, and one button; the grant is recorded like any other, with the channel and occasion
//! `booth` set by the route.
//!
//! The attendee proves they are the registrant without typing: with the manage token their phone
//! remembered from opening the manage link, or with a one-time link mailed to the registered
//! address on request (the answer the same whether or not the address is registered). The booth
//! link itself names the sponsor only: nothing about any attendee reaches the kiosk or the sponsor
//! before the grant exists, and the link cannot be used to learn who is registered.

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::schema::ids::{RegistrationId, SponsorId};
use crate::{
    badges::render,
    consents::{self, Channel, ConsentContext, Language, Occasion, Purpose},
    contact::Email,
    crypto,
    error::{ApiError, ApiResult, Problem},
    events::{entity as event, lifecycle, rules::ContactField},
    extract::{ApiJson, ApiPath, RequestedLanguage},
    mail::Mail,
    problem::ProblemCode,
    rate_limit::ClientIp,
    registrations::{entity::registration, public_event},
    response::{no_store, no_store_layer},
    rights, sponsors,
    state::AppState,
};

pub use crate::schema::booth_links as entity;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(booth))
        .routes(routes!(booth_qr))
        .routes(routes!(request_link))
}

/// The booth page's own route, beside the page (`/s/{code}`): the grant, recorded with the
/// channel `booth`. Mounted at the root, not under `/api/v1`.
pub fn page_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(grant))
        .layer(no_store_layer())
}

// ---------------------------------------------------------------------------------------------
// Rules

/// How long a mailed booth link works: long enough to read the mail at the booth, short enough
/// that an old mail opens nothing.
pub const LINK_LIFETIME: Duration = Duration::minutes(30);

/// The one-time link mailed to the registrant: the token in the fragment, which reaches no
/// server log.
pub fn link_url(public_url: &str, booth_code: &str, token: &str) -> String {
    format!("{}#{token}", sponsors::booth_url(public_url, booth_code))
}

/// Whether a mailed link may grant to `sponsor_id` at `now`: unused, before the second it
/// expires, and for that sponsor only.
pub fn link_opens(link: &entity::Model, sponsor_id: SponsorId, now: OffsetDateTime) -> bool {
    link.used_at.is_none() && now < link.expires_at && link.sponsor_id == sponsor_id
}

/// What the registrant proves themselves with: exactly one of the two tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// The manage token the phone remembered.
    Manage(String),
    /// The one-time token of a mailed booth link.
    Link(String),
}

impl Proof {
    pub fn of(manage_token: Option<String>, link_token: Option<String>) -> ApiResult<Self> {
        match (manage_token, link_token) {
            (Some(token), None) => Ok(Self::Manage(token)),
            (None, Some(token)) => Ok(Self::Link(token)),
            (Some(_), Some(_)) => Err(ApiError::invalid(
                ProblemCode::InvalidValue,
                "link_token",
                "Give either manage_token or link_token, not both.",
            )),
            (None, None) => Err(ApiError::invalid(
                ProblemCode::MissingField,
                "manage_token",
                "Give manage_token or link_token.",
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Queries

/// The sponsor of a booth code, with its event; 404 for an unknown code and for an event whose
/// data is due (from that instant nothing more is shared).
async fn find_booth(
    db: &impl ConnectionTrait,
    code: &str,
    now: OffsetDateTime,
) -> ApiResult<(sponsors::entity::Model, event::Model)> {
    let sponsor = sponsors::entity::Entity::find()
        .filter(sponsors::entity::Column::BoothCode.eq(code))
        .one(db)
        .await?
        .filter(|s| !s.booth_code.is_empty())
        .ok_or(ApiError::NotFound)?;
    let event = event::Entity::find_by_id(sponsor.event_id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)?;
    lifecycle::ensure_data_held(&event, now).map_err(|_| ApiError::NotFound)?;
    Ok((sponsor, event))
}

/// The registration a proof opens at the booth of `sponsor`: a manage token of a registration of
/// the sponsor's event, or a live, unused booth link for this sponsor. Anything else is a plain
/// 404, like an unknown token.
async fn registration_of(
    db: &impl ConnectionTrait,
    proof: &Proof,
    sponsor: &sponsors::entity::Model,
    now: OffsetDateTime,
) -> ApiResult<registration::Model> {
    let registration_id = match proof {
        Proof::Manage(token) => {
            let holder = rights::resolve(db, token, now).await?;
            if holder.event.id != sponsor.event_id {
                return Err(ApiError::NotFound);
            }
            return Ok(holder.registration);
        }
        Proof::Link(token) => {
            find_link(db, token)
                .await?
                .filter(|link| link_opens(link, sponsor.id, now))
                .ok_or(ApiError::NotFound)?
                .registration_id
        }
    };
    registration::Entity::find_by_id(registration_id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)
}

/// The booth link a token stands for, looked up by the token's SHA-256 and compared again in
/// constant time.
async fn find_link(db: &impl ConnectionTrait, token: &str) -> ApiResult<Option<entity::Model>> {
    if token.len() != 43 {
        return Ok(None);
    }
    let hash = crypto::token_hash(token);
    Ok(entity::Entity::find()
        .filter(entity::Column::TokenHash.eq(hash.clone()))
        .one(db)
        .await?
        .filter(|link| bool::from(link.token_hash.as_bytes().ct_eq(hash.as_bytes()))))
}

/// Store a new one-time link for `registration_id` at `sponsor_id`; returns its token (mailed,
/// never stored).
async fn insert_link(
    db: &impl ConnectionTrait,
    registration_id: RegistrationId,
    sponsor_id: SponsorId,
    now: OffsetDateTime,
) -> ApiResult<String> {
    let token = crypto::random_token();
    entity::ActiveModel {
        id: Set(Uuid::now_v7()),
        token_hash: Set(crypto::token_hash(&token)),
        registration_id: Set(registration_id),
        sponsor_id: Set(sponsor_id),
        created_at: Set(now),
        expires_at: Set(now + LINK_LIFETIME),
        used_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(token)
}

/// Mark a link used, under the write lock: `false` if another request used it first.
async fn use_link(db: &impl ConnectionTrait, token: &str, now: OffsetDateTime) -> ApiResult<bool> {
    let result = entity::Entity::update_many()
        .col_expr(entity::Column::UsedAt, Expr::value(now))
        .filter(entity::Column::TokenHash.eq(crypto::token_hash(token)))
        .filter(entity::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

// ---------------------------------------------------------------------------------------------
// Mail

/// The mail with the one-time link to the registered address, in the registrant's language. It
/// names the event and the sponsor, not the person: whoever typed the address may not be its
/// owner.
fn link_mail(
    event: &event::Model,
    sponsor: &str,
    registration: &registration::Model,
    to: String,
    url: &str,
) -> Mail {
    let name = &event.name;
    let (subject, text) = match registration.language {
        Language::En => (
            format!("Share your details with {sponsor} at {name}"),
            format!(
                "Hello,\n\n\
                 Someone at the booth of {sponsor} at {name} asked to share the details of the \
                 registration with this address with {sponsor}. If that was you, open this link \
                 on your phone within 30 minutes and press the button to share:\n{url}\n\n\
                 Nothing is shared until you press it. If this was not you, ignore this mail: \
                 nothing changes.\n"
            ),
        ),
        Language::Nl => (
            format!("Deel je gegevens met {sponsor} op {name}"),
            format!(
                "Hallo,\n\n\
                 Iemand bij de stand van {sponsor} op {name} vroeg de gegevens van de aanmelding \
                 met dit adres te delen met {sponsor}. Was jij dat, open deze link dan binnen 30 \
                 minuten op je telefoon en druk op de knop om te delen:\n{url}\n\n\
                 Er wordt niets gedeeld voordat je erop drukt. Was jij dit niet, negeer deze mail \
                 dan: er verandert niets.\n"
            ),
        ),
    };
    Mail {
        event_id: event.id,
        registration_id: Some(registration.id),
        to,
        subject,
        text,
        attachments: Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Routes

/// What a booth link shows: the sponsor, what exactly it would receive and under which sentence.
/// Nothing about any attendee.
#[derive(Debug, Serialize, ToSchema)]
pub struct BoothView {
    /// The language of `consent_text`: send it back as `language` with the grant.
    pub language: Language,
    /// The event's slug: where the booth page finds the manage token this phone remembered.
    pub event_slug: String,
    pub event_name: String,
    pub sponsor_name: String,
    pub sponsor_description: String,
    pub privacy_policy_url: String,
    /// The contact fields the sponsor receives when it scans your badge after you shared.
    pub receives: Vec<ContactField>,
    /// The exact sentence a grant here agrees to.
    pub consent_text: String,
    /// Send this back as `notice_version` with the grant.
    pub notice_version: i32,
}

/// A sponsor's booth: what it would receive if you share your details with it, in your language.
#[utoipa::path(
    get, path = "/booths/{code}", tag = "registration",
    params(
        ("code" = String, Path, description = "The sponsor's booth code"),
        ("lang" = Option<String>, Query, description = "The language of the sentence: `en` or `nl` (any other value is read as English); absent, `Accept-Language`, else English"),
    ),
    responses(
        (status = 200, body = BoothView),
        (status = 404, description = "Unknown code, or the event's data is deleted", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn booth(
    State(state): State<AppState>,
    RequestedLanguage(language): RequestedLanguage,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<Json<BoothView>> {
    let (sponsor, event) = find_booth(&state.db, &code, state.clock.now()).await?;
    let texts = public_event::consent_texts(&state.db, &event, language).await?;
    let shown = texts
        .shown(Purpose::Sponsor(sponsor.id))
        .ok_or(ApiError::NotFound)?;
    Ok(Json(BoothView {
        language,
        event_slug: event.slug,
        event_name: event.name,
        sponsor_name: sponsor.name,
        sponsor_description: sponsor.description,
        privacy_policy_url: sponsor.privacy_policy_url,
        receives: texts.fields,
        consent_text: shown.text,
        notice_version: event.privacy_notice_version,
    }))
}

/// The booth link as a QR code (SVG), for the kiosk's screen and the printed booth sign.
#[utoipa::path(
    get, path = "/booths/{code}/qr.svg", tag = "registration",
    params(("code" = String, Path, description = "The sponsor's booth code")),
    responses(
        (status = 200, description = "SVG image", content_type = "image/svg+xml"),
        (status = 404, description = "Unknown code, or the event's data is deleted", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn booth_qr(
    State(state): State<AppState>,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<Response> {
    let (sponsor, _) = find_booth(&state.db, &code, state.clock.now()).await?;
    let url = sponsors::booth_url(&state.config.public_url, &sponsor.booth_code);
    let mut response = Response::new(render::qr_svg(&url)?.into());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml"),
    );
    Ok(response)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// The address the registration was made with.
    pub email: String,
    /// The language of the page (the mail is written in the registrant's own language).
    #[serde(default)]
    pub language: Language,
}

/// The same answer for every address.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkRequested {
    /// How long a mailed link works.
    pub link_lifetime_minutes: i64,
}

/// Ask for a one-time booth link by e-mail. If the address is registered for the booth's event,
/// a link to this booth (working once, for 30 minutes) is mailed to it in the registrant's
/// language. The answer is the same whether or not it is: this cannot tell who is registered.
#[utoipa::path(
    post, path = "/booths/{code}/links", tag = "registration",
    params(("code" = String, Path, description = "The sponsor's booth code")),
    request_body = LinkRequest,
    responses(
        (status = 202, body = LinkRequested),
        (status = 404, description = "Unknown code, or the event's data is deleted", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_email`, `missing_field`, `unknown_field`", body = Problem, content_type = "application/problem+json"),
        crate::error::responses::RateLimited,
    )
)]
async fn request_link(
    State(state): State<AppState>,
    client: ClientIp,
    ApiPath(code): ApiPath<String>,
    ApiJson(request): ApiJson<LinkRequest>,
) -> ApiResult<Response> {
    let now = state.clock.now();
    let (sponsor, event) = find_booth(&state.db, &code, now).await?;
    let email = Email::parse("email", &request.email)?;
    // Each answer may send a mail: counted per network and per address (registered or not).
    state.limits.booth_mail.check(&client.network())?;
    state
        .limits
        .booth_mail_per_address
        .check(
            &state
                .limits
                .link_key(&format!("booth-mail\n{}\n{}", event.id, email.as_str())),
        )?;
    let vault = state.vault(event.id).await?;
    let txn = crate::db::begin_write(&state.db).await?;
    let registrant = registration::Entity::find()
        .filter(registration::Column::EventId.eq(event.id))
        .filter(registration::Column::EmailIndex.eq(vault.email_index(&email)))
        .one(&txn)
        .await?;
    let mail = match registrant {
        Some(registrant) => {
            let token = insert_link(&txn, registrant.id, sponsor.id, now).await?;
            let url = link_url(&state.config.public_url, &sponsor.booth_code, &token);
            Some(link_mail(
                &event,
                &sponsor.name,
                &registrant,
                email.into(),
                &url,
            ))
        }
        None => None,
    };
    txn.commit().await?;
    if let Some(mail) = mail {
        // Sent after the answer, so that its time does not tell a registered address apart.
        let mailer = state.mailer.clone();
        tokio::spawn(async move { mailer.send_or_log(mail, "booth link mail").await });
    }
    Ok(no_store(
        (
            StatusCode::ACCEPTED,
            Json(LinkRequested {
                link_lifetime_minutes: LINK_LIFETIME.whole_minutes(),
            }),
        )
            .into_response(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BoothGrantRequest {
    /// The manage token this phone remembered from the manage link.
    pub manage_token: Option<String>,
    /// Or the one-time token of a mailed booth link (the part after `#`).
    pub link_token: Option<String>,
    /// The language of the sentence shown (the booth view's `language`).
    #[serde(default)]
    pub language: Language,
    /// The booth view's `notice_version`.
    pub notice_version: i32,
    // No `channel`: the route records `booth`.
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BoothGrant {
    pub sponsor_name: String,
    /// The contact fields the sponsor receives when it scans your badge.
    pub receives: Vec<ContactField>,
    /// `false` if the consent was already granted (nothing was recorded).
    pub newly_granted: bool,
    /// Processing of this registration is restricted: no scan is accepted until the restriction
    /// is lifted on the manage page, the consent notwithstanding.
    pub restricted: bool,
}

/// Share my details with this booth's sponsor: grant its consent with the sentence shown, proving
/// I am the registrant with my remembered manage token or a mailed booth link (used once). The
/// ledger records the channel and occasion `booth`. The sponsor's kiosk accepts my badge's next
/// scan. Granting what is already granted changes nothing.
#[utoipa::path(
    post, path = "/s/{code}/grant", tag = "attendee",
    params(("code" = String, Path, description = "The sponsor's booth code")),
    request_body = BoothGrantRequest,
    responses(
        (status = 200, body = BoothGrant),
        (status = 404, description = "Unknown code or token, a manage token of another event, a booth link used, expired or for another sponsor, or the event's data is deleted", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`notice_outdated`: reload the booth page", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`missing_field`, `invalid_value`, `unknown_field`", body = Problem, content_type = "application/problem+json"),
        crate::error::responses::RateLimited,
    )
)]
async fn grant(
    State(state): State<AppState>,
    client: ClientIp,
    ApiPath(code): ApiPath<String>,
    ApiJson(request): ApiJson<BoothGrantRequest>,
) -> ApiResult<Response> {
    let now = state.clock.now();
    let (sponsor, event) = find_booth(&state.db, &code, now).await?;
    let proof = Proof::of(request.manage_token, request.link_token)?;
    let (Proof::Manage(token) | Proof::Link(token)) = &proof;
    // A token that opens nothing here is counted as a guess, like a manage link's.
    let found = rights::limited_lookup(
        &state,
        client,
        token,
        registration_of(&state.db, &proof, &sponsor, now),
    )
    .await?;
    if request.notice_version != event.privacy_notice_version {
        return Err(ApiError::conflict(
            ProblemCode::NoticeOutdated,
            "notice_version",
            "What this sponsor receives has changed; reload the page.",
        ));
    }
    let texts = public_event::consent_texts(&state.db, &event, request.language).await?;
    let purpose = Purpose::Sponsor(sponsor.id);
    let shown = texts.shown(purpose).ok_or(ApiError::NotFound)?;
    let receipts = state
        .receipt_issuer(event.organisation_id, &event.name)
        .await?;
    let context = ConsentContext {
        organisation_id: event.organisation_id,
        registration_id: found.id,
        event_id: event.id,
        channel: Channel::Booth,
        occasion: Occasion::Booth,
        language: request.language,
        notice_version: event.privacy_notice_version,
        at: now,
        receipts: &receipts,
    };
    let txn = crate::db::begin_write(&state.db).await?;
    // Read again under the write lock: an erasure or another use of the link may have come first.
    let registration = registration_of(&txn, &proof, &sponsor, now).await?;
    if let Proof::Link(token) = &proof
        && !use_link(&txn, token, now).await?
    {
        return Err(ApiError::NotFound);
    }
    let newly_granted = consents::set(&txn, &context, purpose, true, &shown).await?;
    txn.commit().await?;
    tracing::info!(registration_id = %registration.id, sponsor_id = %sponsor.id, "consent granted at a booth");
    Ok(Json(BoothGrant {
        sponsor_name: sponsor.name,
        receives: shown.coverage.map(|c| c.fields).unwrap_or_default(),
        newly_granted,
        restricted: registration.restricted_at.is_some(),
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(sponsor_id: SponsorId, used: bool) -> entity::Model {
        let created = OffsetDateTime::UNIX_EPOCH;
        entity::Model {
            id: Uuid::nil(),
            token_hash: String::new(),
            registration_id: RegistrationId(Uuid::nil()),
            sponsor_id,
            created_at: created,
            expires_at: created + LINK_LIFETIME,
            used_at: used.then_some(created),
        }
    }

    #[test]
    fn a_link_opens_once_for_its_sponsor_until_the_second_it_expires() {
        let sponsor = SponsorId(Uuid::from_u128(1));
        let other = SponsorId(Uuid::from_u128(2));
        let created = OffsetDateTime::UNIX_EPOCH;
        let fresh = link(sponsor, false);
        assert!(link_opens(&fresh, sponsor, created));
        assert!(link_opens(
            &fresh,
            sponsor,
            created + LINK_LIFETIME - Duration::seconds(1)
        ));
        assert!(!link_opens(&fresh, sponsor, created + LINK_LIFETIME));
        assert!(!link_opens(&fresh, other, created));
        assert!(!link_opens(&link(sponsor, true), sponsor, created));
    }

    #[test]
    fn the_token_travels_in_the_fragment_of_the_booth_link() {
        assert_eq!(
            link_url("https://consentry.example", "abc", "tok"),
            "https://consentry.example/s/abc#tok"
        );
    }

    #[test]
    fn a_grant_takes_exactly_one_proof() {
        assert_eq!(
            Proof::of(Some("m".into()), None).unwrap(),
            Proof::Manage("m".into())
        );
        assert_eq!(
            Proof::of(None, Some("l".into())).unwrap(),
            Proof::Link("l".into())
        );
        assert!(Proof::of(None, None).is_err());
        assert!(Proof::of(Some("m".into()), Some("l".into())).is_err());
    }
}
