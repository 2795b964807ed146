//! `fraud_history`: what an endpoint did for the first time (a country called, a network
//! called from), so the new-country and new-network rules survive a restart.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "fraud_history")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub endpoint_id: String,
    /// `region FR`, `network 198.51.100.0/24`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub seen: String,
    pub first_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
