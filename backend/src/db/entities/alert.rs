//! `alerts`: webhooks and the triggers they fire on.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "alerts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub name: String,
    pub url: String,
    /// The HMAC key (never logged, shown once at creation).
    pub secret: String,
    pub triggers: String,
    pub rate_per_minute: Option<i32>,
    pub enabled: bool,
    /// Whether deliveries may go to loopback, link-local or this host's own addresses.
    pub allow_internal: bool,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
