//! Changing the e-mail address from the manage link. The address is the registration's identity
//! within the event (its blind index is unique per event), so the manage link must not be able to
//! tell whether another address is registered: a correction that changes the address applies the
//! other fields at once and only *asks* for the new address, answering the same whether or not it
//! is taken. The new address gets a one-time link (`/confirm-email#<token>`, the token in the
//! fragment so it reaches no server log); following it applies the change, and only there is an
//! address already in use refused — to the holder of that address.
//!
//! A registration has at most one pending change; a new request replaces it. The token is stored
//! as its SHA-256, the new address sealed with the event's data key (bound to the row id). The
//! pending row goes with the registration's erasure and with the purge.

use axum::{
    Json,
    extract::State,
    response::{IntoResponse, Response},
};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::schema::{consents::Language, ids::RegistrationId};
use crate::{
    contact::Email,
    crypto,
    error::{ApiError, ApiResult, Problem, is_unique_violation},
    events::entity as event,
    extract::ApiJson,
    mail::Mail,
    problem::ProblemCode,
    rate_limit::ClientIp,
    registrations::{self, entity::registration},
    response::no_store,
    state::AppState,
    vault::EventVault,
};

pub use crate::schema::email_changes as entity;

/// How long a confirmation link works.
pub const LINK_LIFETIME: Duration = Duration::hours(24);

// ---------------------------------------------------------------------------------------------
// Rules

/// What a correction asks of the address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressRequest {
    /// The correction does not mention the address: a pending change stays as it is.
    Keep,
    /// The correction gives the current address: nothing to confirm, and a pending change (a
    /// typo, say) is withdrawn.
    Cancel,
    /// A new address, to be confirmed by that address.
    Change(String),
}

/// The request for `current` given the correction's normalised address, if it gave one.
pub fn address_request(current: &str, asked: Option<&str>) -> AddressRequest {
    match asked {
        None => AddressRequest::Keep,
        Some(asked) if asked == current => AddressRequest::Cancel,
        Some(asked) => AddressRequest::Change(asked.to_owned()),
    }
}

/// Whether a link that expires at `expires_at` still works at `now`: up to the second before.
pub fn is_live(expires_at: OffsetDateTime, now: OffsetDateTime) -> bool {
    now < expires_at
}

pub fn confirm_url(public_url: &str, token: &str) -> String {
    format!("{public_url}/confirm-email#{token}")
}

// ---------------------------------------------------------------------------------------------
// Queries

/// Store `new_email` as the registration's pending change, replacing any other; returns the
/// one-time token (mailed, never stored).
pub(super) async fn replace(
    db: &impl ConnectionTrait,
    vault: &EventVault,
    registration_id: RegistrationId,
    new_email: &str,
    now: OffsetDateTime,
) -> ApiResult<String> {
    cancel(db, registration_id).await?;
    let id = Uuid::now_v7();
    let token = crypto::random_token();
    entity::ActiveModel {
        id: Set(id),
        registration_id: Set(registration_id),
        token_hash: Set(crypto::token_hash(&token)),
        new_email: Set(vault.seal(id, new_email.as_bytes())?),
        created_at: Set(now),
        expires_at: Set(now + LINK_LIFETIME),
    }
    .insert(db)
    .await?;
    Ok(token)
}

/// Withdraw the registration's pending change, if any.
pub(super) async fn cancel(
    db: &impl ConnectionTrait,
    registration_id: RegistrationId,
) -> ApiResult<()> {
    entity::Entity::delete_many()
        .filter(entity::Column::RegistrationId.eq(registration_id))
        .exec(db)
        .await?;
    Ok(())
}

fn open_new_email(vault: &EventVault, row: &entity::Model) -> ApiResult<Email> {
    let malformed = || ApiError::Internal(anyhow::anyhow!("sealed pending address is malformed"));
    let text = String::from_utf8(vault.open(row.id, &row.new_email)?).map_err(|_| malformed())?;
    Email::parse("email", &text).map_err(|_| malformed())
}

/// The address a live pending change would set, for the manage-link holder who asked for it.
pub(super) async fn pending_email(
    db: &impl ConnectionTrait,
    vault: &EventVault,
    registration_id: RegistrationId,
    now: OffsetDateTime,
) -> ApiResult<Option<String>> {
    let row = entity::Entity::find()
        .filter(entity::Column::RegistrationId.eq(registration_id))
        .one(db)
        .await?;
    match row {
        Some(row) if is_live(row.expires_at, now) => Ok(Some(open_new_email(vault, &row)?.into())),
        _ => Ok(None),
    }
}

/// The pending change a token stands for: looked up by the token's SHA-256 and compared again in
/// constant time. Anything else is a plain 404.
async fn find_by_token(db: &impl ConnectionTrait, token: &str) -> ApiResult<entity::Model> {
    let hash = super::lookup_hash(token)?;
    entity::Entity::find()
        .filter(entity::Column::TokenHash.eq(hash.clone()))
        .one(db)
        .await?
        .filter(|r| super::same_hash(&r.token_hash, &hash))
        .ok_or(ApiError::NotFound)
}

// ---------------------------------------------------------------------------------------------
// Mail

/// Mail the confirmation link to the new address. It names the event, not the person: whoever
/// typed the address may have mistyped it. A failure is logged without recipient or content.
pub(super) async fn mail_confirmation(
    state: &AppState,
    event: &event::Model,
    registration_id: RegistrationId,
    language: Language,
    new_email: &str,
    token: &str,
) {
    let (name, url) = (&event.name, confirm_url(&state.config.public_url, token));
    let (subject, text) = match language {
        Language::En => (
            format!("Confirm your address for {name}"),
            format!(
                "Hello,\n\n\
                 Someone asked to use this address for a registration for {name}. If that was \
                 you, confirm the change within 24 hours by opening this link:\n{url}\n\n\
                 Until then the registration keeps its current address. If this was not you, \
                 ignore this mail: nothing changes.\n"
            ),
        ),
        Language::Nl => (
            format!("Bevestig je adres voor {name}"),
            format!(
                "Hallo,\n\n\
                 Iemand vroeg dit adres te gebruiken voor een aanmelding voor {name}. Was jij \
                 dat, bevestig de wijziging dan binnen 24 uur met deze link:\n{url}\n\n\
                 Tot dan houdt de aanmelding haar huidige adres. Was jij dit niet, negeer deze \
                 mail dan: er verandert niets.\n"
            ),
        ),
    };
    let mail = Mail {
        event_id: event.id,
        registration_id: Some(registration_id),
        to: new_email.to_owned(),
        subject,
        text,
        attachments: Vec::new(),
    };
    state
        .mailer
        .send_or_log(mail, "address confirmation mail")
        .await;
}

/// Tell the old address that the registration's address has changed. No link, and not the new
/// address.
async fn mail_notice(
    state: &AppState,
    event: &event::Model,
    registration_id: RegistrationId,
    language: Language,
    first_name: &str,
    old_email: &str,
) {
    let name = &event.name;
    let (subject, text) = match language {
        Language::En => (
            format!("Your address for {name} was changed"),
            format!(
                "Hello {first_name},\n\n\
                 The e-mail address of your registration for {name} has been changed to another \
                 address, confirmed from that address. Mail about the registration goes there \
                 from now on.\n\n\
                 If you did not ask for this, someone else has your manage link: contact the \
                 organiser of {name}.\n"
            ),
        ),
        Language::Nl => (
            format!("Je adres voor {name} is gewijzigd"),
            format!(
                "Hallo {first_name},\n\n\
                 Het e-mailadres van je aanmelding voor {name} is gewijzigd in een ander adres, \
                 bevestigd vanaf dat adres. Mail over de aanmelding gaat vanaf nu daarheen.\n\n\
                 Heb jij hier niet om gevraagd, dan heeft iemand anders je beheerlink: neem \
                 contact op met de organisator van {name}.\n"
            ),
        ),
    };
    let mail = Mail {
        event_id: event.id,
        registration_id: Some(registration_id),
        to: old_email.to_owned(),
        subject,
        text,
        attachments: Vec::new(),
    };
    state
        .mailer
        .send_or_log(mail, "address change notice")
        .await;
}

// ---------------------------------------------------------------------------------------------
// Route

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailConfirmation {
    /// The one-time token from the link mailed to the new address (the part after `#`).
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmailChanged {
    /// The registration's address from now on.
    pub email: String,
    /// The event the registration is for.
    pub event: String,
    #[serde(with = "time::serde::rfc3339")]
    pub changed_at: OffsetDateTime,
}

/// Confirm a change of address with the one-time token mailed to the new address. The change
/// applies at once; the old address is told. A link works once, for 24 hours, and a newer request
/// replaces it.
#[utoipa::path(
    post, path = "/email-changes/confirm", tag = "attendee",
    request_body = EmailConfirmation,
    responses(
        (status = 200, body = EmailChanged),
        (status = 404, description = "`not_found`: the link is unknown, used, replaced or expired, or the event's data is deleted", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`email_taken`: another registration of the event has this address by now", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`missing_field`, `unknown_field`, `invalid_value`", body = Problem, content_type = "application/problem+json"),
        crate::error::responses::RateLimited,
    )
)]
pub(super) async fn confirm(
    State(state): State<AppState>,
    client: ClientIp,
    ApiJson(request): ApiJson<EmailConfirmation>,
) -> ApiResult<Response> {
    let now = state.clock.now();
    // Found first outside the transaction, to open the event's vault before taking the write lock.
    let found = super::limited_lookup(
        &state,
        client,
        &request.token,
        find_by_token(&state.db, &request.token),
    )
    .await?;
    let owner = registration::Entity::find_by_id(found.registration_id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound)?;
    let event = event::Entity::find_by_id(owner.event_id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound)?;
    if !crate::events::lifecycle::stage_of(&event, now).data_available() {
        return Err(ApiError::NotFound);
    }
    let vault = state.vault(event.id).await?;

    let txn = crate::db::begin_write(&state.db).await?;
    // Read again under the write lock: a newer request, an erasure or another confirmation may
    // have come first.
    let pending = find_by_token(&txn, &request.token).await?;
    if !is_live(pending.expires_at, now) {
        entity::Entity::delete_by_id(pending.id).exec(&txn).await?;
        txn.commit().await?;
        return Err(ApiError::NotFound);
    }
    let current = registration::Entity::find_by_id(pending.registration_id)
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound)?;
    let new_email = open_new_email(&vault, &pending)?;
    let email_index = vault.email_index(&new_email);
    let email_taken = || {
        ApiError::conflict(
            ProblemCode::EmailTaken,
            "email",
            "Another registration for this event uses this address.",
        )
    };
    let taken = registration::Entity::find()
        .filter(registration::Column::EventId.eq(current.event_id))
        .filter(registration::Column::EmailIndex.eq(&email_index))
        .filter(registration::Column::Id.ne(current.id))
        .one(&txn)
        .await?
        .is_some();
    if taken {
        return Err(email_taken());
    }
    let mut details = registrations::open_details(&vault, &current)?;
    let old_email = std::mem::replace(&mut details.email, new_email.clone());
    let updated = registration::ActiveModel {
        id: Set(current.id),
        email_index: Set(email_index),
        personal_data: Set(registrations::seal_details(&vault, current.id, &details)?),
        updated_at: Set(now),
        ..Default::default()
    }
    .update(&txn)
    .await;
    match updated {
        // Another registration took the address between the check and the update.
        Err(e) if is_unique_violation(&e) => return Err(email_taken()),
        other => other?,
    };
    entity::Entity::delete_by_id(pending.id).exec(&txn).await?;
    txn.commit().await?;
    tracing::info!(registration_id = %current.id, "e-mail address changed");
    if old_email != new_email {
        mail_notice(
            &state,
            &event,
            current.id,
            current.language,
            &details.first_name,
            old_email.as_str(),
        )
        .await;
    }
    Ok(no_store(
        Json(EmailChanged {
            email: new_email.into(),
            event: event.name,
            changed_at: now,
        })
        .into_response(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_correction_keeps_cancels_or_asks_for_a_change() {
        let current = "ada@example.org";
        assert_eq!(address_request(current, None), AddressRequest::Keep);
        assert_eq!(
            address_request(current, Some("ada@example.org")),
            AddressRequest::Cancel
        );
        assert_eq!(
            address_request(current, Some("ada.king@example.org")),
            AddressRequest::Change("ada.king@example.org".into())
        );
    }

    #[test]
    fn a_link_works_until_the_second_before_it_expires() {
        let created = OffsetDateTime::UNIX_EPOCH;
        let expires = created + LINK_LIFETIME;
        assert!(is_live(expires, created));
        assert!(is_live(expires, expires - Duration::seconds(1)));
        assert!(!is_live(expires, expires));
    }

    #[test]
    fn the_token_travels_in_the_fragment() {
        assert_eq!(
            confirm_url("https://consentry.example", "abc"),
            "https://consentry.example/confirm-email#abc"
        );
    }
}
