//! The stream: an export is produced by a background task that reads leads in keyset-paged
//! batches, asks the disclosure gate again for each batch, records each batch's recipients before
//! it leaves, and feeds the response body through a bounded channel (memory stays flat). ZIP
//! exports put one CSV per sponsor into one streamed archive.

use axum::{
    body::{Body, Bytes},
    http::{HeaderValue, header},
    response::Response,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::schema::ids::KioskId;
use crate::schema::ids::LeadId;
use crate::schema::ids::RegistrationId;
use crate::{
    audit,
    clock::Clock,
    disclosure::Gate,
    error::{ApiError, ApiResult},
    events::{entity as event, rules::parse_shared_fields},
    leads, sponsors,
    state::AppState,
    vault::EventVault,
};

use super::{BATCH, entity, rules::*};

/// Who asked for an export.
#[derive(Debug, Clone, Copy)]
pub enum Requester {
    Organiser(Uuid),
    Kiosk(KioskId),
}

pub(super) struct Spec {
    pub event: event::Model,
    pub sponsor: sponsors::entity::Model,
    pub requester: Requester,
    pub format: Format,
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
    let mut after: Option<LeadId> = None;
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
        let exported: Vec<(RegistrationId, ExportedLead)> =
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

fn requester_parts(requester: Requester) -> (audit::ActorKind, Uuid, audit::Actor) {
    match requester {
        Requester::Organiser(id) => (audit::ActorKind::Organiser, id, audit::Actor::Organiser(id)),
        Requester::Kiosk(id) => (audit::ActorKind::Kiosk, id.into(), audit::Actor::Kiosk(id)),
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
        actor_kind: Set(actor_kind),
        actor_id: Set(actor_id),
        format: Set(spec.format.file_format()),
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
pub(super) async fn export(state: &AppState, spec: Spec) -> ApiResult<Response> {
    let now = state.clock.now();
    // Refused before anything is recorded: an event whose data is due, a sponsor that is gone.
    Gate::open(&state.db, spec.event.id, spec.sponsor.id, now).await?;
    let vault = state.vault(spec.event.id).await?;
    let export_id = Uuid::now_v7();
    open_record(&state.db, &spec, export_id, now).await?;
    state.metrics.export(spec.format.file_format().extension());
    let file_name = format!(
        "{}-{}-leads.{}",
        spec.event.slug,
        file_slug(&spec.sponsor.name),
        spec.format.file_format().extension()
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

/// Every sponsor's export of an event in one zip archive, one CSV per sponsor, streamed. Each
/// sponsor's export is recorded as its file starts, not before: a failure stops the archive
/// before the sponsors after it, and they have no record.
pub(super) async fn export_zip(
    state: &AppState,
    specs: Vec<Spec>,
    event_slug: &str,
) -> ApiResult<Response> {
    let now = state.clock.now();
    let Some(first) = specs.first() else {
        return Err(ApiError::NotFound);
    };
    let vault = state.vault(first.event.id).await?;
    state.metrics.export("zip");
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
