//! The audit log: who touched personal data, and when. Append-only, and holding no personal data
//! itself — ids, actions, counts and times only.

use axum::{Json, extract::State};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Select, Set,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::schema::ids::EventId;
use crate::schema::ids::KioskId;
use crate::{
    auth::OrganiserAuth,
    error::{ApiResult, Problem},
    events,
    extract::{ApiPath, ApiQuery, page_window},
    state::AppState,
};

pub use crate::schema::audit_events as entity;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(event_audit))
        .routes(routes!(organisation_audit))
}

/// Who did it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Organiser(Uuid),
    Kiosk(KioskId),
    /// The attendee, through the manage link. Not named by id: the log outlives the registration,
    /// and an id kept here would tie the sponsor of a consent to a person's pseudonym after the
    /// purge. The consent ledger (purged with the registration) holds who.
    Attendee,
    /// The server itself (the retention purge).
    System,
}

impl Actor {
    fn kind(self) -> ActorKind {
        match self {
            Self::Organiser(_) => ActorKind::Organiser,
            Self::Kiosk(_) => ActorKind::Kiosk,
            Self::Attendee => ActorKind::Attendee,
            Self::System => ActorKind::System,
        }
    }

    fn id(self) -> Option<Uuid> {
        match self {
            Self::Organiser(id) => Some(id),
            Self::Kiosk(id) => Some(id.into()),
            Self::Attendee | Self::System => None,
        }
    }
}

pub use crate::schema::audit_events::{Action, ActorKind};

/// One audit entry.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub organisation_id: Uuid,
    pub event_id: Option<EventId>,
    pub actor: Actor,
    pub action: Action,
    /// What it was done to: a kiosk, a sponsor, an export.
    pub subject_id: Option<Uuid>,
    /// How many records it touched.
    pub count: Option<i64>,
}

/// Append `entry`, in the caller's transaction where there is one.
pub async fn record(
    db: &impl ConnectionTrait,
    entry: Entry,
    at: OffsetDateTime,
) -> Result<(), sea_orm::DbErr> {
    row(entry, at).insert(db).await?;
    Ok(())
}

/// Several entries at once, in one statement.
pub async fn record_all(
    db: &impl ConnectionTrait,
    entries: impl IntoIterator<Item = Entry>,
    at: OffsetDateTime,
) -> Result<(), sea_orm::DbErr> {
    entity::Entity::insert_many(entries.into_iter().map(|entry| row(entry, at)))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

fn row(entry: Entry, at: OffsetDateTime) -> entity::ActiveModel {
    entity::ActiveModel {
        id: Set(Uuid::now_v7()),
        organisation_id: Set(entry.organisation_id),
        event_id: Set(entry.event_id),
        actor_kind: Set(entry.actor.kind()),
        actor_id: Set(entry.actor.id()),
        action: Set(entry.action),
        subject_id: Set(entry.subject_id),
        count: Set(entry.count),
        at: Set(at),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    pub action: Option<Action>,
    /// `organiser`, `kiosk`, `attendee` or `system`.
    pub actor_kind: Option<String>,
    /// Only entries at or after this time (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>)]
    pub from: Option<OffsetDateTime>,
    /// Only entries before this time (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>)]
    pub to: Option<OffsetDateTime>,
    /// Only this event's entries (organisation-wide listing only).
    pub event_id: Option<EventId>,
    /// 1-based page number.
    #[serde(default = "first_page")]
    #[param(minimum = 1, maximum = 9_223_372_036_854_775_807_i64)]
    pub page: u64,
    /// 1–500.
    #[serde(default = "default_per_page")]
    #[param(minimum = 1, maximum = 500)]
    pub per_page: u64,
}

fn first_page() -> u64 {
    1
}

fn default_per_page() -> u64 {
    100
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: Uuid,
    pub event_id: Option<EventId>,
    pub actor_kind: ActorKind,
    pub actor_id: Option<Uuid>,
    pub action: Action,
    pub subject_id: Option<Uuid>,
    pub count: Option<i64>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
}

async fn page_of(
    state: &AppState,
    mut query: Select<entity::Entity>,
    filter: AuditFilter,
) -> ApiResult<AuditPage> {
    let (offset, limit) = page_window(filter.page, filter.per_page, 500)?;
    if let Some(action) = filter.action {
        query = query.filter(entity::Column::Action.eq(action));
    }
    if let Some(kind) = filter.actor_kind {
        query = query.filter(entity::Column::ActorKind.eq(kind));
    }
    if let Some(from) = filter.from {
        query = query.filter(entity::Column::At.gte(crate::clock::to_stored(from)));
    }
    if let Some(to) = filter.to {
        query = query.filter(entity::Column::At.lt(crate::clock::to_stored(to)));
    }
    if let Some(event_id) = filter.event_id {
        query = query.filter(entity::Column::EventId.eq(event_id));
    }
    let total = query.clone().count(&state.db).await?;
    let rows = query
        .order_by_desc(entity::Column::At)
        .order_by_desc(entity::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(&state.db)
        .await?;
    Ok(AuditPage {
        entries: rows
            .into_iter()
            .map(|r| AuditEntry {
                id: r.id,
                event_id: r.event_id,
                actor_kind: r.actor_kind,
                actor_id: r.actor_id,
                action: r.action,
                subject_id: r.subject_id,
                count: r.count,
                at: r.at,
            })
            .collect(),
        page: filter.page,
        per_page: filter.per_page,
        total,
    })
}

/// The audit log of one of the organiser's events, newest first.
#[utoipa::path(
    get, path = "/events/{event}/audit", tag = "audit",
    security(("bearer" = []), ("session_cookie" = [])),
    params(("event" = Uuid, Path, description = "The event id"), AuditFilter),
    responses(
        (status = 200, body = AuditPage),
        (status = 400, description = "`invalid_query`", body = Problem, content_type = "application/problem+json"),
        crate::error::responses::Unauthorized,
        crate::error::responses::NotFound,
    )
)]
async fn event_audit(
    State(state): State<AppState>,
    auth: OrganiserAuth,
    ApiPath(event_id): ApiPath<EventId>,
    ApiQuery(filter): ApiQuery<AuditFilter>,
) -> ApiResult<Json<AuditPage>> {
    events::find_owned(&state.db, auth.organisation_id, event_id).await?;
    let query = entity::Entity::find()
        .filter(entity::Column::OrganisationId.eq(auth.organisation_id))
        .filter(entity::Column::EventId.eq(event_id));
    Ok(Json(page_of(&state, query, filter).await?))
}

/// The audit log of the organiser's whole organisation, newest first.
#[utoipa::path(
    get, path = "/audit", tag = "audit",
    security(("bearer" = []), ("session_cookie" = [])),
    params(AuditFilter),
    responses(
        (status = 200, body = AuditPage),
        (status = 400, description = "`invalid_query`", body = Problem, content_type = "application/problem+json"),
        crate::error::responses::Unauthorized,
    )
)]
async fn organisation_audit(
    State(state): State<AppState>,
    auth: OrganiserAuth,
    ApiQuery(filter): ApiQuery<AuditFilter>,
) -> ApiResult<Json<AuditPage>> {
    let query =
        entity::Entity::find().filter(entity::Column::OrganisationId.eq(auth.organisation_id));
    Ok(Json(page_of(&state, query, filter).await?))
}
