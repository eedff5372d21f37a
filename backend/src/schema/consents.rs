//! `consent_grants` (current state) and `consent_ledger` (append-only proof).

pub mod grant {
    use sea_orm::entity::prelude::*;

    /// A purpose the attendee has granted and not withdrawn.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "consent_grants")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub registration_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub purpose: String,
        pub sponsor_id: Option<Uuid>,
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
    use sea_orm::entity::prelude::*;

    /// One grant or withdrawal, as it happened. Never updated; deleted only with the person's
    /// data (erasure, retention purge).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "consent_ledger")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub registration_id: Uuid,
        pub event_id: Uuid,
        pub purpose: String,
        pub granted: bool,
        pub channel: String,
        pub notice_version: i32,
        /// SHA-256 (hex) of the exact consent text shown for this purpose.
        pub text_sha256: String,
        pub recorded_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
