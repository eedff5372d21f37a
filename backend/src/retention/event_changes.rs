//! Changing and deleting an event: the two organiser actions that move the deletion of attendee
//! data. A change that keeps data longer tells every registrant the new date
//! ([`super::extension`]); a deletion destroys the event's keys before it answers and purges the
//! rest as the retention purge does. They live here, above `events`, because both reach the data
//! of other features (registrations, kiosks, the purge); `events` keeps the rules they apply.

use axum::{Json, extract::State, http::StatusCode};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set, sea_query::Expr,
};

use super::Purger;
use crate::schema::ids::EventId;
use crate::{
    audit,
    auth::OrganiserAuth,
    error::{ApiError, ApiResult, Problem},
    events::{
        EventChange, EventView, entity, find_owned,
        rules::{self, EventSettings},
        settings_of, slug_conflict,
    },
    extract::{ApiJson, ApiPath},
    keystore, kiosks,
    rate_limit::venue,
    schema::registrations::registration,
    state::AppState,
};

pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(update_event, delete_event))
}

/// Change an event. After the event has ended its end cannot move later and its retention can
/// only shrink (`event_ended`). Before then, a change that moves the deletion of attendee data
/// later (`ends_at` later, or `retention_days` longer) mails every registrant the new deletion
/// date, after the change is saved, and is audited as `retention_extended` with the number of
/// registrants told. A change of `venue_networks` is audited as `venue_networks_changed`.
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
pub(crate) async fn update_event(
    State(state): State<AppState>,
    auth: OrganiserAuth,
    ApiPath(event_id): ApiPath<EventId>,
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
        privacy_notice_nl: change
            .privacy_notice_nl
            .unwrap_or_else(|| before.privacy_notice_nl.clone()),
        shared_fields: change
            .shared_fields
            .unwrap_or_else(|| before.shared_fields.clone()),
        venue_networks: change
            .venue_networks
            .unwrap_or_else(|| before.venue_networks.clone()),
    })?;
    let now = state.clock.now();
    rules::check_change(&before, &next, now)?;
    let extended = rules::extends_retention(&before, &next);
    let venue_changed = next.venue_networks != before.venue_networks;
    let due_before = rules::purge_due_at(before.ends_at, before.retention_days);

    // The version names everything a registration page shows as terms: the notice and the fields
    // each sponsor's sentence names. A page showing the old ones gets `notice_outdated` and
    // reloads, so a grant never binds an attendee to fields they were not shown.
    let notice_version = if next.privacy_notice == before.privacy_notice
        && next.privacy_notice_nl == before.privacy_notice_nl
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
        privacy_notice_nl: Set(next.privacy_notice_nl),
        privacy_notice_version: Set(notice_version),
        shared_fields: Set(rules::store_shared_fields(&next.shared_fields)),
        venue_networks: Set(venue::store(&next.venue_networks)),
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
    if venue_changed {
        audit_venue_networks(&txn, &updated, auth.organiser_id, now).await?;
    }
    txn.commit().await?;
    tracing::info!(event_id = %updated.id, "event updated");
    if to_tell > 0 {
        super::extension::tell_registrants(state.clone(), updated.clone(), due_before);
    }
    Ok(Json(updated.into()))
}

/// Record that an event's venue networks were set or changed: they widen a rate limit, so who did
/// it and when is kept (the networks themselves are in the event; the count is how many).
async fn audit_venue_networks(
    db: &impl sea_orm::ConnectionTrait,
    event: &entity::Model,
    organiser_id: uuid::Uuid,
    now: time::OffsetDateTime,
) -> ApiResult<()> {
    let count = venue::parse_stored(&event.venue_networks).len();
    audit::record(
        db,
        audit::Entry {
            organisation_id: event.organisation_id,
            event_id: Some(event.id),
            actor: audit::Actor::Organiser(organiser_id),
            action: audit::Action::VenueNetworksChanged,
            subject_id: Some(event.id.into()),
            count: Some(i64::try_from(count).unwrap_or(i64::MAX)),
        },
        now,
    )
    .await?;
    Ok(())
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
pub(crate) async fn delete_event(
    State(state): State<AppState>,
    auth: OrganiserAuth,
    ApiPath(event_id): ApiPath<EventId>,
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
                subject_id: Some(event_id.into()),
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
