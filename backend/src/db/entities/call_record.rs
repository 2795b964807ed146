//! `call_records`: one external call sipwarden let through, as it ended.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "call_records")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Asterisk's unique id of the calling channel.
    pub uniqueid: String,
    pub endpoint_id: String,
    pub trunk: String,
    /// The address the call came from; empty when Asterisk did not say.
    pub source: String,
    /// E.164 without `+`, or the number as dialled when it has no known calling code.
    pub number: String,
    pub region: String,
    pub started_at: DateTimeUtc,
    pub ended_at: DateTimeUtc,
    /// Dial's status (`ANSWER`, `BUSY`, `NOANSWER`, `CANCEL`, …); empty when it never dialled.
    pub dial_status: String,
    pub answered_secs: i64,
    /// What it cost, in millionths of the currency unit.
    pub cost_micros: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
