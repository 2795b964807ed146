//! The guard as `sipwarden serve` runs it: the engine with the stored guard policy and a
//! random hash key, judging by the stored PBX model (which it follows: every change of the
//! model, the firewall's trusted networks, the allowlist or the guard policy reaches it at
//! once); the live SIP capture of the firewall policy's SIP ports; the AMI security tap
//! logged in as the guard's own account; and an enforcer that bans kernel first, then the
//! database (see `enforce`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use policy::guard::Engine;
use tokio::sync::watch;

use crate::config::GuardMode;
use crate::core::Core;
use crate::guard::ami_tap::{self, AmiTapConfig, TapState};
use crate::guard::latency::BanLatency;
use crate::guard::log_tap::{self, LogTapConfig};
use crate::guard::pcap_tap::{self, CaptureConfig, SipPorts};
use crate::guard::{Enforcer, Guard, RunningGuard, host};
use crate::services::guard_enforcer::ServiceEnforcer;
use crate::services::{firewall, guard_model, guard_policy, known_sources, pbx};

/// The model is also rebuilt this often without a change signal: temporary allow entries and
/// known addresses expire, and the host's gateway may change.
const REBUILD_EVERY: Duration = Duration::from_secs(60);

/// A hash key nobody can know in advance (see `policy::guard::hash`).
fn random_key() -> [u64; 2] {
    rand::random()
}

/// The engine `serve` and `replay` judge with: the stored guard policy, the stored model, the
/// repeat offenders and known addresses; and the SIP ports to watch. Says nothing itself
/// (`replay` prints its verdicts on stdout, where the logs go): what could not be loaded is
/// in the notes, for the caller to say.
pub async fn build_engine(
    db: &sea_orm::DatabaseConnection,
) -> Result<(Engine, SipPorts, Vec<String>), String> {
    let (checked, _) = firewall::load_policy(db)
        .await
        .map_err(|e| format!("no firewall policy: {e}"))?;
    let ports = checked.ports();
    let (policy, _) = guard_policy::load(db)
        .await
        .map_err(|e| format!("no guard policy: {e}"))?;
    let mut engine = Engine::with_hash_key(policy, random_key())
        .map_err(|e| format!("its policy is invalid: {e}"))?;
    let model = guard_model::build(db, host::infrastructure())
        .await
        .map_err(|e| format!("cannot read the PBX model: {e}"))?;
    engine.set_model(model);
    let mut notes = Vec::new();
    // Repeat offenders stay repeat offenders across restarts: their bans grow from where
    // they were. Known addresses stay protected.
    match firewall::guard_offences(db).await {
        Ok(records) => engine.import_offences(records),
        Err(e) => notes.push(format!(
            "cannot load the repeat offenders, counting from zero: {e}"
        )),
    }
    match known_sources::known_sources(db).await {
        Ok(known) => engine.import_known(known),
        Err(e) => notes.push(format!("cannot load the known addresses: {e}")),
    }
    Ok((
        engine,
        SipPorts::with_defaults(ports.sip_udp, ports.sip_tcp),
        notes,
    ))
}

/// Keeps the running engine on what is stored: after every change signal (a PBX change or
/// apply, the firewall policy, the allowlist, the guard policy) and every
/// [`REBUILD_EVERY`], until the server stops.
async fn follow_changes(core: Core, guard: Arc<Guard>) {
    let mut changes = core.model.subscribe();
    let mut every = tokio::time::interval(REBUILD_EVERY);
    every.tick().await;
    loop {
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return },
            _ = every.tick() => {}
            () = core.stopping.cancelled() => return,
        }
        reload(&core, &guard).await;
    }
}

/// Rebuilds the model and reloads the policy; what cannot be read leaves the engine as it is.
#[tracing::instrument(name = "guard_reload", skip_all)]
pub async fn reload(core: &Core, guard: &Guard) {
    match guard_model::build(&core.db, host::infrastructure()).await {
        Ok(model) => guard.set_model(model),
        Err(e) => tracing::warn!(error = %e, "the guard keeps its previous model"),
    }
    match guard_policy::load(&core.db).await {
        Ok((policy, _)) if policy != guard.policy() => {
            if let Err(e) = guard.set_policy(policy) {
                tracing::error!(error = %e, "the guard keeps its previous policy");
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "the guard keeps its previous policy"),
    }
}

/// Starts the guard as configured; `None` when it is off or cannot start (logged).
pub async fn start(core: &Core) -> Option<RunningGuard> {
    let mode = core.config.guard_mode;
    if mode == GuardMode::Off {
        tracing::warn!(
            "the guard is off (guard_mode = off): nobody is watching Asterisk's security events"
        );
        return None;
    }
    let (pbx_policy, _) = match pbx::load_policy(&core.db).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "the guard cannot start: no PBX policy");
            return None;
        }
    };
    let (engine, ports) = match build_engine(&core.db).await {
        Ok((engine, ports, notes)) => {
            for note in notes {
                tracing::warn!("guard: {note}");
            }
            let stats = engine.stats();
            tracing::info!(
                model = ?engine.model().summary(),
                offenders = stats.tracked_offenders,
                known = stats.tracked_known,
                "guard: PBX model, repeat offenders and known addresses loaded"
            );
            (engine, ports)
        }
        Err(e) => {
            tracing::error!("the guard cannot start: {e}");
            return None;
        }
    };
    let ban_latency = Arc::new(BanLatency::default());
    let enforcer: Arc<dyn Enforcer> = Arc::new(ServiceEnforcer::start(
        core.clone(),
        mode == GuardMode::LogOnly,
        ban_latency.clone(),
    ));
    let guard = Guard::with_store(engine, enforcer, Some(core.events.queue()));
    tokio::spawn(follow_changes(core.clone(), guard.clone()));
    let ami = ami_account(core, &pbx_policy);
    // Both taps run side by side: the engine counts a failure reported by both once (see
    // `policy::guard::engine`), so the capture adds speed (a ban on the very answer that
    // crosses the threshold) without counting twice, and AMI covers what the wire hides.
    let mut capture_failed = None;
    let capture = match pcap_tap::start(
        CaptureConfig {
            interface: core.config.capture_interface.clone(),
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
                "the SIP capture tap cannot start ({why}); the guard watches Asterisk's security \
                 events alone, so bans land a guess later"
            );
            capture_failed = Some(why);
            None
        }
    };
    tracing::info!(
        mode = ?mode,
        managed = core.config.asterisk_managed,
        ami = ?ami.as_ref().map(|c| c.addr),
        capture = capture.is_some(),
        security_log = ?core.config.asterisk_security_log,
        "guard started"
    );
    let mut taps = Vec::new();
    let mut ami_state = None;
    if let Some(config) = ami {
        let state = ami_tap::spawn(config, guard.clone());
        ami_state = Some(state.clone());
        taps.push(("ami", state));
    }
    if let Some(c) = &capture {
        taps.push(("capture", c.state.clone()));
    } else if let Some(why) = capture_failed {
        // Shown on the console's guard status like a tap that went down, with the reason.
        let (_, down) = watch::channel(TapState::Disconnected(why));
        taps.push(("capture", down));
    }
    let mut log = None;
    if let Some(path) = &core.config.asterisk_security_log {
        let config = LogTapConfig {
            path: path.clone(),
            ami: ami_state,
        };
        match log_tap::spawn(config, guard.clone(), tokio::runtime::Handle::current()) {
            Ok((state, counters)) => {
                taps.push(("log", state));
                log = Some(counters);
            }
            Err(e) => {
                let why = format!("cannot start the log tap's thread: {e}");
                tracing::error!("{why}");
                let (_, down) = watch::channel(TapState::Disconnected(why));
                taps.push(("log", down));
            }
        }
    }
    if taps.iter().all(|(name, _)| *name == "capture") && capture.is_none() {
        tracing::error!(
            "the guard has no source: no AMI account (asterisk_ami_user), no security log \
             (asterisk_security_log) and no live capture; it sees nothing"
        );
    }
    Some(RunningGuard {
        guard,
        taps,
        capture,
        ban_latency,
        log,
    })
}

/// The AMI account the guard's tap logs in with: the one sipwarden renders for a managed
/// Asterisk, the administrator's in watch-only mode (none: no AMI tap).
fn ami_account(core: &Core, pbx_policy: &policy::asterisk::GlobalPolicy) -> Option<AmiTapConfig> {
    let addr = SocketAddr::new(core.config.asterisk_ami_host, pbx_policy.ami_port());
    let timeout = Duration::from_secs(u64::from(core.config.asterisk_ami_timeout_secs));
    if core.config.asterisk_managed {
        let account = pbx_policy.guard();
        return Some(AmiTapConfig {
            addr,
            user: account.name().as_str().to_owned(),
            secret: account.secret().as_str().to_owned(),
            timeout,
        });
    }
    let (user, secret) = (
        core.config.asterisk_ami_user.as_ref()?,
        core.config.asterisk_ami_secret.as_ref()?,
    );
    Some(AmiTapConfig {
        addr,
        user: user.clone(),
        secret: secret.reveal().to_owned(),
        timeout,
    })
}
