//! Registration: an attendee signs up for an event, choosing separately for each sponsor (and,
//! apart from that, for marketing) whether to consent; gets a badge that reveals nothing and a
//! secret manage link.

pub use crate::schema::registrations as entity;
pub mod public_event;
pub mod rules;

use std::collections::BTreeSet;

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use self::{
    entity::{manage_token, registration},
    rules::{ContactDetails, RegistrationCheck, SubmittedDetails},
};
use crate::schema::ids::RegistrationId;
use crate::schema::ids::SponsorId;
use crate::{
    badges::BadgeView,
    badges::{self, render},
    consents::{self, Channel, ConsentContext, Language, Occasion, Purpose},
    crypto,
    error::{ApiError, ApiResult, Problem, is_unique_violation},
    events::{self, entity as event},
    extract::{ApiJson, ApiPath},
    mail::{Mail, MailAttachment},
    problem::ProblemCode,
    rate_limit::{ClientIp, venue},
    state::AppState,
    vault::EventVault,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(public_event::get_event))
        .routes(routes!(countries))
}

/// The countries a registration may name.
#[derive(Debug, Serialize, ToSchema)]
pub struct Countries {
    /// ISO 3166-1 alpha-2 codes, in alphabetical order.
    pub countries: Vec<&'static str>,
}

/// Every country code `country` accepts, for a form's country list (which names them in the
/// reader's language). The same for everyone, so caches may keep it for a day.
#[utoipa::path(
    get, path = "/countries", tag = "registration",
    responses((status = 200, body = Countries)),
)]
async fn countries() -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=86400")],
        Json(Countries {
            countries: crate::contact::Country::codes().collect(),
        }),
    )
}

/// The registration page's own route, beside the page (`/e/{slug}`): the same registration as
/// the API's, with the consent channel `web`. Mounted at the root, not under `/api/v1`.
pub fn page_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(register_on_page))
}

/// A re-sent manage link is mailed at most this often per registration, so a stranger who knows
/// an address cannot flood its inbox.
const RESEND_INTERVAL: Duration = Duration::minutes(10);

// ---------------------------------------------------------------------------------------------
// Queries

/// The manage link of a token: the manage page, from which the attendee exercises every right.
pub fn manage_url(public_url: &str, token: &str) -> String {
    format!("{public_url}/m/{token}")
}

/// Store a new manage link for a registration; returns the token (shown once, never stored).
pub async fn new_manage_token(
    db: &impl ConnectionTrait,
    registration_id: RegistrationId,
    now: OffsetDateTime,
) -> ApiResult<String> {
    let token = crypto::random_token();
    manage_token::ActiveModel {
        token_hash: Set(crypto::token_hash(&token)),
        registration_id: Set(registration_id),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(token)
}

/// Open a registration's sealed contact details.
pub fn open_details(vault: &EventVault, r: &registration::Model) -> ApiResult<ContactDetails> {
    let plain = vault.open(r.id, &r.personal_data)?;
    serde_json::from_slice(&plain)
        .map_err(|_| ApiError::Internal(anyhow::anyhow!("sealed contact details are malformed")))
}

pub fn seal_details(
    vault: &EventVault,
    registration_id: RegistrationId,
    details: &ContactDetails,
) -> ApiResult<Vec<u8>> {
    let plain = serde_json::to_vec(details).map_err(|e| ApiError::Internal(e.into()))?;
    vault.seal(registration_id, &plain)
}

// ---------------------------------------------------------------------------------------------
// Mail

fn badge_attachment(png: Vec<u8>) -> MailAttachment {
    MailAttachment {
        filename: "badge.png".into(),
        content_type: "image/png",
        bytes: png,
    }
}

/// A date as a mail in `language` writes it: "3 May 2026", "3 mei 2026".
fn mail_date(at: OffsetDateTime, language: Language) -> String {
    let month = crate::mail::month_name(at.month(), language);
    format!("{} {month} {}", at.day(), at.year())
}

/// The confirmation mail's subject and text, in the language the registrant read the page in.
fn confirmation_mail(
    event: &event::Model,
    details: &ContactDetails,
    manage_url: &str,
    sponsors: &[String],
    language: Language,
) -> (String, String) {
    let starts = mail_date(event.starts_at, language);
    let deleted = mail_date(
        events::rules::purge_due_at(event.ends_at, event.retention_days),
        language,
    );
    let first = &details.first_name;
    let name = &event.name;
    match language {
        Language::En => {
            let sponsors = if sponsors.is_empty() {
                "none".to_owned()
            } else {
                sponsors.join(", ")
            };
            let venue = if event.venue.is_empty() {
                String::new()
            } else {
                format!(" at {}", event.venue)
            };
            (
                format!("Your registration for {name}"),
                format!(
                    "Hello {first},\n\n\
                     You are registered for {name} on {starts}{venue}.\n\n\
                     Your badge is attached (badge.png). Show it at the entrance and at sponsors' \
                     booths. It holds no personal data, only a signed code.\n\n\
                     Sponsors that may receive your contact details when they scan your badge: \
                     {sponsors}.\n\n\
                     Change your choices, download or correct your data, or erase it, at any time:\n\
                     {manage_url}\n\
                     Keep this link to yourself: whoever has it can manage your registration.\n\n\
                     All attendee data of this event is deleted on {deleted}.\n"
                ),
            )
        }
        Language::Nl => {
            let sponsors = if sponsors.is_empty() {
                "geen".to_owned()
            } else {
                sponsors.join(", ")
            };
            let venue = if event.venue.is_empty() {
                String::new()
            } else {
                format!(" in {}", event.venue)
            };
            (
                format!("Je aanmelding voor {name}"),
                format!(
                    "Hallo {first},\n\n\
                     Je bent aangemeld voor {name} op {starts}{venue}.\n\n\
                     Je badge zit in de bijlage (badge.png). Laat hem zien bij de ingang en bij de \
                     stands van sponsors. Hij bevat geen persoonsgegevens, alleen een ondertekende \
                     code.\n\n\
                     Sponsors die je contactgegevens mogen ontvangen als ze je badge scannen: \
                     {sponsors}.\n\n\
                     Wijzig je keuzes, download of verbeter je gegevens, of wis ze, wanneer je \
                     wilt:\n\
                     {manage_url}\n\
                     Houd deze link voor jezelf: wie hem heeft, kan je aanmelding beheren.\n\n\
                     Alle gegevens van deelnemers aan dit evenement worden gewist op {deleted}.\n"
                ),
            )
        }
    }
}

/// Someone registered again with an address already registered: mail that address a fresh manage
/// link (at most once per [`RESEND_INTERVAL`]). Nothing about it goes into the response.
async fn resend_manage_link(
    state: &AppState,
    event: &event::Model,
    existing: &registration::Model,
    vault: &EventVault,
    now: OffsetDateTime,
) -> ApiResult<()> {
    let recent = manage_token::Entity::find()
        .filter(manage_token::Column::RegistrationId.eq(existing.id))
        .filter(manage_token::Column::CreatedAt.gt(now - RESEND_INTERVAL))
        .order_by_desc(manage_token::Column::CreatedAt)
        .one(&state.db)
        .await?;
    if recent.is_some() {
        return Ok(());
    }
    let details = open_details(vault, existing)?;
    let token = new_manage_token(&state.db, existing.id, now).await?;
    let manage_url = manage_url(&state.config.public_url, &token);
    let (first, name) = (&details.first_name, &event.name);
    let (subject, text) = match existing.language {
        Language::En => (
            format!("Your registration for {name}"),
            format!(
                "Hello {first},\n\nSomeone (perhaps you) tried to register this address again \
                 for {name}. You are already registered. Here is a link to manage your \
                 registration:\n{manage_url}\n\n\
                 Keep this link to yourself. If this was not you, you need not do anything.\n"
            ),
        ),
        Language::Nl => (
            format!("Je aanmelding voor {name}"),
            format!(
                "Hallo {first},\n\nIemand (misschien jij) probeerde dit adres opnieuw aan te \
                 melden voor {name}. Je bent al aangemeld. Hier is een link om je aanmelding te \
                 beheren:\n{manage_url}\n\n\
                 Houd deze link voor jezelf. Was jij dit niet, dan hoef je niets te doen.\n"
            ),
        ),
    };
    state
        .mailer
        .send_or_log(
            Mail {
                event_id: event.id,
                registration_id: Some(existing.id),
                to: details.email.into(),
                subject,
                text,
                attachments: Vec::new(),
            },
            "manage link mail",
        )
        .await;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Routes

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRegistration {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub company: Option<String>,
    pub job_title: Option<String>,
    /// E.164, e.g. `+31201234567`.
    pub phone: Option<String>,
    /// ISO 3166-1 alpha-2, e.g. `NL`.
    pub country: Option<String>,
    /// The registrant confirms they are at least the event's `min_age`.
    #[serde(default)]
    pub age_confirmed: bool,
    /// The `privacy_notice_version` the registrant was shown.
    pub notice_version: i32,
    /// Sponsors that may receive the shared contact fields when they scan the badge. Absent or
    /// empty: none. Nothing is pre-selected.
    #[serde(default)]
    pub sponsor_opt_ins: Vec<SponsorId>,
    /// News from the organiser; separate from every sponsor opt-in. Absent: no.
    #[serde(default)]
    pub marketing_opt_in: bool,
    /// The language of the consent sentences the registrant was shown (the public event view's
    /// `language`): the ledger records it with each sentence's hash. Absent: English.
    #[serde(default)]
    pub language: Language,
    // No `channel`: the route sets it (`api` here, `web` on the page's route); a body naming one
    // is refused (`unknown_field`).
}

impl NewRegistration {
    /// The contact details, moved out for `rules::check` (the choices stay).
    pub fn take_details(&mut self) -> SubmittedDetails {
        SubmittedDetails {
            first_name: std::mem::take(&mut self.first_name),
            last_name: std::mem::take(&mut self.last_name),
            email: std::mem::take(&mut self.email),
            company: self.company.take(),
            job_title: self.job_title.take(),
            phone: self.phone.take(),
            country: self.country.take(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegistrationCreated {
    pub registration_id: RegistrationId,
    /// The secret manage link; shown here once and mailed, stored only as a hash.
    pub manage_url: String,
    pub manage_token: String,
    pub badge: BadgeView,
    /// Purposes consented to, exactly as chosen.
    pub consents: Vec<Purpose>,
    pub confirmation_email_sent: bool,
}

/// Register for an event. The consent ledger records the channel `api`.
///
/// Refusals store nothing and come in this order: `registration_closed` (409, the event has
/// ended), `age_not_confirmed` (422), `notice_outdated` (409: fetch the event and show the new
/// notice), `unknown_sponsor` (422), a contact field's code (422), `already_registered` (409: the
/// address gets a fresh manage link by mail; the response says nothing more). A body naming a
/// `channel` is refused as `unknown_field` (422): the route, not the client, says where consent
/// was given.
#[utoipa::path(
    post, path = "/events/{event}/registrations", tag = "registration",
    params(("event" = String, Path, description = "The event's slug")),
    request_body = NewRegistration,
    responses(
        (status = 201, body = RegistrationCreated),
        crate::error::responses::NotFound,
        (status = 409, description = "`registration_closed`, `notice_outdated`, `already_registered`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`age_not_confirmed`, `unknown_sponsor`, `invalid_email`, `invalid_phone`, `invalid_country`, `too_short`, `too_long`, `unknown_field`, …", body = Problem, content_type = "application/problem+json"),
        crate::error::responses::RateLimited,
    )
)]
async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiPath(slug): ApiPath<String>,
    ApiJson(request): ApiJson<NewRegistration>,
) -> ApiResult<Response> {
    register_through(state, ip, &slug, request, Channel::Api).await
}

/// Register from Consentry's registration page (`/e/{slug}`): the same as `POST
/// /api/v1/events/{event}/registrations`, except that the consent ledger records the channel
/// `web`. For the page only; other clients use the API route.
#[utoipa::path(
    post, path = "/e/{slug}/registrations", tag = "registration",
    params(("slug" = String, Path, description = "The event's slug")),
    request_body = NewRegistration,
    responses(
        (status = 201, body = RegistrationCreated),
        crate::error::responses::NotFound,
        (status = 409, description = "`registration_closed`, `notice_outdated`, `already_registered`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`age_not_confirmed`, `unknown_sponsor`, `invalid_email`, `invalid_phone`, `invalid_country`, `too_short`, `too_long`, `unknown_field`, …", body = Problem, content_type = "application/problem+json"),
        crate::error::responses::RateLimited,
    )
)]
async fn register_on_page(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiPath(slug): ApiPath<String>,
    ApiJson(request): ApiJson<NewRegistration>,
) -> ApiResult<Response> {
    register_through(state, ip, &slug, request, Channel::Web).await
}

/// A registration through the route whose `channel` the ledger records.
async fn register_through(
    state: AppState,
    ip: std::net::IpAddr,
    slug: &str,
    mut request: NewRegistration,
    channel: Channel,
) -> ApiResult<Response> {
    let event = events::find_public(&state.db, slug).await?;
    let now = state.clock.now();
    // The event's own venue, while it is on site, registers a crowd through one address.
    let at_venue = venue::trusted(
        &venue::parse_stored(&event.venue_networks),
        event.starts_at,
        event.ends_at,
        ip,
        now,
    );
    state
        .limits
        .check_registration(event.id.into(), ip, at_venue)?;
    let texts = public_event::consent_texts(&state.db, &event, request.language).await?;
    let event_sponsors: BTreeSet<SponsorId> = texts.sponsors.iter().map(|(s, _)| s.id).collect();
    let mut opt_ins = request.sponsor_opt_ins.clone();
    let details = rules::check(
        &RegistrationCheck {
            now,
            event_ends_at: event.ends_at,
            current_notice_version: event.privacy_notice_version,
            event_sponsors: &event_sponsors,
            age_confirmed: request.age_confirmed,
            notice_version: request.notice_version,
            sponsor_opt_ins: &opt_ins,
        },
        request.take_details(),
    )?;
    opt_ins.sort();
    opt_ins.dedup();

    let vault = state.vault(event.id).await?;
    let email_index = vault.email_index(&details.email);
    let already_registered = || ApiError::Conflict {
        code: ProblemCode::AlreadyRegistered,
        field: Some("email".into()),
        detail: "This address is already registered for this event; its manage link has been \
                 e-mailed to it."
            .into(),
    };
    let existing = registration::Entity::find()
        .filter(registration::Column::EventId.eq(event.id))
        .filter(registration::Column::EmailIndex.eq(&email_index))
        .one(&state.db)
        .await?;
    if let Some(existing) = existing {
        resend_manage_link(&state, &event, &existing, &vault, now).await?;
        return Err(already_registered());
    }

    let registration_id = RegistrationId::new();
    let badge_id = Uuid::new_v4();
    // Signed before the transaction: SQLite's single write lock is held for the writes only.
    let signer = state.badge_signer(event.id).await?;
    let badge_token = badges::badge_token(&signer, badge_id, event.id, now)?;
    let receipts = state
        .receipt_issuer(event.organisation_id, &event.name)
        .await?;
    let txn = crate::db::begin_write(&state.db).await?;
    let inserted = registration::ActiveModel {
        id: Set(registration_id),
        event_id: Set(event.id),
        email_index: Set(email_index),
        personal_data: Set(seal_details(&vault, registration_id, &details)?),
        badge_id: Set(badge_id),
        notice_version: Set(event.privacy_notice_version),
        channel: Set(channel),
        language: Set(request.language),
        created_at: Set(now),
        updated_at: Set(now),
        restricted_at: Set(None),
    }
    .insert(&txn)
    .await;
    match inserted {
        // Two registrations of one address raced; the other one won.
        Err(e) if is_unique_violation(&e) => return Err(already_registered()),
        other => other?,
    };
    let manage_token = new_manage_token(&txn, registration_id, now).await?;
    let context = ConsentContext {
        organisation_id: event.organisation_id,
        registration_id,
        event_id: event.id,
        channel,
        occasion: Occasion::Registration,
        language: request.language,
        notice_version: event.privacy_notice_version,
        at: now,
        receipts: &receipts,
    };
    let mut given = Vec::new();
    let mut sponsor_names = Vec::new();
    let mut purposes: Vec<Purpose> = Vec::new();
    for (sponsor, _) in &texts.sponsors {
        if opt_ins.binary_search(&sponsor.id).is_ok() {
            purposes.push(Purpose::Sponsor(sponsor.id));
            sponsor_names.push(sponsor.name.clone());
        }
    }
    if request.marketing_opt_in {
        purposes.push(Purpose::Marketing);
    }
    for purpose in purposes {
        if let Some(shown) = texts.shown(purpose) {
            given.push((purpose, shown));
        }
    }
    consents::record_first(&txn, &context, &given).await?;
    let granted: Vec<Purpose> = given.into_iter().map(|(purpose, _)| purpose).collect();
    txn.commit().await?;
    state.metrics.registration();
    tracing::info!(%registration_id, event_id = %event.id, "registered");

    let png = render::qr_png(&badges::qr_text(&state.config.public_url, &badge_token))?;
    let manage_url = manage_url(&state.config.public_url, &manage_token);
    let (subject, text) = confirmation_mail(
        &event,
        &details,
        &manage_url,
        &sponsor_names,
        request.language,
    );
    // A failure is reported as `false`: the registration stands, and the response carries the
    // same link.
    let sent = state
        .mailer
        .send_or_log(
            Mail {
                event_id: event.id,
                registration_id: Some(registration_id),
                to: details.email.to_string(),
                subject,
                text,
                attachments: vec![badge_attachment(png.clone())],
            },
            "confirmation mail",
        )
        .await;

    let body = RegistrationCreated {
        registration_id,
        badge: BadgeView::new(badge_token, &png, &state.config.public_url, &manage_token),
        manage_url,
        manage_token,
        consents: granted,
        confirmation_email_sent: sent,
    };
    Ok(crate::response::no_store(
        (StatusCode::CREATED, Json(body)).into_response(),
    ))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn mail_dates_are_written_in_the_mails_language() {
        let at = datetime!(2026-05-03 14:02 UTC);
        assert_eq!(mail_date(at, Language::En), "3 May 2026");
        assert_eq!(mail_date(at, Language::Nl), "3 mei 2026");
        assert_eq!(
            mail_date(datetime!(2026-12-31 0:00 UTC), Language::Nl),
            "31 december 2026"
        );
    }
}
