//! `fraud_findings`: one rule that fired on one call attempt, and what was done.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "fraud_findings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at: DateTimeUtc,
    pub endpoint_id: String,
    pub trunk: String,
    /// E.164 without `+`, or the number as dialled when it has no calling code.
    pub number: String,
    /// ISO region code, empty when unknown.
    pub region: String,
    /// `allow`, `block` or `lock`: what happened to the call.
    pub outcome: String,
    pub rule: String,
    /// The rule's mode: `report`, `block` or `lock`.
    pub mode: String,
    pub reason: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
