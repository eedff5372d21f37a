//! The one error type of the HTTP API, and its one mapping to `application/problem+json`.
//!
//! Client errors carry a stable machine-readable `code`; server errors are logged with their cause
//! and answered with a generic body, so no internal detail (and no personal data) leaks.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use sea_orm::{DbErr, SqlErr};
use serde::Serialize;
use utoipa::ToSchema;

pub use crate::problem::ProblemCode;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// A validation failure of one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub code: ProblemCode,
    /// The field's name as the API spells it (a JSON path for nested fields).
    pub field: String,
    pub detail: String,
    /// The bound a `too_long` value broke, in characters, so that a form can say it.
    pub limit: Option<usize>,
}

impl FieldError {
    pub fn new(code: ProblemCode, field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            code,
            field: field.into(),
            detail: detail.into(),
            limit: None,
        }
    }

    pub fn with_limit(self, limit: usize) -> Self {
        Self {
            limit: Some(limit),
            ..self
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} ({})", self.field, self.detail, self.code)
    }
}

/// Every field a request got wrong (at least one), in the order of the form: a person filling in
/// a form is told all at once, not one round trip per field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldErrors {
    first: FieldError,
    rest: Vec<FieldError>,
}

impl FieldErrors {
    /// `None` when there is nothing wrong.
    pub fn from_vec(errors: Vec<FieldError>) -> Option<Self> {
        let mut errors = errors.into_iter();
        errors.next().map(|first| Self {
            first,
            rest: errors.collect(),
        })
    }

    /// The first in form order: the problem's own `code`, `field` and `detail`.
    pub fn first(&self) -> &FieldError {
        &self.first
    }

    pub fn iter(&self) -> impl Iterator<Item = &FieldError> {
        std::iter::once(&self.first).chain(&self.rest)
    }
}

impl From<FieldError> for FieldErrors {
    fn from(first: FieldError) -> Self {
        Self {
            first,
            rest: Vec::new(),
        }
    }
}

impl std::fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let all: Vec<String> = self.iter().map(ToString::to_string).collect();
        f.write_str(&all.join("; "))
    }
}

/// Collects field checks: each result's value, or its error kept for [`FieldErrors`].
#[derive(Debug, Default)]
pub struct FieldChecks(Vec<FieldError>);

impl FieldChecks {
    pub fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        result.map_err(|e| self.0.push(e)).ok()
    }

    pub fn refuse(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// `Ok(())` if every check passed, else all that failed.
    pub fn finish(self) -> Result<(), FieldErrors> {
        FieldErrors::from_vec(self.0).map_or(Ok(()), Err)
    }
}

/// A rule's refusal in the domain's own words: rules (`events::rules`, `events::lifecycle`,
/// `registrations::rules`, …) return it and know nothing of HTTP; `From<RuleError> for ApiError`
/// below is the one place that gives each its status, and the CLI prints it as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// Fields break rules.
    #[error("{0}")]
    Invalid(FieldErrors),
    /// The request conflicts with the state of things (a closed registration, a taken slug, …).
    #[error("{detail} ({code})")]
    Conflict {
        code: ProblemCode,
        field: Option<String>,
        detail: String,
    },
    /// The event's attendee data is due for deletion, deleted, or going with its event.
    #[error("this event's attendee data has been deleted under its retention period")]
    DataGone,
    /// A credential (a kiosk token, …) that opens nothing: malformed, forged or expired.
    #[error("credential refused ({0})")]
    CredentialRefused(ProblemCode),
}

impl RuleError {
    pub fn invalid(code: ProblemCode, field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Invalid(FieldError::new(code, field, detail).into())
    }

    pub fn conflict(code: ProblemCode, field: &'static str, detail: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            field: Some(field.to_owned()),
            detail: detail.into(),
        }
    }
}

impl RuleError {
    /// The problem code the API answers this refusal with.
    pub fn code(&self) -> ProblemCode {
        match self {
            Self::Invalid(e) => e.first().code,
            Self::Conflict { code, .. } => *code,
            Self::DataGone => ProblemCode::DataPurged,
            Self::CredentialRefused(code) => *code,
        }
    }
}

impl From<FieldError> for RuleError {
    fn from(e: FieldError) -> Self {
        Self::Invalid(e.into())
    }
}

impl From<FieldErrors> for RuleError {
    fn from(e: FieldErrors) -> Self {
        Self::Invalid(e)
    }
}

/// What a query that applies rules fails with: a rule's refusal, or the database. Commands
/// outside HTTP (the CLI's `organiser` commands) print it as it is; the API maps it below.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Refused(#[from] RuleError),
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

impl From<FieldError> for StoreError {
    fn from(e: FieldError) -> Self {
        Self::Refused(e.into())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Refused(e) => e.into(),
            StoreError::Database(e) => e.into(),
        }
    }
}

impl From<RuleError> for ApiError {
    fn from(e: RuleError) -> Self {
        match e {
            RuleError::Invalid(field) => Self::Invalid(field),
            RuleError::Conflict {
                code,
                field,
                detail,
            } => Self::Conflict {
                code,
                field,
                detail,
            },
            RuleError::CredentialRefused(code) => Self::Unauthorized { code },
            RuleError::DataGone => Self::Conflict {
                code: ProblemCode::DataPurged,
                field: None,
                detail: "This event's attendee data has been deleted under its retention period."
                    .into(),
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 422: the request is well-formed but fields break rules.
    #[error("invalid fields: {0}")]
    Invalid(FieldErrors),
    /// 400: the request cannot be understood (malformed JSON, bad query string, …).
    #[error("bad request: {detail}")]
    BadRequest { code: ProblemCode, detail: String },
    /// 401: missing, expired or revoked credentials.
    #[error("unauthorized: {code}")]
    Unauthorized { code: ProblemCode },
    /// 403: authenticated, but this actor may not do this.
    #[error("forbidden: {code}")]
    Forbidden { code: ProblemCode },
    /// 404: absent, or belonging to another tenant (existence is not leaked).
    #[error("not found")]
    NotFound,
    /// 405 from the router.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409: conflicts with the current state (duplicate slug, …).
    #[error("conflict: {code}")]
    Conflict {
        code: ProblemCode,
        field: Option<String>,
        detail: String,
    },
    /// 413: the body is larger than the limit.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 415: the body is not JSON.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 429: rate limited.
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    /// 408 from the timeout layer.
    #[error("request timeout")]
    Timeout,
    /// 503: a dependency (the database) is unavailable.
    #[error("service unavailable")]
    Unavailable,
    /// 500: a bug or an unexpected failure; logged, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The `application/problem+json` body (RFC 9457) with Consentry's extension members.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `urn:consentry:problem:<code>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short human summary, the same for every occurrence of this code.
    pub title: &'static str,
    pub status: u16,
    /// Stable machine-readable code; clients branch on this.
    pub code: &'static str,
    /// Human explanation of this occurrence. Never holds personal data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The offending request field, for validation errors (the first, in form order).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For validation errors (422), every field in error, in form order, so that a form can mark
    /// them all at once. The first is the problem's own `code`, `field` and `detail`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

/// One field in error.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldProblem {
    pub field: String,
    pub code: &'static str,
    pub detail: String,
    /// For `too_long`: the most characters the field takes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

impl ApiError {
    /// The same refusal as [`RuleError::invalid`], for a handler's own checks.
    pub fn invalid(code: ProblemCode, field: impl Into<String>, detail: impl Into<String>) -> Self {
        RuleError::invalid(code, field, detail).into()
    }

    /// The same refusal as [`RuleError::conflict`], for a handler's own checks.
    pub fn conflict(code: ProblemCode, field: &'static str, detail: impl Into<String>) -> Self {
        RuleError::conflict(code, field, detail).into()
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Timeout => StatusCode::REQUEST_TIMEOUT,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> ProblemCode {
        match self {
            Self::Invalid(e) => e.first().code,
            Self::BadRequest { code, .. }
            | Self::Unauthorized { code }
            | Self::Forbidden { code }
            | Self::Conflict { code, .. } => *code,
            Self::NotFound => ProblemCode::NotFound,
            Self::MethodNotAllowed => ProblemCode::MethodNotAllowed,
            Self::PayloadTooLarge => ProblemCode::PayloadTooLarge,
            Self::UnsupportedMediaType => ProblemCode::UnsupportedMediaType,
            Self::TooManyRequests { .. } => ProblemCode::RateLimited,
            Self::Timeout => ProblemCode::RequestTimeout,
            Self::Unavailable => ProblemCode::ServiceUnavailable,
            Self::Internal(_) => ProblemCode::InternalError,
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "A field is invalid",
            Self::BadRequest { .. } => "The request is malformed",
            Self::Unauthorized { .. } => "Authentication is required",
            Self::Forbidden { .. } => "Not allowed",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::Conflict { .. } => "Conflicts with the current state",
            Self::PayloadTooLarge => "The request body is too large",
            Self::UnsupportedMediaType => "The request body must be JSON",
            Self::TooManyRequests { .. } => "Too many requests",
            Self::Timeout => "The request took too long",
            Self::Unavailable => "The service is unavailable",
            Self::Internal(_) => "Internal error",
        }
    }

    fn detail(&self) -> Option<String> {
        match self {
            Self::Invalid(e) => Some(e.first().detail.clone()),
            Self::BadRequest { detail, .. } | Self::Conflict { detail, .. } => Some(detail.clone()),
            Self::Unauthorized {
                code: ProblemCode::InvalidCredentials,
            } => Some("The e-mail address or the password is wrong.".into()),
            Self::TooManyRequests { retry_after_secs } => {
                Some(format!("Try again in {retry_after_secs} seconds."))
            }
            _ => None,
        }
    }

    fn field(&self) -> Option<String> {
        match self {
            Self::Invalid(e) => Some(e.first().field.clone()),
            Self::Conflict { field, .. } => field.clone(),
            _ => None,
        }
    }

    pub fn problem(&self) -> Problem {
        Problem {
            problem_type: format!("urn:consentry:problem:{}", self.code()),
            title: self.title(),
            status: self.status().as_u16(),
            code: self.code().as_str(),
            detail: self.detail(),
            field: self.field(),
            errors: match self {
                Self::Invalid(errors) => errors
                    .iter()
                    .map(|e| FieldProblem {
                        field: e.field.clone(),
                        code: e.code.as_str(),
                        detail: e.detail.clone(),
                        limit: e.limit,
                    })
                    .collect(),
                _ => Vec::new(),
            },
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        Self::Invalid(e.into())
    }
}

impl From<FieldErrors> for ApiError {
    fn from(e: FieldErrors) -> Self {
        Self::Invalid(e)
    }
}

impl From<DbErr> for ApiError {
    fn from(e: DbErr) -> Self {
        if is_connection_error(&e) {
            tracing::error!(error = %e, "database unavailable");
            return Self::Unavailable;
        }
        Self::Internal(anyhow::Error::new(e))
    }
}

fn is_connection_error(e: &DbErr) -> bool {
    matches!(e, DbErr::ConnectionAcquire(_) | DbErr::Conn(_))
}

/// Whether a database error is a unique-constraint violation (a 409 for the caller to name).
pub fn is_unique_violation(e: &DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let Self::Internal(cause) = &self {
            // The cause may quote SQL but never bound values: sea-orm errors carry no parameters.
            // Its chain only (`{:#}`), never its backtrace: with RUST_BACKTRACE set, resolving one
            // blocks the worker thread for seconds under a process-wide lock, so a burst of errors
            // (the database going away) would stall every request, `/readyz` included.
            tracing::error!(error = format!("{cause:#}"), "internal error");
        }
        let retry_after = match &self {
            Self::TooManyRequests { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        };
        let mut response = (status, Json(self.problem())).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(secs) = retry_after
            && let Ok(value) = HeaderValue::from_str(&secs.to_string())
        {
            headers.insert(header::RETRY_AFTER, value);
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_name_their_field_and_code() {
        let p = ApiError::invalid(ProblemCode::InvalidSlug, "slug", "too short").problem();
        assert_eq!(p.status, 422);
        assert_eq!(p.code, "invalid_slug");
        assert_eq!(p.field.as_deref(), Some("slug"));
        assert_eq!(p.problem_type, "urn:consentry:problem:invalid_slug");
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let p = ApiError::Internal(anyhow::anyhow!("secret table name")).problem();
        assert_eq!(p.status, 500);
        assert_eq!(p.code, "internal_error");
        assert!(p.detail.is_none());
    }
}

/// OpenAPI responses that mean the same on every operation that has them, named once: an
/// operation lists `crate::error::responses::NotFound` instead of spelling the problem response
/// out. Answers whose meaning differs per operation keep their own description at the operation.
pub mod responses {
    use super::Problem;

    /// Authentication is missing, expired or revoked (`authentication_required`, `invalid_session`,
    /// `session_expired`, `kiosk_revoked`, …).
    #[derive(utoipa::IntoResponses)]
    #[response(status = 401, content_type = "application/problem+json")]
    pub struct Unauthorized(#[allow(dead_code)] Problem);

    /// Absent, or another tenant's (which is not told apart from absent).
    #[derive(utoipa::IntoResponses)]
    #[response(status = 404, content_type = "application/problem+json")]
    pub struct NotFound(#[allow(dead_code)] Problem);

    /// A field breaks a rule; `field` names it.
    #[derive(utoipa::IntoResponses)]
    #[response(status = 422, content_type = "application/problem+json")]
    pub struct Unprocessable(#[allow(dead_code)] Problem);

    /// Too many requests from this address or for this account; `Retry-After` says when to try
    /// again.
    #[derive(utoipa::IntoResponses)]
    #[response(status = 429, content_type = "application/problem+json")]
    pub struct RateLimited(#[allow(dead_code)] Problem);
}
