//! Scans: where consent is enforced at the booth. A kiosk submits a badge; the server decides
//! (`rules::decide`, after the badge's signature and event) and only a consented attendee becomes
//! a lead. A refusal stores nothing that links the attendee to the sponsor: the kiosk learns the
//! reason, the counters count it, and that is all.

pub use crate::schema::scans as entity;
pub mod rules;

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set,
    sea_query::{Expr, ExprTrait, OnConflict},
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
use crate::schema::ids::RegistrationId;
use crate::schema::scans::ScanOutcome;
use crate::{
    badges::token::{self as badge, BadgeRejection},
    disclosure::{self, Gate, LeadContact, Locked},
    error::{ApiError, ApiResult, Problem, is_unique_violation},
    extract::ApiJson,
    kiosks::KioskAuth,
    leads::{self, LeadView},
    problem::ProblemCode,
    schema::events as event,
    schema::kiosks as kiosk_rows,
    schema::registrations::registration,
    state::AppState,
    vault::EventVault,
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

/// The badge's registration id, once its signature and event are verified.
async fn verify_badge(
    state: &AppState,
    event: &event::Model,
    badge_token: &str,
) -> ApiResult<Result<Uuid, Refusal>> {
    if badge_token.len() > MAX_BADGE_TOKEN_LEN {
        return Ok(Err(Refusal::InvalidBadge));
    }
    let Some(kid) = badge::token_kid(badge_token) else {
        return Ok(Err(Refusal::InvalidBadge));
    };
    // A badge of another event names that event's key: look it up among all keys with that kid.
    let keys = state
        .badge_keys
        .get(&state.keystore.db, event.id, Some(&kid))
        .await?;
    let claims = if keys.iter().any(|k| k.kid == kid) {
        badge::verify(badge_token, &keys, event.id.as_uuid())
    } else {
        match crate::keystore::badge_keys::key_by_kid(&state.keystore.db, &kid).await? {
            Some(foreign) => badge::verify(badge_token, &[foreign], event.id.as_uuid()),
            None => Err(BadgeRejection::Invalid),
        }
    };
    Ok(claims.map(|c| c.bid).map_err(Refusal::from))
}

/// What the gate made of an accepted attendee: the registration and the contact released.
struct Accepted {
    registration_id: RegistrationId,
    contact: LeadContact,
}

/// Decide inside the write transaction `txn`, from the rows as they are now, read in one
/// statement: the scan's own rules (known badge, scan window), then the disclosure gate
/// (restriction, a grant that covers this sponsor as it is). On PostgreSQL an accepted attendee's
/// grant and registration stay locked until `txn` ends, so a withdrawal or erasure cannot slip
/// between this decision and the lead.
async fn decide(
    txn: &impl ConnectionTrait,
    vault: &EventVault,
    auth: &KioskAuth,
    badge_id: Uuid,
    at: OffsetDateTime,
    now: OffsetDateTime,
) -> ApiResult<Result<Accepted, Refusal>> {
    let found = disclosure::badge_facts(txn, auth.event.id, auth.sponsor_id, badge_id).await?;
    let Some((mut attendee, event, sponsor)) = found else {
        return Ok(Err(Refusal::UnknownBadge));
    };
    let gate = Gate::from_rows(event, sponsor.ok_or(ApiError::NotFound)?, now)?;
    if let Err(refusal) = rules::decide(true, at, gate.event.starts_at, gate.event.ends_at) {
        return Ok(Err(refusal));
    }
    if gate
        .decide(attendee.0.restricted_at.is_some(), attendee.1.as_ref())
        .is_ok()
    {
        match disclosure::lock_attendee(txn, gate.sponsor.id, attendee.0.id).await? {
            Locked::NotNeeded => {}
            Locked::Now(now) => attendee = *now,
            Locked::Gone => attendee.1 = None,
        }
    }
    Ok(gate
        .release(vault, &attendee)?
        .map(|contact| Accepted {
            registration_id: attendee.0.id,
            contact,
        })
        .map_err(Refusal::from))
}

/// Count one scan for the sponsor's statistics and the kiosk's.
async fn count(
    db: &impl ConnectionTrait,
    auth: &KioskAuth,
    outcome: ScanOutcome,
    at: OffsetDateTime,
) -> Result<(), sea_orm::DbErr> {
    let day = at.date().to_string();
    counter::Entity::insert(counter::ActiveModel {
        event_id: Set(auth.event.id),
        sponsor_id: Set(auth.sponsor_id),
        day: Set(day),
        outcome: Set(outcome),
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
    let column = if outcome == ScanOutcome::Accepted {
        kiosk_rows::Column::AcceptedCount
    } else {
        kiosk_rows::Column::RefusedCount
    };
    kiosk_rows::Entity::update_many()
        .col_expr(column, Expr::col(column).add(1))
        .filter(kiosk_rows::Column::Id.eq(auth.kiosk_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The answer to a client scan id already used by this kiosk, as it stands now: a refused scan's
/// reason only; an accepted scan's lead only if the badge sent is that lead's badge, and then only
/// what the gate releases today.
async fn replay(
    state: &AppState,
    auth: &KioskAuth,
    vault: &EventVault,
    request: &ScanRequest,
    previous: request::Model,
) -> ApiResult<ScanResult> {
    if let Some(reason) = Refusal::of(previous.outcome) {
        return Ok(ScanResult::Refused { reason });
    }
    let reused = || ApiError::Conflict {
        code: ProblemCode::ClientScanIdReused,
        field: Some("client_scan_id".into()),
        detail: "This kiosk already used this client scan id for another badge.".into(),
    };
    let badge_id = verify_badge(state, &auth.event, &request.badge_token)
        .await?
        .map_err(|_| reused())?;
    let gate = Gate::open(&state.db, auth.event.id, auth.sponsor_id, state.clock.now()).await?;
    let lead = match previous.lead_id {
        Some(id) => {
            leads::entity::Entity::find_by_id(id)
                .filter(leads::entity::Column::SponsorId.eq(auth.sponsor_id))
                .one(&state.db)
                .await?
        }
        None => None,
    };
    // The lead goes with its consent, and its scan record with it; a record without one answers
    // as today's truth would.
    let Some(lead) = lead else {
        return Ok(ScanResult::Refused {
            reason: Refusal::NoConsent,
        });
    };
    let attendee = gate
        .attendees(&state.db, registration::Column::Id.eq(lead.registration_id))
        .await?
        .pop();
    let Some(attendee) = attendee else {
        return Ok(ScanResult::Refused {
            reason: Refusal::NoConsent,
        });
    };
    if attendee.0.badge_id != badge_id {
        return Err(reused());
    }
    match gate.release(vault, &attendee)? {
        Ok(contact) => Ok(ScanResult::Accepted {
            lead: Box::new(leads::view(vault, &lead, contact)?),
        }),
        Err(withheld) => Ok(ScanResult::Refused {
            reason: withheld.into(),
        }),
    }
}

/// Decide and record once. `Ok(None)` means another request with the same client scan id won a
/// race; the caller replays its answer.
async fn attempt(
    state: &AppState,
    auth: &KioskAuth,
    vault: &EventVault,
    request: &ScanRequest,
    scan_key: Uuid,
) -> ApiResult<Option<ScanResult>> {
    let now = state.clock.now();
    let at = rules::effective_time(request.scanned_at, now);
    // Signature checks need no lock: done before the transaction.
    let verified = verify_badge(state, &auth.event, &request.badge_token).await?;
    // The decision is read inside the write transaction (the disclosure gate's rule), which on
    // SQLite holds the one write lock for longer: scans wait for it in a queue of this process,
    // not asleep in SQLite's busy handler (p99 17 ms instead of 60, docs/BENCHMARKS.md).
    let turn = match state.db.get_database_backend() {
        sea_orm::DbBackend::Sqlite => Some(state.scan_writer.lock().await),
        _ => None,
    };
    let txn = crate::db::begin_write(&state.db).await?;
    let decision = match verified {
        Ok(badge_id) => decide(&txn, vault, auth, badge_id, at, now).await?,
        Err(refusal) => Err(refusal),
    };
    let (outcome, lead) = match &decision {
        Ok(accepted) => {
            let lead = leads::record_scan(
                &txn,
                auth.event.id,
                auth.sponsor_id,
                accepted.registration_id,
                at,
                now,
            )
            .await;
            match lead {
                Ok(lead) => (ScanOutcome::Accepted, Some(lead)),
                Err(e) if is_unique_violation(&e) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
        Err(reason) => (ScanOutcome::from(*reason), None),
    };
    let recorded = request::ActiveModel {
        kiosk_id: Set(auth.kiosk_id),
        scan_key: Set(scan_key),
        event_id: Set(auth.event.id),
        outcome: Set(outcome),
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
    drop(turn);
    Ok(Some(match (decision, lead) {
        (Ok(accepted), Some(lead)) => ScanResult::Accepted {
            lead: Box::new(leads::view(vault, &lead, accepted.contact)?),
        },
        (Err(reason), _) => ScanResult::Refused { reason },
        (Ok(_), None) => ScanResult::Refused {
            reason: Refusal::NoConsent,
        },
    }))
}

/// Submit a scanned badge.
///
/// Accepted (201): the lead, with only the contact fields the event shares. Refused (200): only
/// the reason — `invalid_badge`, `wrong_event`, `unknown_badge`, `outside_scan_window`,
/// `restricted`, `no_consent`, decided in that order — and nothing linking the attendee to this
/// sponsor is stored. The same `client_scan_id` again gets the answer as it stands now (a
/// refusal's reason; an accepted scan's lead only through the disclosure gate, as of now) and
/// stores nothing; an accepted scan's id sent again with another badge is refused with 409
/// `client_scan_id_reused` (a refused scan's id answers its reason only, whatever the badge).
/// The same badge scanned again makes no second lead: its scan count and last scan time grow.
#[utoipa::path(
    post, path = "/scans", tag = "scans",
    security(("kiosk" = [])),
    request_body = ScanRequest,
    responses(
        (status = 201, description = "Accepted: a lead", body = ScanResult),
        (status = 200, description = "Refused: the reason only", body = ScanResult),
        (status = 401, description = "`kiosk_revoked`, `invalid_kiosk_token`, `kiosk_token_expired`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`data_purged`: the event's attendee data is due for deletion; `client_scan_id_reused`: this kiosk used this client scan id for another badge", body = Problem, content_type = "application/problem+json"),
        crate::error::responses::Unprocessable,
    )
)]
pub(crate) async fn scan(
    State(state): State<AppState>,
    auth: KioskAuth,
    ApiJson(request): ApiJson<ScanRequest>,
) -> ApiResult<ScanResult> {
    let result = answer(&state, &auth, &request).await?;
    match &result {
        ScanResult::Accepted { .. } => state.metrics.scan("accepted", None),
        ScanResult::Refused { reason } => state.metrics.scan("refused", Some(reason.as_str())),
    }
    Ok(result)
}

/// The scan's answer: a new decision, or the one a replay of its client scan id gets.
async fn answer(
    state: &AppState,
    auth: &KioskAuth,
    request: &ScanRequest,
) -> ApiResult<ScanResult> {
    // Kiosk tokens expire at the purge date they were issued with; a retention shortened since
    // must hold too (the gate checks again inside the transaction).
    crate::events::lifecycle::ensure_data_held(&auth.event, state.clock.now())?;
    let vault = state.vault(auth.event.id).await?;
    let scan_key = vault.scan_request_key(auth.kiosk_id, request.client_scan_id);
    for _ in 0..3 {
        let previous = request::Entity::find_by_id((auth.kiosk_id, scan_key))
            .one(&state.db)
            .await?;
        if let Some(previous) = previous {
            return replay(state, auth, &vault, request, previous).await;
        }
        if let Some(result) = attempt(state, auth, &vault, request, scan_key).await? {
            return Ok(result);
        }
    }
    Err(ApiError::Internal(anyhow::anyhow!(
        "scan kept racing with itself"
    )))
}
