//! `scan_requests` (the idempotency record) and `scan_counters` (anonymous statistics).

pub mod request {
    use sea_orm::entity::prelude::*;

    /// The answer given to one (kiosk, client scan id). A refusal's row names no badge and no
    /// person: only the reason. The client's scan id itself is not stored: `scan_key` is its keyed
    /// hash (`EventVault::scan_request_key`), so a kiosk cannot pick it to point at anything. An
    /// accepted scan's row goes when its lead goes.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "scan_requests")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub kiosk_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub scan_key: Uuid,
        pub event_id: Uuid,
        /// `accepted` or a refusal code.
        pub outcome: String,
        pub lead_id: Option<Uuid>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod counter {
    use sea_orm::entity::prelude::*;

    /// Scans per sponsor, UTC day and outcome. No person in it; survives the retention purge.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "scan_counters")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub event_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub sponsor_id: Uuid,
        /// `YYYY-MM-DD` (UTC).
        #[sea_orm(primary_key, auto_increment = false)]
        pub day: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub outcome: String,
        pub count: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
