//! Sponsors of an organiser's events.

pub use crate::schema::sponsors as entity;

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    sea_query::{Expr, ExprTrait},
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::schema::ids::EventId;
use crate::schema::ids::SponsorId;
use crate::{
    auth::OrganiserAuth,
    error::{ApiError, ApiResult, FieldError, Problem, is_unique_violation},
    events,
    extract::{ApiJson, ApiPath},
    problem::ProblemCode,
    schema::consents::ledger,
    state::AppState,
    validation,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sponsors, create_sponsor))
        .routes(routes!(get_sponsor, update_sponsor, delete_sponsor))
}

// ---------------------------------------------------------------------------------------------
// Rules

pub const MAX_DESCRIPTION_CHARS: usize = 2000;

/// Attendees agreed to give their details to a sponsor by its name and privacy policy: once one
/// has, neither may change (make a new sponsor instead), or every consent given to the old name
/// would pass to the new one. The description may change: no consent sentence names it.
pub fn check_identity_change(
    current: &SponsorSettings,
    next: &SponsorSettings,
    has_consents: bool,
) -> Result<(), ApiError> {
    let field = if current.name != next.name {
        "name"
    } else if current.privacy_policy_url != next.privacy_policy_url {
        "privacy_policy_url"
    } else {
        return Ok(());
    };
    if has_consents {
        return Err(ApiError::conflict(
            ProblemCode::SponsorHasConsents,
            field,
            "Attendees have consented to this sponsor as it is named now, with this privacy \
             policy; add a new sponsor instead.",
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SponsorSettings {
    pub name: String,
    pub description: String,
    pub privacy_policy_url: String,
}

pub fn validate(s: SponsorSettings) -> Result<SponsorSettings, FieldError> {
    Ok(SponsorSettings {
        name: validation::label("name", &s.name, 1, 200)?,
        description: validation::text(
            "description",
            &s.description,
            0,
            MAX_DESCRIPTION_CHARS,
            true,
        )?,
        privacy_policy_url: validation::https_url("privacy_policy_url", &s.privacy_policy_url)?,
    })
}

/// A new booth code: 22 characters of base64url (132 random bits). It is public (printed at the
/// booth) and names the sponsor only; its randomness keeps sponsors from being listed by guessing.
pub fn new_booth_code() -> String {
    crate::crypto::random_token()[..22].to_owned()
}

/// The sponsor's booth link, which its kiosk shows as a QR code and the console prints.
pub fn booth_url(public_url: &str, booth_code: &str) -> String {
    format!("{public_url}/s/{booth_code}")
}

// ---------------------------------------------------------------------------------------------
// Queries

/// Sponsors of one event, by name.
pub async fn list_for_event(
    db: &impl ConnectionTrait,
    event_id: EventId,
) -> Result<Vec<entity::Model>, sea_orm::DbErr> {
    entity::Entity::find()
        .filter(entity::Column::EventId.eq(event_id))
        .order_by_asc(entity::Column::Name)
        .order_by_asc(entity::Column::Id)
        .all(db)
        .await
}

pub async fn insert_sponsor(
    db: &impl ConnectionTrait,
    event_id: EventId,
    settings: SponsorSettings,
    now: OffsetDateTime,
) -> ApiResult<entity::Model> {
    entity::ActiveModel {
        id: Set(SponsorId::new()),
        event_id: Set(event_id),
        name: Set(settings.name),
        description: Set(settings.description),
        privacy_policy_url: Set(settings.privacy_policy_url),
        booth_code: Set(new_booth_code()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(name_conflict)
}

fn name_conflict(e: sea_orm::DbErr) -> ApiError {
    if is_unique_violation(&e) {
        ApiError::conflict(
            ProblemCode::SponsorNameTaken,
            "name",
            "This event has a sponsor of this name.",
        )
    } else {
        e.into()
    }
}

/// The sponsor `sponsor_id` of the organisation's event `event_id`, or not found.
pub async fn find_owned(
    db: &impl ConnectionTrait,
    auth: &OrganiserAuth,
    event_id: EventId,
    sponsor_id: SponsorId,
) -> ApiResult<entity::Model> {
    events::find_owned(db, auth.organisation_id, event_id).await?;
    entity::Entity::find_by_id(sponsor_id)
        .filter(entity::Column::EventId.eq(event_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)
}

// ---------------------------------------------------------------------------------------------
// Routes

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSponsor {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The sponsor's own privacy policy; shown beside its opt-in. Must be https.
    pub privacy_policy_url: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SponsorChange {
    pub name: Option<String>,
    pub description: Option<String>,
    pub privacy_policy_url: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SponsorView {
    pub id: SponsorId,
    pub event_id: EventId,
    pub name: String,
    pub description: String,
    pub privacy_policy_url: String,
    /// The code of the sponsor's booth link, `/s/{booth_code}`: attendees open it on their own
    /// phone to share their details with this sponsor. Its QR code is at
    /// `/api/v1/booths/{booth_code}/qr.svg`.
    pub booth_code: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<entity::Model> for SponsorView {
    fn from(m: entity::Model) -> Self {
        Self {
            id: m.id,
            event_id: m.event_id,
            name: m.name,
            description: m.description,
            privacy_policy_url: m.privacy_policy_url,
            booth_code: m.booth_code,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// The sponsors of one of the organiser's events, by name.
#[utoipa::path(
    get, path = "/events/{event}/sponsors", tag = "sponsors",
    security(("bearer" = []), ("session_cookie" = [])),
    params(("event" = Uuid, Path, description = "The event id")),
    responses(
        (status = 200, body = Vec<SponsorView>),
        crate::error::responses::Unauthorized,
        crate::error::responses::NotFound,
    )
)]
async fn list_sponsors(
    State(state): State<AppState>,
    auth: OrganiserAuth,
    ApiPath(event_id): ApiPath<EventId>,
) -> ApiResult<Json<Vec<SponsorView>>> {
    events::find_owned(&state.db, auth.organisation_id, event_id).await?;
    let sponsors = list_for_event(&state.db, event_id).await?;
    Ok(Json(sponsors.into_iter().map(SponsorView::from).collect()))
}

/// Add a sponsor to one of the organiser's events.
#[utoipa::path(
    post, path = "/events/{event}/sponsors", tag = "sponsors",
    security(("bearer" = []), ("session_cookie" = [])),
    params(("event" = Uuid, Path, description = "The event id")),
    request_body = NewSponsor,
    responses(
        (status = 201, body = SponsorView, headers(("Location" = String))),
        crate::error::responses::Unauthorized,
        crate::error::responses::NotFound,
        (status = 409, description = "`sponsor_name_taken`; `sponsor_has_consents`: attendees consented to this sponsor by its name and privacy policy, which therefore cannot change", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_url`, `too_long`, …", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn create_sponsor(
    State(state): State<AppState>,
    auth: OrganiserAuth,
    ApiPath(event_id): ApiPath<EventId>,
    ApiJson(new): ApiJson<NewSponsor>,
) -> ApiResult<Response> {
    let settings = validate(SponsorSettings {
        name: new.name,
        description: new.description,
        privacy_policy_url: new.privacy_policy_url,
    })?;
    let txn = crate::db::begin_write(&state.db).await?;
    events::find_owned(&txn, auth.organisation_id, event_id).await?;
    let model = insert_sponsor(&txn, event_id, settings, state.clock.now()).await?;
    txn.commit().await?;
    tracing::info!(%event_id, sponsor_id = %model.id, "sponsor created");
    let location = format!("/api/v1/events/{event_id}/sponsors/{}", model.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(SponsorView::from(model)),
    )
        .into_response())
}

/// One sponsor of one of the organiser's events.
#[utoipa::path(
    get, path = "/events/{event}/sponsors/{sponsor_id}", tag = "sponsors",
    security(("bearer" = []), ("session_cookie" = [])),
    params(("event" = Uuid, Path, description = "The event id"), ("sponsor_id" = Uuid, Path)),
    responses(
        (status = 200, body = SponsorView),
        crate::error::responses::Unauthorized,
        crate::error::responses::NotFound,
    )
)]
async fn get_sponsor(
    State(state): State<AppState>,
    auth: OrganiserAuth,
    ApiPath((event_id, sponsor_id)): ApiPath<(EventId, SponsorId)>,
) -> ApiResult<Json<SponsorView>> {
    Ok(Json(
        find_owned(&state.db, &auth, event_id, sponsor_id)
            .await?
            .into(),
    ))
}

/// Change a sponsor; omitted fields stay as they are.
#[utoipa::path(
    patch, path = "/events/{event}/sponsors/{sponsor_id}", tag = "sponsors",
    security(("bearer" = []), ("session_cookie" = [])),
    params(("event" = Uuid, Path, description = "The event id"), ("sponsor_id" = Uuid, Path)),
    request_body = SponsorChange,
    responses(
        (status = 200, body = SponsorView),
        crate::error::responses::Unauthorized,
        crate::error::responses::NotFound,
        (status = 409, description = "`sponsor_name_taken`; `sponsor_has_consents`: attendees consented to this sponsor by its name and privacy policy, which therefore cannot change", body = Problem, content_type = "application/problem+json"),
        crate::error::responses::Unprocessable,
    )
)]
async fn update_sponsor(
    State(state): State<AppState>,
    auth: OrganiserAuth,
    ApiPath((event_id, sponsor_id)): ApiPath<(EventId, SponsorId)>,
    ApiJson(change): ApiJson<SponsorChange>,
) -> ApiResult<Json<SponsorView>> {
    let txn = crate::db::begin_write(&state.db).await?;
    let current = find_owned(&txn, &auth, event_id, sponsor_id).await?;
    let next = validate(SponsorSettings {
        name: change.name.unwrap_or_else(|| current.name.clone()),
        description: change
            .description
            .unwrap_or_else(|| current.description.clone()),
        privacy_policy_url: change
            .privacy_policy_url
            .unwrap_or_else(|| current.privacy_policy_url.clone()),
    })?;
    // Any consent ever given to this sponsor, current or since withdrawn: the ledger's proof
    // names the sponsor as it was.
    let purpose = crate::consents::Purpose::Sponsor(current.id).to_string();
    let has_consents = ledger::Entity::find()
        .filter(ledger::Column::EventId.eq(event_id))
        .filter(ledger::Column::Purpose.eq(purpose))
        .filter(ledger::Column::Granted.eq(true))
        .one(&txn)
        .await?
        .is_some();
    let before = SponsorSettings {
        name: current.name.clone(),
        description: current.description.clone(),
        privacy_policy_url: current.privacy_policy_url.clone(),
    };
    check_identity_change(&before, &next, has_consents)?;
    // A registration page showing the old name or policy must not bind anyone to the new one: it
    // gets `notice_outdated` and reloads.
    if before.name != next.name || before.privacy_policy_url != next.privacy_policy_url {
        events::entity::Entity::update_many()
            .col_expr(
                events::entity::Column::PrivacyNoticeVersion,
                Expr::col(events::entity::Column::PrivacyNoticeVersion).add(1),
            )
            .filter(events::entity::Column::Id.eq(event_id))
            .exec(&txn)
            .await?;
    }
    let updated = entity::ActiveModel {
        id: Set(current.id),
        name: Set(next.name),
        description: Set(next.description),
        privacy_policy_url: Set(next.privacy_policy_url),
        updated_at: Set(state.clock.now()),
        ..Default::default()
    }
    .update(&txn)
    .await
    .map_err(name_conflict)?;
    txn.commit().await?;
    Ok(Json(updated.into()))
}

/// Remove a sponsor from one of the organiser's events.
#[utoipa::path(
    delete, path = "/events/{event}/sponsors/{sponsor_id}", tag = "sponsors",
    security(("bearer" = []), ("session_cookie" = [])),
    params(("event" = Uuid, Path, description = "The event id"), ("sponsor_id" = Uuid, Path)),
    responses(
        (status = 204, description = "Deleted"),
        crate::error::responses::Unauthorized,
        crate::error::responses::NotFound,
    )
)]
async fn delete_sponsor(
    State(state): State<AppState>,
    auth: OrganiserAuth,
    ApiPath((event_id, sponsor_id)): ApiPath<(EventId, SponsorId)>,
) -> ApiResult<StatusCode> {
    let txn = crate::db::begin_write(&state.db).await?;
    let sponsor = find_owned(&txn, &auth, event_id, sponsor_id).await?;
    // Its pending booth links go with it (the foreign key cascades as a second line).
    crate::schema::booth_links::Entity::delete_many()
        .filter(crate::schema::booth_links::Column::SponsorId.eq(sponsor.id))
        .exec(&txn)
        .await?;
    entity::Entity::delete_by_id(sponsor.id).exec(&txn).await?;
    txn.commit().await?;
    tracing::info!(%event_id, %sponsor_id, "sponsor deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> SponsorSettings {
        SponsorSettings {
            name: "Acme".into(),
            description: "Widgets.\nAnd more.".into(),
            privacy_policy_url: "https://acme.example/privacy".into(),
        }
    }

    #[test]
    fn sponsors_need_a_name_and_an_https_policy() {
        assert!(validate(settings()).is_ok());
        let err = validate(SponsorSettings {
            name: "".into(),
            ..settings()
        })
        .unwrap_err();
        assert_eq!(
            (err.code.as_str(), err.field.as_str()),
            ("too_short", "name")
        );
        let err = validate(SponsorSettings {
            privacy_policy_url: "http://acme.example/privacy".into(),
            ..settings()
        })
        .unwrap_err();
        assert_eq!(
            (err.code.as_str(), err.field.as_str()),
            ("invalid_url", "privacy_policy_url")
        );
        let err = validate(SponsorSettings {
            description: "x".repeat(MAX_DESCRIPTION_CHARS + 1),
            ..settings()
        })
        .unwrap_err();
        assert_eq!(err.code, ProblemCode::TooLong);
    }

    #[test]
    fn a_consented_sponsor_keeps_its_name_and_policy_but_not_its_description() {
        let current = settings();
        let renamed = SponsorSettings {
            name: "Data Broker Inc".into(),
            ..settings()
        };
        let new_policy = SponsorSettings {
            privacy_policy_url: "https://broker.example/privacy".into(),
            ..settings()
        };
        let described = SponsorSettings {
            description: "Booth 12".into(),
            ..settings()
        };
        for (next, field) in [(&renamed, "name"), (&new_policy, "privacy_policy_url")] {
            let refused = check_identity_change(&current, next, true).unwrap_err();
            assert_eq!(refused.code(), ProblemCode::SponsorHasConsents);
            assert_eq!(refused.problem().field.as_deref(), Some(field));
            assert!(check_identity_change(&current, next, false).is_ok());
        }
        assert!(check_identity_change(&current, &described, true).is_ok());
    }
}
