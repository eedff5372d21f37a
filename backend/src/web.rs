//! The web pages in `web/`, embedded in the binary (read from disk in debug builds).
//!
//! Each page is a static HTML shell with its own JavaScript module; it reads what it needs from
//! its URL (`/e/{slug}`, `/m/{token}`, `/s/{code}`, `/confirm-email#{token}`) and talks to the API on the same
//! origin. Registering and changing consents go to the pages' own routes beside them (`POST
//! /e/{slug}/registrations`, `PUT /m/{token}/consents`, in `registrations` and `rights`), so the
//! consent ledger records the channel `web` from the route rather than from the page's word. No
//! build step and no third-party requests: the CSP (`default-src 'self'`) would refuse them
//! anyway.

use axum::{
    body::Body,
    http::{HeaderName, HeaderValue, Uri, header},
    response::{IntoResponse, Response},
};
use rust_embed::RustEmbed;

use crate::error::ApiError;

#[derive(RustEmbed)]
#[folder = "../web/"]
struct Assets;

/// The page routes; everything else under `/` is a file of `web/` ([`asset`]).
pub fn router<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    use axum::routing::get;
    axum::Router::new()
        .route("/", get(|| async { file("index.html") }))
        .route("/e/{slug}", get(|| async { file("register.html") }))
        // The token is in the path, which the page reads; the answer is never cached.
        .route(
            "/m/{token}",
            get(|| async { crate::response::no_store(file("manage.html")) }),
        )
        // The readable copy of one's data, beside the manage page and as private.
        .route(
            "/m/{token}/data",
            get(|| async { crate::response::no_store(file("my-data.html")) }),
        )
        // The one-time token is in the fragment, which never reaches the server.
        .route(
            "/confirm-email",
            get(|| async { crate::response::no_store(file("confirm-email.html")) }),
        )
        // A sponsor's booth page: the code in the path names the sponsor only; a mailed one-time
        // token is in the fragment, which never reaches the server.
        .route(
            "/s/{code}",
            get(|| async { crate::response::no_store(file("booth.html")) }),
        )
        // Its printable sign, for the organiser to print from the console.
        .route("/s/{code}/sign", get(|| async { file("booth-sign.html") }))
        .route("/kiosk", get(|| async { file("kiosk.html") }))
        // The kiosk's service worker lives beside its other files, yet controls the page
        // `/kiosk` itself, one level up: the header allows that scope.
        .route(
            "/kiosk/sw.js",
            get(|| async {
                let mut response = file("kiosk/sw.js");
                response.headers_mut().insert(
                    HeaderName::from_static("service-worker-allowed"),
                    HeaderValue::from_static("/kiosk"),
                );
                response
            }),
        )
        // What a phone's own camera opens from a badge: the token is in the fragment, which
        // the browser keeps to itself.
        .route("/b", get(|| async { file("badge.html") }))
        .route("/admin", get(|| async { file("admin.html") }))
        // Browsers ask for /favicon.ico whatever a page names; the pages name the SVG, and this
        // answers the rest with it too rather than a 404.
        .route("/favicon.ico", get(|| async { file("favicon.svg") }))
}

/// Serve `uri`'s file from `web/`. Unknown paths are a problem+json 404.
pub async fn asset(uri: Uri) -> Response {
    file(uri.path().trim_start_matches('/'))
}

fn file(path: &str) -> Response {
    match Assets::get(path) {
        Some(file) => {
            let mime = file.metadata.mimetype();
            let mut response = Response::new(Body::from(file.data.into_owned()));
            if let Ok(value) = HeaderValue::from_str(mime) {
                response.headers_mut().insert(header::CONTENT_TYPE, value);
            }
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
        None => ApiError::NotFound.into_response(),
    }
}
