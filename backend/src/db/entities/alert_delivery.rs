//! `alert_deliveries`: one row per webhook delivery (all its attempts), kept bounded.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "alert_deliveries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub alert_id: i32,
    pub trigger: String,
    pub summary: String,
    pub at: DateTimeUtc,
    pub attempts: i32,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub outcome: String,
    pub duration_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
