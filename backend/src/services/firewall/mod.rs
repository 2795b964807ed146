//! The firewall's policy, bans and allowlist in the database, and their way into the kernel.
//!
//! The database is the record (it survives reboots, the kernel's sets do not); the kernel is
//! where a rule takes effect. Every change is stored first, then pushed to the kernel when
//! sipwarden's table is live. A kernel that cannot be reached (no `nft`, no `CAP_NET_ADMIN`)
//! never loses a change: the answer says the change is stored but not enforced, and why, and
//! start-up or the next apply puts it in.
//!
//! One file per part: `settings` (the stored policy), `apply` (provisional apply, confirm,
//! revert), `bans`, `allowlist` and `startup`. They share this module's imports, its error
//! type and its helpers; the rest of the server sees one `services::firewall`.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};

use policy::firewall::{
    BanTarget, CheckedFirewallPolicy, DynamicState, FirewallPolicy, FirewallPolicyError, Lockout,
    Peer, PeerKind, RateTiers, TimedAddress, TimedPort, preview_lockout, render_ruleset,
};
use policy::guard::{BanDecision, KnownSource};
use wire::Page;
use wire::firewall::{
    AllowEntryView, AllowlistView, BanAdded, BanView, FirewallApplied, FirewallPage,
    FirewallStatus, LockoutView, PinnedView, TableState,
};

use crate::auth::Admin;
use crate::core::Core;
use crate::db::entities::{allow_entry, firewall_policy, session, user};
use crate::firewall::{FirewallError, PendingApply};
use crate::services::audit::{self, Action, Record};
use crate::services::{Internal, page, rfc3339, run_to_end};
use policy::firewall::CheckPolicy;

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

/// The policy in force in the kernel when sipwarden's table is live and enabled.
async fn live_enabled(core: &Core) -> Option<CheckedFirewallPolicy> {
    match core.firewall.live_policy().await {
        Ok(Some(p)) if p.enabled => p.check().ok(),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the firewall's core file");
            None
        }
    }
}

/// The unexpired bans and allow entries of the database, with the whole seconds they have
/// left: what the kernel must hold.
pub async fn stored_state(core: &Core) -> Result<DynamicState, Internal> {
    let now = Utc::now();
    let mut bans = Vec::new();
    let mut port_bans = Vec::new();
    for r in active_bans(core, now).await? {
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
        .all(&core.db)
        .await?
        .iter()
        .filter_map(|r| {
            let address: IpAddr = r.address.parse().ok()?;
            let secs = u32::try_from(remaining_secs(r.expires_at, now)).unwrap_or(u32::MAX);
            (secs > 0).then(|| TimedAddress::expiring(address, secs))
        })
        .collect();
    let mut known_good = crate::services::known_sources::known_for_kernel(&core.db).await?;
    known_good.extend(
        trunk_addresses(core)
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

mod allowlist;
mod apply;
mod bans;
mod guard_bans;
mod settings;
mod startup;

pub use allowlist::*;
pub use apply::*;
pub use bans::*;
pub use guard_bans::*;
pub use settings::*;
pub use startup::*;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::entities::ban;
    use sea_orm::EntityTrait;

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
