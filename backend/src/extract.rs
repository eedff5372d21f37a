//! Request extractors whose rejections are problem+json with stable codes.
//!
//! axum's own `Json` echoes serde's message, which may quote the offending *value* (an e-mail, a
//! name) back to the client and into logs. These extractors name the field and never the value.

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request, rejection::BytesRejection},
    http::{StatusCode, header, request::Parts},
};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::problem::ProblemCode;
use crate::schema::consents::Language;

/// A JSON body: `application/json` (or `+json`), within the body limit, with no unknown fields.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !has_json_content_type(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes =
            Bytes::from_request(req, state)
                .await
                .map_err(|rejection: BytesRejection| match rejection.status() {
                    StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
                    _ => ApiError::BadRequest {
                        code: ProblemCode::UnreadableBody,
                        detail: "The request body could not be read.".into(),
                    },
                })?;
        parse_json(&bytes).map(ApiJson)
    }
}

fn has_json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
        || (essence.len() > 5
            && essence[..essence.len() - 5]
                .to_ascii_lowercase()
                .starts_with("application/")
            && essence.to_ascii_lowercase().ends_with("+json"))
}

/// Parse a JSON document into `T`, mapping every failure to a problem that names the field only.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    let value = result.map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        json_problem(&path, &inner)
    })?;
    // Trailing data after the document is malformed JSON too.
    de.end().map_err(|_| ApiError::BadRequest {
        code: ProblemCode::MalformedJson,
        detail: "The request body is not valid JSON.".into(),
    })?;
    Ok(value)
}

fn json_problem(path: &str, err: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match err.classify() {
        Category::Syntax | Category::Eof | Category::Io => ApiError::BadRequest {
            code: ProblemCode::MalformedJson,
            detail: format!(
                "The request body is not valid JSON (line {}, column {}).",
                err.line(),
                err.column()
            ),
        },
        Category::Data => {
            let message = err.to_string();
            let named = backticked(&message);
            let join = |name: &str| {
                if path.is_empty() || path == "." {
                    name.to_owned()
                } else {
                    format!("{path}.{name}")
                }
            };
            if message.starts_with("unknown field") {
                // serde_path_to_error's path already ends at the unknown key.
                let field = if path.is_empty() || path == "." {
                    named.unwrap_or("body").to_owned()
                } else {
                    path.to_owned()
                };
                ApiError::invalid(
                    ProblemCode::UnknownField,
                    field,
                    "This field is not accepted here.",
                )
            } else if message.starts_with("missing field") {
                let field = named.map(join).unwrap_or_else(|| path.to_owned());
                ApiError::invalid(ProblemCode::MissingField, field, "This field is required.")
            } else {
                // serde's message for a wrong type quotes the value: never pass it on.
                let field = if path.is_empty() || path == "." {
                    "body".to_owned()
                } else {
                    path.to_owned()
                };
                ApiError::invalid(
                    ProblemCode::InvalidValue,
                    field,
                    "This field has the wrong type or an unaccepted value.",
                )
            }
        }
    }
}

/// The first `name` in a serde message such as "unknown field `name`, expected …".
fn backticked(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    let name = &message[start..start + len];
    (name.len() <= 64).then_some(name)
}

/// A path parameter; an unparsable one (say, not a UUID) is simply not found.
#[derive(Debug, Clone, Copy)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| ApiPath(value))
            .map_err(|_| ApiError::NotFound)
    }
}

/// A query string; a malformed one is a 400 naming no value.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded_from_str(query).map(ApiQuery)
    }
}

fn serde_urlencoded_from_str<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    axum::extract::Query::<T>::try_from_uri(
        &format!("/?{query}").parse().map_err(|_| invalid_query())?,
    )
    .map(|axum::extract::Query(v)| v)
    .map_err(|_| invalid_query())
}

/// The `(offset, limit)` of a 1-based `page` of `per_page` items, `per_page` at most `max`.
pub fn page_window(page: u64, per_page: u64, max: u64) -> Result<(u64, u64), ApiError> {
    // Databases take signed 64-bit offsets, so pages are documented as int64 and larger ones are
    // refused (sea-query's SQLite binding panicked on them; found by schemathesis).
    let last_page = i64::MAX.unsigned_abs();
    if !(1..=last_page).contains(&page) || !(1..=max).contains(&per_page) {
        return Err(ApiError::BadRequest {
            code: ProblemCode::InvalidQuery,
            detail: format!("page is 1 to {last_page}; per_page is 1 to {max}."),
        });
    }
    // Any offset past the largest a database takes is past the end anyway.
    let offset = (page - 1).saturating_mul(per_page).min(last_page);
    Ok((offset, per_page))
}

fn invalid_query() -> ApiError {
    ApiError::BadRequest {
        code: ProblemCode::InvalidQuery,
        detail: "The query string has an unknown parameter or an invalid value.".into(),
    }
}

/// For PATCH bodies: tells a field left out (`None`) from one set to `null` (`Some(None)`), which
/// clears it.
pub fn double_option<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    use serde::Deserialize;
    Option::<String>::deserialize(d).map(Some)
}

/// The language a reader asked for: `?lang=en` or `?lang=nl`, else the first language of
/// `Accept-Language` that Consentry writes, else English. Never refuses: a language Consentry
/// does not write is read as English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestedLanguage(pub Language);

impl<S: Send + Sync> FromRequestParts<S> for RequestedLanguage {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let asked = parts
            .uri
            .query()
            .into_iter()
            .flat_map(|query| query.split('&'))
            .find_map(|pair| pair.strip_prefix("lang="))
            .and_then(|lang| match lang {
                "en" => Some(Language::En),
                "nl" => Some(Language::Nl),
                _ => None,
            });
        let accepted = || {
            parts
                .headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .map(Language::from_accept_language)
                .unwrap_or_default()
        };
        Ok(Self(asked.unwrap_or_else(accepted)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        age: u8,
    }

    fn code_and_field(err: ApiError) -> (&'static str, Option<String>) {
        let p = err.problem();
        (p.code, p.field)
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        let err = parse_json::<Body>(br#"{"name": "#).unwrap_err();
        assert_eq!(err.status().as_u16(), 400);
        assert_eq!(err.code(), ProblemCode::MalformedJson);
    }

    #[test]
    fn unknown_and_missing_fields_are_named() {
        let err = parse_json::<Body>(br#"{"name":"a","age":3,"admin":true}"#).unwrap_err();
        assert_eq!(code_and_field(err), ("unknown_field", Some("admin".into())));
        let err = parse_json::<Body>(br#"{"name":"a"}"#).unwrap_err();
        assert_eq!(code_and_field(err), ("missing_field", Some("age".into())));
    }

    #[test]
    fn wrong_values_are_named_but_never_echoed() {
        let err = parse_json::<Body>(br#"{"name":"a","age":"jane.doe@example.com"}"#).unwrap_err();
        let p = err.problem();
        assert_eq!(p.code, "invalid_value");
        assert_eq!(p.field.as_deref(), Some("age"));
        let body = serde_json::to_string(&p).unwrap();
        assert!(!body.contains("jane.doe"), "{body}");
    }

    #[test]
    fn trailing_garbage_is_malformed() {
        let err = parse_json::<Body>(br#"{"name":"a","age":3} x"#).unwrap_err();
        assert_eq!(err.code(), ProblemCode::MalformedJson);
    }

    #[test]
    fn json_content_types() {
        let mut h = axum::http::HeaderMap::new();
        assert!(!has_json_content_type(&h));
        h.insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        assert!(has_json_content_type(&h));
        h.insert(
            header::CONTENT_TYPE,
            "application/merge-patch+json".parse().unwrap(),
        );
        assert!(has_json_content_type(&h));
        h.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(!has_json_content_type(&h));
    }
}
