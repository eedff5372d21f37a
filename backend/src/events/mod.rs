//! Events: an organiser's own events, created, read, changed and deleted.

pub use crate::schema::events as entity;
pub mod lifecycle;
pub mod public;
pub mod rules;

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set, sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use self::rules::{ContactField, EventSettings};
use crate::{
    audit,
    auth::OrganiserAuth,
    error::{ApiError, ApiResult, Problem, is_unique_violation},
    extract::{ApiJson, ApiPath},
    keystore::{self, Keystore},
    kiosks,
    problem::ProblemCode,
    registrations::entity::registration,
    retention::Purger,
    state::AppState,
    vault::EventVault,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_events, create_event))
        .routes(routes!(get_event, update_event, delete_event))
}

// ---------------------------------------------------------------------------------------------
// Queries

/// The event `event_id` if it belongs to `organisation_id`; otherwise not found, whether it
/// exists elsewhere or not (another tenant's resources are indistinguishable from absent ones).
/// An event being deleted is absent too.
pub async fn find_owned(
    db: &impl ConnectionTrait,
    organisation_id: Uuid,
    event_id: Uuid,
) -> ApiResult<entity::Model> {
    entity::Entity::find_by_id(event_id)
        .filter(entity::Column::OrganisationId.eq(organisation_id))
        .filter(entity::Column::DeletedAt.is_null())
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)
}

/// The event whose public page is `/e/{slug}`; not found otherwise.
pub async fn find_public(db: &impl ConnectionTrait, slug: &str) -> ApiResult<entity::Model> {
    entity::Entity::find()
        .filter(entity::Column::Slug.eq(slug))
        .filter(entity::Column::DeletedAt.is_null())
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Insert an event with its keys: the data key that seals attendee data and the first badge
/// signing key. Run it in a transaction: an event never exists without its keys. A separate key
/// store is written at once; if the transaction then fails, the keys left there seal nothing.
pub async fn insert_event(
    db: &impl ConnectionTrait,
    keystore: &Keystore,
    organisation_id: Uuid,
    master: &crate::crypto::MasterKey,
    settings: EventSettings,
    now: OffsetDateTime,
) -> ApiResult<entity::Model> {
    let model = entity::ActiveModel {
        id: Set(Uuid::now_v7()),
        organisation_id: Set(organisation_id),
        slug: Set(settings.slug),
        name: Set(settings.name),
        venue: Set(settings.venue),
        time_zone: Set(settings.time_zone),
        starts_at: Set(settings.starts_at),
        ends_at: Set(settings.ends_at),
        retention_days: Set(settings.retention_days),
        min_age: Set(settings.min_age),
        privacy_notice: Set(settings.privacy_notice),
        privacy_notice_version: Set(1),
        shared_fields: Set(rules::store_shared_fields(&settings.shared_fields)),
        created_at: Set(now),
        updated_at: Set(now),
        purge_started_at: Set(None),
        purged_at: Set(None),
        purge_lease_owner: Set(None),
        purge_lease_until: Set(None),
        registrations_at_purge: Set(None),
        marketing_opt_ins_at_purge: Set(None),
        deleted_at: Set(None),
    };
    let event = model.insert(db).await.map_err(slug_conflict)?;
    if keystore.separate {
        create_keys(&keystore.db, master, event.id, now).await?;
    } else {
        create_keys(db, master, event.id, now).await?;
    }
    Ok(event)
}

async fn create_keys(
    db: &impl ConnectionTrait,
    master: &crate::crypto::MasterKey,
    event_id: Uuid,
    now: OffsetDateTime,
) -> ApiResult<()> {
    EventVault::create(db, master, event_id, now).await?;
    crate::keystore::badge_keys::create_signing_key(db, master, event_id, now).await?;
    Ok(())
}

fn slug_conflict(e: sea_orm::DbErr) -> ApiError {
    if is_unique_violation(&e) {
        ApiError::conflict(
            ProblemCode::SlugTaken,
            "slug",
            "Another event uses this slug.",
        )
    } else {
        e.into()
    }
}

fn settings_of(model: &entity::Model) -> EventSettings {
    EventSettings {
        slug: model.slug.clone(),
        name: model.name.clone(),
        venue: model.venue.clone(),
        time_zone: model.time_zone.clone(),
        starts_at: model.starts_at,
        ends_at: model.ends_at,
        retention_days: model.retention_days,
        min_age: model.min_age,
        privacy_notice: model.privacy_notice.clone(),
        shared_fields: rules::parse_shared_fields(&model.shared_fields),
    }
}

// ---------------------------------------------------------------------------------------------
// Routes

/// A new event. Omitted settings take the privacy-friendly defaults.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEvent {
    /// 3–64 of a-z, 0-9 and inner hyphens; unique across the server; the public URL is /e/{slug}.
    pub slug: String,
    pub name: String,
    #[serde(default)]
    pub venue: String,
    /// IANA time zone name, e.g. `Europe/Amsterdam`.
    pub time_zone: String,
    #[serde(with = "time::serde::rfc3339")]
    pub starts_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub ends_at: OffsetDateTime,
    /// Days after the end at which attendee data is purged: 0–30, default 30.
    pub retention_days: Option<i16>,
    /// Minimum age to register: 13–21, default 16.
    pub min_age: Option<i16>,
    /// The privacy notice shown at registration.
    pub privacy_notice: String,
    /// Contact fields sponsors receive with a consented lead. Default: names, e-mail, company,
    /// job title.
    pub shared_fields: Option<Vec<ContactField>>,
}

/// A change to an event; omitted fields stay as they are. A changed `privacy_notice` gets a new
/// `privacy_notice_version`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventChange {
    pub slug: Option<String>,
    pub name: Option<String>,
    pub venue: Option<String>,
    pub time_zone: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub starts_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub ends_at: Option<OffsetDateTime>,
    pub retention_days: Option<i16>,
    pub min_age: Option<i16>,
    pub privacy_notice: Option<String>,
    pub shared_fields: Option<Vec<ContactField>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub venue: String,
    pub time_zone: String,
    #[serde(with = "time::serde::rfc3339")]
    pub starts_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub ends_at: OffsetDateTime,
    pub retention_days: i16,
    pub min_age: i16,
    pub privacy_notice: String,
    pub privacy_notice_version: i32,
    pub shared_fields: Vec<ContactField>,
    /// When this event's attendee personal data is purged: `ends_at + retention_days`.
    #[serde(with = "time::serde::rfc3339")]
    pub purge_due_at: OffsetDateTime,
    /// When the purge removed the event's attendee data; absent until then.
    #[serde(with = "time::serde::rfc3339::option")]
    pub purged_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<entity::Model> for EventView {
    fn from(m: entity::Model) -> Self {
        Self {
            shared_fields: rules::parse_shared_fields(&m.shared_fields),
            purge_due_at: rules::purge_due_at(m.ends_at, m.retention_days),
            purged_at: m.purged_at,
            id: m.id,
            slug: m.slug,
            name: m.name,
            venue: m.venue,
            time_zone: m.time_zone,
            starts_at: m.starts_at,
            ends_at: m.ends_at,
            retention_days: m.retention_days,
            min_age: m.min_age,
            privacy_notice: m.privacy_notice,
            privacy_notice_version: m.privacy_notice_version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// The organiser's events, latest first.
#[utoipa::path(
    get, path = "/events", tag = "events",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, body = Vec<EventView>),
        crate::error::responses::Unauthorized,
    )
)]
async fn list_events(
    State(state): State<AppState>,
    auth: OrganiserAuth,
) -> ApiResult<Json<Vec<EventView>>> {
    let events = entity::Entity::find()
        .filter(entity::Column::OrganisationId.eq(auth.organisation_id))
        .filter(entity::Column::DeletedAt.is_null())
        .order_by_desc(entity::Column::StartsAt)
        .order_by_asc(entity::Column::Id)
        .all(&state.db)
        .await?;
    Ok(Json(events.into_iter().map(EventView::from).collect()))
}

/// Create an event in the organiser's organisation.
#[utoipa::path(
    post, path = "/events", tag = "events",
    security(("bearer" = []), ("session_cookie" = [])),
    request_body = NewEvent,
    responses(
        (status = 201, body = EventView, headers(("Location" = String))),
        crate::error::responses::Unauthorized,
        (status = 409, description = "`slug_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_slug`, `ends_before_start`, `invalid_retention`, `invalid_min_age`, `invalid_time_zone`, `too_long`, …", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn create_event(
    State(state): State<AppState>,
    auth: OrganiserAuth,
    ApiJson(new): ApiJson<NewEvent>,
) -> ApiResult<Response> {
    let settings = rules::validate(EventSettings {
        slug: new.slug,
        name: new.name,
        venue: new.venue,
        time_zone: new.time_zone,
        starts_at: new.starts_at,
        ends_at: new.ends_at,
        retention_days: new.retention_days.unwrap_or(rules::DEFAULT_RETENTION_DAYS),
        min_age: new.min_age.unwrap_or(rules::DEFAULT_MIN_AGE),
        privacy_notice: new.privacy_notice,
        shared_fields: new
            .shared_fields
            .unwrap_or_else(rules::default_shared_fields),
    })?;
    let txn = crate::db::begin_write(&state.db).await?;
    let model = insert_event(
        &txn,
        &state.keystore,
        auth.organisation_id,
        &state.keys.master,
        settings,
        state.clock.now(),
    )
    .await?;
    txn.commit().await?;
    tracing::info!(event_id = %model.id, "event created");
    let location = format!("/api/v1/events/{}", model.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(EventView::from(model)),
    )
        .into_response())
}

/// What `GET /events/{event}` answers: the organiser's view for an event id, the public view for
/// a slug.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum EventLookup {
    Organiser(EventView),
    Public(public::PublicEventView),
}

/// An event: by id, one of the organiser's own events (authentication required); by slug, the
/// public view attendees register from (no authentication, no organiser data).
#[utoipa::path(
    get, path = "/events/{event}", tag = "events",
    security((), ("bearer" = []), ("session_cookie" = [])),
    params(("event" = String, Path, description = "An event id (organisers) or slug (public)")),
    responses(
        (status = 200, body = EventLookup),
        (status = 401, description = "An id without organiser credentials", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Absent, or another organisation's", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn get_event(
    State(state): State<AppState>,
    auth: Result<OrganiserAuth, ApiError>,
    ApiPath(event): ApiPath<String>,
) -> ApiResult<Json<EventLookup>> {
    if let Ok(event_id) = Uuid::parse_str(&event) {
        let model = find_owned(&state.db, auth?.organisation_id, event_id).await?;
        return Ok(Json(EventLookup::Organiser(model.into())));
    }
    let model = find_public(&state.db, &event).await?;
    let view = public::view(&state.db, model, state.clock.now()).await?;
    Ok(Json(EventLookup::Public(view)))
}

/// Change an event. After the event has ended its end cannot move later and its retention can
/// only shrink (`event_ended`). Before then, a change that moves the deletion of attendee data
/// later (`ends_at` later, or `retention_days` longer) mails every registrant the new deletion
/// date, after the change is saved, and is audited as `retention_extended` with the number of
/// registrants told.
#[utoipa::path(
    patch, path = "/events/{event}", tag = "events",
    security(("bearer" = []), ("session_cookie" = [])),
    params(("event" = Uuid, Path, description = "The event id")),
    request_body = EventChange,
    responses(
        (status = 200, body = EventView),
        crate::error::responses::Unauthorized,
        crate::error::responses::NotFound,
        (status = 409, description = "`slug_taken`, `event_ended`", body = Problem, content_type = "application/problem+json"),
        crate::error::responses::Unprocessable,
    )
)]
async fn update_event(
    State(state): State<AppState>,
    auth: OrganiserAuth,
    ApiPath(event_id): ApiPath<Uuid>,
    ApiJson(change): ApiJson<EventChange>,
) -> ApiResult<Json<EventView>> {
    let txn = crate::db::begin_write(&state.db).await?;
    let current = find_owned(&txn, auth.organisation_id, event_id).await?;
    let before = settings_of(&current);
    let next = rules::validate(EventSettings {
        slug: change.slug.unwrap_or_else(|| before.slug.clone()),
        name: change.name.unwrap_or_else(|| before.name.clone()),
        venue: change.venue.unwrap_or_else(|| before.venue.clone()),
        time_zone: change.time_zone.unwrap_or_else(|| before.time_zone.clone()),
        starts_at: change.starts_at.unwrap_or(before.starts_at),
        ends_at: change.ends_at.unwrap_or(before.ends_at),
        retention_days: change.retention_days.unwrap_or(before.retention_days),
        min_age: change.min_age.unwrap_or(before.min_age),
        privacy_notice: change
            .privacy_notice
            .unwrap_or_else(|| before.privacy_notice.clone()),
        shared_fields: change
            .shared_fields
            .unwrap_or_else(|| before.shared_fields.clone()),
    })?;
    let now = state.clock.now();
    rules::check_change(&before, &next, now)?;
    let extended = rules::extends_retention(&before, &next);
    let due_before = rules::purge_due_at(before.ends_at, before.retention_days);

    // The version names everything a registration page shows as terms: the notice and the fields
    // each sponsor's sentence names. A page showing the old ones gets `notice_outdated` and
    // reloads, so a grant never binds an attendee to fields they were not shown.
    let notice_version = if next.privacy_notice == before.privacy_notice
        && rules::store_shared_fields(&next.shared_fields)
            == rules::store_shared_fields(&before.shared_fields)
    {
        current.privacy_notice_version
    } else {
        current.privacy_notice_version.saturating_add(1)
    };
    let updated = entity::ActiveModel {
        id: Set(current.id),
        slug: Set(next.slug),
        name: Set(next.name),
        venue: Set(next.venue),
        time_zone: Set(next.time_zone),
        starts_at: Set(next.starts_at),
        ends_at: Set(next.ends_at),
        retention_days: Set(next.retention_days),
        min_age: Set(next.min_age),
        privacy_notice: Set(next.privacy_notice),
        privacy_notice_version: Set(notice_version),
        shared_fields: Set(rules::store_shared_fields(&next.shared_fields)),
        updated_at: Set(now),
        ..Default::default()
    }
    .update(&txn)
    .await
    .map_err(slug_conflict)?;
    // Data kept longer: everyone registered is told the new deletion date, after the commit.
    let to_tell = if extended {
        registration::Entity::find()
            .filter(registration::Column::EventId.eq(updated.id))
            .count(&txn)
            .await?
    } else {
        0
    };
    if to_tell > 0 {
        audit::record(
            &txn,
            audit::Entry {
                organisation_id: current.organisation_id,
                event_id: Some(updated.id),
                actor: audit::Actor::Organiser(auth.organiser_id),
                action: audit::Action::RetentionExtended,
                subject_id: None,
                count: Some(i64::try_from(to_tell).unwrap_or(i64::MAX)),
            },
            now,
        )
        .await?;
    }
    txn.commit().await?;
    tracing::info!(event_id = %updated.id, "event updated");
    if to_tell > 0 {
        crate::retention::extension::tell_registrants(state.clone(), updated.clone(), due_before);
    }
    Ok(Json(updated.into()))
}

/// How long `DELETE /events/{event}` waits for the deletion to finish before answering; a larger
/// event goes on being deleted after the answer.
pub const DELETE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Delete an event with its sponsors and everything attendees gave for it.
///
/// Crypto-shredding, as the retention purge does it: the event is marked deleted (from then on no
/// route serves it) and audited in one transaction; its data key and badge keys are destroyed in
/// the key store before the answer, so no copy of its ciphertexts (a backup of the main database)
/// opens any more; then its rows go in batches, the event row last, and its outbox mails. That
/// runs in a task of its own, so a client going away does not cut it short; if the server stops
/// part-way, the purge loop (or the same request repeated) finishes it.
#[utoipa::path(
    delete, path = "/events/{event}", tag = "events",
    security(("bearer" = []), ("session_cookie" = [])),
    params(("event" = Uuid, Path, description = "The event id")),
    responses(
        (status = 204, description = "Deleted"),
        crate::error::responses::Unauthorized,
        crate::error::responses::NotFound,
    )
)]
async fn delete_event(
    State(state): State<AppState>,
    auth: OrganiserAuth,
    ApiPath(event_id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    let now = state.clock.now();
    let txn = crate::db::begin_write(&state.db).await?;
    // Not `find_owned`: an event whose deletion was interrupted is deleted again.
    let event = entity::Entity::find_by_id(event_id)
        .filter(entity::Column::OrganisationId.eq(auth.organisation_id))
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound)?;
    if event.deleted_at.is_none() {
        let registrations = registration::Entity::find()
            .filter(registration::Column::EventId.eq(event_id))
            .count(&txn)
            .await?;
        entity::Entity::update_many()
            .col_expr(entity::Column::DeletedAt, Expr::value(now))
            .filter(entity::Column::Id.eq(event_id))
            .exec(&txn)
            .await?;
        kiosks::revoke_all_of_event(&txn, event_id, now).await?;
        audit::record(
            &txn,
            audit::Entry {
                organisation_id: auth.organisation_id,
                event_id: Some(event_id),
                actor: audit::Actor::Organiser(auth.organiser_id),
                action: audit::Action::EventDeleted,
                subject_id: Some(event_id),
                count: Some(i64::try_from(registrations).unwrap_or(i64::MAX)),
            },
            now,
        )
        .await?;
    }
    txn.commit().await?;
    // The keys first, before the answer: from here on no copy of the event's data opens.
    keystore::destroy_event_keys(&state.keystore.db, event_id).await?;
    state.unwrapped.forget(event_id);

    let purger = Purger::new(
        state.db.clone(),
        state.keystore.clone(),
        state.clock.clone(),
    )
    .with_outbox(state.mailer.outbox_dir().map(std::path::Path::to_path_buf))
    .with_unwrapped_keys(state.unwrapped.clone());
    let deleting = tokio::spawn(async move {
        let (_stop, stopping) = tokio::sync::watch::channel(false);
        purger.delete_marked(event_id, &stopping).await
    });
    match tokio::time::timeout(DELETE_WAIT, deleting).await {
        Ok(Ok(Ok(_))) => tracing::info!(%event_id, "event deleted"),
        Ok(Ok(Err(e))) => {
            tracing::warn!(%event_id, error = %e, "event deletion interrupted; the purge will finish it");
        }
        Ok(Err(e)) => {
            tracing::warn!(%event_id, error = %e, "event deletion interrupted; the purge will finish it");
        }
        Err(_) => tracing::info!(%event_id, "event deletion goes on after the answer"),
    }
    Ok(StatusCode::NO_CONTENT)
}
