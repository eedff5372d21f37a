//! Response helpers every capability shares. Imports no feature.

use axum::{
    http::{HeaderValue, header},
    response::Response,
};
use tower_http::set_header::SetResponseHeaderLayer;

/// `Cache-Control: no-store`: for answers that are personal (everything behind a manage link),
/// carry a secret (a session token, a manage link) or are opened by one (the manage page).
pub const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

/// Mark one response as never to be stored.
pub fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, NO_STORE);
    response
}

/// The same for every response of a router, errors included.
pub fn no_store_layer() -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, NO_STORE)
}
