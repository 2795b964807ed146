//! Console accounts and sessions: sign-in, sign-out, the first administrator, passwords.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, PaginatorTrait, QueryFilter, Statement, TransactionTrait, sea_query::Expr,
};

use app::form::ConsoleError;
use wire::Role;

use crate::auth::session::{clear_cookie, new_token, set_cookie, token_hash};
use crate::auth::sign_in::{SetupToken, SignInThrottle};
use crate::auth::{AccessAdmin, Admin, Caller, parse_role, password};
use crate::core::Core;
use crate::db::entities::{api_token, session, user};
use crate::services::audit::{self, Action, Record};
use crate::services::{Internal, page};

/// Why an account operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The caller's fault; the message is safe to show.
    #[error("{0}")]
    Rejected(ConsoleError),
    /// Too many failures from this address or for this username.
    #[error("throttled for {0:?}")]
    Throttled(Duration),
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<ConsoleError> for AccountError {
    fn from(e: ConsoleError) -> Self {
        AccountError::Rejected(e)
    }
}

impl From<crate::services::second_factor::SecondFactorError> for AccountError {
    fn from(e: crate::services::second_factor::SecondFactorError) -> Self {
        use crate::services::second_factor::SecondFactorError;
        match e {
            SecondFactorError::Rejected(reason) => AccountError::Rejected(reason),
            SecondFactorError::Internal(cause) => AccountError::Internal(cause),
        }
    }
}

impl From<sea_orm::DbErr> for AccountError {
    fn from(e: sea_orm::DbErr) -> Self {
        AccountError::Internal(Internal::Db(e))
    }
}

/// A session just created: the token goes into the cookie, never into the database.
#[derive(Debug)]
pub struct NewSession {
    pub set_cookie: String,
    pub username: String,
    pub role: Role,
    pub csrf: String,
}

/// Admits a password check for `username` from `ip`, or says how long it is refused. A
/// guesser's address is refused at once; a clean one is only slowed by the account's wait
/// (see `SignInThrottle`), so the owner's right password is never locked out. Then a hashing
/// slot, and the refusal again: the attempts of one burst queue for the slots and each sees
/// the failures recorded by those before it.
async fn admit(
    throttle: &SignInThrottle,
    ip: IpAddr,
    username: &str,
) -> Result<Result<tokio::sync::SemaphorePermit<'static>, Duration>, Internal> {
    if let Some(wait) = throttle.refusal(ip, username, Instant::now()) {
        return Ok(Err(wait));
    }
    if let Some(delay) = throttle.username_delay(username, Instant::now()) {
        tokio::time::sleep(delay).await;
    }
    let Ok(slot) = HASHING.acquire().await else {
        return Err(Internal::Hash("the hashing slots are closed".to_owned()));
    };
    Ok(match throttle.refusal(ip, username, Instant::now()) {
        Some(wait) => Err(wait),
        None => Ok(slot),
    })
}

/// Audits an attempt refused without checking its password.
async fn refused(core: &Core, username: &str, ip: IpAddr, wait: Duration) -> AccountError {
    let detail = format!(
        "refused without checking: throttled for {} s",
        wait.as_secs().max(1)
    );
    let line = Record {
        actor: Some(username),
        source_ip: Some(ip),
        action: Action::SignIn,
        success: false,
        detail: &detail,
    };
    match audit::record(&core.db, line).await {
        Ok(()) => AccountError::Throttled(wait),
        Err(e) => e.into(),
    }
}

/// Checks a password (throttled per address, slowed per username, audited) and opens a
/// session; a user with a second factor is refused with `SecondFactorRequired` (see
/// [`sign_in_with_code`]).
pub async fn sign_in(
    core: &Core,
    throttle: &SignInThrottle,
    username: &str,
    password_given: &str,
    ip: IpAddr,
) -> Result<NewSession, AccountError> {
    sign_in_with_code(core, throttle, username, password_given, None, ip).await
}

/// Checks the password and, for a user who has one, the second factor (a TOTP code or a
/// recovery code), throttled, slowed and audited as one attempt; then opens a session.
pub async fn sign_in_with_code(
    core: &Core,
    throttle: &SignInThrottle,
    username: &str,
    password_given: &str,
    code: Option<&str>,
    ip: IpAddr,
) -> Result<NewSession, AccountError> {
    // Bound the work an anonymous caller can make us do before anything else.
    let username = username.trim();
    if username.len() > 64 || password_given.len() > password::MAX_LEN {
        return Err(ConsoleError::BadCredentials.into());
    }
    // An account whose second factor is being guessed is refused from everywhere, before
    // anything else (and before the username's delay, which would outlast a short wait).
    if code.is_some()
        && let Some(wait) = throttle.second_factor_wait(username, Instant::now())
    {
        return Err(refused(core, username, ip, wait).await);
    }
    let slot = match admit(throttle, ip, username).await? {
        Ok(slot) => slot,
        Err(wait) => return Err(refused(core, username, ip, wait).await),
    };

    let found = user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(&core.db)
        .await?;
    let phc = found.as_ref().map_or_else(
        || password::dummy_hash().to_owned(),
        |u| u.password_hash.clone(),
    );
    let matches = verify_in(slot, password_given, phc).await;

    let user = match (found, matches) {
        (Some(user), true) if user.disabled_at.is_none() => user,
        (Some(_), true) => {
            // The right password of a disabled account: refused like a wrong one (the form
            // does not tell a guesser which accounts exist), audited as what it was.
            audit::record(
                &core.db,
                Record::attempt(username, ip, Action::SignIn, false, "account disabled"),
            )
            .await?;
            return Err(ConsoleError::BadCredentials.into());
        }
        (found, _) => {
            // The wait runs from when the failure is known, not from the request's arrival:
            // the password check itself takes a while and must not use up the wait.
            throttle.fail(ip, username, Instant::now());
            let detail = if found.is_some() {
                "wrong password"
            } else {
                "unknown username"
            };
            audit::record(
                &core.db,
                Record::attempt(username, ip, Action::SignIn, false, detail),
            )
            .await?;
            return Err(ConsoleError::BadCredentials.into());
        }
    };
    if user.totp_key.is_some() {
        let code = code
            .map(str::trim)
            .filter(|c| !c.is_empty() && c.len() <= 64);
        let Some(code) = code else {
            // The password was right; without the code there is no session. Not a failure
            // for the throttle: the form asks for the code next.
            audit::record(
                &core.db,
                Record::attempt(username, ip, Action::SignIn, false, "second factor needed"),
            )
            .await?;
            return Err(ConsoleError::SecondFactorRequired.into());
        };
        if !crate::services::second_factor::check_at_sign_in(&core.db, &user, code).await? {
            // Against the address and the account's second factor; not against the
            // username's password record, which the right password just proved.
            throttle.fail_address(ip, Instant::now());
            throttle.fail_second_factor(username, Instant::now());
            audit::record(
                &core.db,
                Record::attempt(username, ip, Action::SignIn, false, "wrong second factor"),
            )
            .await?;
            return Err(ConsoleError::BadSecondFactor.into());
        }
    }
    throttle.succeed(username);
    let session = open_session(core, &user, ip).await?;
    audit::record(
        &core.db,
        Record {
            actor: Some(&user.username),
            source_ip: Some(ip),
            action: Action::SignIn,
            success: true,
            detail: "signed in",
        },
    )
    .await?;
    Ok(session)
}

async fn open_session(
    core: &Core,
    user: &user::Model,
    ip: IpAddr,
) -> Result<NewSession, AccountError> {
    let role = parse_role(&user.role).ok_or(ConsoleError::Internal)?;
    let token = new_token();
    let csrf = new_token();
    let now = Utc::now();
    session::ActiveModel {
        id_hash: Set(token_hash(&token)),
        user_id: Set(user.id),
        csrf_token: Set(csrf.clone()),
        source_ip: Set(ip.to_string()),
        created_at: Set(now),
        last_seen_at: Set(now),
        expires_at: Set(now + chrono::Duration::hours(i64::from(core.config.session_max_hours))),
    }
    .insert(&core.db)
    .await?;
    Ok(NewSession {
        set_cookie: set_cookie(
            &token,
            core.config.session_max_hours,
            core.config.cookies_secure(),
        ),
        username: user.username.clone(),
        role,
        csrf,
    })
}

/// The caller behind a session token, if the session exists and has not expired (by its
/// absolute lifetime or by idleness). Expired sessions are deleted on sight.
pub async fn caller_from_token(
    core: &Core,
    token: &str,
    ip: IpAddr,
    activity: bool,
) -> Result<Option<Caller>, Internal> {
    let hash = token_hash(token);
    let Some((session, Some(user))) = session::Entity::find_by_id(hash.clone())
        .find_also_related(user::Entity)
        .one(&core.db)
        .await?
    else {
        return Ok(None);
    };
    let now = Utc::now();
    if !session_admits(core, &session, now) || user.disabled_at.is_some() {
        session::Entity::delete_by_id(hash).exec(&core.db).await?;
        return Ok(None);
    }
    // Touch at most once a minute: a page view should not be a database write. A request a
    // page makes by itself (`activity` false) is no sign of a person: an unattended tab must
    // not hold its session past the idle timeout.
    if activity && now - session.last_seen_at > chrono::Duration::seconds(60) {
        // By filter, not by model: a sign-out in another tab may delete the row meanwhile,
        // and touching nothing is then the right outcome, not an error.
        session::Entity::update_many()
            .col_expr(session::Column::LastSeenAt, Expr::value(now))
            .filter(session::Column::IdHash.eq(session.id_hash.clone()))
            .exec(&core.db)
            .await?;
    }
    let must_enrol = crate::services::second_factor::must_enrol(
        core.config.require_second_factor_for_admins,
        &user,
    );
    let Some(role) = parse_role(&user.role) else {
        return Ok(None);
    };
    Ok(Some(Caller {
        user_id: user.id,
        username: user.username,
        role,
        session_hash: session.id_hash,
        csrf: session.csrf_token,
        source_ip: ip,
        token_id: None,
        manages_access: role == Role::Admin,
        must_enrol,
    }))
}

/// Whether the session or API token behind `caller` still admits it: not signed out,
/// revoked, expired or idle too long. For what runs long on one check at its start (the live
/// streams); reads only, so it does not keep an idle session alive.
pub async fn still_signed_in(core: &Core, caller: &Caller) -> Result<bool, Internal> {
    let now = Utc::now();
    if let Some(id) = caller.token_id {
        let Some(token) = api_token::Entity::find_by_id(id).one(&core.db).await? else {
            return Ok(false);
        };
        return Ok(crate::services::tokens::admits(&token, now)
            && !crate::services::tokens::creator_disabled(&core.db, &token).await?);
    }
    let session = session::Entity::find_by_id(caller.session_hash.clone())
        .one(&core.db)
        .await?;
    Ok(session.is_some_and(|s| session_admits(core, &s, now)))
}

/// Whether a session is still good at `now`: within its absolute lifetime and not idle longer
/// than the configured limit.
fn session_admits(core: &Core, session: &session::Model, now: DateTime<Utc>) -> bool {
    let idle_limit = chrono::Duration::hours(i64::from(core.config.session_idle_hours));
    session.expires_at > now && session.last_seen_at + idle_limit > now
}

/// Ends the caller's session. Returns the `Set-Cookie` value that clears the cookie.
pub async fn sign_out(core: &Core, caller: &Caller) -> Result<String, AccountError> {
    session::Entity::delete_by_id(caller.session_hash.clone())
        .exec(&core.db)
        .await?;
    audit::record(
        &core.db,
        Record::by_caller(caller, Action::SignOut, true, "signed out"),
    )
    .await?;
    Ok(clear_cookie(core.config.cookies_secure()))
}

/// Whether any administrator exists.
pub async fn admin_exists(db: &DatabaseConnection) -> Result<bool, Internal> {
    Ok(user::Entity::find()
        .filter(user::Column::Role.eq(Role::Admin.as_str()))
        .count(db)
        .await?
        > 0)
}

/// Who changes who has access: the command line (whoever can run it owns the data
/// directory), or an administrator over the API or the console.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    CommandLine,
    Admin(&'a AccessAdmin),
}

impl Actor<'_> {
    /// The audit line of what this actor did.
    pub(crate) fn record<'r>(
        &'r self,
        action: Action,
        success: bool,
        detail: &'r str,
    ) -> Record<'r> {
        match self {
            Actor::CommandLine => Record {
                actor: None,
                source_ip: None,
                action,
                success,
                detail,
            },
            Actor::Admin(admin) => Record::by_caller(admin.caller(), action, success, detail),
        }
    }
}

/// Creates a console user. Refuses an existing username.
pub async fn create_user(
    db: &DatabaseConnection,
    creator: Actor<'_>,
    username: &str,
    new_password: &str,
    role: Role,
) -> Result<(), AccountError> {
    password::check_username(username)?;
    password::check_new(username, new_password, new_password)?;
    let phc = hash_blocking(new_password).await?;
    let now = Utc::now();
    let inserted = user::ActiveModel {
        username: Set(username.to_owned()),
        password_hash: Set(phc),
        role: Set(role.as_str().to_owned()),
        created_at: Set(now),
        password_changed_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await;
    match inserted {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            return Err(AccountError::Rejected(ConsoleError::BadUsername));
        }
        Err(e) => return Err(e.into()),
    }
    let via = match creator {
        Actor::CommandLine => "from the command line",
        Actor::Admin(_) => "over the API",
    };
    let detail = format!("created {} '{username}' {via}", role.as_str());
    audit::record(db, creator.record(Action::UserCreate, true, &detail)).await?;
    Ok(())
}

/// A console user as listed to administrators.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub username: String,
    pub role: Role,
    pub created_at: chrono::DateTime<Utc>,
    /// Disabled users cannot sign in and their API tokens do not authenticate.
    pub disabled: bool,
    /// Whether signing in needs a code from an authenticator app.
    pub second_factor: bool,
}

/// Console users by name, a page at a time from `cursor` (administrators only).
pub async fn list_users(
    db: &DatabaseConnection,
    _admin: &Admin,
    cursor: Option<&str>,
    limit: u64,
) -> Result<wire::Page<UserView>, Internal> {
    list_users_unchecked(db, cursor, limit).await
}

/// [`list_users`] for the command line, whose caller owns the data directory.
pub async fn list_users_unchecked(
    db: &DatabaseConnection,
    cursor: Option<&str>,
    limit: u64,
) -> Result<wire::Page<UserView>, Internal> {
    let rows = page::rows(
        db,
        user::Entity::find(),
        user::Column::Username,
        sea_orm::Order::Asc,
        cursor,
        limit,
    )
    .await?;
    let mut page = page::split(
        rows,
        limit,
        |u| u.username.clone(),
        |u| {
            Some(UserView {
                role: parse_role(&u.role)?,
                username: u.username,
                created_at: u.created_at,
                disabled: u.disabled_at.is_some(),
                second_factor: u.totp_key.is_some(),
            })
        },
    );
    Ok(wire::Page {
        items: page.items.drain(..).flatten().collect(),
        next_cursor: page.next_cursor,
    })
}

/// The setup form as given.
#[derive(Clone, Copy)]
pub struct SetupForm<'a> {
    pub token: &'a str,
    pub username: &'a str,
    pub password: &'a str,
    pub confirm: &'a str,
}

/// Creates the first administrator with the one-time setup token and signs them in.
///
/// The insert itself is conditional (`WHERE NOT EXISTS` an admin), so two simultaneous setups
/// cannot both succeed even if both knew the token.
pub async fn complete_setup(
    core: &Core,
    throttle: &SignInThrottle,
    setup_token: &SetupToken,
    form: SetupForm<'_>,
    ip: IpAddr,
) -> Result<NewSession, AccountError> {
    let SetupForm {
        token,
        username,
        password: new_password,
        confirm,
    } = form;
    if let Some(wait) = throttle.wait_address(ip, Instant::now()) {
        return Err(AccountError::Throttled(wait));
    }
    if admin_exists(&core.db).await? {
        return Err(ConsoleError::SetupDone.into());
    }
    if !setup_token.matches(token) {
        throttle.fail_address(ip, Instant::now());
        // Anyone can try: only a name that could be a username goes into the audit log.
        let named = match username.trim() {
            u if password::check_username(u).is_ok() => u,
            _ => "(not a valid username)",
        };
        audit::record(
            &core.db,
            Record::attempt(named, ip, Action::Setup, false, "wrong setup token"),
        )
        .await?;
        return Err(ConsoleError::BadSetupToken.into());
    }
    let username = username.trim();
    password::check_username(username)?;
    password::check_new(username, new_password, confirm)?;
    let phc = hash_blocking(new_password).await?;
    let at = Utc::now();
    let txn = core.db.begin().await?;
    let result = txn
        .execute(Statement::from_sql_and_values(
            txn.get_database_backend(),
            "INSERT INTO users (username, password_hash, role, created_at, password_changed_at) \
             SELECT ?, ?, 'admin', ?, ? WHERE NOT EXISTS (SELECT 1 FROM users WHERE role = 'admin')",
            [
                username.into(),
                phc.into(),
                at.into(),
                at.into(),
            ],
        ))
        .await?;
    if result.rows_affected() != 1 {
        txn.rollback().await?;
        return Err(ConsoleError::SetupDone.into());
    }
    txn.commit().await?;
    setup_token.disarm();
    let user = user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(&core.db)
        .await?
        .ok_or(ConsoleError::Internal)?;
    audit::record(
        &core.db,
        Record::attempt(
            username,
            ip,
            Action::Setup,
            true,
            "first administrator created with the setup token",
        ),
    )
    .await?;
    tracing::info!(
        username,
        "first administrator created; the setup token is spent"
    );
    open_session(core, &user, ip).await
}

/// Changes the caller's own password and ends their other sessions.
pub async fn change_password(
    core: &Core,
    throttle: &SignInThrottle,
    caller: &Caller,
    current: &str,
    new_password: &str,
    confirm: &str,
) -> Result<(), AccountError> {
    confirm_own_password(core, throttle, caller, current, Action::PasswordChange).await?;
    let user = user::Entity::find_by_id(caller.user_id)
        .one(&core.db)
        .await?
        .ok_or(ConsoleError::NotSignedIn)?;
    password::check_new(&caller.username, new_password, confirm)?;
    let phc = hash_blocking(new_password).await?;
    let mut active: user::ActiveModel = user.into();
    active.password_hash = Set(phc);
    active.password_changed_at = Set(Utc::now());
    active.update(&core.db).await?;
    // A changed password must lock out whoever else held a session with the old one.
    session::Entity::delete_many()
        .filter(session::Column::UserId.eq(caller.user_id))
        .filter(session::Column::IdHash.ne(caller.session_hash.clone()))
        .exec(&core.db)
        .await?;
    audit::record(
        &core.db,
        Record::by_caller(
            caller,
            Action::PasswordChange,
            true,
            "password changed; other sessions ended",
        ),
    )
    .await?;
    Ok(())
}

/// Checks the caller's own password again (throttled like a sign-in, audited as `action`
/// when wrong): what a change to their own credentials needs, so that a session alone (a
/// borrowed laptop, a stolen cookie) cannot make itself permanent.
pub async fn confirm_own_password(
    core: &Core,
    throttle: &SignInThrottle,
    caller: &Caller,
    password_given: &str,
    action: Action,
) -> Result<(), AccountError> {
    if caller.token_id.is_some() {
        return Err(ConsoleError::Forbidden.into());
    }
    if password_given.len() > password::MAX_LEN {
        return Err(ConsoleError::WrongCurrentPassword.into());
    }
    let slot = admit(throttle, caller.source_ip, &caller.username)
        .await?
        .map_err(AccountError::Throttled)?;
    let user = user::Entity::find_by_id(caller.user_id)
        .one(&core.db)
        .await?
        .ok_or(ConsoleError::NotSignedIn)?;
    if !verify_in(slot, password_given, user.password_hash.clone()).await {
        throttle.fail(caller.source_ip, &caller.username, Instant::now());
        audit::record(
            &core.db,
            Record::by_caller(caller, action, false, "wrong password"),
        )
        .await?;
        return Err(ConsoleError::WrongCurrentPassword.into());
    }
    throttle.succeed(&caller.username);
    Ok(())
}

/// Removes the caller's own second factor, after checking their password.
pub async fn remove_own_second_factor(
    core: &Core,
    throttle: &SignInThrottle,
    caller: &Caller,
    password_given: &str,
) -> Result<(), AccountError> {
    confirm_own_password(
        core,
        throttle,
        caller,
        password_given,
        Action::SecondFactorRemove,
    )
    .await?;
    crate::services::second_factor::remove(&core.db, caller.user_id).await?;
    audit::record(
        &core.db,
        Record::by_caller(
            caller,
            Action::SecondFactorRemove,
            true,
            "own second factor removed",
        ),
    )
    .await?;
    Ok(())
}

/// Counts for the dashboard: users and unexpired sessions.
pub async fn counts(db: &DatabaseConnection) -> Result<(u64, u64), Internal> {
    let users = user::Entity::find().count(db).await?;
    let sessions = session::Entity::find()
        .filter(session::Column::ExpiresAt.gt(Utc::now()))
        .count(db)
        .await?;
    Ok((users, sessions))
}

/// Deletes expired sessions (run periodically).
pub async fn purge_expired_sessions(db: &DatabaseConnection) -> Result<u64, Internal> {
    let result = session::Entity::delete_many()
        .filter(session::Column::ExpiresAt.lte(Utc::now()))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Password hashes computed at once, at most. Each takes argon2's 19 MiB and a core for a
/// while; a burst of sign-ins queues here instead of growing the blocking pool (up to 512
/// threads, ~9.5 GiB) before the throttle has seen any failure.
static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

/// Verifies in a hashing slot already held.
async fn verify_in(
    permit: tokio::sync::SemaphorePermit<'static>,
    given: &str,
    phc: String,
) -> bool {
    let given = given.to_owned();
    // The permit goes with the work: a caller that hangs up does not free it early.
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        password::verify(&given, &phc)
    })
    .await
    .unwrap_or(false)
}

pub(crate) async fn hash_blocking(new_password: &str) -> Result<String, Internal> {
    let permit = HASHING
        .acquire()
        .await
        .map_err(|e| Internal::Hash(e.to_string()))?;
    let owned = new_password.to_owned();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        password::hash(&owned)
    })
    .await
    .map_err(|e| Internal::Hash(e.to_string()))?
    .map_err(|e| Internal::Hash(e.to_string()))
}

fn is_unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}
