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
use crate::schema::ids::EventId;
use crate::schema::ids::RegistrationId;
use crate::{
    audit, crypto,
    error::ApiResult,
    events::rules::{parse_shared_fields, store_shared_fields},
    schema::leads as lead,
};

/// The context in which consents change: whose, where, and which notice was in force.
#[derive(Debug, Clone, Copy)]
pub struct ConsentContext {
    pub organisation_id: Uuid,
    pub registration_id: RegistrationId,
    pub event_id: EventId,
    pub channel: Channel,
    /// The language of the sentences the attendee was shown (and the ledger records).
    pub language: Language,
    pub notice_version: i32,
    pub at: OffsetDateTime,
}

impl ConsentContext {
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
        text_sha256: &str,
    ) -> ledger::ActiveModel {
        ledger::ActiveModel {
            id: Set(Uuid::now_v7()),
            registration_id: Set(self.registration_id),
            event_id: Set(self.event_id),
            purpose: Set(purpose.to_string()),
            granted: Set(granted),
            channel: Set(self.channel),
            notice_version: Set(self.notice_version),
            text_sha256: Set(text_sha256.to_owned()),
            language: Set(self.language),
            recorded_at: Set(self.at),
        }
    }
}

/// Grant or withdraw one purpose. Records a ledger entry and updates the current state only when
/// the state changes; returns whether it did. Granting a purpose already granted changes nothing,
/// even when its sentence has changed since (the event now shares more fields): a grant keeps
/// covering what it covered, and a client re-sending its state cannot widen it. To agree to the
/// new sentence, an attendee withdraws and grants again.
pub async fn set(
    db: &impl ConnectionTrait,
    context: &ConsentContext,
    purpose: Purpose,
    granted: bool,
    shown: &Shown,
) -> ApiResult<bool> {
    let purpose_text = purpose.to_string();
    let existing = grant::Entity::find_by_id((context.registration_id, purpose_text.clone()))
        .one(db)
        .await?;
    // The ledger hashes the sentence granted, or for a withdrawal the sentence being withdrawn.
    let mut text = shown.text.clone();
    match (existing, granted) {
        (None, false) | (Some(_), true) => return Ok(false),
        (None, true) => {
            context.grant_row(purpose, shown).insert(db).await?;
        }
        (Some(current), false) => {
            if let Some(coverage) = coverage_of(&current) {
                text = coverage.sentence(context.language);
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
    context
        .ledger_row(purpose, granted, &crypto::sha256_hex(text.as_bytes()))
        .insert(db)
        .await?;
    Ok(true)
}

/// The consents given with a new registration, which has no earlier state to compare with: the
/// grants, their audit entries and their ledger entries, one statement each whatever their number.
/// `given` pairs each purpose with the sentence the attendee agreed to.
pub async fn record_first(
    db: &impl ConnectionTrait,
    context: &ConsentContext,
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
    ledger::Entity::insert_many(given.iter().map(|(purpose, shown)| {
        context.ledger_row(*purpose, true, &crypto::sha256_hex(shown.text.as_bytes()))
    }))
    .exec_without_returning(db)
    .await?;
    Ok(())
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
