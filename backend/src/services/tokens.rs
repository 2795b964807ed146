//! API tokens: created by an administrator with a name, a scope and an expiry, shown once,
//! stored as SHA-256 digests, listed with their last use, revocable, audited.
//!
//! A `read` token acts as a viewer (GET only), a `write` token as an administrator who cannot
//! hand out access (users, tokens), an `admin` token as a full administrator. The token
//! is `swt_` followed by 43 URL-safe characters (256 random bits): the prefix makes a leaked
//! token easy to recognise in logs and secret scanners.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    sea_query::Expr,
};
use serde::Deserialize;

use wire::tokens::{CreatedToken, TokenView};
use wire::{Page, Role};

use crate::auth::session::{new_token, token_hash};
use crate::auth::{AccessAdmin, Caller};
use crate::core::Core;
use crate::db::entities::{api_token, user};
use crate::services::audit::{self, Action, Record};
use crate::services::{Internal, page, rfc3339};

/// What every token starts with.
pub const TOKEN_PREFIX: &str = "swt_";
/// Longest lifetime a token may be given (a year).
pub const MAX_DAYS: u32 = 366;

/// A token request, as the API takes it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What the token is for (1 to 64 printable characters).
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
    /// `read` (GET only), `write` (changes, but no users or tokens) or `admin` (also creates
    /// users and creates and revokes tokens).
    #[schema(pattern = "^(read|write|admin)$")]
    pub scope: String,
    /// Days until it expires (1 to 366).
    #[schema(minimum = 1, maximum = 366)]
    pub expires_in_days: u32,
}

/// Why a token request was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// A field broke its rule (422).
    #[error("{field}: {reason}")]
    BadValue { field: &'static str, reason: String },
    /// No such token (404).
    #[error("token {0} does not exist")]
    NotFound(i32),
    /// Not the caller's fault (500).
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<sea_orm::DbErr> for TokenError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Internal(Internal::Db(e))
    }
}

fn view(row: &api_token::Model, now: DateTime<Utc>) -> TokenView {
    TokenView {
        id: row.id,
        name: row.name.clone(),
        prefix: row.prefix.clone(),
        scope: row.scope.clone(),
        created_by: row.created_by.clone(),
        created_at: rfc3339(row.created_at),
        expires_at: rfc3339(row.expires_at),
        last_used_at: row.last_used_at.map(rfc3339),
        revoked_at: row.revoked_at.map(rfc3339),
        active: admits(row, now),
    }
}

/// Creates a token; its value is in the answer and nowhere else.
pub async fn create(
    core: &Core,
    admin: &AccessAdmin,
    new: NewToken,
) -> Result<CreatedToken, TokenError> {
    let name = new.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(TokenError::BadValue {
            field: "name",
            reason: "1 to 64 characters on one line".to_owned(),
        });
    }
    if !matches!(new.scope.as_str(), "read" | "write" | "admin") {
        return Err(TokenError::BadValue {
            field: "scope",
            reason: "`read` (GET only), `write` (no users or tokens) or `admin`".to_owned(),
        });
    }
    if !(1..=MAX_DAYS).contains(&new.expires_in_days) {
        return Err(TokenError::BadValue {
            field: "expires_in_days",
            reason: format!("between 1 and {MAX_DAYS}"),
        });
    }
    // A token made by a token belongs to the person behind the first one: disabling or
    // deleting that user must reach every token descended from theirs.
    let owner = match admin.caller().token_id {
        Some(parent) => api_token::Entity::find_by_id(parent)
            .one(&core.db)
            .await?
            .map_or_else(|| admin.caller().username.clone(), |p| p.created_by),
        None => admin.caller().username.clone(),
    };
    let token = format!("{TOKEN_PREFIX}{}", new_token());
    let now = Utc::now();
    let row = api_token::ActiveModel {
        name: Set(name.clone()),
        token_hash: Set(token_hash(&token)),
        prefix: Set(token.chars().take(TOKEN_PREFIX.len() + 6).collect()),
        scope: Set(new.scope.clone()),
        created_by: Set(owner),
        created_at: Set(now),
        expires_at: Set(now + chrono::Duration::days(i64::from(new.expires_in_days))),
        last_used_at: Set(None),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(&core.db)
    .await?;
    let detail = format!(
        "token {} '{name}' ({}, {} days)",
        row.id, new.scope, new.expires_in_days
    );
    audit::record(
        &core.db,
        Record::by_caller(admin.caller(), Action::TokenCreate, true, &detail),
    )
    .await?;
    Ok(CreatedToken {
        view: view(&row, now),
        token,
    })
}

/// Tokens, newest first, older than `before` (a token id) when given.
pub async fn list(
    core: &Core,
    before: Option<i64>,
    limit: u64,
) -> Result<Page<TokenView>, Internal> {
    let now = Utc::now();
    let rows = page::rows(
        &core.db,
        api_token::Entity::find(),
        api_token::Column::Id,
        sea_orm::Order::Desc,
        before,
        limit,
    )
    .await?;
    Ok(page::split(
        rows,
        limit,
        |r| r.id.to_string(),
        |r| view(&r, now),
    ))
}

/// Revokes a token at once (idempotent).
pub async fn revoke(core: &Core, admin: &AccessAdmin, id: i32) -> Result<TokenView, TokenError> {
    let row = api_token::Entity::find_by_id(id)
        .one(&core.db)
        .await?
        .ok_or(TokenError::NotFound(id))?;
    let now = Utc::now();
    let row = if row.revoked_at.is_none() {
        let mut active: api_token::ActiveModel = row.into();
        active.revoked_at = Set(Some(now));
        active.update(&core.db).await?
    } else {
        row
    };
    let detail = format!("token {id} '{}'", row.name);
    audit::record(
        &core.db,
        Record::by_caller(admin.caller(), Action::TokenRevoke, true, &detail),
    )
    .await?;
    Ok(view(&row, now))
}

/// Whether a token still admits its bearer at `now`: not revoked, not expired.
pub(crate) fn admits(token: &api_token::Model, now: DateTime<Utc>) -> bool {
    token.revoked_at.is_none() && token.expires_at > now
}

/// Whether the console user who made `token` is disabled: their tokens rest with them.
/// (A deleted user's tokens were revoked with them; `token:`-made tokens have no user.)
pub(crate) async fn creator_disabled(
    db: &impl sea_orm::ConnectionTrait,
    token: &api_token::Model,
) -> Result<bool, Internal> {
    Ok(user::Entity::find()
        .filter(user::Column::Username.eq(token.created_by.as_str()))
        .filter(user::Column::DisabledAt.is_not_null())
        .count(db)
        .await?
        > 0)
}

/// The caller a bearer token stands for; `None` for an unknown, expired or revoked token,
/// or one whose creator is disabled.
pub async fn caller_from_bearer(
    core: &Core,
    token: &str,
    ip: IpAddr,
) -> Result<Option<Caller>, Internal> {
    if !token.starts_with(TOKEN_PREFIX) || token.len() > 128 {
        return Ok(None);
    }
    let Some(row) = api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(token_hash(token)))
        .one(&core.db)
        .await?
    else {
        return Ok(None);
    };
    let now = Utc::now();
    if !admits(&row, now) || creator_disabled(&core.db, &row).await? {
        return Ok(None);
    }
    // Touch at most once a minute: a busy script should not turn every call into a write.
    if row
        .last_used_at
        .is_none_or(|t| now - t > chrono::Duration::seconds(60))
    {
        // By filter, not by model: a row deleted meanwhile is nothing to touch, not an error.
        api_token::Entity::update_many()
            .col_expr(api_token::Column::LastUsedAt, Expr::value(Some(now)))
            .filter(api_token::Column::Id.eq(row.id))
            .exec(&core.db)
            .await?;
    }
    let role = if matches!(row.scope.as_str(), "write" | "admin") {
        Role::Admin
    } else {
        Role::Viewer
    };
    Ok(Some(Caller {
        user_id: 0,
        username: format!("token:{}", row.name),
        role,
        session_hash: String::new(),
        csrf: String::new(),
        source_ip: ip,
        token_id: Some(row.id),
        manages_access: row.scope == "admin",
        // Tokens are their own credential: the second factor is the console's.
        must_enrol: false,
    }))
}
