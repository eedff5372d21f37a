//! `consent_grants` (current state) and `consent_ledger` (append-only proof).

pub mod grant {
    use crate::schema::ids::{RegistrationId, SponsorId};
    use sea_orm::entity::prelude::*;

    /// A purpose the attendee has granted and not withdrawn.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "consent_grants")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub registration_id: RegistrationId,
        #[sea_orm(primary_key, auto_increment = false)]
        pub purpose: String,
        pub sponsor_id: Option<SponsorId>,
        pub granted_at: TimeDateTimeWithTimeZone,
        /// For a sponsor purpose, the parts of the sentence agreed to (its SHA-256 is in the
        /// ledger): the sponsor's name and privacy-policy URL as shown, and the contact fields
        /// named, stored like `events.shared_fields`. The disclosure gate releases those fields
        /// only, and only while the sponsor is still the one shown.
        pub sponsor_name: Option<String>,
        pub privacy_policy_url: Option<String>,
        pub shared_fields: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod ledger {
    use super::Channel;
    use crate::schema::ids::{EventId, RegistrationId};
    use sea_orm::entity::prelude::*;

    /// One grant or withdrawal, as it happened. Never updated; deleted only with the person's
    /// data (erasure, retention purge).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "consent_ledger")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub registration_id: RegistrationId,
        pub event_id: EventId,
        pub purpose: String,
        pub granted: bool,
        pub channel: Channel,
        pub notice_version: i32,
        /// SHA-256 (hex) of the exact consent text shown for this purpose.
        pub text_sha256: String,
        /// The language that text was shown in.
        pub language: super::Language,
        pub recorded_at: TimeDateTimeWithTimeZone,
        /// The signed receipt of this entry (a compact JWS, see `receipts`); none for entries
        /// made before receipts existed.
        pub receipt: Option<String>,
        /// Where it was made; none for entries made before this was recorded.
        pub occasion: Option<super::Occasion>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use sea_orm::{DeriveActiveEnum, EnumIter};

/// Where a consent was given or withdrawn (and where a registration was made). Set by the server
/// from the route the request came through, never taken from the client.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    EnumIter,
    DeriveActiveEnum,
    serde::Serialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Consentry's own web pages, through their page routes (`/e/{slug}/registrations`,
    /// `/m/{token}/consents`).
    #[sea_orm(string_value = "web")]
    Web,
    /// Another client of the API (`/api/v1/…`).
    #[sea_orm(string_value = "api")]
    Api,
    /// At a sponsor's booth, on the attendee's own device, through the booth page's route
    /// (`/s/{code}/grant`).
    #[sea_orm(string_value = "booth")]
    Booth,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Api => "api",
            Self::Booth => "booth",
        }
    }
}

/// Where a consent was given or withdrawn, as the organiser counts grants per sponsor: in the
/// registration form, later from the manage link, or at the sponsor's booth. Set by the server
/// from the route, like [`Channel`].
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    EnumIter,
    DeriveActiveEnum,
    serde::Serialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum Occasion {
    #[sea_orm(string_value = "registration")]
    Registration,
    #[sea_orm(string_value = "manage")]
    Manage,
    #[sea_orm(string_value = "booth")]
    Booth,
}

impl Occasion {
    pub const ALL: [Self; 3] = [Self::Registration, Self::Manage, Self::Booth];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registration => "registration",
            Self::Manage => "manage",
            Self::Booth => "booth",
        }
    }
}

/// A language the pages and the consent sentences are written in. The ledger records which one
/// an attendee read.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    EnumIter,
    DeriveActiveEnum,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum Language {
    #[default]
    #[sea_orm(string_value = "en")]
    En,
    #[sea_orm(string_value = "nl")]
    Nl,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Nl => "nl",
        }
    }

    /// The first language of an `Accept-Language` header that Consentry writes, else English.
    pub fn from_accept_language(header: &str) -> Self {
        header
            .split(',')
            .filter_map(|part| part.split(';').next())
            .map(|tag| tag.trim().to_ascii_lowercase())
            .find_map(|tag| match tag.split('-').next() {
                Some("nl") => Some(Self::Nl),
                Some("en") => Some(Self::En),
                _ => None,
            })
            .unwrap_or_default()
    }
}
