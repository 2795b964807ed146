//! The lifecycle of console users after creation (#18 L2): disable and enable, delete,
//! reset a password, end their sessions. Each needs an [`AccessAdmin`] (an administrator's
//! console session or an `admin`-scope token) or the command line (whoever can run it owns
//! the data directory), and each is audited.
//!
//! One rule holds across all of them: at least one enabled administrator remains, so the
//! console can never be left without anyone who can run it. The check and the change happen
//! in one transaction that holds SQLite's write lock from its start (`db::begin_write`), so
//! two administrators disabling each other at once (or the CLI beside the server) cannot
//! both succeed.

use chrono::Utc;
use rand::Rng as _;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, PaginatorTrait, QueryFilter, sea_query::Expr,
};

use app::form::ConsoleError;
use wire::Role;

use crate::auth::password;
use crate::db::entities::{api_token, session, user};
use crate::services::Internal;
use crate::services::accounts::{AccountError, hash_blocking};
use crate::services::audit::{self, Action};

pub use crate::services::accounts::Actor;

/// How the audit line names where a change came from.
fn via(actor: Actor<'_>) -> &'static str {
    match actor {
        Actor::CommandLine => "from the command line",
        Actor::Admin(_) => "by an administrator",
    }
}

/// Audits a change made in `txn` and commits both together.
async fn audit_and_commit(
    txn: DatabaseTransaction,
    actor: Actor<'_>,
    action: Action,
    detail: &str,
) -> Result<(), AccountError> {
    audit::record(&txn, actor.record(action, true, detail)).await?;
    txn.commit().await?;
    Ok(())
}

/// Length of a generated password (letters and digits: about 119 bits).
const GENERATED_LEN: usize = 20;

async fn find(txn: &DatabaseTransaction, username: &str) -> Result<user::Model, AccountError> {
    user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(txn)
        .await?
        .ok_or(AccountError::Rejected(ConsoleError::NoSuchUser))
}

/// Refuses when no enabled administrator other than `leaving` would remain.
async fn keep_an_admin(
    txn: &DatabaseTransaction,
    leaving: &user::Model,
) -> Result<(), AccountError> {
    if leaving.role != Role::Admin.as_str() || leaving.disabled_at.is_some() {
        return Ok(());
    }
    let others = user::Entity::find()
        .filter(user::Column::Role.eq(Role::Admin.as_str()))
        .filter(user::Column::DisabledAt.is_null())
        .filter(user::Column::Id.ne(leaving.id))
        .count(txn)
        .await?;
    if others == 0 {
        return Err(ConsoleError::LastAdmin.into());
    }
    Ok(())
}

async fn end_all_sessions(txn: &DatabaseTransaction, user_id: i32) -> Result<u64, Internal> {
    Ok(session::Entity::delete_many()
        .filter(session::Column::UserId.eq(user_id))
        .exec(txn)
        .await?
        .rows_affected)
}

/// Disables a user: their sessions end at once and their API tokens stop authenticating;
/// the account and its tokens stay, to be enabled again.
pub async fn disable(
    db: &DatabaseConnection,
    actor: Actor<'_>,
    username: &str,
) -> Result<(), AccountError> {
    let txn = crate::db::begin_write(db).await?;
    let found = find(&txn, username).await?;
    if found.disabled_at.is_some() {
        return Ok(());
    }
    keep_an_admin(&txn, &found).await?;
    let ended = end_all_sessions(&txn, found.id).await?;
    let mut active: user::ActiveModel = found.into();
    active.disabled_at = Set(Some(Utc::now()));
    active.update(&txn).await?;
    let detail = format!(
        "disabled '{username}' {}; {ended} session(s) ended",
        via(actor)
    );
    audit_and_commit(txn, actor, Action::UserDisable, &detail).await?;
    Ok(())
}

/// Enables a disabled user again (their password and tokens are as they were).
pub async fn enable(
    db: &DatabaseConnection,
    actor: Actor<'_>,
    username: &str,
) -> Result<(), AccountError> {
    let txn = crate::db::begin_write(db).await?;
    let found = find(&txn, username).await?;
    if found.disabled_at.is_none() {
        return Ok(());
    }
    let mut active: user::ActiveModel = found.into();
    active.disabled_at = Set(None);
    active.update(&txn).await?;
    let detail = format!("enabled '{username}' {}", via(actor));
    audit_and_commit(txn, actor, Action::UserEnable, &detail).await?;
    Ok(())
}

/// Deletes a user with their sessions, and revokes the API tokens they made (a token must
/// not outlive the person answerable for it).
pub async fn delete(
    db: &DatabaseConnection,
    actor: Actor<'_>,
    username: &str,
) -> Result<(), AccountError> {
    let txn = crate::db::begin_write(db).await?;
    let found = find(&txn, username).await?;
    keep_an_admin(&txn, &found).await?;
    let ended = end_all_sessions(&txn, found.id).await?;
    let revoked = api_token::Entity::update_many()
        .col_expr(api_token::Column::RevokedAt, Expr::value(Some(Utc::now())))
        .filter(api_token::Column::CreatedBy.eq(username))
        .filter(api_token::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    user::Entity::delete_by_id(found.id).exec(&txn).await?;
    let detail = format!(
        "deleted '{username}' {}; {ended} session(s) ended, {revoked} token(s) revoked",
        via(actor)
    );
    audit_and_commit(txn, actor, Action::UserDelete, &detail).await?;
    Ok(())
}

/// Sets a new password for a user (the one given, checked like any new password, or a
/// generated one) and ends all their sessions. Returns the password when it was generated:
/// shown this once, to be handed to the user.
pub async fn reset_password(
    db: &DatabaseConnection,
    actor: Actor<'_>,
    username: &str,
    given: Option<&str>,
) -> Result<Option<String>, AccountError> {
    let generated = given.is_none().then(generate);
    let new_password = given.or(generated.as_deref()).unwrap_or_default();
    password::check_new(username, new_password, new_password)?;
    // Hash before the transaction: it takes a while, and SQLite has one writer.
    let phc = hash_blocking(new_password).await?;
    let txn = crate::db::begin_write(db).await?;
    let found = find(&txn, username).await?;
    let ended = end_all_sessions(&txn, found.id).await?;
    let mut active: user::ActiveModel = found.into();
    active.password_hash = Set(phc);
    active.password_changed_at = Set(Utc::now());
    active.update(&txn).await?;
    let detail = format!(
        "password of '{username}' reset {}; {ended} session(s) ended",
        via(actor)
    );
    audit_and_commit(txn, actor, Action::UserResetPassword, &detail).await?;
    Ok(generated)
}

/// Ends every session of a user (a lost laptop); returns how many ended.
pub async fn end_sessions(
    db: &DatabaseConnection,
    actor: Actor<'_>,
    username: &str,
) -> Result<u64, AccountError> {
    let txn = crate::db::begin_write(db).await?;
    let found = find(&txn, username).await?;
    let ended = end_all_sessions(&txn, found.id).await?;
    let detail = format!("{ended} session(s) of '{username}' ended {}", via(actor));
    audit_and_commit(txn, actor, Action::UserEndSessions, &detail).await?;
    Ok(ended)
}

/// Removes a user's second factor and recovery codes (a lost phone), and ends their
/// sessions: they sign in with their password alone, and set up a new app.
pub async fn remove_second_factor(
    db: &DatabaseConnection,
    actor: Actor<'_>,
    username: &str,
) -> Result<(), AccountError> {
    let txn = crate::db::begin_write(db).await?;
    let found = find(&txn, username).await?;
    crate::services::second_factor::remove(&txn, found.id).await?;
    let ended = end_all_sessions(&txn, found.id).await?;
    let detail = format!(
        "second factor of '{username}' removed {}; {ended} session(s) ended",
        via(actor)
    );
    audit_and_commit(txn, actor, Action::SecondFactorRemove, &detail).await
}

/// A password to hand over: letters and digits without look-alikes.
fn generate() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..GENERATED_LEN)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}
