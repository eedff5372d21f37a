//! Events: an organiser's own events, created and listed here, with the rules every feature
//! applies to them (`rules`: settings and fields; `lifecycle`: when attendee data is held) and
//! the two look-ups they start from (`find_owned`, `find_public`).
//!
//! This module sits low: sponsors, registrations, kiosks and the rest build on it, and it imports
//! none of them. The routes that need them live above: the public view of an event (sponsors and
//! their consent sentences) in `registrations::public_event`, and changing or deleting an event
//! (telling registrants, revoking kiosks, purging) in `retention::event_changes`.

pub use crate::schema::events as entity;
pub mod lifecycle;
pub mod rules;

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use self::rules::{ContactField, EventSettings};
use crate::schema::ids::EventId;
use crate::{
    auth::OrganiserAuth,
    error::{ApiError, ApiResult, Problem, is_unique_violation},
    extract::ApiJson,
    keystore::Keystore,
    problem::ProblemCode,
    state::AppState,
    vault::EventVault,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_events, create_event))
}

// ---------------------------------------------------------------------------------------------
// Queries

/// The event `event_id` if it belongs to `organisation_id`; otherwise not found, whether it
/// exists elsewhere or not (another tenant's resources are indistinguishable from absent ones).
/// An event being deleted is absent too.
pub async fn find_owned(
    db: &impl ConnectionTrait,
    organisation_id: Uuid,
    event_id: EventId,
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
        id: Set(EventId::new()),
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
        privacy_notice_nl: Set(settings.privacy_notice_nl),
        privacy_notice_version: Set(1),
        shared_fields: Set(rules::store_shared_fields(&settings.shared_fields)),
        venue_networks: Set(crate::rate_limit::venue::store(&settings.venue_networks)),
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
    event_id: EventId,
    now: OffsetDateTime,
) -> ApiResult<()> {
    EventVault::create(db, master, event_id, now).await?;
    crate::keystore::badge_keys::create_signing_key(db, master, event_id, now).await?;
    Ok(())
}

pub fn slug_conflict(e: sea_orm::DbErr) -> ApiError {
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

pub fn settings_of(model: &entity::Model) -> EventSettings {
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
        privacy_notice_nl: model.privacy_notice_nl.clone(),
        shared_fields: rules::parse_shared_fields(&model.shared_fields),
        venue_networks: crate::rate_limit::venue::listed(&model.venue_networks),
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
    /// The privacy notice in Dutch, shown to Dutch readers. Absent: they are shown the English one.
    #[serde(default)]
    pub privacy_notice_nl: Option<String>,
    /// Contact fields sponsors receive with a consented lead. Default: names, e-mail, company,
    /// job title.
    pub shared_fields: Option<Vec<ContactField>>,
    /// The venue's own networks (its Wi-Fi's public addresses), e.g. `203.0.113.0/24` or
    /// `2001:db8:5::/48`: at most 8, none broader than an IPv4 /16 or an IPv6 /48. From them, from
    /// 3 hours before the start until the end, registration for this event is counted with the
    /// server's venue quota instead of per address. Default: none.
    #[schema(example = json!(["203.0.113.0/24"]))]
    pub venue_networks: Option<Vec<String>>,
}

/// A change to an event; omitted fields stay as they are (`privacy_notice_nl: null` removes the
/// Dutch notice). A changed notice, in either language, gets a new `privacy_notice_version`.
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
    #[serde(default, deserialize_with = "crate::extract::double_option")]
    #[schema(value_type = Option<String>)]
    pub privacy_notice_nl: Option<Option<String>>,
    pub shared_fields: Option<Vec<ContactField>>,
    /// The whole list of venue networks (`[]` removes them all); see `NewEvent`.
    pub venue_networks: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub id: EventId,
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
    /// The notice in Dutch, if there is one.
    pub privacy_notice_nl: Option<String>,
    pub privacy_notice_version: i32,
    pub shared_fields: Vec<ContactField>,
    /// Networks that count as the venue from 3 hours before the start until the end.
    pub venue_networks: Vec<String>,
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
            venue_networks: crate::rate_limit::venue::listed(&m.venue_networks),
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
            privacy_notice_nl: m.privacy_notice_nl,
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
        (status = 422, description = "`invalid_slug`, `ends_before_start`, `invalid_retention`, `invalid_min_age`, `invalid_time_zone`, `invalid_network`, `network_too_broad`, `too_many_networks`, `too_long`, …", body = Problem, content_type = "application/problem+json"),
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
        privacy_notice_nl: new.privacy_notice_nl,
        shared_fields: new
            .shared_fields
            .unwrap_or_else(rules::default_shared_fields),
        venue_networks: new.venue_networks.unwrap_or_default(),
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
