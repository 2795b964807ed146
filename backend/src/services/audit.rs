//! The audit log: who did what, from where, and whether it worked. Append-only.

use std::net::IpAddr;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use wire::{AuditEntry, AuditPageData, Page};

use crate::db::entities::audit_log;
use crate::services::{Internal, page};

/// Entries per page in the console.
pub const PER_PAGE: u32 = 50;

/// What an audit line says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    SignIn,
    SignOut,
    Setup,
    UserCreate,
    UserDisable,
    UserEnable,
    UserDelete,
    UserResetPassword,
    UserEndSessions,
    SecondFactorEnrol,
    SecondFactorRemove,
    PasswordChange,
    EndpointCreate,
    EndpointUpdate,
    EndpointRotateSecret,
    EndpointDelete,
    TrunkCreate,
    TrunkUpdate,
    TrunkDelete,
    TrunkReplaceSecret,
    AmiUserCreate,
    AmiUserUpdate,
    AmiUserRotateSecret,
    AmiUserDelete,
    PolicyUpdate,
    ConfigApply,
    ConfigRollback,
    FirewallPolicyUpdate,
    FirewallApply,
    FirewallConfirm,
    FirewallRevert,
    BanAdd,
    BanRemove,
    AllowAdd,
    AllowRemove,
    TokenCreate,
    TokenRevoke,
    AlertCreate,
    AlertUpdate,
    AlertDelete,
    AlertTest,
    GuardPolicyUpdate,
    AlarmAcknowledge,
    ConfigImport,
    FraudPolicyUpdate,
    FraudLock,
    FraudUnlock,
    FraudHangup,
    FraudRatesUpdate,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::SignIn => "sign_in",
            Action::SignOut => "sign_out",
            Action::Setup => "setup",
            Action::UserCreate => "user_create",
            Action::UserDisable => "user_disable",
            Action::UserEnable => "user_enable",
            Action::UserDelete => "user_delete",
            Action::UserResetPassword => "user_reset_password",
            Action::UserEndSessions => "user_end_sessions",
            Action::SecondFactorEnrol => "second_factor_enrol",
            Action::SecondFactorRemove => "second_factor_remove",
            Action::PasswordChange => "password_change",
            Action::EndpointCreate => "endpoint_create",
            Action::EndpointUpdate => "endpoint_update",
            Action::EndpointRotateSecret => "endpoint_rotate_secret",
            Action::EndpointDelete => "endpoint_delete",
            Action::TrunkCreate => "trunk_create",
            Action::TrunkUpdate => "trunk_update",
            Action::TrunkDelete => "trunk_delete",
            Action::TrunkReplaceSecret => "trunk_replace_secret",
            Action::AmiUserCreate => "ami_user_create",
            Action::AmiUserUpdate => "ami_user_update",
            Action::AmiUserRotateSecret => "ami_user_rotate_secret",
            Action::AmiUserDelete => "ami_user_delete",
            Action::PolicyUpdate => "policy_update",
            Action::ConfigApply => "config_apply",
            Action::ConfigRollback => "config_rollback",
            Action::FirewallPolicyUpdate => "firewall_policy_update",
            Action::FirewallApply => "firewall_apply",
            Action::FirewallConfirm => "firewall_confirm",
            Action::FirewallRevert => "firewall_revert",
            Action::BanAdd => "ban_add",
            Action::BanRemove => "ban_remove",
            Action::AllowAdd => "allow_add",
            Action::AllowRemove => "allow_remove",
            Action::TokenCreate => "token_create",
            Action::TokenRevoke => "token_revoke",
            Action::AlertCreate => "alert_create",
            Action::AlertUpdate => "alert_update",
            Action::AlertDelete => "alert_delete",
            Action::AlertTest => "alert_test",
            Action::GuardPolicyUpdate => "guard_policy_update",
            Action::AlarmAcknowledge => "alarm_acknowledge",
            Action::ConfigImport => "config_import",
            Action::FraudPolicyUpdate => "fraud_policy_update",
            Action::FraudLock => "fraud_lock",
            Action::FraudUnlock => "fraud_unlock",
            Action::FraudHangup => "fraud_hangup",
            Action::FraudRatesUpdate => "fraud_rates_update",
        }
    }
}

/// One line to append.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    pub actor: Option<&'a str>,
    pub source_ip: Option<IpAddr>,
    pub action: Action,
    pub success: bool,
    pub detail: &'a str,
}

impl<'a> Record<'a> {
    /// A line about something a signed-in caller did.
    #[must_use]
    pub fn by_caller(
        caller: &'a crate::auth::Caller,
        action: Action,
        success: bool,
        detail: &'a str,
    ) -> Self {
        Self {
            actor: Some(&caller.username),
            source_ip: Some(caller.source_ip),
            action,
            success,
            detail,
        }
    }

    /// A line about an attempt made under `name` from `ip` (not signed in yet).
    #[must_use]
    pub fn attempt(
        name: &'a str,
        ip: IpAddr,
        action: Action,
        success: bool,
        detail: &'a str,
    ) -> Self {
        Self {
            actor: Some(name),
            source_ip: Some(ip),
            action,
            success,
            detail,
        }
    }
}

/// Appends one line. A failure to audit is an internal error: the action must not pass
/// unrecorded silently, so callers propagate it.
pub async fn record(db: &impl sea_orm::ConnectionTrait, line: Record<'_>) -> Result<(), Internal> {
    audit_log::ActiveModel {
        at: Set(Utc::now()),
        actor: Set(line.actor.map(str::to_owned)),
        source_ip: Set(line.source_ip.map(|ip| ip.to_string())),
        action: Set(line.action.as_str().to_owned()),
        outcome: Set(if line.success { "success" } else { "failure" }.to_owned()),
        detail: Set(line.detail.to_owned()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Deletes lines older than `days` and beyond the newest `max_rows`: anyone can make a failed
/// sign-in, and each is a line, so the log is kept by age and by size like the guard's
/// events. Returns the lines deleted.
pub async fn enforce_retention(
    db: &DatabaseConnection,
    days: u32,
    max_rows: u64,
) -> Result<u64, Internal> {
    let cutoff = Utc::now() - chrono::Duration::days(i64::from(days));
    let mut deleted = audit_log::Entity::delete_many()
        .filter(audit_log::Column::At.lt(cutoff))
        .exec(db)
        .await?
        .rows_affected;
    let newest: Option<i32> = audit_log::Entity::find()
        .select_only()
        .column_as(audit_log::Column::Id.max(), "max")
        .into_tuple::<Option<i32>>()
        .one(db)
        .await?
        .flatten();
    if let Some(newest) = newest {
        let keep = i64::try_from(max_rows).unwrap_or(i64::MAX);
        let keep_from = i64::from(newest) - keep + 1;
        deleted += audit_log::Entity::delete_many()
            .filter(audit_log::Column::Id.lt(keep_from))
            .exec(db)
            .await?
            .rows_affected;
    }
    Ok(deleted)
}

/// One page of the console's numbered view, newest first.
pub async fn page(db: &DatabaseConnection, page: u32) -> Result<AuditPageData, Internal> {
    let total = audit_log::Entity::find().count(db).await?;
    let rows = audit_log::Entity::find()
        .order_by_desc(audit_log::Column::Id)
        .offset(u64::from(page) * u64::from(PER_PAGE))
        .limit(u64::from(PER_PAGE))
        .all(db)
        .await?;
    Ok(AuditPageData {
        entries: rows.into_iter().map(entry).collect(),
        page,
        per_page: PER_PAGE,
        total,
    })
}

/// The API's pages, newest first, older than `before` (an entry id) when given.
pub async fn entries(
    db: &DatabaseConnection,
    before: Option<i64>,
    limit: u64,
) -> Result<Page<AuditEntry>, Internal> {
    let rows = page::rows(
        db,
        audit_log::Entity::find(),
        audit_log::Column::Id,
        sea_orm::Order::Desc,
        before,
        limit,
    )
    .await?;
    Ok(page::split(rows, limit, |r| r.id.to_string(), entry))
}

fn entry(r: audit_log::Model) -> AuditEntry {
    AuditEntry {
        id: i64::from(r.id),
        at: r.at.format("%Y-%m-%d %H:%M:%S").to_string(),
        actor: r.actor,
        source_ip: r.source_ip,
        action: r.action,
        success: r.outcome == "success",
        detail: r.detail,
    }
}
