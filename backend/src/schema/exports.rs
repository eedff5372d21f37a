//! The `exports`, `export_recipients` tables.

pub mod export {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "exports")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub event_id: Uuid,
        pub sponsor_id: Uuid,
        /// `organiser` or `kiosk`.
        pub actor_kind: String,
        pub actor_id: Uuid,
        /// `csv` or `json`.
        pub format: String,
        pub row_count: i64,
        pub created_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod recipient {
    use sea_orm::entity::prelude::*;

    /// This registration's data was in that export.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "export_recipients")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub export_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub registration_id: Uuid,
        /// The lead id the exported row carried: how the sponsor finds it in its copy.
        pub lead_id: Option<Uuid>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
