//! Erasure notices: when an attendee erases their data, every sponsor that had received it in an
//! export must be told to delete its copy. Consentry cannot reach into a sponsor's CRM, so it
//! tells the organiser whom to tell — sponsor, export date and the lead id the exported row
//! carried — and the organiser marks each notice passed on. A notice holds no personal data: on
//! Consentry's side the lead id resolves to nothing once the attendee is erased.
//!
//! One notice per sponsor and erasure, however many exports held the attendee: it lists every
//! one of them (`exports`), so a sponsor is told once, of every copy it must delete.

use axum::{Json, extract::State};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::schema::ids::{EventId, RegistrationId};
use crate::schema::ids::{LeadId, SponsorId};
use crate::{
    auth::OrganiserAuth,
    error::{ApiError, ApiResult, Problem},
    events,
    exports::entity::{export, recipient},
    extract::{ApiPath, ApiQuery},
    sponsors,
    state::AppState,
};

pub use crate::schema::erasure_notices as entity;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_notices))
        .routes(routes!(pass_on_notice))
}

/// One export that held an erased attendee's data.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Recipient {
    pub sponsor_id: SponsorId,
    pub sponsor: String,
    pub export_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub exported_at: OffsetDateTime,
    pub format: String,
    /// The id the exported row carried.
    pub lead_id: Option<LeadId>,
}

/// Every export that included `registration_id`, oldest first.
pub async fn recipients_of(
    db: &impl ConnectionTrait,
    event_id: EventId,
    registration_id: RegistrationId,
) -> ApiResult<Vec<Recipient>> {
    let rows = recipient::Entity::find()
        .filter(recipient::Column::RegistrationId.eq(registration_id))
        .all(db)
        .await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let exports = export::Entity::find()
        .filter(export::Column::Id.is_in(rows.iter().map(|r| r.export_id)))
        .order_by_asc(export::Column::CreatedAt)
        .all(db)
        .await?;
    let names: std::collections::BTreeMap<SponsorId, String> =
        sponsors::list_for_event(db, event_id)
            .await?
            .into_iter()
            .map(|s| (s.id, s.name))
            .collect();
    Ok(exports
        .into_iter()
        .map(|e| Recipient {
            sponsor: names.get(&e.sponsor_id).cloned().unwrap_or_default(),
            lead_id: rows
                .iter()
                .find(|r| r.export_id == e.id)
                .and_then(|r| r.lead_id),
            sponsor_id: e.sponsor_id,
            export_id: e.id,
            exported_at: e.created_at,
            format: e.format.extension().to_owned(),
        })
        .collect())
}

/// One export an erasure notice covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NoticeExport {
    pub export_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub exported_at: OffsetDateTime,
    /// `csv` or `json`.
    pub format: String,
    /// The "Consentry Lead ID" of the row to delete from that export.
    pub lead_id: Option<LeadId>,
}

impl From<&Recipient> for NoticeExport {
    fn from(r: &Recipient) -> Self {
        Self {
            export_id: r.export_id,
            exported_at: r.exported_at,
            format: r.format.clone(),
            lead_id: r.lead_id,
        }
    }
}

/// The recipients of an erased registration by sponsor, each sponsor's exports oldest first;
/// sponsors in the order of their first export.
pub fn by_sponsor(recipients: &[Recipient]) -> Vec<Vec<&Recipient>> {
    let mut groups: Vec<Vec<&Recipient>> = Vec::new();
    for r in recipients {
        match groups.iter_mut().find(|g| g[0].sponsor_id == r.sponsor_id) {
            Some(group) => group.push(r),
            None => groups.push(vec![r]),
        }
    }
    for group in &mut groups {
        group.sort_by_key(|r| (r.exported_at, r.export_id));
    }
    groups
}

/// Record one notice per sponsor that received an erased registration in any export, listing
/// each such export, in the erasure's transaction.
pub async fn record(
    db: &impl ConnectionTrait,
    event_id: EventId,
    recipients: &[Recipient],
    erased_at: OffsetDateTime,
) -> ApiResult<()> {
    for group in by_sponsor(recipients) {
        let Some(latest) = group.last() else {
            continue;
        };
        let exports: Vec<NoticeExport> = group.iter().map(|r| NoticeExport::from(*r)).collect();
        let exports = serde_json::to_string(&exports).map_err(|e| ApiError::Internal(e.into()))?;
        entity::ActiveModel {
            id: Set(Uuid::now_v7()),
            event_id: Set(event_id),
            sponsor_id: Set(latest.sponsor_id),
            sponsor_name: Set(latest.sponsor.clone()),
            export_id: Set(latest.export_id),
            exported_at: Set(latest.exported_at),
            lead_id: Set(latest.lead_id),
            erased_at: Set(erased_at),
            passed_on_at: Set(None),
            exports: Set(Some(exports)),
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

/// What a sponsor must be told after an attendee erased their data: one notice per sponsor and
/// erasure, listing every export of that sponsor that held the attendee.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErasureNotice {
    pub id: Uuid,
    pub sponsor_id: SponsorId,
    pub sponsor: String,
    /// The latest export in `exports`.
    pub export_id: Uuid,
    /// When the latest export in `exports` was made.
    #[serde(with = "time::serde::rfc3339")]
    pub exported_at: OffsetDateTime,
    /// The "Consentry Lead ID" of the row the sponsor must delete from the latest export.
    pub lead_id: Option<LeadId>,
    /// Every export of this sponsor that held the attendee, oldest first: the row with its
    /// `lead_id` must be deleted from each.
    pub exports: Vec<NoticeExport>,
    #[serde(with = "time::serde::rfc3339")]
    pub erased_at: OffsetDateTime,
    /// When the organiser marked it passed on to the sponsor; absent while pending.
    #[serde(with = "time::serde::rfc3339::option")]
    pub passed_on_at: Option<OffsetDateTime>,
}

/// The views of notice rows. A notice written before notices listed their exports stands for its
/// one export, whose format is read from the export's row (kept after the purge).
async fn views(
    db: &impl ConnectionTrait,
    rows: Vec<entity::Model>,
) -> ApiResult<Vec<ErasureNotice>> {
    let unlisted: Vec<Uuid> = rows
        .iter()
        .filter(|m| m.exports.is_none())
        .map(|m| m.export_id)
        .collect();
    let formats: std::collections::BTreeMap<Uuid, String> = if unlisted.is_empty() {
        Default::default()
    } else {
        export::Entity::find()
            .filter(export::Column::Id.is_in(unlisted))
            .all(db)
            .await?
            .into_iter()
            .map(|e| (e.id, e.format.extension().to_owned()))
            .collect()
    };
    rows.into_iter()
        .map(|m| {
            let format = formats.get(&m.export_id).cloned().unwrap_or_default();
            ErasureNotice::of(m, format)
        })
        .collect()
}

impl ErasureNotice {
    /// `format` is the export's, for a notice without a list of exports.
    fn of(m: entity::Model, format: String) -> ApiResult<Self> {
        let exports = match &m.exports {
            Some(list) => serde_json::from_str(list).map_err(|_| {
                ApiError::Internal(anyhow::anyhow!(
                    "an erasure notice's export list is malformed"
                ))
            })?,
            None => vec![NoticeExport {
                export_id: m.export_id,
                exported_at: m.exported_at,
                format,
                lead_id: m.lead_id,
            }],
        };
        Ok(Self {
            id: m.id,
            sponsor_id: m.sponsor_id,
            sponsor: m.sponsor_name,
            export_id: m.export_id,
            exported_at: m.exported_at,
            lead_id: m.lead_id,
            exports,
            erased_at: m.erased_at,
            passed_on_at: m.passed_on_at,
        })
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoticeStatus {
    #[default]
    Pending,
    PassedOn,
    All,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NoticeFilter {
    /// `pending` (default), `passed_on` or `all`.
    #[serde(default)]
    #[param(inline)]
    pub status: NoticeStatus,
}

/// Erasure notices to pass on: which sponsor holds exports (of which dates and formats, with
/// which lead id) that included an attendee who has since erased their data — one notice per
/// sponsor and erasure, listing every such export. Oldest first.
#[utoipa::path(
    get, path = "/events/{event}/erasure-notices", tag = "rights",
    security(("bearer" = []), ("session_cookie" = [])),
    params(("event" = Uuid, Path, description = "The event id"), NoticeFilter),
    responses(
        (status = 200, body = Vec<ErasureNotice>),
        (status = 400, description = "`invalid_query`", body = Problem, content_type = "application/problem+json"),
        crate::error::responses::Unauthorized,
        crate::error::responses::NotFound,
    )
)]
async fn list_notices(
    State(state): State<AppState>,
    auth: OrganiserAuth,
    ApiPath(event_id): ApiPath<EventId>,
    ApiQuery(filter): ApiQuery<NoticeFilter>,
) -> ApiResult<Json<Vec<ErasureNotice>>> {
    events::find_owned(&state.db, auth.organisation_id, event_id).await?;
    let mut query = entity::Entity::find().filter(entity::Column::EventId.eq(event_id));
    query = match filter.status {
        NoticeStatus::Pending => query.filter(entity::Column::PassedOnAt.is_null()),
        NoticeStatus::PassedOn => query.filter(entity::Column::PassedOnAt.is_not_null()),
        NoticeStatus::All => query,
    };
    let rows = query
        .order_by_asc(entity::Column::ErasedAt)
        .order_by_asc(entity::Column::Id)
        .all(&state.db)
        .await?;
    Ok(Json(views(&state.db, rows).await?))
}

/// Mark a notice passed on to its sponsor. Repeating it changes nothing.
#[utoipa::path(
    post, path = "/events/{event}/erasure-notices/{notice_id}/passed-on", tag = "rights",
    security(("bearer" = []), ("session_cookie" = [])),
    params(("event" = Uuid, Path, description = "The event id"), ("notice_id" = Uuid, Path)),
    responses(
        (status = 200, body = ErasureNotice),
        crate::error::responses::Unauthorized,
        crate::error::responses::NotFound,
    )
)]
async fn pass_on_notice(
    State(state): State<AppState>,
    auth: OrganiserAuth,
    ApiPath((event_id, notice_id)): ApiPath<(EventId, Uuid)>,
) -> ApiResult<Json<ErasureNotice>> {
    let txn = crate::db::begin_write(&state.db).await?;
    events::find_owned(&txn, auth.organisation_id, event_id).await?;
    entity::Entity::update_many()
        .col_expr(entity::Column::PassedOnAt, Expr::value(state.clock.now()))
        .filter(entity::Column::Id.eq(notice_id))
        .filter(entity::Column::EventId.eq(event_id))
        .filter(entity::Column::PassedOnAt.is_null())
        .exec(&txn)
        .await?;
    let notice = entity::Entity::find_by_id(notice_id)
        .filter(entity::Column::EventId.eq(event_id))
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound)?;
    let view = views(&txn, vec![notice]).await?;
    txn.commit().await?;
    view.into_iter().next().map(Json).ok_or(ApiError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn recipient(sponsor: u128, export: u128, at: OffsetDateTime) -> Recipient {
        Recipient {
            sponsor_id: SponsorId(Uuid::from_u128(sponsor)),
            sponsor: format!("Sponsor {sponsor}"),
            export_id: Uuid::from_u128(export),
            exported_at: at,
            format: "csv".into(),
            lead_id: Some(LeadId(Uuid::from_u128(100 + sponsor))),
        }
    }

    #[test]
    fn recipients_are_grouped_per_sponsor_oldest_export_first() {
        let day = |d: i64| datetime!(2026-12-01 10:00 UTC) + time::Duration::days(d);
        let recipients = [
            recipient(1, 13, day(3)),
            recipient(2, 21, day(2)),
            recipient(1, 11, day(1)),
            recipient(1, 12, day(2)),
        ];
        let groups = by_sponsor(&recipients);
        let ids: Vec<Vec<u128>> = groups
            .iter()
            .map(|g| g.iter().map(|r| r.export_id.as_u128()).collect())
            .collect();
        assert_eq!(ids, [vec![11, 12, 13], vec![21]]);
        assert!(by_sponsor(&[]).is_empty());
    }
}
