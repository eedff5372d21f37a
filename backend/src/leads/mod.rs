//! Leads: what a sponsor's kiosk sees of the attendees who consented to it and whose badges it
//! scanned — only the contact fields the event shares — plus the sponsor's own rating, note and
//! tags. A lead exists only while its consent does, and is hidden while the attendee restricts
//! processing.

pub use crate::schema::leads as entity;

use axum::{Json, extract::State};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
    sea_query::{Expr, ExprTrait, Query},
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub use crate::disclosure::LeadContact;
use crate::schema::ids::EventId;
use crate::schema::ids::LeadId;
use crate::schema::ids::{RegistrationId, SponsorId};
use crate::{
    audit,
    consents::{Purpose, entity::grant},
    disclosure::Gate,
    error::{ApiError, ApiResult, FieldError, Problem},
    extract::{ApiJson, ApiPath, ApiQuery, page_window},
    kiosks::KioskAuth,
    problem::ProblemCode,
    schema::registrations::registration,
    state::AppState,
    validation,
    vault::EventVault,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_leads))
        .routes(routes!(annotate_lead))
}

// ---------------------------------------------------------------------------------------------
// Rules

pub const MAX_NOTE_CHARS: usize = 2000;
pub const MAX_TAGS: usize = 10;
pub const MAX_TAG_CHARS: usize = 32;

/// The sponsor's own notes on a lead; sealed like personal data, since a note is often about the
/// person.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annotations {
    pub note: Option<String>,
    pub tags: Vec<String>,
}

pub fn validate_tags(tags: Vec<String>) -> Result<Vec<String>, FieldError> {
    if tags.len() > MAX_TAGS {
        return Err(FieldError::new(
            ProblemCode::TooManyTags,
            "tags",
            format!("At most {MAX_TAGS} tags."),
        ));
    }
    let mut clean = Vec::with_capacity(tags.len());
    for (i, tag) in tags.iter().enumerate() {
        let field = format!("tags[{i}]");
        let tag = validation::text("tags", tag, 1, MAX_TAG_CHARS, false).map_err(|mut e| {
            e.field = field;
            e
        })?;
        if !clean.contains(&tag) {
            clean.push(tag);
        }
    }
    Ok(clean)
}

// ---------------------------------------------------------------------------------------------
// Views and queries

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LeadView {
    pub id: LeadId,
    /// Only the contact fields the disclosure gate released: those the attendee's grant named
    /// and the event still shares.
    pub contact: LeadContact,
    #[serde(with = "time::serde::rfc3339")]
    pub first_scanned_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_scanned_at: OffsetDateTime,
    pub scan_count: i32,
    pub rating: Option<i16>,
    pub note: Option<String>,
    pub tags: Vec<String>,
}

/// The sponsor's note and tags on `lead`, opened with the event's vault.
pub fn open_annotations(vault: &EventVault, lead: &entity::Model) -> ApiResult<Annotations> {
    match &lead.annotations {
        Some(sealed) => serde_json::from_slice(&vault.open(lead.id, sealed)?)
            .map_err(|_| ApiError::Internal(anyhow::anyhow!("sealed annotations are malformed"))),
        None => Ok(Annotations::default()),
    }
}

/// A lead as its sponsor sees it, with the contact the gate released.
pub fn view(vault: &EventVault, lead: &entity::Model, contact: LeadContact) -> ApiResult<LeadView> {
    let annotations = open_annotations(vault, lead)?;
    Ok(LeadView {
        id: lead.id,
        contact,
        first_scanned_at: lead.first_scanned_at,
        last_scanned_at: lead.last_scanned_at,
        scan_count: lead.scan_count,
        rating: lead.rating,
        note: annotations.note,
        tags: annotations.tags,
    })
}

/// Record an accepted scan: a new lead, or one more scan of an existing one. A repeat is one
/// statement that counts it, widens the first/last range (queued offline scans arrive out of
/// order) and returns the lead, so concurrent scans of one badge lose no increment on any
/// database; two first scans racing meet at the unique (sponsor, registration) key, and the
/// caller retries the loser as a repeat.
pub async fn record_scan(
    db: &impl ConnectionTrait,
    event_id: EventId,
    sponsor_id: SponsorId,
    registration_id: RegistrationId,
    at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<entity::Model, sea_orm::DbErr> {
    use entity::Column;
    let counted = entity::Entity::update_many()
        .col_expr(Column::ScanCount, Expr::col(Column::ScanCount).add(1))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .col_expr(
            Column::LastScannedAt,
            Expr::case(Expr::col(Column::LastScannedAt).lt(at), at)
                .finally(Expr::col(Column::LastScannedAt))
                .into(),
        )
        .col_expr(
            Column::FirstScannedAt,
            Expr::case(Expr::col(Column::FirstScannedAt).gt(at), at)
                .finally(Expr::col(Column::FirstScannedAt))
                .into(),
        )
        .filter(Column::SponsorId.eq(sponsor_id))
        .filter(Column::RegistrationId.eq(registration_id))
        .exec_with_returning(db)
        .await?;
    if let Some(lead) = counted.into_iter().next() {
        return Ok(lead);
    }
    entity::ActiveModel {
        id: Set(LeadId::new()),
        event_id: Set(event_id),
        sponsor_id: Set(sponsor_id),
        registration_id: Set(registration_id),
        first_scanned_at: Set(at),
        last_scanned_at: Set(at),
        scan_count: Set(1),
        rating: Set(None),
        annotations: Set(None),
        updated_at: Set(now),
    }
    .insert(db)
    .await
}

/// A sponsor's visible leads: consent still granted, processing not restricted. Both checks are
/// correlated `EXISTS` lookups by primary key (`consent_grants (registration_id, purpose)`,
/// `registrations (id)`), so their cost follows the leads read, not the size of the event.
pub fn visible(sponsor_id: SponsorId) -> Expr {
    let consented = Query::select()
        .expr(Expr::val(1))
        .from(grant::Entity)
        .and_where(
            Expr::col((grant::Entity, grant::Column::RegistrationId))
                .equals((entity::Entity, entity::Column::RegistrationId)),
        )
        .and_where(
            Expr::col((grant::Entity, grant::Column::Purpose))
                .eq(Purpose::Sponsor(sponsor_id).to_string()),
        )
        .to_owned();
    let restricted = Query::select()
        .expr(Expr::val(1))
        .from(registration::Entity)
        .and_where(
            Expr::col((registration::Entity, registration::Column::Id))
                .equals((entity::Entity, entity::Column::RegistrationId)),
        )
        .and_where(
            Expr::col((registration::Entity, registration::Column::RestrictedAt)).is_not_null(),
        )
        .to_owned();
    Expr::exists(consented).and(Expr::exists(restricted).not())
}

/// Views of `leads` that the gate releases now; a lead it withholds is left out.
pub async fn views(
    db: &impl ConnectionTrait,
    vault: &EventVault,
    gate: &Gate,
    leads: &[entity::Model],
) -> ApiResult<Vec<LeadView>> {
    Ok(views_by_registration(db, vault, gate, leads)
        .await?
        .into_iter()
        .map(|(_, view)| view)
        .collect())
}

/// [`views`], each with the registration it shows (for the export's recipient record).
pub async fn views_by_registration(
    db: &impl ConnectionTrait,
    vault: &EventVault,
    gate: &Gate,
    leads: &[entity::Model],
) -> ApiResult<Vec<(RegistrationId, LeadView)>> {
    let mut released = gate
        .release_all(db, vault, leads.iter().map(|l| l.registration_id))
        .await?;
    leads
        .iter()
        .filter(|lead| lead.sponsor_id == gate.sponsor.id)
        .filter_map(|lead| {
            released
                .remove(&lead.registration_id)
                .map(|contact| (lead, contact))
        })
        .map(|(lead, contact)| Ok((lead.registration_id, view(vault, lead, contact)?)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Routes

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// 1-based page number.
    #[serde(default = "first_page")]
    #[param(minimum = 1, maximum = 9_223_372_036_854_775_807_i64)]
    pub page: u64,
    /// Leads per page, 1–200.
    #[serde(default = "default_per_page")]
    #[param(minimum = 1, maximum = 200)]
    pub per_page: u64,
}

fn first_page() -> u64 {
    1
}

fn default_per_page() -> u64 {
    50
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LeadPage {
    pub leads: Vec<LeadView>,
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
}

/// This kiosk's sponsor's leads, most recently scanned first.
#[utoipa::path(
    get, path = "/leads", tag = "leads",
    security(("kiosk" = [])),
    params(Page),
    responses(
        (status = 200, body = LeadPage),
        (status = 400, description = "`invalid_query`", body = Problem, content_type = "application/problem+json"),
        crate::error::responses::Unauthorized,
        (status = 409, description = "`data_purged`: the event's attendee data is due for deletion", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list_leads(
    State(state): State<AppState>,
    auth: KioskAuth,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Json<LeadPage>> {
    let (offset, limit) = page_window(page.page, page.per_page, 200)?;
    let gate = Gate::open(&state.db, auth.event.id, auth.sponsor_id, state.clock.now()).await?;
    let event = &gate.event;
    let query = entity::Entity::find()
        .filter(entity::Column::SponsorId.eq(auth.sponsor_id))
        .filter(visible(auth.sponsor_id));
    let total = query.clone().count(&state.db).await?;
    let leads = query
        .order_by_desc(entity::Column::LastScannedAt)
        .order_by_desc(entity::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(&state.db)
        .await?;
    let vault = state.vault(event.id).await?;
    let leads = views(&state.db, &vault, &gate, &leads).await?;
    audit::record(
        &state.db,
        audit::Entry {
            organisation_id: event.organisation_id,
            event_id: Some(event.id),
            actor: audit::Actor::Kiosk(auth.kiosk_id),
            action: audit::Action::LeadsViewed,
            subject_id: Some(auth.sponsor_id.into()),
            count: Some(i64::try_from(leads.len()).unwrap_or(i64::MAX)),
        },
        state.clock.now(),
    )
    .await?;
    Ok(Json(LeadPage {
        leads,
        page: page.page,
        per_page: page.per_page,
        total,
    }))
}

/// A change to a lead's annotations; omitted fields stay. `note: null` clears the note.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadAnnotation {
    /// 0–5.
    pub rating: Option<i16>,
    #[serde(default, deserialize_with = "crate::extract::double_option")]
    pub note: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
}

/// Rate a lead, add a note and tags.
#[utoipa::path(
    patch, path = "/leads/{lead_id}", tag = "leads",
    security(("kiosk" = [])),
    params(("lead_id" = Uuid, Path)),
    request_body = LeadAnnotation,
    responses(
        (status = 200, body = LeadView),
        crate::error::responses::Unauthorized,
        (status = 404, description = "Not this sponsor's, or no longer consented", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_rating`, `too_long`, `too_many_tags`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`data_purged`: the event's attendee data is due for deletion", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn annotate_lead(
    State(state): State<AppState>,
    auth: KioskAuth,
    ApiPath(lead_id): ApiPath<LeadId>,
    ApiJson(change): ApiJson<LeadAnnotation>,
) -> ApiResult<Json<LeadView>> {
    if change.rating.is_some_and(|r| !(0..=5).contains(&r)) {
        return Err(ApiError::invalid(
            ProblemCode::InvalidRating,
            "rating",
            "Must be 0 to 5.",
        ));
    }
    let note = match change.note {
        Some(Some(note)) => Some(Some(validation::text(
            "note",
            &note,
            0,
            MAX_NOTE_CHARS,
            true,
        )?)),
        other => other,
    };
    let tags = change.tags.map(validate_tags).transpose()?;

    let txn = crate::db::begin_write(&state.db).await?;
    let gate = Gate::open(&txn, auth.event.id, auth.sponsor_id, state.clock.now()).await?;
    let lead = entity::Entity::find_by_id(lead_id)
        .filter(entity::Column::SponsorId.eq(auth.sponsor_id))
        .filter(visible(auth.sponsor_id))
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound)?;
    let vault = state.vault(gate.event.id).await?;
    let mut annotations = open_annotations(&vault, &lead)?;
    if let Some(note) = note {
        annotations.note = note.filter(|n| !n.is_empty());
    }
    if let Some(tags) = tags {
        annotations.tags = tags;
    }
    let sealed = vault.seal(
        lead.id,
        &serde_json::to_vec(&annotations).map_err(|e| ApiError::Internal(e.into()))?,
    )?;
    let updated = entity::ActiveModel {
        id: Set(lead.id),
        rating: Set(change.rating.or(lead.rating)),
        annotations: Set(Some(sealed)),
        updated_at: Set(state.clock.now()),
        ..Default::default()
    }
    .update(&txn)
    .await?;
    // The answer carries the lead's contact, so it passes the gate like any other release; a
    // lead the gate withholds is not this sponsor's to annotate, and nothing is written.
    let view = views(&txn, &vault, &gate, std::slice::from_ref(&updated))
        .await?
        .pop()
        .ok_or(ApiError::NotFound)?;
    txn.commit().await?;
    Ok(Json(view))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_bounded_and_deduplicated() {
        assert_eq!(
            validate_tags(vec!["hot".into(), " hot ".into(), "demo".into()]).unwrap(),
            ["hot", "demo"]
        );
        assert_eq!(
            validate_tags(vec!["x".into(); 11]).unwrap_err().code,
            ProblemCode::TooManyTags
        );
        let err = validate_tags(vec!["ok".into(), "x".repeat(33)]).unwrap_err();
        assert_eq!(
            (err.code.as_str(), err.field.as_str()),
            ("too_long", "tags[1]")
        );
    }
}
