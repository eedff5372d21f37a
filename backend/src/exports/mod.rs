//! Lead exports: a sponsor's consented leads as CSV or JSON, streamed from the database in bounded
//! batches (memory stays flat however many leads), consent re-checked as each batch is read, and
//! every registration sent recorded as received by that sponsor.

use axum::{
    body::{Body, Bytes},
    extract::State,
    http::{HeaderValue, header},
    response::Response,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    audit,
    auth::OrganiserAuth,
    clock::Clock,
    disclosure::Gate,
    error::{ApiError, ApiResult, Problem},
    events::{
        entity as event,
        rules::{ContactField, parse_shared_fields},
    },
    extract::{ApiPath, ApiQuery},
    kiosks::KioskAuth,
    leads, sponsors,
    state::AppState,
    vault::EventVault,
};

pub use crate::schema::exports as entity;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(organiser_csv))
        .routes(routes!(organiser_json))
        .routes(routes!(organiser_zip))
        .routes(routes!(kiosk_csv))
        .routes(routes!(kiosk_json))
}

const BATCH: u64 = 500;

// ---------------------------------------------------------------------------------------------
// Rules

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv { bom: bool },
    Json,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Self::Csv { .. } => "csv",
            Self::Json => "json",
        }
    }
}

/// Column headers CRMs recognise on import (Salesforce, HubSpot, Dynamics use these words).
pub fn csv_header(field: ContactField) -> &'static str {
    match field {
        ContactField::FirstName => "First Name",
        ContactField::LastName => "Last Name",
        ContactField::Email => "Email",
        ContactField::Company => "Company",
        ContactField::JobTitle => "Job Title",
        ContactField::Phone => "Phone",
        ContactField::Country => "Country",
    }
}

pub const TRAILING_HEADERS: [&str; 7] = [
    "First Scan (UTC)",
    "Last Scan (UTC)",
    "Scan Count",
    "Rating",
    "Notes",
    "Tags",
    "Consentry Lead ID",
];

/// The one rule for CSV cells, shared with the command-line kiosk's export.
pub use consentry_badge::spreadsheet::neutralise;

/// `acme-analytics` from `Acme Analytics!`: a file-name-safe form.
pub fn file_slug(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-').to_owned();
    if slug.is_empty() {
        "sponsor".into()
    } else {
        slug
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// One exported lead, as the JSON export writes it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedLead {
    pub lead_id: Uuid,
    #[serde(flatten)]
    pub contact: leads::LeadContact,
    #[serde(with = "time::serde::rfc3339")]
    pub first_scanned_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_scanned_at: OffsetDateTime,
    pub scan_count: i32,
    pub rating: Option<i16>,
    pub note: Option<String>,
    pub tags: Vec<String>,
}

impl From<leads::LeadView> for ExportedLead {
    fn from(v: leads::LeadView) -> Self {
        Self {
            lead_id: v.id,
            contact: v.contact,
            first_scanned_at: v.first_scanned_at,
            last_scanned_at: v.last_scanned_at,
            scan_count: v.scan_count,
            rating: v.rating,
            note: v.note,
            tags: v.tags,
        }
    }
}

/// One lead as a CSV row: the shared contact fields, then scan times, count, rating, note, tags
/// and lead id, every text cell neutralised against formula injection.
pub fn csv_row(lead: &ExportedLead, shared: &[ContactField]) -> Vec<String> {
    let mut row: Vec<String> = shared
        .iter()
        .map(|f| neutralise(lead.contact.field(*f).unwrap_or_default()))
        .collect();
    row.extend([
        rfc3339(lead.first_scanned_at),
        rfc3339(lead.last_scanned_at),
        lead.scan_count.to_string(),
        lead.rating.map(|r| r.to_string()).unwrap_or_default(),
        neutralise(lead.note.as_deref().unwrap_or_default()),
        neutralise(&lead.tags.join(";")),
        lead.lead_id.to_string(),
    ]);
    row
}

/// Rows as CSV (CRLF line ends, quoting where needed).
pub fn csv_bytes(rows: impl IntoIterator<Item = Vec<String>>) -> anyhow::Result<Vec<u8>> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    for row in rows {
        writer.write_record(&row)?;
    }
    writer.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

// ---------------------------------------------------------------------------------------------
// The stream

/// Who asked for an export.
#[derive(Debug, Clone, Copy)]
pub enum Requester {
    Organiser(Uuid),
    Kiosk(Uuid),
}

struct Spec {
    event: event::Model,
    sponsor: sponsors::entity::Model,
    requester: Requester,
    format: Format,
}

type Chunks = tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>;

/// Where an export's bytes go. `false` means the client went away: stop.
trait Sink {
    async fn send(&mut self, bytes: Vec<u8>) -> anyhow::Result<bool>;
}

/// Straight to the response body.
struct BodySink<'a>(&'a Chunks);

impl Sink for BodySink<'_> {
    async fn send(&mut self, bytes: Vec<u8>) -> anyhow::Result<bool> {
        Ok(self.0.send(Ok(Bytes::from(bytes))).await.is_ok())
    }
}

/// A `Write` whose bytes are taken out after each write: lets a synchronous zip writer stream.
#[derive(Clone, Default)]
struct SharedBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("buffer poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedBuffer {
    fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .map(|mut b| std::mem::take(&mut *b))
            .unwrap_or_default()
    }
}

/// Into the current entry of a streamed zip archive, and from there to the response body.
struct ZipSink<'a> {
    zip: &'a mut zip::ZipWriter<zip::write::StreamWriter<SharedBuffer>>,
    buffer: SharedBuffer,
    chunks: &'a Chunks,
}

impl Sink for ZipSink<'_> {
    async fn send(&mut self, bytes: Vec<u8>) -> anyhow::Result<bool> {
        use std::io::Write;
        self.zip.write_all(&bytes)?;
        let out = self.buffer.take();
        if out.is_empty() {
            return Ok(true);
        }
        Ok(self.chunks.send(Ok(Bytes::from(out))).await.is_ok())
    }
}

/// Produce the export into `sink`, batch by batch. Returns the number of leads sent.
async fn produce(
    db: &DatabaseConnection,
    vault: &EventVault,
    clock: &dyn Clock,
    spec: &Spec,
    export_id: Uuid,
    sink: &mut impl Sink,
) -> anyhow::Result<i64> {
    let shared = parse_shared_fields(&spec.event.shared_fields);
    let opening = match spec.format {
        Format::Csv { bom } => {
            let headers: Vec<String> = shared
                .iter()
                .map(|f| csv_header(*f).to_owned())
                .chain(TRAILING_HEADERS.iter().map(|h| (*h).to_owned()))
                .collect();
            let mut bytes = if bom {
                vec![0xEF, 0xBB, 0xBF]
            } else {
                Vec::new()
            };
            bytes.extend(csv_bytes([headers])?);
            bytes
        }
        Format::Json => b"[".to_vec(),
    };
    if !sink.send(opening).await? {
        return Ok(0);
    }
    let mut sent: i64 = 0;
    let mut after: Option<Uuid> = None;
    loop {
        // The gate is opened again for every batch: a withdrawal, a restriction or a change of
        // the event's fields while the export runs holds from the next batch on (those leads are
        // left out); the due date reached, or the sponsor gone, ends the stream in an error
        // rather than a truncated file that looks whole.
        let gate = Gate::open(db, spec.event.id, spec.sponsor.id, clock.now())
            .await
            .map_err(|e| anyhow::anyhow!("export stopped by the disclosure gate: {e}"))?;
        let mut query = leads::entity::Entity::find()
            .filter(leads::entity::Column::SponsorId.eq(spec.sponsor.id))
            .filter(leads::visible(spec.sponsor.id));
        if let Some(after) = after {
            query = query.filter(leads::entity::Column::Id.gt(after));
        }
        let batch = query
            .order_by_asc(leads::entity::Column::Id)
            .limit(BATCH)
            .all(db)
            .await?;
        let Some(last) = batch.last() else { break };
        after = Some(last.id);
        let exported: Vec<(Uuid, ExportedLead)> =
            leads::views_by_registration(db, vault, &gate, &batch)
                .await?
                .into_iter()
                .map(|(registration_id, view)| (registration_id, view.into()))
                .collect();
        if exported.is_empty() {
            continue;
        }
        // Recorded before it is sent: the record may only ever over-state who received data.
        entity::recipient::Entity::insert_many(exported.iter().map(|(rid, lead)| {
            entity::recipient::ActiveModel {
                export_id: Set(export_id),
                registration_id: Set(*rid),
                lead_id: Set(Some(lead.lead_id)),
            }
        }))
        .exec_without_returning(db)
        .await?;
        let bytes = match spec.format {
            Format::Csv { .. } => csv_bytes(exported.iter().map(|(_, l)| csv_row(l, &shared)))?,
            Format::Json => {
                let mut bytes = Vec::new();
                for (i, (_, lead)) in exported.iter().enumerate() {
                    let first = sent == 0 && i == 0;
                    bytes.extend_from_slice(if first { b"\n" } else { b",\n" });
                    serde_json::to_writer(&mut bytes, lead)?;
                }
                bytes
            }
        };
        sent += i64::try_from(exported.len()).unwrap_or(0);
        if !sink.send(bytes).await? {
            break;
        }
    }
    if spec.format == Format::Json {
        sink.send(b"\n]\n".to_vec()).await?;
    }
    Ok(sent)
}

fn requester_parts(requester: Requester) -> (&'static str, Uuid, audit::Actor) {
    match requester {
        Requester::Organiser(id) => ("organiser", id, audit::Actor::Organiser(id)),
        Requester::Kiosk(id) => ("kiosk", id, audit::Actor::Kiosk(id)),
    }
}

/// The export's own row, written before any data leaves.
async fn open_record(
    db: &DatabaseConnection,
    spec: &Spec,
    export_id: Uuid,
    now: OffsetDateTime,
) -> Result<(), sea_orm::DbErr> {
    let (actor_kind, actor_id, _) = requester_parts(spec.requester);
    entity::export::ActiveModel {
        id: Set(export_id),
        event_id: Set(spec.event.id),
        sponsor_id: Set(spec.sponsor.id),
        actor_kind: Set(actor_kind.to_owned()),
        actor_id: Set(actor_id),
        format: Set(spec.format.name().to_owned()),
        row_count: Set(0),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// An export that failed before any lead left has no recipients: its record goes, so that the
/// organiser's list of exports (and erasure notices) name only exports that carried data.
async fn abandon_record(db: &DatabaseConnection, export_id: Uuid) {
    let carried = entity::recipient::Entity::find()
        .filter(entity::recipient::Column::ExportId.eq(export_id))
        .one(db)
        .await;
    let result = match carried {
        Ok(None) => entity::export::Entity::delete_by_id(export_id)
            .exec(db)
            .await
            .map(drop),
        Ok(Some(_)) => Ok(()),
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        tracing::error!(%export_id, error = %e, "failed export's record not cleared");
    }
}

/// After the last byte: the row count, and the audit entry.
async fn close_record(
    db: &DatabaseConnection,
    spec: &Spec,
    export_id: Uuid,
    rows: i64,
    now: OffsetDateTime,
) -> Result<(), sea_orm::DbErr> {
    entity::export::Entity::update_many()
        .col_expr(
            entity::export::Column::RowCount,
            sea_orm::sea_query::Expr::value(rows),
        )
        .filter(entity::export::Column::Id.eq(export_id))
        .exec(db)
        .await?;
    audit::record(
        db,
        audit::Entry {
            organisation_id: spec.event.organisation_id,
            event_id: Some(spec.event.id),
            actor: requester_parts(spec.requester).2,
            action: audit::Action::LeadsExported,
            subject_id: Some(export_id),
            count: Some(rows),
        },
        now,
    )
    .await?;
    tracing::info!(%export_id, rows, "leads exported");
    Ok(())
}

/// A streamed download: `content_type`, `file_name`, and the bytes the producer sends.
fn download(
    content_type: &'static str,
    file_name: &str,
    export_ids: &[Uuid],
    rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> Response {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    let ids = export_ids
        .iter()
        .map(Uuid::to_string)
        .collect::<Vec<_>>()
        .join(",");
    if let Ok(value) = HeaderValue::from_str(&ids) {
        headers.insert("x-export-id", value);
    }
    response
}

/// Start one sponsor's export and answer with its stream.
async fn export(state: &AppState, spec: Spec) -> ApiResult<Response> {
    let now = state.clock.now();
    // Refused before anything is recorded: an event whose data is due, a sponsor that is gone.
    Gate::open(&state.db, spec.event.id, spec.sponsor.id, now).await?;
    let vault = state.vault(spec.event.id).await?;
    let export_id = Uuid::now_v7();
    open_record(&state.db, &spec, export_id, now).await?;
    let file_name = format!(
        "{}-{}-leads.{}",
        spec.event.slug,
        file_slug(&spec.sponsor.name),
        spec.format.name()
    );
    let content_type = match spec.format {
        Format::Csv { .. } => "text/csv; charset=utf-8",
        Format::Json => "application/json",
    };
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let db = state.db.clone();
    let clock = state.clock.clone();
    tokio::spawn(async move {
        match produce(&db, &vault, &*clock, &spec, export_id, &mut BodySink(&tx)).await {
            Ok(rows) => {
                if let Err(e) = close_record(&db, &spec, export_id, rows, now).await {
                    tracing::error!(%export_id, error = %e, "export not fully recorded");
                }
            }
            Err(e) => {
                tracing::error!(%export_id, error = %e, "export failed");
                abandon_record(&db, export_id).await;
                let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
            }
        }
    });
    Ok(download(content_type, &file_name, &[export_id], rx))
}

/// The names of the sponsors' files in the archive, in order: the sponsor's name made file-safe
/// and the end of its id (the random part of a UUIDv7), so that two sponsors whose names map to
/// the same file name ("Dup!", "Dup?") get two files; the whole id and a counter where even that
/// is taken.
pub fn zip_entry_names<'a>(
    sponsors: impl IntoIterator<Item = &'a sponsors::entity::Model>,
) -> Vec<String> {
    let mut taken = std::collections::HashSet::new();
    sponsors
        .into_iter()
        .map(|sponsor| {
            let id = sponsor.id.simple().to_string();
            let short = id.get(id.len().saturating_sub(8)..).unwrap_or(&id);
            let slug = file_slug(&sponsor.name);
            let mut name = format!("{slug}-{short}-leads.csv");
            let mut n = 1;
            while !taken.insert(name.clone()) {
                n += 1;
                name = format!("{slug}-{id}-{n}-leads.csv");
            }
            name
        })
        .collect()
}

/// Every sponsor's export of an event in one zip archive, one CSV per sponsor, streamed. Each
/// sponsor's export is recorded as its file starts, not before: a failure stops the archive
/// before the sponsors after it, and they have no record.
async fn export_zip(state: &AppState, specs: Vec<Spec>, event_slug: &str) -> ApiResult<Response> {
    let now = state.clock.now();
    let Some(first) = specs.first() else {
        return Err(ApiError::NotFound);
    };
    let vault = state.vault(first.event.id).await?;
    let names = zip_entry_names(specs.iter().map(|spec| &spec.sponsor));
    let records: Vec<(Spec, Uuid, String)> = specs
        .into_iter()
        .zip(names)
        .map(|(spec, name)| (spec, Uuid::now_v7(), name))
        .collect();
    let ids: Vec<Uuid> = records.iter().map(|(_, id, _)| *id).collect();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let db = state.db.clone();
    let clock = state.clock.clone();
    tokio::spawn(async move {
        let buffer = SharedBuffer::default();
        let mut zip = zip::ZipWriter::new_stream(buffer.clone());
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (spec, export_id, name) in &records {
            let produced = match zip.start_file(name.as_str(), options) {
                Ok(()) => match open_record(&db, spec, *export_id, now).await {
                    Ok(()) => {
                        let mut sink = ZipSink {
                            zip: &mut zip,
                            buffer: buffer.clone(),
                            chunks: &tx,
                        };
                        produce(&db, &vault, &*clock, spec, *export_id, &mut sink).await
                    }
                    Err(e) => Err(e.into()),
                },
                Err(e) => Err(e.into()),
            };
            match produced {
                Ok(rows) => {
                    if let Err(e) = close_record(&db, spec, *export_id, rows, now).await {
                        tracing::error!(%export_id, error = %e, "export not fully recorded");
                    }
                }
                Err(e) => {
                    tracing::error!(%export_id, error = %e, "export failed");
                    abandon_record(&db, *export_id).await;
                    let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
                    return;
                }
            }
        }
        match zip.finish() {
            Ok(_) => {
                let _ = tx.send(Ok(Bytes::from(buffer.take()))).await;
            }
            Err(e) => {
                tracing::error!(error = %e, "zip archive not finished");
                let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
            }
        }
    });
    Ok(download(
        "application/zip",
        &format!("{event_slug}-leads.zip"),
        &ids,
        rx,
    ))
}

async fn organiser_spec(
    state: &AppState,
    auth: &OrganiserAuth,
    event_id: Uuid,
    sponsor_id: Uuid,
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
    ApiPath((event_id, sponsor_id)): ApiPath<(Uuid, Uuid)>,
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
    ApiPath((event_id, sponsor_id)): ApiPath<(Uuid, Uuid)>,
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
    ApiPath(event_id): ApiPath<Uuid>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zip_entry_names_are_unique_even_for_names_that_slug_alike() {
        let sponsor = |name: &str, id: u128| sponsors::entity::Model {
            id: Uuid::from_u128(id),
            event_id: Uuid::nil(),
            name: name.into(),
            description: String::new(),
            privacy_policy_url: String::new(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        };
        let same_end = (1 << 64) | 0xabcd_ef01;
        let sponsors = [
            sponsor("Dup!", 0xabcd_ef01),
            sponsor("Dup?", same_end),
            sponsor("Acme", 2),
        ];
        let names = zip_entry_names(&sponsors);
        assert_eq!(names[0], "dup-abcdef01-leads.csv");
        assert_eq!(names[1], "dup-000000000000000100000000abcdef01-2-leads.csv");
        assert_eq!(names[2], "acme-00000002-leads.csv");
    }

    #[test]
    fn file_slugs() {
        assert_eq!(file_slug("Acme Analytics!"), "acme-analytics");
        assert_eq!(file_slug("  Über GmbH & Co  "), "ber-gmbh-co");
        assert_eq!(file_slug("!!!"), "sponsor");
    }

    #[test]
    fn csv_quotes_and_ends_lines_with_crlf() {
        let bytes = csv_bytes([vec!["a,b".to_owned(), "say \"hi\"".to_owned()]]).unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "\"a,b\",\"say \"\"hi\"\"\"\r\n"
        );
    }
}
