//! The guard as `sipwarden serve` runs it: the engine with the default guard policy (its
//! allowlist being the firewall policy's trusted and admin networks), the live SIP capture
//! of the firewall policy's SIP ports, the AMI security tap logged in as the guard's own
//! account, and an enforcer that bans through the firewall service (kernel first, then the
//! database).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use policy::guard::{BanDecision, Engine, GuardPolicy};
use tokio::sync::watch;

use super::ami_tap::{self, AmiTapConfig, TapState};
use super::pcap_tap::{self, CaptureConfig, CaptureTap, SipPorts};
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
            let started = std::time::Instant::now();
            let reason = format!("guard: {:?} (offence {})", ban.kind, ban.offence);
            firewall::ban_from_guard(&self.0, ban.source, ban.duration, &reason).await;
            tracing::warn!(
                source = %ban.source,
                kind = ?ban.kind,
                secs = ban.duration.as_secs(),
                took_ms = started.elapsed().as_millis() as u64,
                "guard banned a source"
            );
        }
    }
}

/// The running guard and its taps.
pub struct RunningGuard {
    pub guard: Arc<Guard>,
    /// Each tap's name (`ami`, `capture`) and state.
    pub taps: Vec<(&'static str, watch::Receiver<TapState>)>,
    /// The live SIP capture, when it could start (for its counters).
    pub capture: Option<CaptureTap>,
}

impl std::fmt::Debug for RunningGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningGuard").finish_non_exhaustive()
    }
}

/// The engine `serve` and `replay` judge with: the default guard policy, its allowlist being
/// the firewall policy's pinned networks; and the SIP ports to watch.
pub async fn build_engine(db: &sea_orm::DatabaseConnection) -> Result<(Engine, SipPorts), String> {
    let checked = match firewall::load_policy(db).await {
        Ok((checked, _)) => checked,
        Err(e) => return Err(format!("no firewall policy: {e}")),
    };
    let ports = checked.ports();
    let engine = Engine::new(GuardPolicy {
        allowlist: checked.pinned_allow(),
        ..GuardPolicy::default()
    })
    .map_err(|e| format!("its policy is invalid: {e}"))?;
    Ok((
        engine,
        SipPorts::with_defaults(ports.sip_udp, ports.sip_tcp),
    ))
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
    let (mut engine, ports) = match build_engine(&state.db).await {
        Ok(built) => built,
        Err(e) => {
            tracing::error!("the guard cannot start: {e}");
            return None;
        }
    };
    // Repeat offenders stay repeat offenders across restarts: their bans grow from where
    // they were.
    match firewall::guard_offences(&state.db).await {
        Ok(records) => {
            tracing::info!(offenders = records.len(), "guard: repeat offenders loaded");
            engine.import_offences(records);
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot load the repeat offenders; counting from zero")
        }
    }
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
    // Both taps run side by side: the engine counts a failure reported by both once (see
    // `policy::guard::engine`), so the capture adds speed (a ban on the very answer that
    // crosses the threshold) without counting twice, and AMI covers what the wire hides.
    let mut capture_failed = None;
    let capture = match pcap_tap::start(
        CaptureConfig {
            interface: state.config.capture_interface.clone(),
            ports,
        },
        guard.clone(),
        tokio::runtime::Handle::current(),
    ) {
        Ok(tap) => Some(tap),
        Err(e) => {
            let why = match crate::caps::missing().iter().find(|n| n.name == "NET_RAW") {
                Some(need) => format!("{e}; {}", crate::caps::missing_message(need)),
                None => format!("{e}; capturing needs root or the capability NET_RAW"),
            };
            tracing::warn!(
                "the SIP capture tap cannot start ({why}); the guard watches AMI alone, so bans \
                 land a guess later"
            );
            capture_failed = Some(why);
            None
        }
    };
    tracing::info!(mode = ?mode, ami = %config.addr, capture = capture.is_some(), "guard started");
    let mut taps = vec![("ami", ami_tap::spawn(config, guard.clone()))];
    if let Some(c) = &capture {
        taps.push(("capture", c.state.clone()));
    } else if let Some(why) = capture_failed {
        // Shown on the console's guard status like a tap that went down, with the reason.
        let (_, down) = watch::channel(TapState::Disconnected(why));
        taps.push(("capture", down));
    }
    Some(RunningGuard {
        guard,
        taps,
        capture,
    })
}
