//! The attendee's rights over their data, from the manage link: a full copy (access and
//! portability), correction, restriction of processing, and erasure.

use std::collections::BTreeMap;

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    ConsentRecord, Holder, ManageLink, MyConsent, MyEvent, MyRegistration,
    email_change::{self, AddressRequest},
    my_consents, my_event, my_registration,
    notices::{self, Recipient},
};
use crate::schema::ids::{LeadId, SponsorId};
use crate::schema::{consents::Channel, ids::RegistrationId};
use crate::{
    audit, consents,
    error::{ApiError, ApiResult, Problem},
    extract::{ApiJson, RequestedLanguage},
    leads,
    problem::ProblemCode,
    registrations::{
        self,
        entity::registration,
        rules::{ContactDetails, SubmittedDetails},
    },
    retention, sponsors,
    state::AppState,
};

/// Everything Consentry holds about me, as one JSON document.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyData {
    #[serde(with = "time::serde::rfc3339")]
    pub exported_at: OffsetDateTime,
    pub registration: RegistrationRecord,
    pub event: MyEvent,
    pub consents: Vec<MyConsent>,
    /// Every grant and withdrawal, oldest first, with the hash of the text shown.
    pub consent_history: Vec<ConsentRecord>,
    /// Sponsors that scanned my badge with my consent and hold me as a lead.
    pub leads: Vec<MyLead>,
    /// Exports that included my data: who received it, and when.
    pub recipients: Vec<Recipient>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegistrationRecord {
    pub id: RegistrationId,
    pub details: ContactDetails,
    /// A new address asked for and not yet confirmed from that address.
    pub pending_email: Option<String>,
    /// `web` or `api`.
    pub channel: Channel,
    /// The privacy notice version accepted at registration.
    pub notice_version: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub registered_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Set while I have restricted processing.
    #[serde(with = "time::serde::rfc3339::option")]
    pub restricted_at: Option<OffsetDateTime>,
    /// The opaque id my badge carries.
    pub badge_id: Uuid,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyLead {
    pub lead_id: LeadId,
    pub sponsor_id: SponsorId,
    pub sponsor: String,
    /// Since when the sponsor has my data.
    #[serde(with = "time::serde::rfc3339")]
    pub first_scanned_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_scanned_at: OffsetDateTime,
    pub scan_count: i32,
    /// What the sponsor noted about me.
    pub rating: Option<i16>,
    pub note: Option<String>,
    pub tags: Vec<String>,
}

/// A full copy of my data: registration, consents with their history, the sponsors that hold me
/// as a lead (since when, and what they noted), and the exports that included me.
#[utoipa::path(
    get, path = "/me/{token}/export", tag = "attendee",
    params(
        ("token" = String, Path, description = "The secret manage token"),
        ("lang" = Option<String>, Query, description = "The language of the consent sentences: `en` or `nl` (any other value is read as English); absent, `Accept-Language`, else English"),
    ),
    responses(
        (status = 200, description = "A JSON download", body = MyData),
        crate::error::responses::NotFound,
        crate::error::responses::RateLimited,
    )
)]
pub(super) async fn export_my_data(
    State(state): State<AppState>,
    RequestedLanguage(language): RequestedLanguage,
    link: ManageLink,
) -> ApiResult<Response> {
    let h = link.holder;
    let vault = state.vault(h.event.id).await?;
    let r = &h.registration;
    let sponsor_names: BTreeMap<SponsorId, String> =
        sponsors::list_for_event(&state.db, h.event.id)
            .await?
            .into_iter()
            .map(|s| (s.id, s.name))
            .collect();
    let lead_rows = leads::entity::Entity::find()
        .filter(leads::entity::Column::RegistrationId.eq(r.id))
        .order_by_asc(leads::entity::Column::FirstScannedAt)
        .all(&state.db)
        .await?;
    let mut my_leads = Vec::with_capacity(lead_rows.len());
    for lead in lead_rows {
        let annotations = leads::open_annotations(&vault, &lead)?;
        my_leads.push(MyLead {
            lead_id: lead.id,
            sponsor: sponsor_names
                .get(&lead.sponsor_id)
                .cloned()
                .unwrap_or_default(),
            sponsor_id: lead.sponsor_id,
            first_scanned_at: lead.first_scanned_at,
            last_scanned_at: lead.last_scanned_at,
            scan_count: lead.scan_count,
            rating: lead.rating,
            note: annotations.note,
            tags: annotations.tags,
        });
    }
    let data = MyData {
        exported_at: state.clock.now(),
        registration: RegistrationRecord {
            id: r.id,
            details: registrations::open_details(&vault, r)?,
            pending_email: email_change::pending_email(&state.db, &vault, r.id, state.clock.now())
                .await?,
            channel: r.channel,
            notice_version: r.notice_version,
            registered_at: r.created_at,
            updated_at: r.updated_at,
            restricted_at: r.restricted_at,
            badge_id: r.badge_id,
        },
        consents: my_consents(&state.db, &h.event, r.id, language).await?,
        consent_history: consents::history(&state.db, r.id)
            .await?
            .into_iter()
            .map(ConsentRecord::from)
            .collect(),
        leads: my_leads,
        recipients: notices::recipients_of(&state.db, h.event.id, r.id).await?,
        event: my_event(&h.event),
    };
    let mut response = Json(data).into_response();
    let file_name = format!("attachment; filename=\"my-data-{}.json\"", h.event.slug);
    if let Ok(value) = HeaderValue::from_str(&file_name) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// Corrections to my details. A field left out stays; `null` clears an optional field.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DetailsChange {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::double_option")]
    #[schema(value_type = Option<String>)]
    pub company: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::extract::double_option")]
    #[schema(value_type = Option<String>)]
    pub job_title: Option<Option<String>>,
    /// E.164, e.g. `+31201234567`.
    #[serde(default, deserialize_with = "crate::extract::double_option")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    /// ISO 3166-1 alpha-2, e.g. `NL`.
    #[serde(default, deserialize_with = "crate::extract::double_option")]
    #[schema(value_type = Option<String>)]
    pub country: Option<Option<String>>,
}

impl DetailsChange {
    fn is_empty(&self) -> bool {
        self.first_name.is_none()
            && self.last_name.is_none()
            && self.email.is_none()
            && self.company.is_none()
            && self.job_title.is_none()
            && self.phone.is_none()
            && self.country.is_none()
    }

    /// The details after the change, before validation.
    fn applied_to(self, current: ContactDetails) -> SubmittedDetails {
        SubmittedDetails {
            first_name: self.first_name.unwrap_or(current.first_name),
            last_name: self.last_name.unwrap_or(current.last_name),
            email: self.email.unwrap_or_else(|| current.email.into()),
            company: self.company.unwrap_or(current.company),
            job_title: self.job_title.unwrap_or(current.job_title),
            phone: self
                .phone
                .unwrap_or_else(|| current.phone.map(String::from)),
            country: self
                .country
                .unwrap_or_else(|| current.country.map(String::from)),
        }
    }
}

/// Correct my details, under the same rules as registration. Sponsors that hold me as a lead, and
/// every later export, see the corrected details.
///
/// A new `email` is not applied here: the other fields are, and the new address is mailed a link
/// that applies it (`POST /email-changes/confirm`); until then it is `pending_email`. The answer
/// is the same whether or not the address is in use, so the manage link cannot tell which
/// addresses are registered. Giving the current address withdraws a pending change.
#[utoipa::path(
    patch, path = "/me/{token}", tag = "attendee",
    params(
        ("token" = String, Path, description = "The secret manage token"),
        ("lang" = Option<String>, Query, description = "The language of the consent sentences: `en` or `nl` (any other value is read as English); absent, `Accept-Language`, else English"),
    ),
    request_body = DetailsChange,
    responses(
        (status = 200, body = MyRegistration),
        crate::error::responses::NotFound,
        (status = 422, description = "`no_changes`, `invalid_email`, `invalid_phone`, `invalid_country`, `too_short`, `too_long`", body = Problem, content_type = "application/problem+json"),
        crate::error::responses::RateLimited,
    )
)]
pub(super) async fn correct_details(
    State(state): State<AppState>,
    RequestedLanguage(language): RequestedLanguage,
    link: ManageLink,
    ApiJson(change): ApiJson<DetailsChange>,
) -> ApiResult<Response> {
    let ManageLink { holder: h, token } = link;
    if change.is_empty() {
        return Err(ApiError::invalid(
            ProblemCode::NoChanges,
            "first_name",
            "Give at least one field to correct.",
        ));
    }
    let vault = state.vault(h.event.id).await?;
    let asks_address = change.email.is_some();
    let now = state.clock.now();
    let txn = crate::db::begin_write(&state.db).await?;
    // Read under the write lock: a confirmed address change may have come in between.
    let current = registration::Entity::find_by_id(h.registration.id)
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound)?;
    let details = registrations::open_details(&vault, &current)?;
    let current_email = details.email.clone();
    let mut corrected = registrations::rules::validate_details(change.applied_to(details))?;
    let request = email_change::address_request(
        current_email.as_str(),
        asks_address.then_some(corrected.email.as_str()),
    );
    // The address (and its blind index) changes only when the new address confirms it.
    corrected.email = current_email;
    let registration = registration::ActiveModel {
        id: Set(current.id),
        personal_data: Set(registrations::seal_details(&vault, current.id, &corrected)?),
        updated_at: Set(now),
        ..Default::default()
    }
    .update(&txn)
    .await?;
    let confirmation = match request {
        AddressRequest::Keep => None,
        AddressRequest::Cancel => {
            email_change::cancel(&txn, current.id).await?;
            None
        }
        AddressRequest::Change(new_email) => {
            let link = email_change::replace(&txn, &vault, current.id, &new_email, now).await?;
            Some((new_email, link))
        }
    };
    txn.commit().await?;
    tracing::info!(registration_id = %registration.id, "details corrected");
    if let Some((new_email, link)) = confirmation {
        email_change::mail_confirmation(
            &state,
            &h.event,
            registration.id,
            registration.language,
            &new_email,
            &link,
        )
        .await;
    }
    let view = my_registration(
        &state,
        Holder {
            registration,
            event: h.event,
        },
        &token,
        language,
    )
    .await?;
    Ok(Json(view).into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Restriction {
    pub restricted: bool,
    /// Since when processing is restricted.
    #[serde(with = "time::serde::rfc3339::option")]
    pub restricted_at: Option<OffsetDateTime>,
}

async fn set_restriction(state: &AppState, h: &Holder, restrict: bool) -> ApiResult<Restriction> {
    // Restricting again keeps the first time.
    let restricted_at = if restrict {
        h.registration.restricted_at.or(Some(state.clock.now()))
    } else {
        None
    };
    if restricted_at != h.registration.restricted_at {
        registration::ActiveModel {
            id: Set(h.registration.id),
            restricted_at: Set(restricted_at),
            updated_at: Set(state.clock.now()),
            ..Default::default()
        }
        .update(&state.db)
        .await?;
        tracing::info!(registration_id = %h.registration.id, restrict, "restriction changed");
    }
    Ok(Restriction {
        restricted: restricted_at.is_some(),
        restricted_at,
    })
}

/// Restrict processing of my data: until lifted, sponsors' scans of my badge are refused
/// (`restricted`), and I am left out of lead lists and exports. My data is kept.
#[utoipa::path(
    post, path = "/me/{token}/restriction", tag = "attendee",
    params(("token" = String, Path, description = "The secret manage token")),
    responses(
        (status = 200, body = Restriction),
        crate::error::responses::NotFound,
        crate::error::responses::RateLimited,
    )
)]
pub(super) async fn restrict(
    State(state): State<AppState>,
    link: ManageLink,
) -> ApiResult<Response> {
    let h = link.holder;
    let restriction = set_restriction(&state, &h, true).await?;
    Ok(Json(restriction).into_response())
}

/// Lift the restriction: processing under my consents resumes.
#[utoipa::path(
    delete, path = "/me/{token}/restriction", tag = "attendee",
    params(("token" = String, Path, description = "The secret manage token")),
    responses(
        (status = 200, body = Restriction),
        crate::error::responses::NotFound,
        crate::error::responses::RateLimited,
    )
)]
pub(super) async fn lift_restriction(
    State(state): State<AppState>,
    link: ManageLink,
) -> ApiResult<Response> {
    let h = link.holder;
    let restriction = set_restriction(&state, &h, false).await?;
    Ok(Json(restriction).into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Erased {
    #[serde(with = "time::serde::rfc3339")]
    pub erased_at: OffsetDateTime,
    /// Sponsors that had received my data in an export. Consentry cannot delete their copies;
    /// the organiser has been given a notice to pass on to each.
    pub recipients: Vec<Recipient>,
}

/// Erase my data, all of it at once: registration, consents and their history, manage links,
/// leads, and queued mails. My badge stops working. The answer lists the sponsors that had
/// received my data in an export; the organiser is told to pass the erasure on to them.
#[utoipa::path(
    delete, path = "/me/{token}", tag = "attendee",
    params(("token" = String, Path, description = "The secret manage token")),
    responses(
        (status = 200, body = Erased),
        crate::error::responses::NotFound,
        crate::error::responses::RateLimited,
    )
)]
pub(super) async fn erase(State(state): State<AppState>, link: ManageLink) -> ApiResult<Response> {
    let h = link.holder;
    let now = state.clock.now();
    let registration_id = h.registration.id;
    let event_id = h.event.id;
    let txn = crate::db::begin_write(&state.db).await?;
    // Checked again under the write lock: a purge or a second erasure may have come first.
    let held = registration::Entity::find_by_id(registration_id)
        .one(&txn)
        .await?
        .is_some();
    if !held {
        return Err(ApiError::NotFound);
    }
    let recipients = notices::recipients_of(&txn, event_id, registration_id).await?;
    notices::record(&txn, event_id, &recipients, now).await?;
    retention::delete_registrations(&txn, &[registration_id]).await?;
    audit::record(
        &txn,
        audit::Entry {
            organisation_id: h.event.organisation_id,
            event_id: Some(event_id),
            actor: audit::Actor::Attendee,
            action: audit::Action::RegistrationErased,
            subject_id: None,
            count: Some(1),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    if let Err(e) = state.mailer.forget(event_id, registration_id).await {
        tracing::warn!(error = %e, "erased registration's mails not all removed from the outbox");
    }
    tracing::info!(%event_id, "registration erased");
    Ok(Json(Erased {
        erased_at: now,
        recipients,
    })
    .into_response())
}
