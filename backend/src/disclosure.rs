//! The disclosure gate: the one way an attendee's contact details reach a sponsor.
//!
//! Every release (a fresh scan's answer, a replayed scan's, the kiosk's lead list, an annotation's
//! answer, every CSV, JSON and ZIP export) asks the gate, at the moment of release, from the rows
//! as they stand then, inside the transaction of any write that goes with it:
//! - the event's data is still held (not due for the retention purge, not being deleted);
//! - the registration exists (not erased) and its processing is not restricted;
//! - the attendee granted this sponsor, and the grant was given to the sponsor as it is now
//!   (name and privacy policy unchanged since);
//! - and then only the contact fields that grant named *and* the event still shares leave.
//!
//! [`LeadContact`], the only type a lead's contact details reach a sponsor in, has private fields
//! and is made only here, so no other path can hand out contact details without the gate.

use std::collections::{BTreeMap, HashMap};

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, IdenStatic, Iterable, JoinType,
    QueryFilter, QuerySelect, QueryTrait,
    sea_query::{Expr, ExprTrait, IntoCondition},
};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::schema::ids::SponsorId;
use crate::schema::ids::{EventId, RegistrationId};
use crate::{
    consents::{self, Coverage, Purpose, entity::grant},
    error::{ApiError, ApiResult},
    events::{
        entity as event,
        rules::{ContactField, parse_shared_fields},
    },
    registrations::{self, entity::registration, rules::ContactDetails},
    sponsors,
    vault::EventVault,
};

// ---------------------------------------------------------------------------------------------
// The rule

/// Why the gate keeps an attendee's details from a sponsor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withheld {
    /// The attendee has restricted processing of their data.
    Restricted,
    /// No grant for this sponsor (never given, withdrawn, or the registration is gone).
    NoConsent,
    /// The grant was given to a sponsor of another name or privacy policy than the one now.
    SponsorChanged,
}

/// What the rule looks at, all read from current rows.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// The contact fields the event shares now.
    pub event_fields: &'a [ContactField],
    /// The sponsor as it is now.
    pub sponsor_name: &'a str,
    pub privacy_policy_url: &'a str,
    pub restricted: bool,
    /// What the attendee's grant for this sponsor covers, if there is one.
    pub grant: Option<&'a Coverage>,
}

/// The fields that may leave, in the event's order, or why none may. (Whether the event's data is
/// still held is checked once per release, when the gate is opened: [`Gate::open`].)
pub fn decide(facts: &Facts<'_>) -> Result<Vec<ContactField>, Withheld> {
    if facts.restricted {
        return Err(Withheld::Restricted);
    }
    let grant = facts.grant.ok_or(Withheld::NoConsent)?;
    if grant.sponsor_name != facts.sponsor_name
        || grant.privacy_policy_url != facts.privacy_policy_url
    {
        return Err(Withheld::SponsorChanged);
    }
    Ok(facts
        .event_fields
        .iter()
        .copied()
        .filter(|f| grant.fields.contains(f))
        .collect())
}

// ---------------------------------------------------------------------------------------------
// What leaves

/// A lead's contact details as released to its sponsor: only the fields the gate let through,
/// by field (`ContactDetails` is the one type that spells the fields out; this is its projection).
/// Serialised as an object with one key per released field (`first_name`, `email`, …). Its
/// content is private to this module: nothing else can make one.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct LeadContact(BTreeMap<ContactField, String>);

impl LeadContact {
    pub fn field(&self, field: ContactField) -> Option<&str> {
        self.0.get(&field).map(String::as_str)
    }
}

impl utoipa::PartialSchema for LeadContact {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::{ObjectBuilder, schema::Type};
        ContactField::ALL
            .into_iter()
            .fold(
                ObjectBuilder::new().description(Some(
                    "The contact fields released: those the attendee's grant named and the event \
                     still shares. A field not released is absent.",
                )),
                |object, field| {
                    object.property(
                        field.as_str(),
                        ObjectBuilder::new().schema_type(Type::String),
                    )
                },
            )
            .into()
    }
}

impl ToSchema for LeadContact {}

/// The rule applied to one attendee's details: the contact that may leave, or why none may. The
/// only way to make a [`LeadContact`].
pub fn disclose(facts: &Facts<'_>, details: &ContactDetails) -> Result<LeadContact, Withheld> {
    decide(facts).map(|fields| release(details, &fields))
}

/// `fields` of `details`, and only those.
fn release(details: &ContactDetails, fields: &[ContactField]) -> LeadContact {
    LeadContact(
        fields
            .iter()
            .filter_map(|&f| details.field(f).map(|value| (f, value.to_owned())))
            .collect(),
    )
}

// ---------------------------------------------------------------------------------------------
// The gate over the database

/// The registration a badge or lead points at, with this sponsor's grant if there is one.
pub type Attendee = (registration::Model, Option<grant::Model>);

/// The gate for one sponsor of one event, opened at one instant.
pub struct Gate {
    pub event: event::Model,
    pub sponsor: sponsors::entity::Model,
    event_fields: Vec<ContactField>,
}

impl Gate {
    /// Read the event and the sponsor as they are now, in `db` (the releasing transaction where
    /// there is one). Refuses with 409 `data_purged` once the event's data is due, and 404 if the
    /// sponsor is not (or no longer) one of the event's.
    pub async fn open(
        db: &impl ConnectionTrait,
        event_id: EventId,
        sponsor_id: SponsorId,
        now: OffsetDateTime,
    ) -> ApiResult<Self> {
        let (sponsor, event) = sponsors::entity::Entity::find_by_id(sponsor_id)
            .filter(sponsors::entity::Column::EventId.eq(event_id))
            .find_also_related(event::Entity)
            .one(db)
            .await?
            .and_then(|(sponsor, event)| Some((sponsor, event?)))
            .ok_or(ApiError::NotFound)?;
        Self::from_rows(event, sponsor, now)
    }

    /// The gate over an event and sponsor already read in the releasing transaction.
    pub fn from_rows(
        event: event::Model,
        sponsor: sponsors::entity::Model,
        now: OffsetDateTime,
    ) -> ApiResult<Self> {
        if sponsor.event_id != event.id {
            return Err(ApiError::NotFound);
        }
        // From the instant the data is due (or the event is being deleted), nothing leaves.
        crate::events::lifecycle::ensure_data_held(&event, now)?;
        Ok(Self {
            event_fields: parse_shared_fields(&event.shared_fields),
            event,
            sponsor,
        })
    }

    /// The rule's facts for one attendee, for this sponsor now.
    fn facts<'a>(&'a self, restricted: bool, grant: Option<&'a Coverage>) -> Facts<'a> {
        Facts {
            event_fields: &self.event_fields,
            sponsor_name: &self.sponsor.name,
            privacy_policy_url: &self.sponsor.privacy_policy_url,
            restricted,
            grant,
        }
    }

    /// The rule, for this sponsor now.
    pub fn decide(
        &self,
        restricted: bool,
        grant: Option<&grant::Model>,
    ) -> Result<Vec<ContactField>, Withheld> {
        let coverage = grant.and_then(consents::coverage_of);
        decide(&self.facts(restricted, coverage.as_ref()))
    }

    /// The released contact of one attendee, or why it is withheld. The details are opened only
    /// once the rule allows a release.
    pub fn release(
        &self,
        vault: &EventVault,
        (registration, grant): &Attendee,
    ) -> ApiResult<Result<LeadContact, Withheld>> {
        let coverage = grant.as_ref().and_then(consents::coverage_of);
        let facts = self.facts(registration.restricted_at.is_some(), coverage.as_ref());
        let fields = match decide(&facts) {
            Ok(fields) => fields,
            Err(withheld) => return Ok(Err(withheld)),
        };
        let details = registrations::open_details(vault, registration)?;
        Ok(Ok(release(&details, &fields)))
    }

    /// The registrations of this event matching `filter`, each with this sponsor's grant: one
    /// statement.
    pub async fn attendees(
        &self,
        db: &impl ConnectionTrait,
        filter: impl IntoCondition,
    ) -> ApiResult<Vec<Attendee>> {
        Ok(registration::Entity::find()
            .join_rev(JoinType::LeftJoin, grant_for(self.sponsor.id))
            .select_also(grant::Entity)
            .filter(registration::Column::EventId.eq(self.event.id))
            .filter(filter.into_condition())
            .all(db)
            .await?)
    }

    /// The released contact of each of `registration_ids` that may be released now, by
    /// registration id; the others are left out.
    pub async fn release_all(
        &self,
        db: &impl ConnectionTrait,
        vault: &EventVault,
        registration_ids: impl IntoIterator<Item = RegistrationId>,
    ) -> ApiResult<HashMap<RegistrationId, LeadContact>> {
        let ids: Vec<RegistrationId> = registration_ids.into_iter().collect();
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut released = HashMap::with_capacity(ids.len());
        for attendee in self
            .attendees(db, registration::Column::Id.is_in(ids))
            .await?
        {
            if let Ok(contact) = self.release(vault, &attendee)? {
                released.insert(attendee.0.id, contact);
            }
        }
        Ok(released)
    }
}

/// A scanned badge's registration with this sponsor's grant, and the event and the sponsor as
/// they are now: everything the scan decision and the gate need, in one statement, so that the
/// scan's write transaction (which holds SQLite's single write lock from its start) reads once.
/// `None` when no registration of `event_id` has this badge.
pub async fn badge_facts(
    db: &impl ConnectionTrait,
    event_id: EventId,
    sponsor_id: SponsorId,
    badge_id: Uuid,
) -> ApiResult<Option<(Attendee, event::Model, Option<sponsors::entity::Model>)>> {
    const EVENT: &str = "C_";
    const SPONSOR: &str = "D_";
    let mut query = registration::Entity::find()
        .join_rev(JoinType::LeftJoin, grant_for(sponsor_id))
        .select_also(grant::Entity)
        .filter(registration::Column::BadgeId.eq(badge_id))
        .filter(registration::Column::EventId.eq(event_id))
        .into_query();
    query
        .inner_join(
            event::Entity,
            Expr::col((event::Entity, event::Column::Id))
                .equals((registration::Entity, registration::Column::EventId)),
        )
        .left_join(
            sponsors::entity::Entity,
            Expr::col((sponsors::entity::Entity, sponsors::entity::Column::Id))
                .eq(sponsor_id)
                .and(
                    Expr::col((sponsors::entity::Entity, sponsors::entity::Column::EventId))
                        .equals((registration::Entity, registration::Column::EventId)),
                ),
        );
    for column in event::Column::iter() {
        query.expr_as(
            Expr::col((event::Entity, column)),
            format!("{EVENT}{}", column.as_str()),
        );
    }
    for column in sponsors::entity::Column::iter() {
        query.expr_as(
            Expr::col((sponsors::entity::Entity, column)),
            format!("{SPONSOR}{}", column.as_str()),
        );
    }
    let Some(row) = db
        .query_one_raw(db.get_database_backend().build(&query))
        .await?
    else {
        return Ok(None);
    };
    let registration = registration::Model::from_query_result(&row, "A_")?;
    let grant = grant::Model::from_query_result_optional(&row, "B_")?;
    let event = event::Model::from_query_result(&row, EVENT)?;
    let sponsor = sponsors::entity::Model::from_query_result_optional(&row, SPONSOR)?;
    Ok(Some(((registration, grant), event, sponsor)))
}

/// `consent_grants` joined on the grant of `sponsor_id` only.
fn grant_for(sponsor_id: SponsorId) -> sea_orm::RelationDef {
    let purpose = Purpose::Sponsor(sponsor_id).to_string();
    grants_of_registration()
        .on_condition(move |_, _| {
            Expr::col((grant::Entity, grant::Column::Purpose))
                .eq(purpose.clone())
                .into_condition()
        })
        .into()
}

/// On PostgreSQL, lock this attendee's registration and grant for this sponsor until the
/// transaction ends, and read them again as they are now. A withdrawal deletes the grant and an
/// erasure the registration, so either one waits for a scan that locked first (and then removes
/// the lead it recorded), and a scan that comes second sees the grant gone. SQLite needs no lock:
/// the scan's read is inside its write transaction, and SQLite has one writer at a time.
pub async fn lock_attendee(
    db: &impl ConnectionTrait,
    sponsor_id: SponsorId,
    registration_id: RegistrationId,
) -> ApiResult<Locked> {
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Ok(Locked::NotNeeded);
    }
    let locked = grant::Entity::find()
        .join(JoinType::InnerJoin, grants_of_registration().into())
        .filter(grant::Column::RegistrationId.eq(registration_id))
        .filter(grant::Column::Purpose.eq(Purpose::Sponsor(sponsor_id).to_string()))
        .select_also(registration::Entity)
        .lock_shared()
        .one(db)
        .await?;
    Ok(
        match locked.and_then(|(grant, registration)| Some((registration?, Some(grant)))) {
            Some(attendee) => Locked::Now(Box::new(attendee)),
            None => Locked::Gone,
        },
    )
}

/// What [`lock_attendee`] found.
pub enum Locked {
    /// SQLite: the transaction's own read stands.
    NotNeeded,
    /// The registration and grant as they are now, locked.
    Now(Box<Attendee>),
    /// The grant or the registration is gone (withdrawn or erased meanwhile).
    Gone,
}

/// A grant belongs to its registration.
fn grants_of_registration() -> sea_orm::RelationBuilder<grant::Entity, registration::Entity> {
    grant::Entity::belongs_to(registration::Entity)
        .from(grant::Column::RegistrationId)
        .to(registration::Column::Id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contact::{Country, Email, Phone};

    fn coverage(fields: &[ContactField]) -> Coverage {
        Coverage {
            sponsor_name: "Acme".into(),
            privacy_policy_url: "https://acme.example/privacy".into(),
            fields: fields.to_vec(),
        }
    }

    const EVENT: [ContactField; 5] = [
        ContactField::FirstName,
        ContactField::LastName,
        ContactField::Email,
        ContactField::Company,
        ContactField::JobTitle,
    ];

    fn facts<'a>(grant: Option<&'a Coverage>, event_fields: &'a [ContactField]) -> Facts<'a> {
        Facts {
            event_fields,
            sponsor_name: "Acme",
            privacy_policy_url: "https://acme.example/privacy",
            restricted: false,
            grant,
        }
    }

    #[test]
    fn a_grant_releases_the_fields_it_named() {
        let grant = coverage(&EVENT);
        assert_eq!(decide(&facts(Some(&grant), &EVENT)), Ok(EVENT.to_vec()));
    }

    #[test]
    fn fields_added_to_the_event_after_the_grant_do_not_leave() {
        let grant = coverage(&EVENT);
        let wider = [
            EVENT.as_slice(),
            &[ContactField::Phone, ContactField::Country],
        ]
        .concat();
        assert_eq!(decide(&facts(Some(&grant), &wider)), Ok(EVENT.to_vec()));
    }

    #[test]
    fn fields_the_event_stopped_sharing_do_not_leave() {
        let grant = coverage(&EVENT);
        let narrower = [ContactField::Email];
        assert_eq!(
            decide(&facts(Some(&grant), &narrower)),
            Ok(vec![ContactField::Email])
        );
    }

    #[test]
    fn nothing_leaves_without_a_grant_or_while_restricted() {
        assert_eq!(decide(&facts(None, &EVENT)), Err(Withheld::NoConsent));
        let grant = coverage(&EVENT);
        let restricted = Facts {
            restricted: true,
            ..facts(Some(&grant), &EVENT)
        };
        assert_eq!(decide(&restricted), Err(Withheld::Restricted));
    }

    #[test]
    fn a_grant_to_another_name_or_policy_releases_nothing() {
        let mut renamed = coverage(&EVENT);
        renamed.sponsor_name = "Friendly NGO".into();
        assert_eq!(
            decide(&facts(Some(&renamed), &EVENT)),
            Err(Withheld::SponsorChanged)
        );
        let mut other_policy = coverage(&EVENT);
        other_policy.privacy_policy_url = "https://old.example/privacy".into();
        assert_eq!(
            decide(&facts(Some(&other_policy), &EVENT)),
            Err(Withheld::SponsorChanged)
        );
    }

    #[test]
    fn only_released_fields_are_in_the_contact() {
        let details = ContactDetails {
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            email: Email::parse("email", "ada@example.org").unwrap(),
            company: None,
            job_title: Some("Analyst".into()),
            phone: Some(Phone::parse("phone", "+31201234567").unwrap()),
            country: Some(Country::parse("country", "GB").unwrap()),
        };
        let grant = coverage(&EVENT);
        let shared = [
            ContactField::FirstName,
            ContactField::Email,
            ContactField::Company,
        ];
        let contact = disclose(&facts(Some(&grant), &shared), &details).unwrap();
        assert_eq!(contact.field(ContactField::FirstName), Some("Ada"));
        assert_eq!(contact.field(ContactField::Email), Some("ada@example.org"));
        let json = serde_json::to_value(&contact).unwrap();
        assert!(json.get("phone").is_none() && json.get("company").is_none());
        assert!(json.get("last_name").is_none());
    }
}
