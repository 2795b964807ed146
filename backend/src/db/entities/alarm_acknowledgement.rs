//! `alarm_acknowledgements`: who took the dashboard's compromise signals off its alarm card,
//! up to which event, and when. The newest row is the watermark.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "alarm_acknowledgements")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub through_event_id: i64,
    pub acknowledged_by: String,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
