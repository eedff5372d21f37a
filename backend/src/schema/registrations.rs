//! `registrations` and their `manage_tokens`.

pub mod registration {
    use crate::schema::ids::{EventId, RegistrationId};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "registrations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: RegistrationId,
        pub event_id: EventId,
        /// Keyed blind index of the normalised e-mail (see `vault`).
        pub email_index: String,
        /// `ContactDetails` as JSON, sealed with the event's data key.
        pub personal_data: Vec<u8>,
        /// The id inside the badge token; random and unrelated to `id`.
        #[sea_orm(unique)]
        pub badge_id: Uuid,
        /// The privacy notice version the attendee saw when registering.
        pub notice_version: i32,
        pub channel: crate::schema::consents::Channel,
        /// The language the registrant read the page in: later mails are written in it.
        pub language: crate::schema::consents::Language,
        pub created_at: TimeDateTimeWithTimeZone,
        pub updated_at: TimeDateTimeWithTimeZone,
        /// Set while the attendee restricts processing: scans are refused, leads hidden.
        pub restricted_at: Option<TimeDateTimeWithTimeZone>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod manage_token {
    use crate::schema::ids::RegistrationId;
    use sea_orm::entity::prelude::*;

    /// A manage link, stored as the SHA-256 of its 256-bit token.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "manage_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub token_hash: String,
        pub registration_id: RegistrationId,
        pub created_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
