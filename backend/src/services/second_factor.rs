//! A second factor for console users (#18 point 2): TOTP enrolment (a key shown as a QR
//! code, confirmed by its first code), ten one-time recovery codes, the check at sign-in,
//! and removal (by the user with their password, or by an administrator for a lost phone).
//! API tokens are not affected: they are their own credential.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, sea_query::Expr,
};

use app::form::ConsoleError;
use wire::Role;

use crate::auth::{Caller, totp};
use crate::core::Core;
use crate::db::entities::{recovery_code, user};
use crate::services::Internal;
use crate::services::audit::{self, Action, Record};

/// Why a second-factor change did not happen (the accounts service, which checks codes at
/// sign-in, depends on this module, so this one does not use its error).
#[derive(Debug, thiserror::Error)]
pub enum SecondFactorError {
    /// The caller's fault; the message is safe to show.
    #[error("{0}")]
    Rejected(ConsoleError),
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<ConsoleError> for SecondFactorError {
    fn from(e: ConsoleError) -> Self {
        SecondFactorError::Rejected(e)
    }
}

impl From<sea_orm::DbErr> for SecondFactorError {
    fn from(e: sea_orm::DbErr) -> Self {
        SecondFactorError::Internal(Internal::Db(e))
    }
}

/// Whether a user has a second factor, how many recovery codes are left, and the
/// enrolment in progress (shown again on every load of the account page, so it works
/// without JavaScript).
#[derive(Debug, Clone, Default)]
pub struct Status {
    pub enabled: bool,
    pub recovery_codes_left: u64,
    pub pending: Option<wire::users::PendingEnrolment>,
}

/// The issuer authenticator apps list the account under.
const ISSUER: &str = "sipwarden";

async fn own_row(core: &Core, caller: &Caller) -> Result<user::Model, SecondFactorError> {
    // A token is no console user: it has no second factor to manage.
    if caller.token_id.is_some() {
        return Err(ConsoleError::Forbidden.into());
    }
    user::Entity::find_by_id(caller.user_id)
        .one(&core.db)
        .await?
        .ok_or_else(|| ConsoleError::NotSignedIn.into())
}

/// The caller's second factor.
pub async fn status(db: &DatabaseConnection, caller: &Caller) -> Result<Status, Internal> {
    if caller.token_id.is_some() {
        return Ok(Status::default());
    }
    let Some(row) = user::Entity::find_by_id(caller.user_id).one(db).await? else {
        return Ok(Status::default());
    };
    let left = recovery_code::Entity::find()
        .filter(recovery_code::Column::UserId.eq(row.id))
        .filter(recovery_code::Column::UsedAt.is_null())
        .count(db)
        .await?;
    let pending = match &row.totp_pending_key {
        Some(key) => Some(pending_enrolment(key, &row.username)?),
        None => None,
    };
    Ok(Status {
        enabled: row.totp_key.is_some(),
        recovery_codes_left: left,
        pending,
    })
}

/// A key being enrolled as the page shows it: grouped for reading, and as a QR code.
fn pending_enrolment(key: &str, account: &str) -> Result<wire::users::PendingEnrolment, Internal> {
    let uri = totp::uri(key, ISSUER, account);
    let qr = totp::qr_data_uri(&uri)
        .ok_or_else(|| Internal::Corrupt("the enrolment URI does not fit a QR code".into()))?;
    let grouped = key
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    Ok(wire::users::PendingEnrolment { key: grouped, qr })
}

/// Starts enrolment: a new key, kept aside until its first code confirms it (the factor in
/// use, if any, stays until then). Replacing a factor in use needs the password again
/// (`password_confirmed`, checked by the caller), or a stolen session could install its own.
pub async fn begin(
    core: &Core,
    caller: &Caller,
    password_confirmed: bool,
) -> Result<(), SecondFactorError> {
    let row = own_row(core, caller).await?;
    if row.totp_key.is_some() && !password_confirmed {
        return Err(ConsoleError::WrongCurrentPassword.into());
    }
    let mut active: user::ActiveModel = row.into();
    active.totp_pending_key = Set(Some(totp::new_key()));
    active.update(&core.db).await?;
    Ok(())
}

/// Confirms enrolment with the first code from the app: the key becomes the user's second
/// factor, and ten recovery codes replace any earlier ones (returned this once).
pub async fn confirm(
    core: &Core,
    caller: &Caller,
    code: &str,
) -> Result<Vec<String>, SecondFactorError> {
    let row = own_row(core, caller).await?;
    let Some(key) = row.totp_pending_key.clone() else {
        return Err(ConsoleError::NoEnrolment.into());
    };
    let Some(step) = totp::verify(&key, code, Utc::now().timestamp(), None) else {
        audit::record(
            &core.db,
            Record::by_caller(caller, Action::SecondFactorEnrol, false, "wrong first code"),
        )
        .await?;
        return Err(ConsoleError::BadSecondFactor.into());
    };
    let codes = totp::new_recovery_codes();
    let txn = crate::db::begin_write(&core.db).await?;
    let user_id = row.id;
    // Only the key this code was checked against: a second enrolment started meanwhile
    // makes this one stale instead of leaving two sets of recovery codes behind.
    let done = user::Entity::update_many()
        .col_expr(user::Column::TotpKey, Expr::value(Some(key.clone())))
        .col_expr(
            user::Column::TotpPendingKey,
            Expr::value(Option::<String>::None),
        )
        .col_expr(user::Column::TotpLastStep, Expr::value(Some(step)))
        .filter(user::Column::Id.eq(user_id))
        .filter(user::Column::TotpPendingKey.eq(key))
        .exec(&txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(ConsoleError::NoEnrolment.into());
    }
    recovery_code::Entity::delete_many()
        .filter(recovery_code::Column::UserId.eq(user_id))
        .exec(&txn)
        .await?;
    recovery_code::Entity::insert_many(codes.iter().map(|c| recovery_code::ActiveModel {
        user_id: Set(user_id),
        code_hash: Set(totp::recovery_hash(c)),
        used_at: Set(None),
        ..Default::default()
    }))
    .exec(&txn)
    .await?;
    audit::record(
        &txn,
        Record::by_caller(
            caller,
            Action::SecondFactorEnrol,
            true,
            "authenticator app set up; 10 recovery codes made",
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(codes)
}

/// Checks the second factor at sign-in: a current TOTP code (each step once) or an unused
/// recovery code (used up by this). `Ok(true)` when it is right.
pub(crate) async fn check_at_sign_in(
    db: &DatabaseConnection,
    user: &user::Model,
    code: &str,
) -> Result<bool, Internal> {
    let Some(key) = &user.totp_key else {
        return Ok(true);
    };
    if let Some(step) = totp::verify(key, code, Utc::now().timestamp(), user.totp_last_step) {
        // Conditional on the step read: two sign-ins racing with one code, one wins.
        let done = user::Entity::update_many()
            .col_expr(user::Column::TotpLastStep, Expr::value(Some(step)))
            .filter(user::Column::Id.eq(user.id))
            .filter(
                user::Column::TotpLastStep
                    .is_null()
                    .or(user::Column::TotpLastStep.lt(step)),
            )
            .exec(db)
            .await?;
        return Ok(done.rows_affected == 1);
    }
    let used = recovery_code::Entity::update_many()
        .col_expr(recovery_code::Column::UsedAt, Expr::value(Some(Utc::now())))
        .filter(recovery_code::Column::UserId.eq(user.id))
        .filter(recovery_code::Column::CodeHash.eq(totp::recovery_hash(code)))
        .filter(recovery_code::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(used.rows_affected == 1)
}

/// Removes a user's second factor and recovery codes (their own, after the password check
/// the caller made; or an administrator's reset for a lost phone).
pub(crate) async fn remove(
    db: &impl sea_orm::ConnectionTrait,
    user_id: i32,
) -> Result<(), Internal> {
    user::Entity::update_many()
        .col_expr(user::Column::TotpKey, Expr::value(Option::<String>::None))
        .col_expr(
            user::Column::TotpPendingKey,
            Expr::value(Option::<String>::None),
        )
        .col_expr(user::Column::TotpLastStep, Expr::value(Option::<i64>::None))
        .filter(user::Column::Id.eq(user_id))
        .exec(db)
        .await?;
    recovery_code::Entity::delete_many()
        .filter(recovery_code::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Whether `user` must set up a second factor before doing anything else.
#[must_use]
pub fn must_enrol(required_for_admins: bool, user: &user::Model) -> bool {
    required_for_admins && user.role == Role::Admin.as_str() && user.totp_key.is_none()
}
