//! When an organiser's change keeps attendee data longer (the event's end moves later, or its
//! retention grows, before the event has ended), everyone registered is told the new deletion
//! date by mail. The change itself is audited in its own transaction (`retention_extended`, with
//! the number of registrants to tell); the mails go after it commits, from a task of their own,
//! reading registrations in bounded batches. A mail that fails is logged without recipient or
//! content and does not undo the change.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use time::OffsetDateTime;

use crate::schema::{consents::Language, ids::RegistrationId};
use crate::{
    error::ApiResult,
    events::{entity as event, rules::purge_due_at},
    mail::Mail,
    registrations::{self, entity::registration, rules::ContactDetails},
    state::AppState,
};

/// Registrations read (and opened) per batch.
const BATCH: u64 = 100;

/// A deletion date as the mails state it (UTC), in `language`: "01 March 2027, 15:30 UTC".
pub fn deletion_date(at: OffsetDateTime, language: Language) -> String {
    let utc = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:02} {} {}, {:02}:{:02} UTC",
        utc.day(),
        crate::mail::month_name(utc.month(), language),
        utc.year(),
        utc.hour(),
        utc.minute()
    )
}

/// The mail telling one registrant the later deletion date, in their language.
fn mail_text(
    event: &event::Model,
    details: &ContactDetails,
    before: OffsetDateTime,
    language: Language,
) -> (String, String) {
    let after = deletion_date(purge_due_at(event.ends_at, event.retention_days), language);
    let before = deletion_date(before, language);
    let (first, name) = (&details.first_name, &event.name);
    match language {
        Language::En => (
            format!("{name}: your data is now kept until {after}"),
            format!(
                "Hello {first},\n\n\
                 The organiser of {name} has changed the event, and the data you gave when \
                 registering is now kept longer.\n\n\
                 All attendee data of this event, yours included, is now deleted on {after} \
                 (before this change: {before}).\n\n\
                 You can still download, correct or erase your data, or change your choices, at \
                 any time with the manage link from your registration e-mail.\n"
            ),
        ),
        Language::Nl => (
            format!("{name}: je gegevens worden nu bewaard tot {after}"),
            format!(
                "Hallo {first},\n\n\
                 De organisator van {name} heeft het evenement gewijzigd, en de gegevens die je \
                 bij je aanmelding gaf worden nu langer bewaard.\n\n\
                 Alle gegevens van deelnemers aan dit evenement, ook die van jou, worden nu gewist \
                 op {after} (voor deze wijziging: {before}).\n\n\
                 Je kunt je gegevens nog steeds downloaden, verbeteren of wissen, of je keuzes \
                 wijzigen, wanneer je wilt, met de beheerlink uit je aanmeldingsmail.\n"
            ),
        ),
    }
}

/// Mail every registrant of `event` (as changed) that their data is now deleted later than
/// `before`; in the background, after the change has committed.
pub fn tell_registrants(state: AppState, event: event::Model, before: OffsetDateTime) {
    tokio::spawn(async move {
        let event_id = event.id;
        match tell(&state, &event, before).await {
            Ok((told, failed)) => {
                tracing::info!(%event_id, told, failed, "registrants told of the later deletion");
            }
            Err(e) => {
                tracing::warn!(%event_id, error = %e, "registrants not all told of the later deletion");
            }
        }
    });
}

/// Returns how many mails went out and how many failed.
async fn tell(
    state: &AppState,
    event: &event::Model,
    before: OffsetDateTime,
) -> ApiResult<(u64, u64)> {
    let vault = state.vault(event.id).await?;
    let (mut told, mut failed) = (0, 0);
    let mut last: Option<RegistrationId> = None;
    loop {
        let mut query = registration::Entity::find()
            .filter(registration::Column::EventId.eq(event.id))
            .order_by_asc(registration::Column::Id)
            .limit(BATCH);
        if let Some(last) = last {
            query = query.filter(registration::Column::Id.gt(last));
        }
        let batch = query.all(&state.db).await?;
        for r in &batch {
            let details = match registrations::open_details(&vault, r) {
                Ok(details) => details,
                Err(e) => {
                    tracing::warn!(registration_id = %r.id, error = %e, "registration not opened");
                    failed += 1;
                    continue;
                }
            };
            let (subject, text) = mail_text(event, &details, before, r.language);
            let mail = Mail {
                event_id: event.id,
                registration_id: Some(r.id),
                subject,
                text,
                to: details.email.into(),
                attachments: Vec::new(),
            };
            if state.mailer.send_or_log(mail, "deletion date mail").await {
                told += 1;
            } else {
                failed += 1;
            }
        }
        match batch.last() {
            Some(r) if batch.len() as u64 == BATCH => last = Some(r.id),
            _ => break,
        }
    }
    Ok((told, failed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn deletion_dates_are_stated_in_utc() {
        assert_eq!(
            deletion_date(datetime!(2027-01-01 16:30 +01:00), Language::En),
            "01 January 2027, 15:30 UTC"
        );
        assert_eq!(
            deletion_date(datetime!(2027-03-01 16:30 +01:00), Language::Nl),
            "01 maart 2027, 15:30 UTC"
        );
    }
}
