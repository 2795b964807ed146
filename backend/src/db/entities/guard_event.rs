//! `events`: what the guard detected, with its evidence.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at_ms: i64,
    pub kind: String,
    pub source: String,
    pub transport: String,
    pub account: Option<String>,
    pub method: Option<String>,
    pub user_agent: Option<String>,
    pub detector: String,
    pub evidence: String,
    pub outcome: String,
    /// The deciding evidence proved the source address.
    pub proven: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
