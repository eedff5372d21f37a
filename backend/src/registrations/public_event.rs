//! What anyone may see of an event before registering: no organiser data, every sponsor with the
//! exact consent sentence its opt-in stands for. `GET /events/{event}` lives here because its
//! public answer is built from sponsors and consent sentences, which sit above `events`; by id it
//! answers the organiser's own view from `events`.

use axum::{Json, extract::State};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::schema::ids::{EventId, SponsorId};
use crate::{
    auth::OrganiserAuth,
    consents::rules::{Coverage, Language, Purpose, Shown, marketing_consent_text},
    error::{ApiError, ApiResult, Problem},
    events::{
        EventView, entity, find_owned, find_public,
        rules::{self, ContactField},
    },
    extract::{ApiPath, RequestedLanguage},
    sponsors,
    state::AppState,
};

#[derive(Debug, Serialize, ToSchema)]
pub struct PublicEventView {
    /// The language of the consent sentences below: send it back as `language` when registering.
    pub language: Language,
    pub slug: String,
    pub name: String,
    pub venue: String,
    pub time_zone: String,
    #[serde(with = "time::serde::rfc3339")]
    pub starts_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub ends_at: OffsetDateTime,
    /// Registration closes when the event ends.
    pub registration_open: bool,
    /// Registrants must confirm they are at least this old.
    pub min_age: i16,
    /// The privacy notice, in `privacy_notice_language`: the requested language where the
    /// organiser wrote one in it, else English.
    pub privacy_notice: String,
    pub privacy_notice_language: Language,
    /// Send this back as `notice_version` when registering.
    pub privacy_notice_version: i32,
    /// The contact fields a sponsor receives when you opted in to it and it scans your badge.
    pub shared_fields: Vec<ContactField>,
    /// The most characters each bounded contact field takes (a form's `maxlength`).
    #[schema(value_type = std::collections::BTreeMap<String, usize>)]
    pub field_max_chars: std::collections::BTreeMap<ContactField, usize>,
    /// When all attendee data of this event is deleted.
    #[serde(with = "time::serde::rfc3339")]
    pub data_deleted_at: OffsetDateTime,
    pub sponsors: Vec<PublicSponsor>,
    /// The sentence the marketing opt-in stands for.
    pub marketing_consent_text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublicSponsor {
    /// Put this id in `sponsor_opt_ins` to opt in.
    pub id: SponsorId,
    pub name: String,
    pub description: String,
    pub privacy_policy_url: String,
    /// The sentence this sponsor's opt-in stands for.
    pub consent_text: String,
}

/// The consent sentence of each purpose of `event`, from the event's current settings.
pub struct ConsentTexts {
    /// The language every sentence here is written in.
    pub language: Language,
    pub marketing: String,
    pub sponsors: Vec<(sponsors::entity::Model, String)>,
    /// The contact fields every sponsor sentence names now.
    pub fields: Vec<ContactField>,
}

impl ConsentTexts {
    /// What an attendee is shown for `purpose` now, with its parts; `None` if it is not a purpose
    /// of this event.
    pub fn shown(&self, purpose: Purpose) -> Option<Shown> {
        match purpose {
            Purpose::Marketing => Some(Shown::text_only(self.marketing.clone(), self.language)),
            Purpose::Sponsor(id) => self
                .sponsors
                .iter()
                .find(|(s, _)| s.id == id)
                .map(|(s, _)| Shown::sponsor(coverage(s, &self.fields), self.language)),
        }
    }
}

/// What a sponsor's sentence covers under the event's current fields.
pub fn coverage(sponsor: &sponsors::entity::Model, fields: &[ContactField]) -> Coverage {
    Coverage {
        sponsor_name: sponsor.name.clone(),
        privacy_policy_url: sponsor.privacy_policy_url.clone(),
        fields: fields.to_vec(),
    }
}

/// The sentences of `event`'s purposes, in `language`.
pub async fn consent_texts(
    db: &impl ConnectionTrait,
    event: &entity::Model,
    language: Language,
) -> ApiResult<ConsentTexts> {
    let fields = rules::parse_shared_fields(&event.shared_fields);
    let sponsors = sponsors::list_for_event(db, event.id)
        .await?
        .into_iter()
        .map(|s| {
            let text = coverage(&s, &fields).sentence(language);
            (s, text)
        })
        .collect();
    Ok(ConsentTexts {
        language,
        marketing: marketing_consent_text(&event.name, language),
        sponsors,
        fields,
    })
}

pub async fn view(
    db: &impl ConnectionTrait,
    event: entity::Model,
    now: OffsetDateTime,
    language: Language,
) -> ApiResult<PublicEventView> {
    let texts = consent_texts(db, &event, language).await?;
    Ok(PublicEventView {
        language,
        registration_open: now < event.ends_at,
        shared_fields: rules::parse_shared_fields(&event.shared_fields),
        field_max_chars: crate::registrations::rules::field_max_chars(),
        data_deleted_at: rules::purge_due_at(event.ends_at, event.retention_days),
        sponsors: texts
            .sponsors
            .into_iter()
            .map(|(s, consent_text)| PublicSponsor {
                id: s.id,
                name: s.name,
                description: s.description,
                privacy_policy_url: s.privacy_policy_url,
                consent_text,
            })
            .collect(),
        marketing_consent_text: texts.marketing,
        slug: event.slug,
        name: event.name,
        venue: event.venue,
        time_zone: event.time_zone,
        starts_at: event.starts_at,
        ends_at: event.ends_at,
        min_age: event.min_age,
        privacy_notice_language: match (language, &event.privacy_notice_nl) {
            (Language::Nl, Some(_)) => Language::Nl,
            _ => Language::En,
        },
        privacy_notice: match (language, event.privacy_notice_nl) {
            (Language::Nl, Some(dutch)) => dutch,
            _ => event.privacy_notice,
        },
        privacy_notice_version: event.privacy_notice_version,
    })
}

/// What `GET /events/{event}` answers: the organiser's view for an event id, the public view for
/// a slug.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum EventLookup {
    Organiser(EventView),
    Public(PublicEventView),
}

/// An event: by id, one of the organiser's own events (authentication required); by slug, the
/// public view attendees register from (no authentication, no organiser data).
#[utoipa::path(
    get, path = "/events/{event}", tag = "events",
    security((), ("bearer" = []), ("session_cookie" = [])),
    params(
        ("event" = String, Path, description = "An event id (organisers) or slug (public)"),
        ("lang" = Option<String>, Query, description = "The language of the consent sentences: `en` or `nl` (any other value is read as English); absent, `Accept-Language`, else English"),
    ),
    responses(
        (status = 200, body = EventLookup),
        (status = 401, description = "An id without organiser credentials", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Absent, or another organisation's", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get_event(
    State(state): State<AppState>,
    auth: Result<OrganiserAuth, ApiError>,
    RequestedLanguage(language): RequestedLanguage,
    ApiPath(event): ApiPath<String>,
) -> ApiResult<Json<EventLookup>> {
    if let Ok(event_id) = event.parse::<EventId>() {
        let model = find_owned(&state.db, auth?.organisation_id, event_id).await?;
        return Ok(Json(EventLookup::Organiser(model.into())));
    }
    let model = find_public(&state.db, &event).await?;
    let view = view(&state.db, model, state.clock.now(), language).await?;
    Ok(Json(EventLookup::Public(view)))
}
