//! The guard as `sipwarden serve` runs it: the engine with the default guard policy (its
//! allowlist being the firewall policy's trusted and admin networks), the AMI security tap
//! logged in as the guard's own account, and an enforcer that bans through the firewall
//! service (kernel first, then the database).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use policy::guard::{BanDecision, Engine, GuardPolicy};
use tokio::sync::watch;

use super::ami_tap::{self, AmiTapConfig, TapState};
use super::{Enforcer, Guard, LogOnly};
use crate::config::GuardMode;
use crate::services::{firewall, pbx};
use crate::state::AppState;

/// Bans through the firewall service.
struct ServiceEnforcer(AppState);

#[async_trait::async_trait]
impl Enforcer for ServiceEnforcer {
    async fn enforce(&self, bans: &[BanDecision]) {
        for ban in bans {
            let reason = format!("guard: {:?} (offence {})", ban.kind, ban.offence);
            firewall::ban_from_guard(&self.0, ban.source, ban.duration, &reason).await;
            tracing::warn!(source = %ban.source, kind = ?ban.kind, secs = ban.duration.as_secs(), "guard banned a source");
        }
    }
}

/// The running guard and its taps.
pub struct RunningGuard {
    pub guard: Arc<Guard>,
    /// Each tap's name (`ami`, `capture`) and state.
    pub taps: Vec<(&'static str, watch::Receiver<TapState>)>,
}

impl std::fmt::Debug for RunningGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningGuard").finish_non_exhaustive()
    }
}

/// Starts the guard as configured; `None` when it is off or cannot start (logged).
pub async fn start(state: &AppState) -> Option<RunningGuard> {
    let mode = state.config.guard_mode;
    if mode == GuardMode::Off {
        tracing::warn!(
            "the guard is off (guard_mode = off): nobody is watching Asterisk's security events"
        );
        return None;
    }
    let (pbx_policy, _) = match pbx::load_policy(&state.db).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "the guard cannot start: no PBX policy");
            return None;
        }
    };
    let allowlist = match firewall::load_policy(&state.db).await {
        Ok((checked, _)) => checked.pinned_allow(),
        Err(e) => {
            tracing::error!(error = %e, "the guard cannot start: no firewall policy");
            return None;
        }
    };
    let engine = match Engine::new(GuardPolicy {
        allowlist,
        ..GuardPolicy::default()
    }) {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "the guard cannot start: its policy is invalid");
            return None;
        }
    };
    let enforcer: Arc<dyn Enforcer> = match mode {
        GuardMode::LogOnly => Arc::new(LogOnly),
        _ => Arc::new(ServiceEnforcer(state.clone())),
    };
    let guard = Guard::with_store(engine, enforcer, Some(state.events.queue()));
    let account = pbx_policy.guard();
    let config = AmiTapConfig {
        addr: SocketAddr::new(state.config.asterisk_ami_host, pbx_policy.ami_port()),
        user: account.name().as_str().to_owned(),
        secret: account.secret().as_str().to_owned(),
        timeout: Duration::from_secs(u64::from(state.config.asterisk_ami_timeout_secs)),
    };
    tracing::info!(mode = ?mode, ami = %config.addr, "guard started");
    let tap = ami_tap::spawn(config, guard.clone());
    Some(RunningGuard {
        guard,
        taps: vec![("ami", tap)],
    })
}
