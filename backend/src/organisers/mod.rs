//! Organisers: accounts (created from the command line), login, logout and "who am I".

pub use crate::schema::organisers as entity;

use std::sync::OnceLock;

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use self::entity::{organisation, organiser, session};
use crate::{
    audit,
    auth::{self, OrganiserAuth},
    contact::Email,
    crypto,
    error::{ApiError, ApiResult, FieldError, Problem, RuleError, StoreError, is_unique_violation},
    extract::ApiJson,
    problem::ProblemCode,
    rate_limit::ClientIp,
    state::AppState,
    validation,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
}

// ---------------------------------------------------------------------------------------------
// Rules

pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// A new organiser's password: long enough to resist guessing, short enough to hash cheaply.
pub fn check_new_password(password: &str) -> Result<(), FieldError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(FieldError::new(
            ProblemCode::WeakPassword,
            "password",
            format!("Must be at least {MIN_PASSWORD_CHARS} characters."),
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(FieldError::new(
            ProblemCode::TooLong,
            "password",
            format!("Must be at most {MAX_PASSWORD_CHARS} characters."),
        ));
    }
    Ok(())
}

/// The per-account rate-limit key: a hash, so the limiter holds no e-mail addresses.
fn account_key(normalised_email: &str) -> [u8; 32] {
    Sha256::digest(normalised_email.as_bytes()).into()
}

/// A hash to verify against when the e-mail is unknown, so that an unknown address costs the same
/// argon2 work as a wrong password and timing does not reveal which accounts exist.
fn dummy_password_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        crypto::hash_password(&crypto::random_token()).unwrap_or_else(|_| {
            // Still a valid PHC string with default parameters, so verification does full work.
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
             6b3nH8ZWVtJ2s5fN1dUOLq4ma9k1vY0pK9iCk2c5Lrw"
                .to_owned()
        })
    })
}

// ---------------------------------------------------------------------------------------------
// Queries

/// Which organisation a new organiser belongs to.
#[derive(Debug, Clone)]
pub enum OrganisationChoice {
    New { name: String },
    Existing(Uuid),
}

/// Create an organiser (and, if asked, its organisation). Returns (organisation id, organiser id).
pub async fn create_organiser(
    db: &DatabaseConnection,
    organisation: OrganisationChoice,
    email: &str,
    display_name: &str,
    password_hash: String,
    now: OffsetDateTime,
) -> Result<(Uuid, Uuid), StoreError> {
    let email = String::from(Email::parse("email", email)?);
    let display_name = validation::person_name("display_name", display_name, 1, 200)?;
    let txn = crate::db::begin_write(db).await?;
    let organisation_id = match organisation {
        OrganisationChoice::New { name } => {
            let name = validation::label("organisation", &name, 1, 200)?;
            let id = Uuid::now_v7();
            organisation::ActiveModel {
                id: Set(id),
                name: Set(name),
                created_at: Set(now),
            }
            .insert(&txn)
            .await?;
            id
        }
        OrganisationChoice::Existing(id) => {
            if organisation::Entity::find_by_id(id)
                .one(&txn)
                .await?
                .is_none()
            {
                return Err(RuleError::invalid(
                    ProblemCode::UnknownOrganisation,
                    "organisation",
                    "No organisation has this id.",
                )
                .into());
            }
            id
        }
    };
    let organiser_id = Uuid::now_v7();
    let inserted = organiser::ActiveModel {
        id: Set(organiser_id),
        organisation_id: Set(organisation_id),
        email: Set(email),
        display_name: Set(display_name),
        password_hash: Set(password_hash),
        created_at: Set(now),
        password_changed_at: Set(now),
    }
    .insert(&txn)
    .await;
    match inserted {
        Err(e) if is_unique_violation(&e) => {
            return Err(RuleError::conflict(
                ProblemCode::EmailTaken,
                "email",
                "An organiser with this e-mail address exists.",
            )
            .into());
        }
        other => other?,
    };
    txn.commit().await?;
    Ok((organisation_id, organiser_id))
}

/// Replace an organiser's password and end all of its sessions.
pub async fn set_password(
    db: &DatabaseConnection,
    organiser_id: Uuid,
    password_hash: String,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let txn = crate::db::begin_write(db).await?;
    organiser::ActiveModel {
        id: Set(organiser_id),
        password_hash: Set(password_hash),
        password_changed_at: Set(now),
        ..Default::default()
    }
    .update(&txn)
    .await?;
    session::Entity::delete_many()
        .filter(session::Column::OrganiserId.eq(organiser_id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

pub async fn find_by_email(
    db: &impl ConnectionTrait,
    normalised_email: &str,
) -> Result<Option<organiser::Model>, sea_orm::DbErr> {
    organiser::Entity::find()
        .filter(organiser::Column::Email.eq(normalised_email))
        .one(db)
        .await
}

// ---------------------------------------------------------------------------------------------
// Routes

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Bearer token for API clients; browsers use the HttpOnly cookie set alongside.
    pub token: String,
    pub token_type: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub organiser: OrganiserView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganiserView {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub organisation: OrganisationView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganisationView {
    pub id: Uuid,
    pub name: String,
}

async fn organiser_view(
    db: &impl ConnectionTrait,
    organiser: organiser::Model,
) -> ApiResult<OrganiserView> {
    let organisation = organisation::Entity::find_by_id(organiser.organisation_id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(OrganiserView {
        id: organiser.id,
        email: organiser.email,
        display_name: organiser.display_name,
        organisation: OrganisationView {
            id: organisation.id,
            name: organisation.name,
        },
    })
}

/// Log in as an organiser.
///
/// Answers the same `invalid_credentials` problem, after the same password-hashing work, for an
/// unknown e-mail address and for a wrong password.
#[utoipa::path(
    post, path = "/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in; also sets the session cookie", body = LoginResponse),
        (status = 401, description = "`invalid_credentials`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Malformed fields", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: failures per network, per (account, network) and per account", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn login(
    State(state): State<AppState>,
    client: ClientIp,
    ApiJson(request): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let network = client.network();
    let began = std::time::Instant::now();
    // Counted as failures from the start, given back when the password is right: a venue's
    // organisers logging in behind one address never use up the network's attempts.
    let network_attempt = state.limits.login.begin((), network, began)?;
    let invalid = || ApiError::Unauthorized {
        code: ProblemCode::InvalidCredentials,
    };
    // A malformed address or an absurd password is just a failed login: no hint either way.
    let email = Email::parse("email", &request.email)
        .map(String::from)
        .unwrap_or_default();
    let attempt = state
        .limits
        .login_failures
        .begin(account_key(&email), network, began)?;
    if request.password.chars().count() > MAX_PASSWORD_CHARS {
        return Err(invalid());
    }

    let found = if email.is_empty() {
        None
    } else {
        find_by_email(&state.db, &email).await?
    };
    let stored_hash = found
        .as_ref()
        .map(|o| o.password_hash.clone())
        .unwrap_or_else(|| dummy_password_hash().to_owned());
    let password = request.password;
    let verified =
        tokio::task::spawn_blocking(move || crypto::verify_password(&password, &stored_hash))
            .await
            .map_err(|e| ApiError::Internal(e.into()))?;
    let organiser = match (found, verified) {
        (Some(organiser), true) => organiser,
        _ => return Err(invalid()),
    };
    state.limits.login_failures.succeeded(attempt);
    state.limits.login.give_back(network_attempt);

    let now = state.clock.now();
    let expires_at = now + state.config.session_ttl;
    let session_id = Uuid::new_v4();
    let txn = crate::db::begin_write(&state.db).await?;
    // Housekeeping: this organiser's expired sessions go as a new one starts.
    session::Entity::delete_many()
        .filter(session::Column::OrganiserId.eq(organiser.id))
        .filter(session::Column::ExpiresAt.lte(now))
        .exec(&txn)
        .await?;
    session::ActiveModel {
        id: Set(session_id),
        organiser_id: Set(organiser.id),
        created_at: Set(now),
        expires_at: Set(expires_at),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        audit::Entry {
            organisation_id: organiser.organisation_id,
            event_id: None,
            actor: audit::Actor::Organiser(organiser.id),
            action: audit::Action::OrganiserLogin,
            subject_id: None,
            count: None,
        },
        now,
    )
    .await?;
    let token = auth::issue_session_token(
        &state.keys,
        organiser.id,
        organiser.organisation_id,
        session_id,
        now,
        expires_at,
    )?;
    let view = organiser_view(&txn, organiser).await?;
    txn.commit().await?;
    tracing::info!(organiser_id = %view.id, "organiser logged in");

    let cookie = auth::session_cookie(
        &token,
        state.config.session_ttl.whole_seconds(),
        state.config.secure_cookies,
    )?;
    let body = LoginResponse {
        token,
        token_type: "Bearer",
        expires_at,
        organiser: view,
    };
    // The answer carries the session token: no cache may keep it.
    Ok(crate::response::no_store(
        ([(header::SET_COOKIE, cookie)], Json(body)).into_response(),
    ))
}

/// End the current session (the token stops working at once) and clear the cookie.
#[utoipa::path(
    post, path = "/auth/logout", tag = "auth",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn logout(State(state): State<AppState>, auth: OrganiserAuth) -> ApiResult<Response> {
    session::Entity::delete_by_id(auth.session_id)
        .exec(&state.db)
        .await?;
    let cookie = auth::cleared_session_cookie(state.config.secure_cookies);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

/// The logged-in organiser and its organisation.
#[utoipa::path(
    get, path = "/auth/me", tag = "auth",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, body = OrganiserView),
        (status = 401, description = "Not logged in, expired or logged out", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn me(State(state): State<AppState>, auth: OrganiserAuth) -> ApiResult<Json<OrganiserView>> {
    let organiser = organiser::Entity::find_by_id(auth.organiser_id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::Unauthorized {
            code: ProblemCode::SessionRevoked,
        })?;
    Ok(Json(organiser_view(&state.db, organiser).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_passwords_have_a_minimum_and_maximum_length() {
        assert_eq!(
            check_new_password("short").unwrap_err().code,
            ProblemCode::WeakPassword
        );
        assert!(check_new_password("twelve chars").is_ok());
        assert_eq!(
            check_new_password(&"x".repeat(MAX_PASSWORD_CHARS + 1))
                .unwrap_err()
                .code,
            ProblemCode::TooLong
        );
    }

    #[test]
    fn the_dummy_hash_is_a_real_argon2id_hash() {
        assert!(dummy_password_hash().starts_with("$argon2id$"));
        assert!(!crypto::verify_password("anything", dummy_password_hash()));
    }
}
