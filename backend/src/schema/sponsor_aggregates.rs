//! The `sponsor_aggregates` table.

/// Per-sponsor aggregates kept by the purge.
pub mod sponsor_aggregate {
    use crate::schema::ids::{EventId, SponsorId};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sponsor_aggregates")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub event_id: EventId,
        #[sea_orm(primary_key, auto_increment = false)]
        pub sponsor_id: SponsorId,
        pub opt_ins: i64,
        pub leads: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
