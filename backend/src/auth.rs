//! Organiser authentication: session tokens (HS256 JWT bound to a session row) and the extractor
//! that every organiser endpoint takes.
//!
//! The same token travels as an HttpOnly, SameSite=Strict cookie for the web console and as a
//! Bearer token for API clients. Expiry is checked against the injected clock, and the session row
//! is checked on every request, so logout takes effect at once.

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, HeaderValue, header, request::Parts},
};
use jsonwebtoken::{Algorithm, Header, Validation};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    error::{ApiError, ApiResult},
    problem::ProblemCode,
    schema::organisers::session,
    state::{AppState, Keys},
};

pub const SESSION_COOKIE: &str = "consentry_session";
const ISSUER: &str = "consentry";
const AUDIENCE: &str = "organiser";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionClaims {
    pub iss: String,
    pub aud: String,
    /// Organiser id.
    pub sub: Uuid,
    /// Organisation id: the tenant every query of this session is confined to.
    pub org: Uuid,
    /// Session id (the `organiser_sessions` row).
    pub sid: Uuid,
    pub iat: i64,
    pub exp: i64,
}

pub fn issue_session_token(
    keys: &Keys,
    organiser_id: Uuid,
    organisation_id: Uuid,
    session_id: Uuid,
    issued_at: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> anyhow::Result<String> {
    let claims = SessionClaims {
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        sub: organiser_id,
        org: organisation_id,
        sid: session_id,
        iat: issued_at.unix_timestamp(),
        exp: expires_at.unix_timestamp(),
    };
    Ok(jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &keys.session_encoding,
    )?)
}

/// Verify signature, algorithm, issuer and audience, then expiry against `now`.
pub fn verify_session_token(
    keys: &Keys,
    token: &str,
    now: OffsetDateTime,
) -> Result<SessionClaims, ApiError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // Expiry is checked below against the injected clock, not the system's.
    validation.validate_exp = false;
    let data = jsonwebtoken::decode::<SessionClaims>(token, &keys.session_decoding, &validation)
        .map_err(|_| ApiError::Unauthorized {
            code: ProblemCode::InvalidSession,
        })?;
    if now.unix_timestamp() >= data.claims.exp {
        return Err(ApiError::Unauthorized {
            code: ProblemCode::SessionExpired,
        });
    }
    Ok(data.claims)
}

/// The token of an `Authorization: Bearer` header.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The token of a request: the Bearer header if present, else the session cookie.
fn session_token(headers: &HeaderMap) -> Option<&str> {
    if headers.contains_key(header::AUTHORIZATION) {
        return bearer_token(headers);
    }
    cookie(headers, SESSION_COOKIE)
}

/// The value of the cookie `name` in a request's `Cookie` headers.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(cookie_name, _)| *cookie_name == name)
        .map(|(_, value)| value)
}

/// The `Set-Cookie` value that stores a session in the browser.
pub fn session_cookie(token: &str, max_age_secs: i64, secure: bool) -> ApiResult<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    ))
    .map_err(|e| ApiError::Internal(e.into()))
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn cleared_session_cookie(secure: bool) -> HeaderValue {
    if secure {
        HeaderValue::from_static(
            "consentry_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure",
        )
    } else {
        HeaderValue::from_static("consentry_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
    }
}

/// An authenticated organiser. Handlers confine every query to `organisation_id`.
#[derive(Debug, Clone, Copy)]
pub struct OrganiserAuth {
    pub organiser_id: Uuid,
    pub organisation_id: Uuid,
    pub session_id: Uuid,
}

impl FromRequestParts<AppState> for OrganiserAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = session_token(&parts.headers).ok_or(ApiError::Unauthorized {
            code: ProblemCode::AuthenticationRequired,
        })?;
        let now = state.clock.now();
        let claims = verify_session_token(&state.keys, token, now)?;
        let live = session::Entity::find_by_id(claims.sid)
            .filter(session::Column::OrganiserId.eq(claims.sub))
            .filter(session::Column::ExpiresAt.gt(now))
            .one(&state.db)
            .await?;
        if live.is_none() {
            return Err(ApiError::Unauthorized {
                code: ProblemCode::SessionRevoked,
            });
        }
        Ok(Self {
            organiser_id: claims.sub,
            organisation_id: claims.org,
            session_id: claims.sid,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;
    use time::macros::datetime;

    fn token(keys: &Keys, exp: OffsetDateTime) -> String {
        issue_session_token(
            keys,
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::new_v4(),
            datetime!(2026-11-23 10:00 UTC),
            exp,
        )
        .unwrap()
    }

    #[test]
    fn a_token_is_valid_until_the_second_it_expires() {
        let keys = Keys::new(MasterKey::generate());
        let exp = datetime!(2026-11-23 12:00 UTC);
        let t = token(&keys, exp);
        assert!(verify_session_token(&keys, &t, exp - time::Duration::seconds(1)).is_ok());
        let err = verify_session_token(&keys, &t, exp).unwrap_err();
        assert_eq!(err.code(), ProblemCode::SessionExpired);
    }

    #[test]
    fn tokens_of_another_key_or_tampered_are_refused() {
        let keys = Keys::new(MasterKey::generate());
        let other = Keys::new(MasterKey::generate());
        let now = datetime!(2026-11-23 11:00 UTC);
        let t = token(&other, datetime!(2026-11-23 12:00 UTC));
        assert_eq!(
            verify_session_token(&keys, &t, now).unwrap_err().code(),
            ProblemCode::InvalidSession
        );
        let mut t = token(&keys, datetime!(2026-11-23 12:00 UTC));
        t.push('x');
        assert!(verify_session_token(&keys, &t, now).is_err());
    }

    #[test]
    fn alg_none_is_refused() {
        use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
        let keys = Keys::new(MasterKey::generate());
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let claims = URL_SAFE_NO_PAD.encode(
            serde_json::json!({"iss":"consentry","aud":"organiser","sub":Uuid::nil(),
                "org":Uuid::nil(),"sid":Uuid::nil(),"iat":0,"exp":i64::MAX})
            .to_string(),
        );
        let forged = format!("{header}.{claims}.");
        assert!(verify_session_token(&keys, &forged, datetime!(2026-11-23 11:00 UTC)).is_err());
    }

    #[test]
    fn bearer_header_wins_over_cookie() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=b; consentry_session=fromcookie".parse().unwrap(),
        );
        assert_eq!(session_token(&h), Some("fromcookie"));
        h.insert(header::AUTHORIZATION, "Bearer frombearer".parse().unwrap());
        assert_eq!(session_token(&h), Some("frombearer"));
    }
}
