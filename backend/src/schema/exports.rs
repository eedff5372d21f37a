//! The `exports`, `export_recipients` tables.

pub mod export {
    use crate::schema::ids::{EventId, SponsorId};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "exports")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub event_id: EventId,
        pub sponsor_id: SponsorId,
        /// `organiser` or `kiosk`.
        pub actor_kind: crate::schema::audit_events::ActorKind,
        pub actor_id: Uuid,
        pub format: super::FileFormat,
        pub row_count: i64,
        pub created_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod recipient {
    use crate::schema::ids::{LeadId, RegistrationId};
    use sea_orm::entity::prelude::*;

    /// This registration's data was in that export.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "export_recipients")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub export_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub registration_id: RegistrationId,
        /// The lead id the exported row carried: how the sponsor finds it in its copy.
        pub lead_id: Option<LeadId>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use sea_orm::{DeriveActiveEnum, EnumIter};

/// The file format of an export, as `exports` stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum FileFormat {
    #[sea_orm(string_value = "csv")]
    Csv,
    #[sea_orm(string_value = "json")]
    Json,
}

impl FileFormat {
    /// The file name extension, which is also the stored name.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Json => "json",
        }
    }
}
