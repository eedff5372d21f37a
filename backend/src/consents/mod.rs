//! Consent: the append-only ledger that proves every grant and withdrawal, and the current state
//! kept beside it in the same transaction.

pub mod entity;
pub mod rules;

use std::collections::BTreeSet;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use time::OffsetDateTime;
use uuid::Uuid;

use self::entity::{grant, ledger};
pub use self::rules::{Channel, Purpose};
use crate::{audit, error::ApiResult, leads};

/// The context in which consents change: whose, where, and which notice was in force.
#[derive(Debug, Clone, Copy)]
pub struct ConsentContext {
    pub organisation_id: Uuid,
    pub registration_id: Uuid,
    pub event_id: Uuid,
    pub channel: Channel,
    pub notice_version: i32,
    pub at: OffsetDateTime,
}

/// Grant or withdraw one purpose. Records a ledger entry and updates the current state only when
/// the state changes; returns whether it did.
pub async fn set(
    db: &impl ConnectionTrait,
    context: &ConsentContext,
    purpose: Purpose,
    granted: bool,
    text_sha256: &str,
) -> ApiResult<bool> {
    let purpose_text = purpose.to_string();
    let existing = grant::Entity::find_by_id((context.registration_id, purpose_text.clone()))
        .one(db)
        .await?;
    match (existing.is_some(), granted) {
        (true, true) | (false, false) => return Ok(false),
        (false, true) => {
            grant::ActiveModel {
                registration_id: Set(context.registration_id),
                purpose: Set(purpose_text.clone()),
                sponsor_id: Set(purpose.sponsor_id()),
                granted_at: Set(context.at),
            }
            .insert(db)
            .await?;
        }
        (true, false) => {
            grant::Entity::delete_by_id((context.registration_id, purpose_text.clone()))
                .exec(db)
                .await?;
            // Withdrawing a sponsor's consent removes the attendee from that sponsor's leads.
            if let Some(sponsor_id) = purpose.sponsor_id() {
                leads::entity::Entity::delete_many()
                    .filter(leads::entity::Column::SponsorId.eq(sponsor_id))
                    .filter(leads::entity::Column::RegistrationId.eq(context.registration_id))
                    .exec(db)
                    .await?;
            }
        }
    }
    audit::record(
        db,
        audit::Entry {
            organisation_id: context.organisation_id,
            event_id: Some(context.event_id),
            actor: audit::Actor::Attendee,
            action: if granted {
                audit::Action::ConsentGranted
            } else {
                audit::Action::ConsentWithdrawn
            },
            subject_id: purpose.sponsor_id(),
            count: None,
        },
        context.at,
    )
    .await?;
    ledger::ActiveModel {
        id: Set(Uuid::now_v7()),
        registration_id: Set(context.registration_id),
        event_id: Set(context.event_id),
        purpose: Set(purpose_text),
        granted: Set(granted),
        channel: Set(context.channel.as_str().to_owned()),
        notice_version: Set(context.notice_version),
        text_sha256: Set(text_sha256.to_owned()),
        recorded_at: Set(context.at),
    }
    .insert(db)
    .await?;
    Ok(true)
}

/// The consents given with a new registration, which has no earlier state to compare with: the
/// grants, their audit entries and their ledger entries, one statement each whatever their number.
/// `given` pairs each purpose with the SHA-256 of the sentence the attendee agreed to.
pub async fn record_first(
    db: &impl ConnectionTrait,
    context: &ConsentContext,
    given: &[(Purpose, String)],
) -> ApiResult<()> {
    if given.is_empty() {
        return Ok(());
    }
    grant::Entity::insert_many(given.iter().map(|(purpose, _)| grant::ActiveModel {
        registration_id: Set(context.registration_id),
        purpose: Set(purpose.to_string()),
        sponsor_id: Set(purpose.sponsor_id()),
        granted_at: Set(context.at),
    }))
    .exec_without_returning(db)
    .await?;
    audit::record_all(
        db,
        given.iter().map(|(purpose, _)| audit::Entry {
            organisation_id: context.organisation_id,
            event_id: Some(context.event_id),
            actor: audit::Actor::Attendee,
            action: audit::Action::ConsentGranted,
            subject_id: purpose.sponsor_id(),
            count: None,
        }),
        context.at,
    )
    .await?;
    ledger::Entity::insert_many(
        given
            .iter()
            .map(|(purpose, text_sha256)| ledger::ActiveModel {
                id: Set(Uuid::now_v7()),
                registration_id: Set(context.registration_id),
                event_id: Set(context.event_id),
                purpose: Set(purpose.to_string()),
                granted: Set(true),
                channel: Set(context.channel.as_str().to_owned()),
                notice_version: Set(context.notice_version),
                text_sha256: Set(text_sha256.clone()),
                recorded_at: Set(context.at),
            }),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The purposes currently granted.
pub async fn granted(
    db: &impl ConnectionTrait,
    registration_id: Uuid,
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
    registration_id: Uuid,
) -> ApiResult<Vec<ledger::Model>> {
    Ok(ledger::Entity::find()
        .filter(ledger::Column::RegistrationId.eq(registration_id))
        .order_by_asc(ledger::Column::RecordedAt)
        .order_by_asc(ledger::Column::Id)
        .all(db)
        .await?)
}
