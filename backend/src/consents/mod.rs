//! Consent: the append-only ledger that proves every grant and withdrawal, and the current state
//! kept beside it in the same transaction.

pub use crate::schema::consents as entity;
pub mod rules;

use std::collections::BTreeSet;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use time::OffsetDateTime;
use uuid::Uuid;

use self::entity::{grant, ledger};
pub use self::rules::{Channel, Coverage, Language, Purpose, Shown};
pub use crate::schema::consents::Occasion;
use crate::schema::ids::EventId;
use crate::schema::ids::RegistrationId;
use crate::{
    audit, crypto,
    error::ApiResult,
    events::rules::{parse_shared_fields, store_shared_fields},
    receipts::{self, ReceiptIssuer},
    schema::leads as lead,
};

/// The context in which consents change: whose, where, and which notice was in force.
#[derive(Debug, Clone, Copy)]
pub struct ConsentContext<'a> {
    pub organisation_id: Uuid,
    pub registration_id: RegistrationId,
    pub event_id: EventId,
    pub channel: Channel,
    /// Where the attendee was: the registration form, the manage page, a booth.
    pub occasion: Occasion,
    /// The language of the sentences the attendee was shown (and the ledger records).
    pub language: Language,
    pub notice_version: i32,
    pub at: OffsetDateTime,
    /// Who signs the receipts, and what they name.
    pub receipts: &'a ReceiptIssuer,
}

impl ConsentContext<'_> {
    /// The signed receipt of a ledger entry: what it grants or withdraws, to whom, under which
    /// sentence, and the receipt it follows.
    fn receipt(
        &self,
        entry_id: Uuid,
        purpose: Purpose,
        granted: bool,
        coverage: Option<&Coverage>,
        text_sha256: &str,
        previous: Option<String>,
    ) -> ApiResult<String> {
        let issuer = self.receipts;
        let recipient =
            purpose
                .sponsor_id()
                .zip(coverage)
                .map(|(sponsor_id, c)| receipts::ReceiptRecipient {
                    sponsor_id,
                    name: c.sponsor_name.clone(),
                    privacy_policy_url: c.privacy_policy_url.clone(),
                    receives: c.fields.iter().map(|f| f.as_str().to_owned()).collect(),
                });
        issuer.signer.sign(&receipts::ReceiptClaims {
            iss: issuer.issuer.clone(),
            jti: entry_id,
            iat: self.at.unix_timestamp(),
            version: receipts::RECEIPT_VERSION.to_owned(),
            controller: issuer.signer.controller.clone(),
            event: receipts::ReceiptEvent {
                id: self.event_id,
                name: issuer.event_name.clone(),
            },
            subject: self.registration_id,
            action: if granted {
                receipts::ReceiptAction::Granted
            } else {
                receipts::ReceiptAction::Withdrawn
            },
            purpose: purpose.to_string(),
            recipient,
            notice: receipts::ReceiptNotice {
                version: self.notice_version,
                sentence_sha256: text_sha256.to_owned(),
                language: self.language.as_str().to_owned(),
            },
            channel: self.channel.as_str().to_owned(),
            occasion: self.occasion.as_str().to_owned(),
            at: self.at,
            previous,
        })
    }

    /// The current-state row of a granted purpose, with what the sentence shown covered.
    fn grant_row(&self, purpose: Purpose, shown: &Shown) -> grant::ActiveModel {
        let coverage = shown.coverage.as_ref();
        grant::ActiveModel {
            registration_id: Set(self.registration_id),
            purpose: Set(purpose.to_string()),
            sponsor_id: Set(purpose.sponsor_id()),
            granted_at: Set(self.at),
            sponsor_name: Set(coverage.map(|c| c.sponsor_name.clone())),
            privacy_policy_url: Set(coverage.map(|c| c.privacy_policy_url.clone())),
            shared_fields: Set(coverage.map(|c| store_shared_fields(&c.fields))),
        }
    }

    /// The audit entry of a grant or withdrawal (the attendee by kind only, the sponsor by id).
    fn audit_entry(&self, purpose: Purpose, granted: bool) -> audit::Entry {
        audit::Entry {
            organisation_id: self.organisation_id,
            event_id: Some(self.event_id),
            actor: audit::Actor::Attendee,
            action: if granted {
                audit::Action::ConsentGranted
            } else {
                audit::Action::ConsentWithdrawn
            },
            subject_id: purpose.sponsor_id().map(Into::into),
            count: None,
        }
    }

    /// The ledger's proof of a grant or withdrawal of the sentence hashed as `text_sha256`.
    fn ledger_row(
        &self,
        purpose: Purpose,
        granted: bool,
        coverage: Option<&Coverage>,
        text_sha256: &str,
        previous: Option<String>,
    ) -> ApiResult<ledger::ActiveModel> {
        let id = Uuid::now_v7();
        let receipt = self.receipt(id, purpose, granted, coverage, text_sha256, previous)?;
        Ok(ledger::ActiveModel {
            id: Set(id),
            registration_id: Set(self.registration_id),
            event_id: Set(self.event_id),
            purpose: Set(purpose.to_string()),
            granted: Set(granted),
            channel: Set(self.channel),
            notice_version: Set(self.notice_version),
            text_sha256: Set(text_sha256.to_owned()),
            language: Set(self.language),
            recorded_at: Set(self.at),
            receipt: Set(Some(receipt)),
            occasion: Set(Some(self.occasion)),
        })
    }
}

/// Grant or withdraw one purpose. Records a ledger entry and updates the current state only when
/// the state changes; returns whether it did. Granting a purpose already granted changes nothing,
/// even when its sentence has changed since (the event now shares more fields): a grant keeps
/// covering what it covered, and a client re-sending its state cannot widen it. To agree to the
/// new sentence, an attendee withdraws and grants again.
pub async fn set(
    db: &impl ConnectionTrait,
    context: &ConsentContext<'_>,
    purpose: Purpose,
    granted: bool,
    shown: &Shown,
) -> ApiResult<bool> {
    let purpose_text = purpose.to_string();
    let existing = grant::Entity::find_by_id((context.registration_id, purpose_text.clone()))
        .one(db)
        .await?;
    // The ledger hashes the sentence granted, or for a withdrawal the sentence being withdrawn;
    // the receipt names what it covered.
    let mut text = shown.text.clone();
    let mut coverage = shown.coverage.clone();
    match (existing, granted) {
        (None, false) | (Some(_), true) => return Ok(false),
        (None, true) => {
            context.grant_row(purpose, shown).insert(db).await?;
        }
        (Some(current), false) => {
            if let Some(current) = coverage_of(&current) {
                text = current.sentence(context.language);
                coverage = Some(current);
            }
            grant::Entity::delete_by_id((context.registration_id, purpose_text))
                .exec(db)
                .await?;
            // Withdrawing a sponsor's consent removes the attendee from that sponsor's leads.
            if let Some(sponsor_id) = purpose.sponsor_id() {
                lead::Entity::delete_many()
                    .filter(lead::Column::SponsorId.eq(sponsor_id))
                    .filter(lead::Column::RegistrationId.eq(context.registration_id))
                    .exec(db)
                    .await?;
            }
        }
    }
    audit::record(db, context.audit_entry(purpose, granted), context.at).await?;
    let previous = ledger::Entity::find()
        .filter(ledger::Column::RegistrationId.eq(context.registration_id))
        .filter(ledger::Column::Purpose.eq(purpose.to_string()))
        .order_by_desc(ledger::Column::RecordedAt)
        .order_by_desc(ledger::Column::Id)
        .one(db)
        .await?
        .and_then(|entry| entry.receipt)
        .map(|receipt| receipts::digest(&receipt));
    context
        .ledger_row(
            purpose,
            granted,
            coverage.as_ref(),
            &crypto::sha256_hex(text.as_bytes()),
            previous,
        )?
        .insert(db)
        .await?;
    Ok(true)
}

/// The consents given with a new registration, which has no earlier state to compare with: the
/// grants, their audit entries and their ledger entries, one statement each whatever their number.
/// `given` pairs each purpose with the sentence the attendee agreed to.
pub async fn record_first(
    db: &impl ConnectionTrait,
    context: &ConsentContext<'_>,
    given: &[(Purpose, Shown)],
) -> ApiResult<()> {
    if given.is_empty() {
        return Ok(());
    }
    grant::Entity::insert_many(
        given
            .iter()
            .map(|(purpose, shown)| context.grant_row(*purpose, shown)),
    )
    .exec_without_returning(db)
    .await?;
    audit::record_all(
        db,
        given
            .iter()
            .map(|(purpose, _)| context.audit_entry(*purpose, true)),
        context.at,
    )
    .await?;
    let entries = given
        .iter()
        .map(|(purpose, shown)| {
            context.ledger_row(
                *purpose,
                true,
                shown.coverage.as_ref(),
                &crypto::sha256_hex(shown.text.as_bytes()),
                None,
            )
        })
        .collect::<ApiResult<Vec<_>>>()?;
    ledger::Entity::insert_many(entries)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The routes of consent receipts' keys, mounted at the site's root (`/.well-known/…`).
pub fn receipt_keys_router() -> utoipa_axum::router::OpenApiRouter<crate::state::AppState> {
    utoipa_axum::router::OpenApiRouter::new().routes(utoipa_axum::routes!(receipt_keys))
}

/// The public keys that verify consent receipts (JWKS, RFC 7517: OKP / Ed25519 keys with `kid`),
/// of every organisation. A receipt's `iss` names the site; its keys are here. Keys stay published
/// after events are purged, so receipts that attendees kept stay verifiable.
#[utoipa::path(
    get, path = "/.well-known/consent-receipt-keys.json", tag = "attendee",
    responses(
        (status = 200, description = "JWKS (RFC 7517)", content_type = "application/jwk-set+json"),
    )
)]
async fn receipt_keys(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
) -> ApiResult<axum::response::Response> {
    use axum::{
        http::{HeaderValue, header},
        response::IntoResponse,
    };
    let keys = receipts::published_keys(&state.db).await?;
    let mut response = axum::Json(keys).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jwk-set+json"),
    );
    // A new organisation's key appears within minutes; no receipt names it before it exists.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(response)
}

/// What a sponsor grant covers; `None` for marketing, or for a grant whose parts are missing
/// (which the disclosure gate then treats as no consent).
pub fn coverage_of(grant: &grant::Model) -> Option<Coverage> {
    Some(Coverage {
        sponsor_name: grant.sponsor_name.clone()?,
        privacy_policy_url: grant.privacy_policy_url.clone()?,
        fields: parse_shared_fields(grant.shared_fields.as_deref()?),
    })
}

/// The grants in force, one row per purpose.
pub async fn grants(
    db: &impl ConnectionTrait,
    registration_id: RegistrationId,
) -> ApiResult<Vec<grant::Model>> {
    Ok(grant::Entity::find()
        .filter(grant::Column::RegistrationId.eq(registration_id))
        .all(db)
        .await?)
}

/// The purposes currently granted.
pub async fn granted(
    db: &impl ConnectionTrait,
    registration_id: RegistrationId,
) -> ApiResult<BTreeSet<Purpose>> {
    let rows = grant::Entity::find()
        .filter(grant::Column::RegistrationId.eq(registration_id))
        .all(db)
        .await?;
    Ok(rows.iter().filter_map(|g| g.purpose.parse().ok()).collect())
}

/// Every grant and withdrawal, oldest first.
pub async fn history(
    db: &impl ConnectionTrait,
    registration_id: RegistrationId,
) -> ApiResult<Vec<ledger::Model>> {
    Ok(ledger::Entity::find()
        .filter(ledger::Column::RegistrationId.eq(registration_id))
        .order_by_asc(ledger::Column::RecordedAt)
        .order_by_asc(ledger::Column::Id)
        .all(db)
        .await?)
}
