//! The event dashboard: counts and rates only, never a person. After the purge it shows the
//! aggregates the purge kept.

use std::collections::BTreeMap;

use axum::{Json, extract::State};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
    sea_query::{Condition, Expr, ExprTrait, Query},
};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::schema::ids::{EventId, SponsorId};
use crate::schema::scans::ScanOutcome;
use crate::{
    auth::OrganiserAuth,
    consents::{
        Purpose,
        entity::{grant, ledger},
    },
    error::ApiResult,
    events::{self, rules::purge_due_at},
    exports,
    extract::ApiPath,
    leads,
    registrations::entity::registration,
    scans::entity::counter,
    schema::sponsor_aggregates::sponsor_aggregate as aggregate,
    sponsors,
    state::AppState,
};
use sea_orm::ActiveEnum as _;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(event_stats))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventStats {
    pub registrations: u64,
    pub marketing_opt_ins: u64,
    /// Share of registrations that opted in to marketing, 0–1.
    pub marketing_opt_in_rate: f64,
    pub sponsors: Vec<SponsorStats>,
    pub exports: u64,
    /// When this event's personal data will be purged.
    #[serde(with = "time::serde::rfc3339")]
    pub purge_due_at: OffsetDateTime,
    /// When the purge removed the attendee data; from then on the counts are the ones it kept.
    #[serde(with = "time::serde::rfc3339::option")]
    pub purged_at: Option<OffsetDateTime>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SponsorStats {
    pub sponsor_id: SponsorId,
    pub name: String,
    pub opt_ins: u64,
    /// Share of registrations that opted in to this sponsor, 0–1.
    pub opt_in_rate: f64,
    pub leads: u64,
    pub scans_accepted: u64,
    /// Refused scans by reason (`no_consent`, `invalid_badge`, …).
    pub scans_refused: BTreeMap<String, u64>,
    pub exports: u64,
    /// The current opt-ins by where they were given: `registration` (the form), `manage` (the
    /// manage link, later), `booth` (at the sponsor's booth), `unknown` (given before this was
    /// recorded). Counted from the consent ledger, so empty once the event is purged.
    pub opt_ins_by_occasion: BTreeMap<String, u64>,
}

fn rate(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Counts over an event's attendee rows: what the dashboard shows, and what the purge keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttendeeCounts {
    pub registrations: u64,
    pub marketing_opt_ins: u64,
    /// Current opt-ins per sponsor.
    pub opt_ins: BTreeMap<SponsorId, u64>,
    /// Leads per sponsor.
    pub leads: BTreeMap<SponsorId, u64>,
}

/// A count as stored (`i64`, never negative in practice) as the dashboard reports it.
pub fn count_of(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Count the event's registrations, opt-ins and leads from the attendee rows themselves.
pub async fn attendee_counts(
    db: &impl ConnectionTrait,
    event_id: EventId,
) -> Result<AttendeeCounts, sea_orm::DbErr> {
    let registrations = registration::Entity::find()
        .filter(registration::Column::EventId.eq(event_id))
        .count(db)
        .await?;
    let of_event = Query::select()
        .column(registration::Column::Id)
        .from(registration::Entity)
        .and_where(Expr::col(registration::Column::EventId).eq(event_id))
        .to_owned();
    let grants = grant::Entity::find()
        .select_only()
        .column(grant::Column::Purpose)
        .column_as(Expr::col(grant::Column::RegistrationId).count(), "n")
        .filter(Expr::col(grant::Column::RegistrationId).in_subquery(of_event))
        .group_by(grant::Column::Purpose)
        .into_tuple::<(String, i64)>()
        .all(db)
        .await?;
    let mut counts = AttendeeCounts {
        registrations,
        ..AttendeeCounts::default()
    };
    for (purpose, n) in grants {
        match purpose.parse::<Purpose>() {
            Ok(Purpose::Marketing) => counts.marketing_opt_ins = count_of(n),
            Ok(Purpose::Sponsor(id)) => {
                counts.opt_ins.insert(id, count_of(n));
            }
            Err(_) => {}
        }
    }
    counts.leads = leads::entity::Entity::find()
        .select_only()
        .column(leads::entity::Column::SponsorId)
        .column_as(Expr::col(leads::entity::Column::Id).count(), "n")
        .filter(leads::entity::Column::EventId.eq(event_id))
        .group_by(leads::entity::Column::SponsorId)
        .into_tuple::<(SponsorId, i64)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(id, n)| (id, count_of(n)))
        .collect();
    Ok(counts)
}

/// The event's current grants by purpose and by where each was given: each grant row joined to
/// the ledger entry that recorded it (same registration, purpose and time).
pub async fn grants_by_occasion(
    db: &impl ConnectionTrait,
    event_id: EventId,
) -> Result<BTreeMap<String, BTreeMap<String, u64>>, sea_orm::DbErr> {
    let query = Query::select()
        .column((ledger::Entity, ledger::Column::Purpose))
        .column((ledger::Entity, ledger::Column::Occasion))
        .expr_as(
            Expr::col((grant::Entity, grant::Column::Purpose)).count(),
            "n",
        )
        .from(grant::Entity)
        .inner_join(
            ledger::Entity,
            Condition::all()
                .add(
                    Expr::col((ledger::Entity, ledger::Column::RegistrationId))
                        .equals((grant::Entity, grant::Column::RegistrationId)),
                )
                .add(
                    Expr::col((ledger::Entity, ledger::Column::Purpose))
                        .equals((grant::Entity, grant::Column::Purpose)),
                )
                .add(
                    Expr::col((ledger::Entity, ledger::Column::RecordedAt))
                        .equals((grant::Entity, grant::Column::GrantedAt)),
                )
                .add(Expr::col((ledger::Entity, ledger::Column::Granted)).eq(true)),
        )
        .and_where(Expr::col((ledger::Entity, ledger::Column::EventId)).eq(event_id))
        .group_by_col((ledger::Entity, ledger::Column::Purpose))
        .group_by_col((ledger::Entity, ledger::Column::Occasion))
        .to_owned();
    let rows = db
        .query_all_raw(db.get_database_backend().build(&query))
        .await?;
    let mut out: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for row in rows {
        let purpose: String = row.try_get("", "purpose")?;
        let occasion: Option<String> = row.try_get("", "occasion")?;
        let n: i64 = row.try_get("", "n")?;
        *out.entry(purpose)
            .or_default()
            .entry(occasion.unwrap_or_else(|| "unknown".to_owned()))
            .or_default() += count_of(n);
    }
    Ok(out)
}

/// Registrations, opt-in rates per sponsor and for marketing, scans accepted and refused by reason
/// per sponsor, leads and exports per sponsor, and the purge date.
#[utoipa::path(
    get, path = "/events/{event}/stats", tag = "events",
    security(("bearer" = []), ("session_cookie" = [])),
    params(("event" = Uuid, Path, description = "The event id")),
    responses(
        (status = 200, body = EventStats),
        crate::error::responses::Unauthorized,
        crate::error::responses::NotFound,
    )
)]
async fn event_stats(
    State(state): State<AppState>,
    auth: OrganiserAuth,
    ApiPath(event_id): ApiPath<EventId>,
) -> ApiResult<Json<EventStats>> {
    let event = events::find_owned(&state.db, auth.organisation_id, event_id).await?;
    let db = &state.db;
    let attendees = match event.registrations_at_purge {
        Some(_) => kept_counts(db, &event).await?,
        None => attendee_counts(db, event_id).await?,
    };
    let registrations = attendees.registrations;
    let counters = counter::Entity::find()
        .filter(counter::Column::EventId.eq(event_id))
        .all(db)
        .await?;
    let export_counts: BTreeMap<SponsorId, i64> = exports::entity::export::Entity::find()
        .select_only()
        .column(exports::entity::export::Column::SponsorId)
        .column_as(Expr::col(exports::entity::export::Column::Id).count(), "n")
        .filter(exports::entity::export::Column::EventId.eq(event_id))
        .group_by(exports::entity::export::Column::SponsorId)
        .into_tuple::<(SponsorId, i64)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let count = |n: Option<&i64>| count_of(n.copied().unwrap_or(0));
    let mut by_occasion = grants_by_occasion(db, event_id).await?;

    let sponsors = sponsors::list_for_event(db, event_id)
        .await?
        .into_iter()
        .map(|s| {
            let opt_ins = attendees.opt_ins.get(&s.id).copied().unwrap_or(0);
            let mut scans_accepted = 0;
            let mut scans_refused = BTreeMap::new();
            for c in counters.iter().filter(|c| c.sponsor_id == s.id) {
                let n = count_of(c.count);
                if c.outcome == ScanOutcome::Accepted {
                    scans_accepted += n;
                } else {
                    *scans_refused.entry(c.outcome.to_value()).or_insert(0) += n;
                }
            }
            SponsorStats {
                opt_ins,
                opt_in_rate: rate(opt_ins, registrations),
                leads: attendees.leads.get(&s.id).copied().unwrap_or(0),
                exports: count(export_counts.get(&s.id)),
                scans_accepted,
                scans_refused,
                opt_ins_by_occasion: by_occasion
                    .remove(&Purpose::Sponsor(s.id).to_string())
                    .unwrap_or_default(),
                sponsor_id: s.id,
                name: s.name,
            }
        })
        .collect();
    let marketing = attendees.marketing_opt_ins;
    Ok(Json(EventStats {
        registrations,
        marketing_opt_ins: marketing,
        marketing_opt_in_rate: rate(marketing, registrations),
        sponsors,
        exports: export_counts.values().map(|n| count_of(*n)).sum(),
        purge_due_at: purge_due_at(event.ends_at, event.retention_days),
        purged_at: event.purged_at,
    }))
}

/// The counts a purged event keeps.
pub async fn kept_counts(
    db: &impl ConnectionTrait,
    event: &events::entity::Model,
) -> Result<AttendeeCounts, sea_orm::DbErr> {
    let per_sponsor = aggregate::Entity::find()
        .filter(aggregate::Column::EventId.eq(event.id))
        .all(db)
        .await?;
    let n = count_of;
    Ok(AttendeeCounts {
        registrations: n(event.registrations_at_purge.unwrap_or(0)),
        marketing_opt_ins: n(event.marketing_opt_ins_at_purge.unwrap_or(0)),
        opt_ins: per_sponsor
            .iter()
            .map(|a| (a.sponsor_id, n(a.opt_ins)))
            .collect(),
        leads: per_sponsor
            .iter()
            .map(|a| (a.sponsor_id, n(a.leads)))
            .collect(),
    })
}
