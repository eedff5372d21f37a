//! The HTTP application: routes of every capability, OpenAPI, health checks, and the middleware
//! every request passes (request ids, tracing without personal data, security headers, body limit,
//! timeout, problem+json for errors the router itself produces and for panics).

use std::time::Duration;

use axum::{
    Json, Router,
    body::Body,
    extract::{DefaultBodyLimit, MatchedPath, State},
    http::{HeaderName, HeaderValue, Request, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    set_header::SetResponseHeaderLayer,
    timeout::TimeoutLayer,
    trace::TraceLayer,
};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::{
    audit, badges, booths, db, error::ApiError, events, exports, kiosks, leads, organisers,
    problem::ProblemCode, registrations, retention, rights, scans, sponsors, state::AppState,
    stats, web,
};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Pages may load only what the server itself serves: no CDN, no fonts, no analytics.
const CSP: &str = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; \
                   script-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; \
                   base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
/// Swagger UI sets inline styles; it gets those, and nothing else more.
const DOCS_CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                        script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
                        form-action 'self'; frame-ancestors 'none'";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Consentry API",
        description = "Privacy-aware event registration and badge scanning. Every error is \
                       `application/problem+json` with a stable `code`.",
        license(name = "AGPL-3.0-or-later")
    ),
    modifiers(&SecuritySchemes),
    components(schemas(crate::error::Problem, crate::audit::Action)),
    tags(
        (name = "auth", description = "Organiser login and sessions"),
        (name = "events", description = "An organiser's events"),
        (name = "sponsors", description = "Sponsors of an organiser's event"),
        (name = "registration", description = "Public: an event's page, registering, badge keys"),
        (name = "attendee", description = "The attendee's own registration, behind the secret manage link"),
        (name = "kiosks", description = "Sponsor kiosks: created and revoked by organisers, paired by code"),
        (name = "scans", description = "Badge scans at a booth; consent enforced"),
        (name = "leads", description = "A kiosk's own sponsor's leads"),
        (name = "exports", description = "Consented leads per sponsor, as CSV or JSON, streamed"),
        (name = "audit", description = "Who touched personal data: ids, actions, counts, times"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
struct ApiDoc;

/// What the extractors answer before a handler runs, documented once here rather than on each
/// route (found by schemathesis: routes listed only their own problems):
/// - an operation with a JSON body, what `extract::ApiJson` answers: 400
///   `malformed_json`/`unreadable_body`, 413 `payload_too_large`, 415 `unsupported_media_type`;
/// - an operation with query parameters, what `extract::ApiQuery` answers: 400 `invalid_query`.
struct ExtractorProblems;

impl Modify for ExtractorProblems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{
            ContentBuilder, Ref, RefOr, ResponseBuilder, path::ParameterIn,
            request_body::RequestBody,
        };
        let problem = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/problem+json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("Problem")))
                            .build(),
                    )
                    .build(),
            )
        };
        let takes_json = |body: &Option<RefOr<RequestBody>>| match body {
            Some(RefOr::T(body)) => body.content.keys().any(|c| c.contains("json")),
            Some(RefOr::Ref(_)) => true,
            None => false,
        };
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                let mut problems: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
                if takes_json(&operation.request_body) {
                    for (status, description) in [
                        ("400", "`malformed_json`, `unreadable_body`"),
                        ("413", "`payload_too_large`"),
                        (
                            "415",
                            "`unsupported_media_type`: the body must be `application/json`",
                        ),
                    ] {
                        problems.entry(status).or_default().push(description);
                    }
                }
                let has_query = operation.parameters.iter().flatten().any(
                    |p| matches!(p, RefOr::T(p) if matches!(p.parameter_in, ParameterIn::Query)),
                );
                if has_query {
                    problems.entry("400").or_default().push("`invalid_query`");
                }
                for (status, descriptions) in problems {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| problem(&descriptions.join(", ")));
                }
            }
        }
    }
}

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("Organiser session token from POST /api/v1/auth/login"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "kiosk",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("Kiosk token from POST /api/v1/kiosks/pair"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "kiosk_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::kiosks::KIOSK_COOKIE,
                "The browser kiosk's token, set by POST /kiosk/pair (HttpOnly, Path=/kiosk)",
            ))),
        );
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::SESSION_COOKIE,
            ))),
        );
    }
}

/// The API routes of every capability, with their OpenAPI description.
fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let v1 = OpenApiRouter::new()
        .merge(organisers::router())
        .merge(events::router())
        .merge(retention::event_changes::router())
        .merge(sponsors::router())
        .merge(registrations::router())
        .merge(badges::router())
        .merge(rights::router())
        .merge(rights::notices::router())
        .merge(booths::router())
        .merge(kiosks::router())
        .merge(scans::router())
        .merge(leads::router())
        .merge(audit::router())
        .merge(exports::router())
        .merge(stats::router());
    let api = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", v1)
        // The pages' own routes, beside the pages (`/e/{slug}`, `/m/{token}`, `/s/{code}`): the
        // API's handlers with the consent channel `web` (`booth` at a booth).
        .merge(registrations::page_router())
        .merge(rights::page_router())
        .merge(booths::page_router())
        .merge(kiosks::page_router())
        .merge(crate::consents::receipt_keys_router())
        .routes(utoipa_axum::routes!(healthz))
        .routes(utoipa_axum::routes!(readyz))
        .split_for_parts();
    // After the routes are in: the derive's modifiers run before any path exists.
    let (router, mut openapi) = api;
    ExtractorProblems.modify(&mut openapi);
    (router, openapi)
}

/// The kiosk's operations once more under `/kiosk/api/v1`, for the browser kiosk: the same
/// handlers, on the one path where the browser sends the kiosk cookie (see
/// [`kiosks::page_router`]). They are documented once, under `/api/v1`, so this router leaves its
/// OpenAPI description behind.
fn browser_kiosk_api() -> Router<AppState> {
    OpenApiRouter::new()
        .routes(utoipa_axum::routes!(kiosks::whoami))
        .routes(utoipa_axum::routes!(scans::scan))
        .routes(utoipa_axum::routes!(leads::list_leads))
        .routes(utoipa_axum::routes!(leads::annotate_lead))
        .routes(utoipa_axum::routes!(exports::kiosk_csv))
        .split_for_parts()
        .0
}

/// The OpenAPI document, as served at `/api/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().1
}

/// The whole application for `state`.
pub fn app(state: AppState) -> Router {
    let (api_routes, openapi) = api();
    let timeout = state.config.request_timeout;
    let body_limit = state.config.body_limit_bytes;
    let metrics = state.metrics.clone();

    let docs = Router::new()
        .merge(SwaggerUi::new("/api/docs").url("/api/openapi.json", openapi))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DOCS_CSP),
        ));

    Router::new()
        .merge(api_routes)
        .merge(docs)
        .nest("/kiosk/api/v1", browser_kiosk_api())
        .merge(web::router())
        .fallback(web::asset)
        .layer(
            ServiceBuilder::new()
                // Outermost: it counts what the client gets, the timeout's 408 included.
                .layer(middleware::from_fn_with_state(
                    metrics,
                    crate::metrics::record_request,
                ))
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(request_span))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(security_header(header::CONTENT_SECURITY_POLICY, CSP))
                .layer(security_header(header::REFERRER_POLICY, "no-referrer"))
                .layer(security_header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                .layer(security_header(header::X_FRAME_OPTIONS, "DENY"))
                .layer(security_header(
                    HeaderName::from_static("cross-origin-opener-policy"),
                    "same-origin",
                ))
                .layer(security_header(
                    HeaderName::from_static("permissions-policy"),
                    "camera=(self), microphone=(), geolocation=(), interest-cohort=()",
                ))
                // Inside the header layers (so its bodies get them), outside the timeout (so
                // the timeout's bare 408 gets a body).
                .layer(middleware::from_fn(problem_for_bare_errors))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    timeout,
                ))
                .layer(CatchPanicLayer::custom(panic_problem))
                .layer(DefaultBodyLimit::max(body_limit)),
        )
        .with_state(state)
}

/// A handler that panics answers 500 problem+json, like any other internal error, instead of
/// closing the connection without an answer. Its transaction, if any, is dropped: rolled back.
/// The panic's message is not repeated here: it may quote a value (the panic hook has printed it).
fn panic_problem(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::Internal(anyhow::anyhow!("a request handler panicked")).into_response()
}

fn security_header(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

/// One span per request with the route *template*, never the concrete path: paths can hold
/// secrets (manage tokens) and the query string can hold personal data.
fn request_span(request: &Request<Body>) -> tracing::Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("(unmatched)", MatchedPath::as_str);
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!("request", method = %request.method(), route, request_id)
}

/// Errors produced outside the handlers (405 from the router, 408 from the timeout, 413 from a
/// length check) come without a body; give them the same problem+json as every other error.
async fn problem_for_bare_errors(request: Request<Body>, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.headers().contains_key(header::CONTENT_TYPE)
    {
        return response;
    }
    let error = match status {
        StatusCode::NOT_FOUND => ApiError::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        StatusCode::REQUEST_TIMEOUT => ApiError::Timeout,
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
        StatusCode::SERVICE_UNAVAILABLE => ApiError::Unavailable,
        _ if status.is_server_error() => {
            ApiError::Internal(anyhow::anyhow!("bare {status} from a layer"))
        }
        _ => ApiError::BadRequest {
            code: ProblemCode::BadRequest,
            detail: "The request was refused.".into(),
        },
    };
    let mut problem = error.into_response();
    if let Some(allow) = response.headers().get(header::ALLOW) {
        problem.headers_mut().insert(header::ALLOW, allow.clone());
    }
    problem
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    pub status: &'static str,
    pub database: &'static str,
}

/// Readiness: the database answers. 503 while it does not.
#[utoipa::path(
    get, path = "/readyz", tag = "health",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness))
)]
async fn readyz(State(state): State<AppState>) -> Response {
    let backend = db::backend_name(&state.db);
    let ready = tokio::time::timeout(Duration::from_secs(2), db::ping(&state.db))
        .await
        .unwrap_or(false);
    let (status, word) = if ready {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    };
    (
        status,
        Json(Readiness {
            status: word,
            database: backend,
        }),
    )
        .into_response()
}

/// Serve `state` on `listener` until `shutdown` turns true, then finish in-flight requests
/// (see [`crate::connections`]).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let limits = state.config.connections;
    let metrics = state.metrics.clone();
    crate::connections::serve(listener, app(state), limits, metrics, shutdown).await
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panicking_handler_answers_500_problem_json() {
        let router: Router = Router::new()
            .route(
                "/",
                axum::routing::get(|| async {
                    let offset: u64 = "-1".parse().expect("an offset");
                    offset.to_string()
                }),
            )
            .layer(CatchPanicLayer::custom(panic_problem));
        let response = router
            .oneshot(Request::get("/").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(problem["code"], "internal_error");
        assert!(!problem.to_string().contains("an offset"));
    }
}
