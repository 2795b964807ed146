//! The firewall's policy, bans and allowlist in the database, and their way into the kernel.
//!
//! The database is the record (it survives reboots, the kernel's sets do not); the kernel is
//! where a rule takes effect. Every change is stored first, then pushed to the kernel when
//! sipwarden's table is live. A kernel that cannot be reached (no `nft`, no `CAP_NET_ADMIN`)
//! never loses a change: the answer says the change is stored but not enforced, and why, and
//! start-up or the next apply puts it in.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};

use app::model::Page;
use app::model::firewall::{
    AllowEntryView, AllowlistView, BanAdded, BanView, FirewallApplied, FirewallPage,
    FirewallSettings, FirewallStatus, LockoutView, PinnedView, TableState,
};
use policy::firewall::{
    BanTarget, CheckedFirewallPolicy, DynamicState, FirewallPolicy, FirewallPolicyError, Lockout,
    Peer, PeerKind, RateTiers, TimedAddress, TimedPort, preview_lockout, render_ruleset,
};
use policy::guard::{BanDecision, KnownSource};

use crate::auth::Admin;
use crate::db::entities::{allow_entry, ban, firewall_policy, session, user};
use crate::firewall::{FirewallError, PendingApply};
use crate::services::audit::{self, Action, Record};
use crate::services::{Internal, page, rfc3339, run_to_end};
use crate::state::AppState;

/// A ban's length when the caller does not say (one hour).
pub const DEFAULT_BAN_SECS: u32 = 3600;
/// The longest ban the API sets (a year); anything longer belongs in the blocklist.
pub const MAX_BAN_SECS: u32 = 365 * 24 * 3600;
/// "Trust my current address" lasts at most a week: longer trust belongs in the policy.
pub const MAX_ALLOW_HOURS: u32 = 7 * 24;
/// Longest reason or note kept (characters).
pub const MAX_TEXT: usize = 200;

/// Why a firewall request was refused.
#[derive(Debug, thiserror::Error)]
pub enum FirewallServiceError {
    /// The policy broke a rule (422, with the field).
    #[error("{0}")]
    Invalid(#[from] FirewallPolicyError),
    /// A value of the request is unusable (422, with the field).
    #[error("{field}: {reason}")]
    BadValue { field: &'static str, reason: String },
    /// The address may not be banned (409): loopback, trusted or allowlisted.
    #[error("{0}")]
    NotBannable(String),
    /// The address is trusted by the policy already (409).
    #[error("{0}")]
    AlreadyTrusted(String),
    /// Applying would block these peers (409); repeat with `force` to apply anyway.
    #[error("applying would block {} peer(s): {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    WouldLockOut(Vec<Lockout>),
    /// `If-Match` named another version than the stored one (412).
    #[error("the firewall policy changed meanwhile: it is at version {current}, not {expected}")]
    Stale { expected: i32, current: i32 },
    /// Nothing is pending to confirm (409).
    #[error("no firewall change is waiting for confirmation")]
    NothingPending,
    /// No such ban or allow entry (404).
    #[error("{0} is not in the list")]
    NotFound(String),
    /// The kernel refused or could not be reached (503); nothing changed there.
    #[error("the kernel firewall could not be changed: {0}")]
    Kernel(FirewallError),
    /// Not the caller's fault (500, logged).
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<sea_orm::DbErr> for FirewallServiceError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Internal(Internal::Db(e))
    }
}

impl From<FirewallError> for FirewallServiceError {
    fn from(e: FirewallError) -> Self {
        Self::Kernel(e)
    }
}

fn remaining_secs(until: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    u64::try_from((until - now).num_seconds()).unwrap_or(0)
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> Internal {
    Internal::Corrupt(format!("{what}: {e}"))
}

// ---------------------------------------------------------------------------------------
// Policy
// ---------------------------------------------------------------------------------------

/// The stored policy (checked) and its version; the default when none was stored yet.
pub async fn load_policy(
    db: &impl sea_orm::ConnectionTrait,
) -> Result<(CheckedFirewallPolicy, i32), Internal> {
    let Some(row) = firewall_policy::Entity::find_by_id(1).one(db).await? else {
        let checked = FirewallPolicy::default()
            .check()
            .map_err(|e| corrupt("default firewall policy", e))?;
        return Ok((checked, 0));
    };
    let raw: FirewallPolicy =
        serde_json::from_str(&row.body).map_err(|e| corrupt("firewall_policy", e))?;
    let checked = raw.check().map_err(|e| corrupt("firewall_policy", e))?;
    Ok((checked, row.version))
}

/// Replaces the stored policy after checking it. Takes effect in the kernel only with
/// [`apply`].
pub async fn update_policy(
    state: &AppState,
    admin: &Admin,
    raw: FirewallPolicy,
    expected: Option<i32>,
) -> Result<(CheckedFirewallPolicy, i32), FirewallServiceError> {
    let checked = match raw.check() {
        Ok(c) => c,
        Err(e) => {
            let detail = format!("refused: {e}");
            audit::record(
                &state.db,
                Record::by_caller(admin.caller(), Action::FirewallPolicyUpdate, false, &detail),
            )
            .await?;
            return Err(e.into());
        }
    };
    let _guard = state.firewall_lock.lock().await;
    let body =
        serde_json::to_string(checked.policy()).map_err(|e| corrupt("serialising policy", e))?;
    let txn = crate::db::begin_write(&state.db).await?;
    let (_, version) = load_policy(&txn).await?;
    if let Some(expected) = expected.filter(|e| *e != version) {
        return Err(FirewallServiceError::Stale {
            expected,
            current: version,
        });
    }
    let version = version + 1;
    firewall_policy::Entity::insert(firewall_policy::ActiveModel {
        id: Set(1),
        body: Set(body),
        version: Set(version),
        updated_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::column(firewall_policy::Column::Id)
            .update_columns([
                firewall_policy::Column::Body,
                firewall_policy::Column::Version,
                firewall_policy::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec(&txn)
    .await?;
    txn.commit().await?;
    // Its trusted and admin networks are what the guard never bans.
    state.model.bump();
    let detail = format!("firewall policy version {version}");
    audit::record(
        &state.db,
        Record::by_caller(admin.caller(), Action::FirewallPolicyUpdate, true, &detail),
    )
    .await?;
    Ok((checked, version))
}

/// The settings the console's form edits.
#[must_use]
pub fn settings_of(policy: &FirewallPolicy) -> FirewallSettings {
    FirewallSettings {
        enabled: policy.enabled,
        sip_udp_port: policy.sip_udp_port,
        sip_tcp_port: policy.sip_tcp_port,
        sip_tls_port: policy.sip_tls_port,
        ami_port: policy.ami_port,
        console_port: policy.console_port,
        restrict_console: policy.restrict_console,
        trusted_networks: policy.trusted_networks.clone(),
        admin_networks: policy.admin_networks.clone(),
        ami_networks: policy.ami_networks.clone(),
        blocklist: policy.blocklist.clone(),
        confirm_window_secs: policy.confirm_window_secs,
    }
}

/// The stored policy with the console form's settings applied (rate tiers kept).
#[must_use]
pub fn with_settings(mut policy: FirewallPolicy, s: FirewallSettings) -> FirewallPolicy {
    policy.enabled = s.enabled;
    policy.sip_udp_port = s.sip_udp_port;
    policy.sip_tcp_port = s.sip_tcp_port;
    policy.sip_tls_port = s.sip_tls_port;
    policy.ami_port = s.ami_port;
    policy.console_port = s.console_port;
    policy.restrict_console = s.restrict_console;
    policy.trusted_networks = s.trusted_networks;
    policy.admin_networks = s.admin_networks;
    policy.ami_networks = s.ami_networks;
    policy.blocklist = s.blocklist;
    policy.confirm_window_secs = s.confirm_window_secs;
    policy
}

/// The rate tiers, one line per meter.
#[must_use]
pub fn rate_lines(policy: &FirewallPolicy) -> Vec<String> {
    let r = &policy.rate_limits;
    let line = |name: &str, t: &RateTiers| {
        format!(
            "{name}: known sources {}/min (burst {}), others {}/min (burst {})",
            t.known.per_minute, t.known.burst, t.unknown.per_minute, t.unknown.burst
        )
    };
    vec![
        line("REGISTER", &r.register),
        line("INVITE", &r.invite),
        line("OPTIONS", &r.options),
        line("TCP/TLS connections", &r.tcp_connections),
    ]
}

/// The stored policy, where the kernel stands, and the lockout preview.
pub async fn status(state: &AppState) -> Result<(FirewallPolicy, FirewallStatus), Internal> {
    let (checked, version) = load_policy(&state.db).await?;
    let carry = stored_state(state).await?;
    let (table, live, pending) = match kernel_record(state).await {
        Ok(k) => k,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the firewall's state file");
            (TableState::NotApplied, None, None)
        }
    };
    let peers = peers(state).await;
    let lockout = preview_lockout(&checked, &carry, &peers);
    let status = FirewallStatus {
        version,
        table,
        stored_is_live: live.as_ref() == Some(checked.policy()),
        revert_at: pending
            .as_ref()
            .map(|p| rfc3339(DateTime::<Utc>::from(p.deadline()))),
        revert_in_secs: pending.as_ref().map(|p| p.remaining().as_secs()),
        ruleset: render_ruleset(&checked, &carry).summary(),
        lockout: lockout.iter().map(lockout_view).collect(),
        peers_checked: peers.len(),
    };
    Ok((checked.policy().clone(), status))
}

/// The console's firewall page.
pub async fn page(state: &AppState) -> Result<FirewallPage, Internal> {
    let (policy, status) = status(state).await?;
    Ok(FirewallPage {
        settings: settings_of(&policy),
        rate_limits: rate_lines(&policy),
        status,
    })
}

/// The stored policy's JSON ruleset, as `nft -j -f` would get it.
pub async fn ruleset_json(state: &AppState) -> Result<String, Internal> {
    let (checked, _) = load_policy(&state.db).await?;
    let carry = stored_state(state).await?;
    Ok(render_ruleset(&checked, &carry).to_json())
}

/// Where sipwarden's table stands now (not applied when its state cannot be read; logged).
pub async fn table_state(state: &AppState) -> TableState {
    match kernel_record(state).await {
        Ok((table, _, _)) => table,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the firewall's state file");
            TableState::NotApplied
        }
    }
}

async fn kernel_record(
    state: &AppState,
) -> Result<(TableState, Option<FirewallPolicy>, Option<PendingApply>), FirewallError> {
    let pending = state.firewall.pending().await?;
    let live = state.firewall.live_policy().await?;
    let table = match (&pending, &live) {
        (Some(_), _) => TableState::AwaitingConfirmation,
        (None, Some(_)) => TableState::Confirmed,
        (None, None) => TableState::NotApplied,
    };
    Ok((table, live, pending))
}

fn lockout_view(l: &Lockout) -> LockoutView {
    LockoutView {
        kind: match l.peer.kind {
            PeerKind::Endpoint => "endpoint",
            PeerKind::Trunk => "trunk",
            PeerKind::Admin => "admin",
            PeerKind::AmiClient => "ami_client",
        }
        .to_owned(),
        name: l.peer.name.clone(),
        address: l.peer.address.to_string(),
        reason: l.reason.to_string(),
    }
}

/// Everyone a new ruleset must not cut off: SIP peers (trunks, registered endpoints) and
/// the administrators signed in now, at the addresses they signed in from.
async fn peers(state: &AppState) -> Vec<Peer> {
    let mut peers = crate::services::sip_peers::sip_peers(state).await;
    match signed_in_admins(state).await {
        Ok(admins) => peers.extend(admins),
        Err(e) => tracing::warn!(error = %e, "cannot list signed-in administrators"),
    }
    peers.sort_by(|a, b| (&a.name, a.address).cmp(&(&b.name, b.address)));
    peers.dedup();
    peers
}

async fn signed_in_admins(state: &AppState) -> Result<Vec<Peer>, Internal> {
    let rows = session::Entity::find()
        .filter(session::Column::ExpiresAt.gt(Utc::now()))
        .find_also_related(user::Entity)
        .all(&state.db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(s, u)| {
            let u = u?;
            Some(Peer {
                kind: PeerKind::Admin,
                name: u.username,
                address: s.source_ip.parse().ok()?,
            })
        })
        .collect())
}

// ---------------------------------------------------------------------------------------
// Apply, confirm, revert
// ---------------------------------------------------------------------------------------

/// Applies the stored policy provisionally: it reverts by itself unless confirmed within
/// the policy's window. Refused when it would block a known peer, unless `force`. Runs to the
/// end even if the caller hangs up: the revert timer must be armed once nft ran.
pub async fn apply(
    state: &AppState,
    admin: &Admin,
    force: bool,
) -> Result<FirewallApplied, FirewallServiceError> {
    let (state, admin) = (state.clone(), admin.clone());
    run_to_end(async move { apply_now(&state, &admin, force).await }).await
}

#[tracing::instrument(name = "firewall_apply", skip(state, admin))]
async fn apply_now(
    state: &AppState,
    admin: &Admin,
    force: bool,
) -> Result<FirewallApplied, FirewallServiceError> {
    let _guard = state.firewall_lock.lock().await;
    let (checked, version) = load_policy(&state.db).await?;
    let live = state.firewall.live_policy().await?;
    if !checked.enabled() && !live.as_ref().is_some_and(|p| p.enabled) {
        let message =
            "the firewall is disabled by the policy: nothing was applied to the kernel".to_owned();
        audit::record(
            &state.db,
            Record::by_caller(admin.caller(), Action::FirewallApply, true, &message),
        )
        .await?;
        return Ok(FirewallApplied {
            applied: false,
            message,
            revert_at: None,
            revert_in_secs: None,
        });
    }
    let carry = stored_state(state).await?;
    let lockout = preview_lockout(&checked, &carry, &peers(state).await);
    if !lockout.is_empty() && !force {
        let detail = format!("refused: would block {} peer(s)", lockout.len());
        audit::record(
            &state.db,
            Record::by_caller(admin.caller(), Action::FirewallApply, false, &detail),
        )
        .await?;
        return Err(FirewallServiceError::WouldLockOut(lockout));
    }
    let window = Duration::from_secs(u64::from(checked.confirm_window_secs()));
    let outcome = match state
        .firewall
        .apply_carrying(&checked, window, &carry)
        .await
    {
        Ok(o) => o,
        Err(e) => {
            let detail = format!("failed: {e}");
            audit::record(
                &state.db,
                Record::by_caller(admin.caller(), Action::FirewallApply, false, &detail),
            )
            .await?;
            return Err(e.into());
        }
    };
    let deadline = rfc3339(DateTime::<Utc>::from(outcome.pending.deadline()));
    let message = if checked.enabled() {
        format!(
            "policy version {version} is live; it reverts at {deadline} unless confirmed ({} peer(s) it blocks were accepted)",
            lockout.len()
        )
    } else {
        format!(
            "the firewall is disabled: table inet sipwarden was removed; this reverts at {deadline} unless confirmed"
        )
    };
    audit::record(
        &state.db,
        Record::by_caller(admin.caller(), Action::FirewallApply, true, &message),
    )
    .await?;
    Ok(FirewallApplied {
        applied: true,
        message,
        revert_at: Some(deadline),
        revert_in_secs: Some(outcome.pending.remaining().as_secs()),
    })
}

/// Makes the pending change permanent.
pub async fn confirm(state: &AppState, admin: &Admin) -> Result<(), FirewallServiceError> {
    let _guard = state.firewall_lock.lock().await;
    match state.firewall.confirm().await {
        Ok(_) => {}
        Err(FirewallError::NothingPending) => return Err(FirewallServiceError::NothingPending),
        Err(e) => return Err(e.into()),
    }
    audit::record(
        &state.db,
        Record::by_caller(admin.caller(), Action::FirewallConfirm, true, "confirmed"),
    )
    .await?;
    Ok(())
}

/// Reverts the pending change now.
pub async fn revert(state: &AppState, admin: &Admin) -> Result<(), FirewallServiceError> {
    let _guard = state.firewall_lock.lock().await;
    if state.firewall.revert().await?.is_none() {
        return Err(FirewallServiceError::NothingPending);
    }
    audit::record(
        &state.db,
        Record::by_caller(
            admin.caller(),
            Action::FirewallRevert,
            true,
            "reverted by hand",
        ),
    )
    .await?;
    Ok(())
}

/// The policy in force in the kernel when sipwarden's table is live and enabled.
async fn live_enabled(state: &AppState) -> Option<CheckedFirewallPolicy> {
    match state.firewall.live_policy().await {
        Ok(Some(p)) if p.enabled => p.check().ok(),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the firewall's state file");
            None
        }
    }
}

// ---------------------------------------------------------------------------------------
// Bans
// ---------------------------------------------------------------------------------------

/// Who asks for a ban.
#[derive(Debug, Clone, Copy)]
pub enum BanOrigin<'a> {
    /// An administrator over the API or the console.
    Admin(&'a Admin),
    /// The guard's enforcer.
    Guard,
}

/// A ban request, as the API takes it.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBan {
    /// An IPv4 or IPv6 address.
    #[schema(example = "203.0.113.7")]
    pub address: String,
    /// Seconds (default one hour, at most a year).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 31_536_000)]
    pub duration_secs: Option<u32>,
    /// Why (at most 200 characters).
    #[schema(max_length = 200)]
    pub reason: String,
}

fn parse_address(field: &'static str, text: &str) -> Result<IpAddr, FirewallServiceError> {
    let address: IpAddr = text
        .trim()
        .parse()
        .map_err(|_| FirewallServiceError::BadValue {
            field,
            reason: format!("`{}` is not an IPv4 or IPv6 address", clip(text)),
        })?;
    let address = address.to_canonical();
    if address.is_unspecified() || address.is_multicast() {
        return Err(FirewallServiceError::BadValue {
            field,
            reason: format!("{address} is not a single source address"),
        });
    }
    Ok(address)
}

/// At most 60 characters of untrusted text, for an error message.
fn clip(text: &str) -> String {
    text.chars().take(60).collect()
}

fn check_text(
    field: &'static str,
    text: &str,
    required: bool,
) -> Result<String, FirewallServiceError> {
    let text = text.trim();
    if required && text.is_empty() {
        return Err(FirewallServiceError::BadValue {
            field,
            reason: "must not be empty".to_owned(),
        });
    }
    if text.chars().count() > MAX_TEXT {
        return Err(FirewallServiceError::BadValue {
            field,
            reason: format!("at most {MAX_TEXT} characters"),
        });
    }
    if text.chars().any(char::is_control) {
        return Err(FirewallServiceError::BadValue {
            field,
            reason: "must not contain control characters (line breaks, tabs, NUL)".to_owned(),
        });
    }
    Ok(text.to_owned())
}

/// Why `address` may not be banned, if it may not: it is loopback, or trusted by the policy
/// or the temporary allowlist (allowlisted sources are never dropped).
async fn ban_refusal(state: &AppState, address: IpAddr) -> Result<Option<String>, Internal> {
    if address.is_loopback() {
        return Ok(Some(format!(
            "{address} is loopback: sipwarden's own traffic is never banned"
        )));
    }
    let (checked, _) = load_policy(&state.db).await?;
    if let Some(network) = checked.pinned_allow_covering(address) {
        return Ok(Some(format!(
            "{address} is inside {network}, which the firewall policy trusts; remove it from trusted_networks or admin_networks first"
        )));
    }
    let now = Utc::now();
    if let Some(entry) = allow_entry::Entity::find_by_id(address.to_string())
        .filter(allow_entry::Column::ExpiresAt.gt(now))
        .one(&state.db)
        .await?
    {
        return Ok(Some(format!(
            "{address} is on the temporary allowlist until {}; remove it there first",
            rfc3339(entry.expires_at)
        )));
    }
    Ok(None)
}

/// Bans a source: stored first, then put into the kernel (with its running flows ended)
/// when the firewall is live.
pub async fn ban(
    state: &AppState,
    origin: BanOrigin<'_>,
    new: NewBan,
) -> Result<BanAdded, FirewallServiceError> {
    let address = parse_address("address", &new.address)?;
    let reason = check_text("reason", &new.reason, true)?;
    let secs = new.duration_secs.unwrap_or(DEFAULT_BAN_SECS);
    if !(1..=MAX_BAN_SECS).contains(&secs) {
        return Err(FirewallServiceError::BadValue {
            field: "duration_secs",
            reason: format!(
                "must be between 1 and {MAX_BAN_SECS} seconds (a year); use the blocklist for longer"
            ),
        });
    }
    if let Some(why) = ban_refusal(state, address).await? {
        if let BanOrigin::Admin(admin) = origin {
            let detail = format!("{address}: refused: {why}");
            audit::record(
                &state.db,
                Record::by_caller(admin.caller(), Action::BanAdd, false, &detail),
            )
            .await?;
        }
        return Err(FirewallServiceError::NotBannable(why));
    }
    let now = Utc::now();
    let (origin_name, actor) = match origin {
        BanOrigin::Admin(a) => ("api", Some(a.caller().username.clone())),
        BanOrigin::Guard => ("guard", None),
    };
    let row = store_ban(
        state,
        &address.to_string(),
        secs,
        &reason,
        origin_name,
        actor,
        None,
    )
    .await?;
    let (in_kernel, flows_deleted, note) = if live_enabled(state).await.is_some() {
        match state
            .firewall
            .ban(address, Duration::from_secs(u64::from(secs)))
            .await
        {
            Ok(outcome) => (true, outcome.flows_deleted, None),
            Err(e) => {
                tracing::error!(error = %e, %address, "ban stored but not in the kernel");
                (
                    false,
                    0,
                    Some(format!("stored, but the kernel refused it: {e}")),
                )
            }
        }
    } else {
        (
            false,
            0,
            Some(
                "stored; the firewall is not applied, so the ban goes into the kernel with the next apply"
                    .to_owned(),
            ),
        )
    };
    if let BanOrigin::Admin(admin) = origin {
        let detail = format!(
            "{address} for {secs} s ({reason}); in kernel: {in_kernel}, flows ended: {flows_deleted}"
        );
        audit::record(
            &state.db,
            Record::by_caller(admin.caller(), Action::BanAdd, true, &detail),
        )
        .await?;
    }
    Ok(BanAdded {
        ban: ban_view(&row, now),
        in_kernel,
        flows_deleted,
        note,
    })
}

/// Why the guard banned, as the ban's reason says it.
fn guard_reason(decision: &BanDecision) -> String {
    format!(
        "guard: {:?}{}{}",
        decision.kind,
        match decision.offence {
            0 => String::new(),
            n => format!(" (offence {n})"),
        },
        if decision.proven { "" } else { " (unproven)" }
    )
}

/// Records the guard's bans, which the guard's enforcer has already put into the kernel
/// (`true` beside each) or could not: one transaction for the batch, then the alerts. What
/// the database knows better is mended in the kernel: a ban of an address that is trusted
/// after all (the engine's model was a moment old) is lifted, and a longer ban already in
/// force (an administrator's, say) gets its time back. Failures are logged: the guard has
/// nobody to answer to.
pub async fn record_guard_bans(state: &AppState, bans: &[(BanDecision, bool)]) {
    if let Err(e) = record_guard_bans_now(state, bans).await {
        tracing::error!(error = %e, bans = bans.len(), "guard bans not stored");
    }
}

async fn record_guard_bans_now(
    state: &AppState,
    bans: &[(BanDecision, bool)],
) -> Result<(), Internal> {
    if bans.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    let (checked, _) = load_policy(&state.db).await?;
    let allowed: std::collections::HashSet<String> = allow_entry::Entity::find()
        .filter(allow_entry::Column::ExpiresAt.gt(now))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|a| a.address)
        .collect();
    // The longest decision per target, should a batch hold two.
    let mut wanted: std::collections::BTreeMap<String, (BanTarget, BanDecision, bool)> =
        std::collections::BTreeMap::new();
    for (decision, in_kernel) in bans {
        let address = decision.source.to_canonical();
        let target = match decision.port {
            Some(port) => BanTarget::Port(std::net::SocketAddr::new(address, port)),
            None => BanTarget::Address(address),
        };
        let entry = wanted
            .entry(target.to_string())
            .or_insert((target, *decision, *in_kernel));
        if decision.duration > entry.1.duration {
            *entry = (target, *decision, *in_kernel);
        }
    }
    let previous: std::collections::HashMap<String, ban::Model> = ban::Entity::find()
        .filter(ban::Column::Address.is_in(wanted.keys().cloned()))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|r| (r.address.clone(), r))
        .collect();
    let (mut lift, mut lift_ports) = (Vec::new(), Vec::new());
    let (mut restore, mut restore_ports) = (Vec::new(), Vec::new());
    let mut rows = Vec::new();
    for (key, (target, decision, in_kernel)) in &wanted {
        let address = target.ip();
        if address.is_loopback()
            || checked.pinned_allow_covering(address).is_some()
            || allowed.contains(&address.to_string())
        {
            tracing::info!(%key, "guard ban not kept: the address is trusted");
            if *in_kernel {
                match target {
                    BanTarget::Address(ip) => lift.push(*ip),
                    BanTarget::Port(source) => lift_ports.push(*source),
                }
            }
            continue;
        }
        let prev = previous.get(key);
        let left = prev
            .filter(|p| p.expires_at.is_none_or(|e| e > now))
            .map(|p| p.expires_at.map(|e| remaining_secs(e, now)));
        if let Some(left) = left
            && left.is_none_or(|l| l >= decision.duration.as_secs())
        {
            // A longer ban is in force: it keeps its row, and the kernel its time.
            if *in_kernel {
                let secs = left.map(|l| u32::try_from(l).unwrap_or(u32::MAX));
                match target {
                    BanTarget::Address(ip) => restore.push(TimedAddress {
                        address: *ip,
                        timeout_secs: secs,
                    }),
                    BanTarget::Port(source) => restore_ports.push(TimedPort {
                        source: *source,
                        timeout_secs: secs,
                    }),
                }
            }
            continue;
        }
        let secs = u32::try_from(decision.duration.as_secs())
            .unwrap_or(MAX_BAN_SECS)
            .clamp(1, MAX_BAN_SECS);
        // The engine counts offences (proven whole-address bans only); the row keeps its count.
        let offences = match decision.offence {
            0 => prev.map_or(0, |p| p.offences),
            n => i32::try_from(n).unwrap_or(i32::MAX),
        };
        rows.push(ban::Model {
            address: key.clone(),
            reason: guard_reason(decision),
            origin: "guard".to_owned(),
            actor: None,
            created_at: now,
            expires_at: Some(now + chrono::Duration::seconds(i64::from(secs))),
            offences,
        });
    }
    if state.firewall.enforcing().await {
        let mended = async {
            state.firewall.unban_many(&lift).await?;
            state.firewall.unban_ports(&lift_ports).await?;
            state.firewall.ban_batch(&restore, &restore_ports).await
        };
        if let Err(e) = mended.await {
            tracing::warn!(error = %e, "cannot mend guard bans in the kernel");
        }
    }
    if rows.is_empty() {
        return Ok(());
    }
    ban::Entity::insert_many(
        rows.iter()
            .cloned()
            .map(sea_orm::IntoActiveModel::into_active_model),
    )
    .on_conflict(replace_ban())
    .exec(&state.db)
    .await?;
    for row in &rows {
        let secs = row.expires_at.map_or(0, |e| {
            u32::try_from((e - row.created_at).num_seconds()).unwrap_or(u32::MAX)
        });
        notify_ban(state, row, secs);
    }
    Ok(())
}

/// Addresses that logged in: into the kernel's known sets (the generous rate tier) when the
/// firewall is live, and into the database, so they stay known across a restart.
pub async fn known_from_guard(state: &AppState, known: &[KnownSource]) {
    if known.is_empty() {
        return;
    }
    if live_enabled(state).await.is_some() {
        let now = policy::guard::Timestamp::from_secs(
            u64::try_from(Utc::now().timestamp()).unwrap_or_default(),
        );
        let entries: Vec<TimedAddress> = known
            .iter()
            .map(|k| {
                let secs = k.until.0.saturating_sub(now.0) / 1000;
                TimedAddress::expiring(k.source, u32::try_from(secs).unwrap_or(u32::MAX).max(1))
            })
            .collect();
        if let Err(e) = state.firewall.mark_known(&entries).await {
            tracing::warn!(error = %e, "known addresses did not reach the kernel");
        }
    }
    if let Err(e) = crate::services::guard_model::store_known(&state.db, known).await {
        tracing::warn!(error = %e, "known addresses not stored");
    }
}

/// The guard's repeat offenders as the engine imports them: every source the guard banned,
/// with its offence count and the time of its last ban.
pub async fn guard_offences(
    db: &impl sea_orm::ConnectionTrait,
) -> Result<Vec<policy::guard::OffenceRecord>, Internal> {
    Ok(ban::Entity::find()
        .filter(ban::Column::Origin.eq("guard"))
        .all(db)
        .await?
        .iter()
        .filter_map(|r| {
            Some(policy::guard::OffenceRecord {
                source: r.address.parse().ok()?,
                offences: u32::try_from(r.offences).ok()?,
                last_offence: policy::guard::Timestamp(
                    u64::try_from(r.created_at.timestamp_millis()).ok()?,
                ),
            })
        })
        .collect())
}

/// Upserts the ban row of `address` (a [`BanTarget`]'s text) with `offences`, or counting
/// one more offence when that is `None`.
#[allow(
    clippy::too_many_arguments,
    reason = "one row's columns; a struct would only rename them"
)]
async fn store_ban(
    state: &AppState,
    address: &str,
    secs: u32,
    reason: &str,
    origin: &str,
    actor: Option<String>,
    offences: Option<i32>,
) -> Result<ban::Model, Internal> {
    let now = Utc::now();
    let expires = now + chrono::Duration::seconds(i64::from(secs));
    let previous = ban::Entity::find_by_id(address.to_owned())
        .one(&state.db)
        .await?;
    let offences = offences.unwrap_or_else(|| previous.map_or(1, |p| p.offences.saturating_add(1)));
    let row = ban::ActiveModel {
        address: Set(address.to_owned()),
        reason: Set(reason.to_owned()),
        origin: Set(origin.to_owned()),
        actor: Set(actor),
        created_at: Set(now),
        expires_at: Set(Some(expires)),
        offences: Set(offences),
    };
    let stored = ban::Entity::insert(row)
        .on_conflict(replace_ban())
        .exec_with_returning(&state.db)
        .await?;
    notify_ban(state, &stored, secs);
    Ok(stored)
}

/// A ban row replaces the earlier one of its address whole (its offence count as given).
fn replace_ban() -> OnConflict {
    OnConflict::column(ban::Column::Address)
        .update_columns([
            ban::Column::Reason,
            ban::Column::Origin,
            ban::Column::Actor,
            ban::Column::CreatedAt,
            ban::Column::ExpiresAt,
            ban::Column::Offences,
        ])
        .to_owned()
}

/// The alert of a ban. Every ban (the guard's and by hand) passes here once it is recorded;
/// the notifier never waits.
fn notify_ban(state: &AppState, stored: &ban::Model, secs: u32) {
    state.alerts.notify(crate::services::alerts::Notice::new(
        Some(app::model::alerts::Trigger::Ban),
        format!(
            "{} banned for {secs} s by {}: {}",
            stored.address, stored.origin, stored.reason
        ),
        serde_json::json!({
            "address": stored.address,
            "port": BanTarget::parse(&stored.address).and_then(|t| t.port()),
            "duration_secs": secs,
            "expires_at": stored.expires_at.map(rfc3339),
            "reason": stored.reason,
            "origin": stored.origin,
            "actor": stored.actor,
            "offences": stored.offences,
        }),
    ));
}

fn ban_view(row: &ban::Model, now: DateTime<Utc>) -> BanView {
    BanView {
        address: row.address.clone(),
        port: BanTarget::parse(&row.address).and_then(|t| t.port()),
        reason: row.reason.clone(),
        origin: row.origin.clone(),
        actor: row.actor.clone(),
        created_at: rfc3339(row.created_at),
        expires_at: row.expires_at.map(rfc3339),
        remaining_secs: row.expires_at.map(|e| remaining_secs(e, now)),
        offences: row.offences,
    }
}

/// The bans in force, newest first.
pub async fn bans(state: &AppState) -> Result<Vec<BanView>, Internal> {
    let now = Utc::now();
    Ok(active_bans(state, now)
        .await?
        .iter()
        .map(|r| ban_view(r, now))
        .collect())
}

/// The API's pages of active bans, newest first. The cursor is the last ban's creation time
/// (nanoseconds) and address: two bans can share a time, never an address.
pub async fn bans_page(
    state: &AppState,
    cursor: Option<&str>,
    limit: u64,
) -> Result<Page<BanView>, FirewallServiceError> {
    let after = cursor.map(parse_ban_cursor).transpose()?;
    let now = Utc::now();
    let mut query = ban::Entity::find()
        .filter(in_force(now))
        .order_by_desc(ban::Column::CreatedAt)
        .order_by_desc(ban::Column::Address);
    if let Some((at, address)) = after {
        query = query.filter(
            Condition::any().add(ban::Column::CreatedAt.lt(at)).add(
                Condition::all()
                    .add(ban::Column::CreatedAt.eq(at))
                    .add(ban::Column::Address.lt(address)),
            ),
        );
    }
    let rows = query
        .limit(page::fetch(limit))
        .all(&state.db)
        .await
        .map_err(Internal::from)?;
    Ok(page::split(
        rows,
        limit,
        |r| {
            format!(
                "{}_{}",
                r.created_at.timestamp_nanos_opt().unwrap_or_default(),
                r.address
            )
        },
        |r| ban_view(&r, now),
    ))
}

fn parse_ban_cursor(raw: &str) -> Result<(DateTime<Utc>, String), FirewallServiceError> {
    let bad = || FirewallServiceError::BadValue {
        field: "cursor",
        reason: "not a cursor of this list".to_owned(),
    };
    let (nanos, address) = raw.split_once('_').ok_or_else(bad)?;
    let at = DateTime::from_timestamp_nanos(nanos.parse::<i64>().map_err(|_| bad())?);
    let address: IpAddr = address.parse().map_err(|_| bad())?;
    Ok((at, address.to_string()))
}

/// Bans still in force at `now`: without an end, or ending later.
fn in_force(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(ban::Column::ExpiresAt.is_null())
        .add(ban::Column::ExpiresAt.gt(now))
}

async fn active_bans(state: &AppState, now: DateTime<Utc>) -> Result<Vec<ban::Model>, Internal> {
    Ok(ban::Entity::find()
        .filter(in_force(now))
        .order_by_desc(ban::Column::CreatedAt)
        .all(&state.db)
        .await?)
}

/// Lifts a ban of an address or of one port of it (the row stays, expired, so repeat
/// offences are still counted). The running guard forgets it too, so the source is judged
/// afresh.
pub async fn unban(
    state: &AppState,
    admin: &Admin,
    target: &str,
) -> Result<(), FirewallServiceError> {
    let target = BanTarget::parse(target).ok_or_else(|| FirewallServiceError::BadValue {
        field: "address",
        reason: format!(
            "`{}` is not an address (203.0.113.7) or an address and port (203.0.113.7:5062)",
            clip(target)
        ),
    })?;
    let key = target.to_string();
    let now = Utc::now();
    let row = ban::Entity::find_by_id(key.clone())
        .filter(in_force(now))
        .one(&state.db)
        .await?
        .ok_or_else(|| FirewallServiceError::NotFound(key.clone()))?;
    ban::Entity::update(ban::ActiveModel {
        address: Set(row.address),
        expires_at: Set(Some(now)),
        ..Default::default()
    })
    .exec(&state.db)
    .await?;
    if live_enabled(state).await.is_some() {
        match target {
            BanTarget::Address(ip) => state.firewall.unban(ip).await?,
            BanTarget::Port(source) => state.firewall.unban_ports(&[source]).await?,
        }
    }
    if let Some(running) = state.guard.get() {
        match target {
            BanTarget::Address(ip) => running.guard.unban(ip),
            BanTarget::Port(source) => running.guard.unban_port(source),
        }
    }
    audit::record(
        &state.db,
        Record::by_caller(admin.caller(), Action::BanRemove, true, &key),
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Allowlist
// ---------------------------------------------------------------------------------------

/// A temporary allow request, as the API takes it.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAllow {
    /// The address to trust; the caller's own address when absent.
    #[serde(default)]
    pub address: Option<String>,
    /// For how long (1 to 168 hours).
    #[schema(minimum = 1, maximum = 168)]
    pub hours: u32,
    #[serde(default)]
    pub note: String,
}

/// The allowlist: the policy's pinned networks and the unexpired temporary entries.
pub async fn allowlist(state: &AppState, you: IpAddr) -> Result<AllowlistView, Internal> {
    let (checked, _) = load_policy(&state.db).await?;
    let policy = checked.policy();
    let pinned = policy
        .trusted_networks
        .iter()
        .map(|n| PinnedView {
            network: n.clone(),
            list: "trusted_networks".to_owned(),
        })
        .chain(policy.admin_networks.iter().map(|n| PinnedView {
            network: n.clone(),
            list: "admin_networks".to_owned(),
        }))
        .collect();
    let now = Utc::now();
    let temporary = allow_entry::Entity::find()
        .filter(allow_entry::Column::ExpiresAt.gt(now))
        .order_by_asc(allow_entry::Column::ExpiresAt)
        .all(&state.db)
        .await?
        .into_iter()
        .map(|r| AllowEntryView {
            address: r.address,
            note: r.note,
            actor: r.actor,
            created_at: rfc3339(r.created_at),
            expires_at: rfc3339(r.expires_at),
            remaining_secs: remaining_secs(r.expires_at, now),
        })
        .collect();
    Ok(AllowlistView {
        pinned,
        temporary,
        your_address: you.to_canonical().to_string(),
    })
}

/// Trusts an address (the caller's own when none is given) for some hours: it is never
/// dropped meanwhile, even when banned.
pub async fn allow(
    state: &AppState,
    admin: &Admin,
    new: NewAllow,
) -> Result<AllowEntryView, FirewallServiceError> {
    let address = match &new.address {
        Some(text) if !text.trim().is_empty() => parse_address("address", text)?,
        _ => admin.caller().source_ip.to_canonical(),
    };
    if !(1..=MAX_ALLOW_HOURS).contains(&new.hours) {
        return Err(FirewallServiceError::BadValue {
            field: "hours",
            reason: format!(
                "must be between 1 and {MAX_ALLOW_HOURS}; trust for longer belongs in the policy's trusted_networks"
            ),
        });
    }
    let note = check_text("note", &new.note, false)?;
    let (checked, _) = load_policy(&state.db).await?;
    if let Some(network) = checked.pinned_allow_covering(address) {
        return Err(FirewallServiceError::AlreadyTrusted(format!(
            "{address} is already trusted by the policy (inside {network})"
        )));
    }
    let now = Utc::now();
    let expires = now + chrono::Duration::hours(i64::from(new.hours));
    let row = allow_entry::ActiveModel {
        address: Set(address.to_string()),
        note: Set(note.clone()),
        actor: Set(admin.caller().username.clone()),
        created_at: Set(now),
        expires_at: Set(expires),
    };
    allow_entry::Entity::insert(row)
        .on_conflict(
            OnConflict::column(allow_entry::Column::Address)
                .update_columns([
                    allow_entry::Column::Note,
                    allow_entry::Column::Actor,
                    allow_entry::Column::CreatedAt,
                    allow_entry::Column::ExpiresAt,
                ])
                .to_owned(),
        )
        .exec(&state.db)
        .await?;
    let in_kernel = match live_enabled(state).await {
        Some(live) => {
            let secs = new.hours.saturating_mul(3600);
            state
                .firewall
                .allow_many(&live, &[TimedAddress::expiring(address, secs)])
                .await?;
            true
        }
        None => false,
    };
    // The guard never bans what the allowlist trusts.
    state.model.bump();
    let detail = format!(
        "{address} for {} h ({note}); in kernel: {in_kernel}",
        new.hours
    );
    audit::record(
        &state.db,
        Record::by_caller(admin.caller(), Action::AllowAdd, true, &detail),
    )
    .await?;
    Ok(AllowEntryView {
        address: address.to_string(),
        note,
        actor: admin.caller().username.clone(),
        created_at: rfc3339(now),
        expires_at: rfc3339(expires),
        remaining_secs: remaining_secs(expires, now),
    })
}

/// Ends a temporary allow entry.
pub async fn disallow(
    state: &AppState,
    admin: &Admin,
    address: &str,
) -> Result<(), FirewallServiceError> {
    let address = parse_address("address", address)?;
    let deleted = allow_entry::Entity::delete_by_id(address.to_string())
        .filter(allow_entry::Column::ExpiresAt.gt(Utc::now()))
        .exec(&state.db)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(FirewallServiceError::NotFound(address.to_string()));
    }
    if let Some(live) = live_enabled(state).await {
        state.firewall.disallow_many(&live, &[address]).await?;
    }
    state.model.bump();
    let detail = address.to_string();
    audit::record(
        &state.db,
        Record::by_caller(admin.caller(), Action::AllowRemove, true, &detail),
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Start-up
// ---------------------------------------------------------------------------------------

/// The unexpired bans and allow entries of the database, with the whole seconds they have
/// left: what the kernel must hold.
pub async fn stored_state(state: &AppState) -> Result<DynamicState, Internal> {
    let now = Utc::now();
    let mut bans = Vec::new();
    let mut port_bans = Vec::new();
    for r in active_bans(state, now).await? {
        let left = r
            .expires_at
            .map(|e| u32::try_from(remaining_secs(e, now)).unwrap_or(u32::MAX));
        if left == Some(0) {
            continue;
        }
        match BanTarget::parse(&r.address) {
            Some(BanTarget::Address(address)) => bans.push(TimedAddress {
                address,
                timeout_secs: left,
            }),
            Some(BanTarget::Port(source)) => port_bans.push(TimedPort {
                source,
                timeout_secs: left,
            }),
            None => tracing::warn!(target = %r.address, "a stored ban names no address; left out"),
        }
    }
    let temporary_allows = allow_entry::Entity::find()
        .filter(allow_entry::Column::ExpiresAt.gt(now))
        .all(&state.db)
        .await?
        .iter()
        .filter_map(|r| {
            let address: IpAddr = r.address.parse().ok()?;
            let secs = u32::try_from(remaining_secs(r.expires_at, now)).unwrap_or(u32::MAX);
            (secs > 0).then(|| TimedAddress::expiring(address, secs))
        })
        .collect();
    let mut known_good = crate::services::guard_model::known_for_kernel(&state.db).await?;
    known_good.extend(
        trunk_addresses(state)
            .await?
            .into_iter()
            .map(TimedAddress::permanent),
    );
    Ok(DynamicState {
        bans,
        temporary_allows,
        known_good,
        port_bans,
    })
}

/// The trunks' single addresses (peers, and sources that are one host): known by
/// configuration, so their calls are metered by the generous tier, however many callers they
/// carry. A trunk identified by a whole network gets it for its peer address only (the known
/// sets hold addresses); the guard never bans any of it either way.
async fn trunk_addresses(state: &AppState) -> Result<Vec<IpAddr>, Internal> {
    let stored = crate::services::pbx::load_all(&state.db).await?;
    let mut out: Vec<IpAddr> = stored
        .trunks
        .iter()
        .flat_map(|t| {
            std::iter::once(t.peer()).chain(
                t.sources()
                    .permit()
                    .iter()
                    .map(|n| n.ip_net())
                    .filter(|n| n.prefix_len() == n.max_prefix_len())
                    .map(|n| n.addr()),
            )
        })
        .map(|ip| ip.to_canonical())
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// Keeps the trunks' addresses in the kernel's known sets as trunks come and go: after every
/// change of the model, while the server runs.
pub fn follow_trunks(state: AppState) {
    tokio::spawn(async move {
        let mut changes = state.model.subscribe();
        let mut pushed: Vec<IpAddr> = Vec::new();
        loop {
            if live_enabled(&state).await.is_some() {
                match trunk_addresses(&state).await {
                    Ok(now) => {
                        let gone: Vec<IpAddr> = pushed
                            .iter()
                            .filter(|a| !now.contains(a))
                            .copied()
                            .collect();
                        let entries: Vec<TimedAddress> =
                            now.iter().map(|a| TimedAddress::permanent(*a)).collect();
                        let done = match state.firewall.mark_known(&entries).await {
                            Ok(()) => state.firewall.forget_known(&gone).await,
                            Err(e) => Err(e),
                        };
                        match done {
                            Ok(()) => pushed = now,
                            Err(e) => {
                                tracing::warn!(error = %e, "the trunks' rate tier is not in the kernel")
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot read the trunks"),
                }
            }
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return },
                () = state.stopping.cancelled() => return,
            }
        }
    });
}

/// What start-up did to the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// Bans put back.
    pub bans: usize,
    /// Temporary allow entries put back.
    pub allows: usize,
}

/// Start-up: settles a change left pending by the previous run (revert or re-arm), then
/// puts the confirmed table and the stored bans and allows back into the kernel (a reboot
/// empties it). Does nothing to the kernel when no enabled policy was ever applied.
pub async fn restore_at_startup(
    state: &AppState,
) -> Result<Option<Restored>, FirewallServiceError> {
    let _guard = state.firewall_lock.lock().await;
    match state.firewall.resume().await? {
        crate::firewall::Resumed::NothingPending => {}
        crate::firewall::Resumed::Reverted(_) => {
            tracing::warn!(
                "an unconfirmed firewall change expired while sipwarden was stopped; the previous ruleset is back"
            );
        }
        crate::firewall::Resumed::Rearmed(p) => tracing::warn!(
            revert_in_secs = p.remaining().as_secs(),
            "a firewall change is still waiting for confirmation"
        ),
    }
    let Some(live) = live_enabled(state).await else {
        return Ok(None);
    };
    let carry = stored_state(state).await?;
    if state.firewall.pending().await?.is_some() {
        // The provisional table is in the kernel as applied; add what the database holds.
        let entries: Vec<TimedAddress> = carry.bans.clone();
        state.firewall.ban_in_kernel(&entries).await?;
        state.firewall.ban_ports(&carry.port_bans).await?;
        state.firewall.mark_known(&carry.known_good).await?;
        state
            .firewall
            .allow_many(&live, &carry.temporary_allows)
            .await?;
    } else {
        state.firewall.reload_committed(&carry).await?;
    }
    Ok(Some(Restored {
        bans: carry.bans.len(),
        allows: carry.temporary_allows.len(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_guards_repeat_offenders_are_read_back_with_their_counts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = crate::db::open_and_migrate(&dir.path().join("t.sqlite3"))
            .await
            .expect("database");
        let now = Utc::now();
        for (address, origin, offences) in [
            ("203.0.113.7", "guard", 3),
            ("203.0.113.8", "api", 1),
            ("2001:db8::9", "guard", 1),
        ] {
            ban::Entity::insert(ban::ActiveModel {
                address: Set(address.to_owned()),
                reason: Set("test".to_owned()),
                origin: Set(origin.to_owned()),
                actor: Set(None),
                created_at: Set(now),
                expires_at: Set(Some(now)),
                offences: Set(offences),
            })
            .exec(&db)
            .await
            .expect("insert");
        }
        let mut records = guard_offences(&db).await.expect("read");
        records.sort_by_key(|r| r.source);
        let got: Vec<(String, u32)> = records
            .iter()
            .map(|r| (r.source.to_string(), r.offences))
            .collect();
        assert_eq!(
            got,
            [("203.0.113.7".to_owned(), 3), ("2001:db8::9".to_owned(), 1)]
        );
        // The engine takes them: a source with three offences is a repeat offender.
        let mut engine =
            policy::guard::Engine::new(policy::guard::GuardPolicy::default()).expect("engine");
        engine.import_offences(records);
        assert_eq!(engine.export_offences().len(), 2);
    }
}
