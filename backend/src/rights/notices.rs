//! Erasure notices: when an attendee erases their data, every sponsor that had received it in an
//! export must be told to delete its copy. Consentry cannot reach into a sponsor's CRM, so it
//! tells the organiser whom to tell — sponsor, export date and the lead id the exported row
//! carried — and the organiser marks each notice passed on. A notice holds no personal data: on
//! Consentry's side the lead id resolves to nothing once the attendee is erased.

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

use crate::{
    auth::OrganiserAuth,
    error::{ApiError, ApiResult, Problem},
    events,
    exports::entity::{export, recipient},
    extract::{ApiPath, ApiQuery},
    sponsors,
    state::AppState,
};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "erasure_notices")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub event_id: Uuid,
        pub sponsor_id: Uuid,
        /// Kept by name: the notice outlives the sponsor's record.
        pub sponsor_name: String,
        pub export_id: Uuid,
        pub exported_at: TimeDateTimeWithTimeZone,
        pub lead_id: Option<Uuid>,
        pub erased_at: TimeDateTimeWithTimeZone,
        pub passed_on_at: Option<TimeDateTimeWithTimeZone>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_notices))
        .routes(routes!(pass_on_notice))
}

/// One export that held an erased attendee's data.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Recipient {
    pub sponsor_id: Uuid,
    pub sponsor: String,
    pub export_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub exported_at: OffsetDateTime,
    pub format: String,
    /// The id the exported row carried.
    pub lead_id: Option<Uuid>,
}

/// Every export that included `registration_id`, oldest first.
pub async fn recipients_of(
    db: &impl ConnectionTrait,
    event_id: Uuid,
    registration_id: Uuid,
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
    let names: std::collections::BTreeMap<Uuid, String> = sponsors::list_for_event(db, event_id)
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
            format: e.format,
        })
        .collect())
}

/// Record a notice per recipient of an erased registration, in the erasure's transaction.
pub async fn record(
    db: &impl ConnectionTrait,
    event_id: Uuid,
    recipients: &[Recipient],
    erased_at: OffsetDateTime,
) -> Result<(), sea_orm::DbErr> {
    for r in recipients {
        entity::ActiveModel {
            id: Set(Uuid::now_v7()),
            event_id: Set(event_id),
            sponsor_id: Set(r.sponsor_id),
            sponsor_name: Set(r.sponsor.clone()),
            export_id: Set(r.export_id),
            exported_at: Set(r.exported_at),
            lead_id: Set(r.lead_id),
            erased_at: Set(erased_at),
            passed_on_at: Set(None),
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErasureNotice {
    pub id: Uuid,
    pub sponsor_id: Uuid,
    pub sponsor: String,
    pub export_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub exported_at: OffsetDateTime,
    /// The "Consentry Lead ID" of the row the sponsor must delete from that export.
    pub lead_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub erased_at: OffsetDateTime,
    /// When the organiser marked it passed on to the sponsor; absent while pending.
    #[serde(with = "time::serde::rfc3339::option")]
    pub passed_on_at: Option<OffsetDateTime>,
}

impl From<entity::Model> for ErasureNotice {
    fn from(m: entity::Model) -> Self {
        Self {
            id: m.id,
            sponsor_id: m.sponsor_id,
            sponsor: m.sponsor_name,
            export_id: m.export_id,
            exported_at: m.exported_at,
            lead_id: m.lead_id,
            erased_at: m.erased_at,
            passed_on_at: m.passed_on_at,
        }
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

/// Erasure notices to pass on: which sponsor holds an export (of which date, with which lead id)
/// that included an attendee who has since erased their data. Oldest first.
#[utoipa::path(
    get, path = "/events/{event}/erasure-notices", tag = "rights",
    security(("bearer" = []), ("session_cookie" = [])),
    params(("event" = Uuid, Path, description = "The event id"), NoticeFilter),
    responses(
        (status = 200, body = Vec<ErasureNotice>),
        (status = 400, description = "`invalid_query`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
async fn list_notices(
    State(state): State<AppState>,
    auth: OrganiserAuth,
    ApiPath(event_id): ApiPath<Uuid>,
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
    Ok(Json(rows.into_iter().map(ErasureNotice::from).collect()))
}

/// Mark a notice passed on to its sponsor. Repeating it changes nothing.
#[utoipa::path(
    post, path = "/events/{event}/erasure-notices/{notice_id}/passed-on", tag = "rights",
    security(("bearer" = []), ("session_cookie" = [])),
    params(("event" = Uuid, Path, description = "The event id"), ("notice_id" = Uuid, Path)),
    responses(
        (status = 200, body = ErasureNotice),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
async fn pass_on_notice(
    State(state): State<AppState>,
    auth: OrganiserAuth,
    ApiPath((event_id, notice_id)): ApiPath<(Uuid, Uuid)>,
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
    txn.commit().await?;
    Ok(Json(notice.into()))
}
