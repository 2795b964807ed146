//! `config_revisions`: every bundle of Asterisk files sipwarden wrote (or tried to).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "config_revisions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub number: i32,
    pub created_at: DateTimeUtc,
    pub author: String,
    pub target: String,
    /// JSON object: file name -> contents.
    pub files: String,
    pub hash: String,
    /// `pending`, `live`, `failed` or `replaced`.
    pub status: String,
    pub message: String,
    pub restored_from: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
