//! `trunks`: the body is the JSON of `policy::asterisk::NewTrunk` (never with a secret);
//! a registering trunk's provider password is `registration_secret`, apart (migration 14).

use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "trunks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    pub body: String,
    /// The provider's password, in plain text because Asterisk needs it so; NULL when the
    /// trunk does not register. Never returned; `Debug` hides it.
    pub registration_secret: Option<String>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("name", &self.name)
            .field("body", &self.body)
            .field(
                "registration_secret",
                &self.registration_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("version", &self.version)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
