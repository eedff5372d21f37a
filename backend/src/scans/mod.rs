//! Scans: where consent is enforced at the booth. A kiosk submits a badge; the server decides
//! (`rules::decide`, after the badge's signature and event) and only a consented attendee becomes
//! a lead. A refusal stores nothing that links the attendee to the sponsor: the kiosk learns the
//! reason, the counters count it, and that is all.

pub mod entity;
pub mod rules;

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter,
    QuerySelect, Set,
    sea_query::{Expr, ExprTrait, IntoCondition, OnConflict},
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use self::{
    entity::{counter, request},
    rules::Refusal,
};
use crate::{
    badges::token::{self as badge, BadgeRejection},
    consents::{Purpose, entity::grant},
    error::{ApiError, ApiResult, Problem, is_unique_violation},
    events::entity as event,
    extract::ApiJson,
    kiosks::{self, KioskAuth},
    leads::{self, LeadView},
    registrations::{self, entity::registration},
    state::AppState,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(scan))
}

const MAX_BADGE_TOKEN_LEN: usize = 2048;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanRequest {
    /// The text of the badge's QR code.
    pub badge_token: String,
    /// A UUID the kiosk makes for this scan; sending it again gets the same answer and stores
    /// nothing new.
    pub client_scan_id: Uuid,
    /// When the badge was scanned (it may be earlier than now, for a queued offline scan).
    #[serde(with = "time::serde::rfc3339")]
    pub scanned_at: OffsetDateTime,
}

/// The answer to a scan: a lead, or only the reason for refusing it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ScanResult {
    Accepted { lead: Box<LeadView> },
    Refused { reason: Refusal },
}

impl IntoResponse for ScanResult {
    fn into_response(self) -> Response {
        let status = match self {
            Self::Accepted { .. } => StatusCode::CREATED,
            Self::Refused { .. } => StatusCode::OK,
        };
        (status, Json(self)).into_response()
    }
}

/// What a fresh decision concluded.
enum Decision {
    Accepted {
        registration: registration::Model,
        at: OffsetDateTime,
    },
    Refused {
        reason: Refusal,
        at: OffsetDateTime,
    },
}

/// Verify the badge and decide, reading only.
async fn decide(
    state: &AppState,
    auth: &KioskAuth,
    event: &event::Model,
    request: &ScanRequest,
    now: OffsetDateTime,
) -> ApiResult<Decision> {
    let at = rules::effective_time(request.scanned_at, now);
    let refuse = |reason| Ok(Decision::Refused { reason, at });
    if request.badge_token.len() > MAX_BADGE_TOKEN_LEN {
        return refuse(Refusal::InvalidBadge);
    }
    let kid = badge::token_kid(&request.badge_token);
    let Some(kid) = kid else {
        return refuse(Refusal::InvalidBadge);
    };
    // A badge of another event names that event's key: look it up among all keys with that kid.
    let keys = state
        .badge_keys
        .get(&state.keystore.db, event.id, Some(&kid))
        .await?;
    let claims = if keys.iter().any(|k| k.kid == kid) {
        badge::verify(&request.badge_token, &keys, event.id)
    } else {
        match crate::badges::key_by_kid(&state.keystore.db, &kid).await? {
            Some(foreign) => badge::verify(&request.badge_token, &[foreign], event.id),
            None => Err(BadgeRejection::Invalid),
        }
    };
    let claims = match claims {
        Ok(claims) => claims,
        Err(rejection) => return refuse(rejection.into()),
    };
    // The registration and its grant for this sponsor, in one round trip.
    let purpose = Purpose::Sponsor(auth.sponsor_id).to_string();
    let this_sponsors_grant = grant::Entity::belongs_to(registration::Entity)
        .from(grant::Column::RegistrationId)
        .to(registration::Column::Id)
        .on_condition(move |_, _| {
            Expr::col((grant::Entity, grant::Column::Purpose))
                .eq(purpose.clone())
                .into_condition()
        });
    let found = registration::Entity::find()
        .join_rev(JoinType::LeftJoin, this_sponsors_grant.into())
        .select_also(grant::Entity)
        .filter(registration::Column::BadgeId.eq(claims.bid))
        .filter(registration::Column::EventId.eq(event.id))
        .one(&state.db)
        .await?;
    let attendee = found.as_ref().map(|(r, grant)| rules::Attendee {
        restricted: r.restricted_at.is_some(),
        consented_to_this_sponsor: grant.is_some(),
    });
    let registration = found.map(|(r, _)| r);
    match (
        rules::decide(attendee, at, event.starts_at, event.ends_at),
        registration,
    ) {
        (Ok(()), Some(registration)) => Ok(Decision::Accepted { registration, at }),
        (Err(reason), _) => refuse(reason),
        // `decide` refuses an unknown badge itself; this arm only keeps the match total.
        (Ok(()), None) => refuse(Refusal::UnknownBadge),
    }
}

/// Count one scan for the sponsor's statistics and the kiosk's.
async fn count(
    db: &impl ConnectionTrait,
    auth: &KioskAuth,
    outcome: &str,
    at: OffsetDateTime,
) -> Result<(), sea_orm::DbErr> {
    let day = at.date().to_string();
    counter::Entity::insert(counter::ActiveModel {
        event_id: Set(auth.event.id),
        sponsor_id: Set(auth.sponsor_id),
        day: Set(day),
        outcome: Set(outcome.to_owned()),
        count: Set(1),
    })
    .on_conflict(
        OnConflict::columns([
            counter::Column::EventId,
            counter::Column::SponsorId,
            counter::Column::Day,
            counter::Column::Outcome,
        ])
        .value(
            counter::Column::Count,
            Expr::col((counter::Entity, counter::Column::Count)).add(1),
        )
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    let column = if outcome == "accepted" {
        kiosks::entity::Column::AcceptedCount
    } else {
        kiosks::entity::Column::RefusedCount
    };
    kiosks::entity::Entity::update_many()
        .col_expr(column, Expr::col(column).add(1))
        .filter(kiosks::entity::Column::Id.eq(auth.kiosk_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The answer already given to this (kiosk, client scan id), as it stands now.
async fn replay(
    state: &AppState,
    event: &event::Model,
    previous: request::Model,
) -> ApiResult<ScanResult> {
    if let Some(reason) = Refusal::parse(&previous.outcome) {
        return Ok(ScanResult::Refused { reason });
    }
    // An accepted scan whose lead has since gone (consent withdrawn) answers as today's truth:
    // the attendee's data is not handed out again.
    let lead = match previous.lead_id {
        Some(id) => leads::entity::Entity::find_by_id(id).one(&state.db).await?,
        None => None,
    };
    match lead {
        Some(lead) => Ok(ScanResult::Accepted {
            lead: Box::new(lead_view(state, event, &lead).await?),
        }),
        None => Ok(ScanResult::Refused {
            reason: Refusal::NoConsent,
        }),
    }
}

async fn lead_view(
    state: &AppState,
    event: &event::Model,
    lead: &leads::entity::Model,
) -> ApiResult<LeadView> {
    let vault = state.vault(event.id).await?;
    leads::views(&state.db, &vault, event, std::slice::from_ref(lead))
        .await?
        .pop()
        .ok_or(ApiError::NotFound)
}

/// The view of a lead just recorded, from the registration the decision already read.
async fn new_lead_view(
    state: &AppState,
    event: &event::Model,
    lead: &leads::entity::Model,
    registration: &registration::Model,
) -> ApiResult<LeadView> {
    let vault = state.vault(event.id).await?;
    let details = registrations::open_details(&vault, registration)?;
    leads::view(
        &vault,
        lead,
        &details,
        &crate::events::rules::parse_shared_fields(&event.shared_fields),
    )
}

/// Decide and record once. `Ok(None)` means another request with the same client scan id won a
/// race; the caller replays its answer.
async fn attempt(
    state: &AppState,
    auth: &KioskAuth,
    event: &event::Model,
    request: &ScanRequest,
) -> ApiResult<Option<ScanResult>> {
    let now = state.clock.now();
    let decision = decide(state, auth, event, request, now).await?;
    let txn = crate::db::begin_write(&state.db).await?;
    let (outcome, lead, at) = match &decision {
        Decision::Accepted { registration, at } => {
            let lead =
                leads::record_scan(&txn, event.id, auth.sponsor_id, registration.id, *at, now)
                    .await;
            match lead {
                Ok(lead) => ("accepted", Some(lead), *at),
                Err(e) if is_unique_violation(&e) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
        Decision::Refused { reason, at } => (reason.as_str(), None, *at),
    };
    let recorded = request::ActiveModel {
        kiosk_id: Set(auth.kiosk_id),
        client_scan_id: Set(request.client_scan_id),
        event_id: Set(event.id),
        outcome: Set(outcome.to_owned()),
        lead_id: Set(lead.as_ref().map(|l| l.id)),
    }
    .insert(&txn)
    .await;
    match recorded {
        Err(e) if is_unique_violation(&e) => return Ok(None),
        other => other?,
    };
    count(&txn, auth, outcome, at).await?;
    txn.commit().await?;
    Ok(Some(match (decision, lead) {
        (Decision::Accepted { registration, .. }, Some(lead)) => ScanResult::Accepted {
            lead: Box::new(new_lead_view(state, event, &lead, &registration).await?),
        },
        (Decision::Refused { reason, .. }, _) => ScanResult::Refused { reason },
        (Decision::Accepted { .. }, None) => ScanResult::Refused {
            reason: Refusal::NoConsent,
        },
    }))
}

/// Submit a scanned badge.
///
/// Accepted (201): the lead, with only the contact fields the event shares. Refused (200): only
/// the reason — `invalid_badge`, `wrong_event`, `unknown_badge`, `outside_scan_window`,
/// `restricted`, `no_consent`, decided in that order — and nothing linking the attendee to this
/// sponsor is stored. The same `client_scan_id` again gets the same answer and stores nothing.
/// The same badge scanned again makes no second lead: its scan count and last scan time grow.
#[utoipa::path(
    post, path = "/scans", tag = "scans",
    security(("kiosk" = [])),
    request_body = ScanRequest,
    responses(
        (status = 201, description = "Accepted: a lead", body = ScanResult),
        (status = 200, description = "Refused: the reason only", body = ScanResult),
        (status = 401, description = "`kiosk_revoked`, `invalid_kiosk_token`, `kiosk_token_expired`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`data_purged`: the event's attendee data is due for deletion", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
async fn scan(
    State(state): State<AppState>,
    auth: KioskAuth,
    ApiJson(request): ApiJson<ScanRequest>,
) -> ApiResult<ScanResult> {
    let event = &auth.event;
    // Kiosk tokens expire at the purge date they were issued with; a retention shortened since
    // must hold too.
    crate::retention::ensure_data_held(event, state.clock.now())?;
    for _ in 0..3 {
        let previous = request::Entity::find_by_id((auth.kiosk_id, request.client_scan_id))
            .one(&state.db)
            .await?;
        if let Some(previous) = previous {
            return replay(&state, event, previous).await;
        }
        if let Some(result) = attempt(&state, &auth, event, &request).await? {
            return Ok(result);
        }
    }
    Err(ApiError::Internal(anyhow::anyhow!(
        "scan kept racing with itself"
    )))
}
