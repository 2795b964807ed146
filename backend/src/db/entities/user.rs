//! `users`: console administrators and viewers.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// `admin` or `viewer`.
    pub role: String,
    pub created_at: DateTimeUtc,
    pub password_changed_at: DateTimeUtc,
    /// Set while the user is disabled: no sign-in, no session, their tokens do not work.
    pub disabled_at: Option<DateTimeUtc>,
    /// The TOTP key (base32) once enrolment is confirmed: sign-in then needs a code.
    pub totp_key: Option<String>,
    /// The key being enrolled, until its first code confirms it.
    pub totp_pending_key: Option<String>,
    /// The last TOTP time step that signed in: a code works once.
    pub totp_last_step: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::session::Entity")]
    Session,
}

impl Related<super::session::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Session.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
