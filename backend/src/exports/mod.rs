//! Lead exports: a sponsor's consented leads as CSV or JSON, streamed from the database in bounded
//! batches (memory stays flat however many leads), consent re-checked as each batch is read, and
//! every registration sent recorded as received by that sponsor.

use axum::{extract::State, response::Response};
use sea_orm::EntityTrait;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::schema::ids::{EventId, SponsorId};
use crate::{
    auth::OrganiserAuth,
    error::{ApiError, ApiResult, Problem},
    events::entity as event,
    extract::{ApiPath, ApiQuery},
    kiosks::KioskAuth,
    sponsors,
    state::AppState,
};

pub use crate::schema::exports as entity;

mod rules;
mod stream;

pub use self::rules::{
    ExportedLead, Format, TRAILING_HEADERS, csv_bytes, csv_header, csv_row, file_slug, neutralise,
    zip_entry_names,
};
use self::stream::{Requester, Spec, export, export_zip};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(organiser_csv))
        .routes(routes!(organiser_json))
        .routes(routes!(organiser_zip))
        .routes(routes!(kiosk_csv))
        .routes(routes!(kiosk_json))
}

const BATCH: u64 = 500;

async fn organiser_spec(
    state: &AppState,
    auth: &OrganiserAuth,
    event_id: EventId,
    sponsor_id: SponsorId,
    format: Format,
) -> ApiResult<Spec> {
    let sponsor = sponsors::find_owned(&state.db, auth, event_id, sponsor_id).await?;
    let event = event::Entity::find_by_id(event_id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Spec {
        event,
        sponsor,
        requester: Requester::Organiser(auth.organiser_id),
        format,
    })
}

async fn kiosk_spec(state: &AppState, auth: &KioskAuth, format: Format) -> ApiResult<Spec> {
    let event = auth.event.clone();
    let sponsor = sponsors::entity::Entity::find_by_id(auth.sponsor_id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Spec {
        event,
        sponsor,
        requester: Requester::Kiosk(auth.kiosk_id),
        format,
    })
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CsvOptions {
    /// Start with a UTF-8 byte order mark, so Excel reads accented names right.
    #[serde(default)]
    pub bom: bool,
}

/// A sponsor's consented leads as CSV: the event's shared contact fields, then `First Scan
/// (UTC)`, `Last Scan (UTC)`, `Scan Count`, `Rating`, `Notes`, `Tags`, `Consentry Lead ID`.
/// Consent is re-checked now: a withdrawn or restricted attendee is not in it. Cells that a
/// spreadsheet would run as formulas start with an apostrophe.
#[utoipa::path(
    get, path = "/events/{event}/sponsors/{sponsor_id}/leads.csv", tag = "exports",
    security(("bearer" = []), ("session_cookie" = [])),
    params(("event" = Uuid, Path, description = "The event id"), ("sponsor_id" = Uuid, Path), CsvOptions),
    responses(
        (status = 200, description = "CSV (RFC 4180, UTF-8), streamed", content_type = "text/csv"),
        crate::error::responses::Unauthorized,
        crate::error::responses::NotFound,
        (status = 409, description = "`data_purged`: the event's attendee data is due for deletion", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn organiser_csv(
    State(state): State<AppState>,
    auth: OrganiserAuth,
    ApiPath((event_id, sponsor_id)): ApiPath<(EventId, SponsorId)>,
    ApiQuery(options): ApiQuery<CsvOptions>,
) -> ApiResult<Response> {
    let spec = organiser_spec(
        &state,
        &auth,
        event_id,
        sponsor_id,
        Format::Csv { bom: options.bom },
    )
    .await?;
    export(&state, spec).await
}

/// A sponsor's consented leads as a JSON array (the same rules as the CSV).
#[utoipa::path(
    get, path = "/events/{event}/sponsors/{sponsor_id}/leads.json", tag = "exports",
    security(("bearer" = []), ("session_cookie" = [])),
    params(("event" = Uuid, Path, description = "The event id"), ("sponsor_id" = Uuid, Path)),
    responses(
        (status = 200, description = "JSON array, streamed", body = Vec<ExportedLead>),
        crate::error::responses::Unauthorized,
        crate::error::responses::NotFound,
        (status = 409, description = "`data_purged`: the event's attendee data is due for deletion", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn organiser_json(
    State(state): State<AppState>,
    auth: OrganiserAuth,
    ApiPath((event_id, sponsor_id)): ApiPath<(EventId, SponsorId)>,
) -> ApiResult<Response> {
    let spec = organiser_spec(&state, &auth, event_id, sponsor_id, Format::Json).await?;
    export(&state, spec).await
}

/// Every sponsor's consented leads of one event: a zip archive with one CSV per sponsor (the
/// same rules and columns as the single CSV). Each sponsor's file is an export of its own in the
/// recipient record and the audit log.
#[utoipa::path(
    get, path = "/events/{event}/leads.zip", tag = "exports",
    security(("bearer" = []), ("session_cookie" = [])),
    params(("event" = Uuid, Path, description = "The event id"), CsvOptions),
    responses(
        (status = 200, description = "Zip archive, streamed", content_type = "application/zip"),
        crate::error::responses::Unauthorized,
        (status = 404, description = "Absent, another organisation's, or without sponsors", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`data_purged`: the event's attendee data is due for deletion", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn organiser_zip(
    State(state): State<AppState>,
    auth: OrganiserAuth,
    ApiPath(event_id): ApiPath<EventId>,
    ApiQuery(options): ApiQuery<CsvOptions>,
) -> ApiResult<Response> {
    let event = crate::events::find_owned(&state.db, auth.organisation_id, event_id).await?;
    // The archive passes the same gate as every export: refused whole once the data is due.
    crate::events::lifecycle::ensure_data_held(&event, state.clock.now())?;
    let specs = sponsors::list_for_event(&state.db, event_id)
        .await?
        .into_iter()
        .map(|sponsor| Spec {
            event: event.clone(),
            sponsor,
            requester: Requester::Organiser(auth.organiser_id),
            format: Format::Csv { bom: options.bom },
        })
        .collect();
    export_zip(&state, specs, &event.slug).await
}

/// This kiosk's own sponsor's consented leads as CSV (the same rules as the organiser's export).
#[utoipa::path(
    get, path = "/leads.csv", tag = "exports",
    security(("kiosk" = [])),
    params(CsvOptions),
    responses(
        (status = 200, description = "CSV (RFC 4180, UTF-8), streamed", content_type = "text/csv"),
        crate::error::responses::Unauthorized,
        (status = 409, description = "`data_purged`: the event's attendee data is due for deletion", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn kiosk_csv(
    State(state): State<AppState>,
    auth: KioskAuth,
    ApiQuery(options): ApiQuery<CsvOptions>,
) -> ApiResult<Response> {
    let spec = kiosk_spec(&state, &auth, Format::Csv { bom: options.bom }).await?;
    export(&state, spec).await
}

/// This kiosk's own sponsor's consented leads as a JSON array.
#[utoipa::path(
    get, path = "/leads.json", tag = "exports",
    security(("kiosk" = [])),
    responses(
        (status = 200, description = "JSON array, streamed", body = Vec<ExportedLead>),
        crate::error::responses::Unauthorized,
        (status = 409, description = "`data_purged`: the event's attendee data is due for deletion", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn kiosk_json(State(state): State<AppState>, auth: KioskAuth) -> ApiResult<Response> {
    let spec = kiosk_spec(&state, &auth, Format::Json).await?;
    export(&state, spec).await
}
