//! Asterisk's security events from its log file, fed to the [`Guard`]: fail2ban's source,
//! for an Asterisk sipwarden does not manage (watch-only mode) or as a stand-by for AMI.
//!
//! The file is followed by name ([`LogFollower`]: rotation, truncation, a missing file) on a
//! thread of its own, and each line read by `policy::guard::security_log`, which never
//! attributes an event to an address an attacker could have written into it. Two rules keep
//! every failure counted once:
//! - a file that carries res_security_log's lines also carries, when it is a `full` log, the
//!   NOTICE lines of the same failures: once a security line was seen, notices are ignored;
//! - while the AMI tap is connected, AMI has the last word (it reports the same events,
//!   unambiguously and sooner), and the log's events are only counted.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::SystemTime;

use policy::guard::security_log::{LineOrigin, LogLineError, parse_log_line};
use tokio::sync::watch;

use super::ami_tap::TapState;
use super::log_follower::{BUSY_PAUSE, IDLE_PAUSE, LogFollower, Turn};
use super::{Guard, now};

/// What the log tap follows, and whom it defers to.
#[derive(Debug, Clone)]
pub struct LogTapConfig {
    /// The log file.
    pub path: PathBuf,
    /// The AMI tap's state, when one runs: while it is connected, its events count instead.
    pub ami: Option<watch::Receiver<TapState>>,
}

/// What the tap has read, for logs and tests.
#[derive(Debug, Default)]
pub struct LogTapCounters {
    /// Security events handed to the guard.
    pub observed: AtomicU64,
    /// Security events left to the connected AMI tap.
    pub deferred: AtomicU64,
    /// Lines that looked like security events but could not be attributed safely (an
    /// attacker wrote address-like text into a field) or read.
    pub unreadable: AtomicU64,
}

/// Starts following; returns the tap's state and counters at once. The thread ends when
/// every receiver of the state is gone.
pub fn spawn(
    config: LogTapConfig,
    guard: Arc<Guard>,
    runtime: tokio::runtime::Handle,
) -> std::io::Result<(watch::Receiver<TapState>, Arc<LogTapCounters>)> {
    let (tx, rx) = watch::channel(TapState::Starting);
    let counters = Arc::new(LogTapCounters::default());
    let shared = counters.clone();
    std::thread::Builder::new()
        .name("sipwarden-log-tap".into())
        .spawn(move || run(&config, &guard, &tx, &shared, &runtime))?;
    Ok((rx, counters))
}

fn run(
    config: &LogTapConfig,
    guard: &Guard,
    state: &watch::Sender<TapState>,
    counters: &LogTapCounters,
    runtime: &tokio::runtime::Handle,
) {
    let mut follower = LogFollower::new(&config.path);
    let mut pause = IDLE_PAUSE;
    let mut security_lines_seen = false;
    while !state.is_closed() {
        let mut on_line = |line: &[u8]| {
            let event = match parse_log_line(line) {
                Ok(event) => event,
                Err(LogLineError::NotOfInterest) => return,
                Err(e) => {
                    counters.unreadable.fetch_add(1, Relaxed);
                    tracing::debug!(error = %e, "security log: a line could not be attributed");
                    return;
                }
            };
            match event.origin {
                LineOrigin::SecurityLog => security_lines_seen = true,
                LineOrigin::Notice if security_lines_seen => return,
                LineOrigin::Notice => {}
            }
            let ami_connected = config
                .ami
                .as_ref()
                .is_some_and(|ami| *ami.borrow() == TapState::Connected);
            if ami_connected {
                counters.deferred.fetch_add(1, Relaxed);
                return;
            }
            let at = now();
            if let Some(obs) = event.event.observation(at) {
                counters.observed.fetch_add(1, Relaxed);
                guard.observe_detached(&obs, at, SystemTime::now(), runtime);
            }
        };
        match follower.turn(&mut on_line) {
            Turn::Read(_) => {
                pause = BUSY_PAUSE;
                mark(state, TapState::Connected, &config.path);
            }
            Turn::Idle => {
                pause = (pause * 2).min(IDLE_PAUSE);
                if follower.is_open() {
                    mark(state, TapState::Connected, &config.path);
                }
            }
            Turn::Missing(why) => {
                pause = IDLE_PAUSE;
                mark(
                    state,
                    TapState::Disconnected(format!("{}: {why}", config.path.display())),
                    &config.path,
                );
            }
        }
        std::thread::sleep(pause);
    }
}

/// Publishes a state change, saying it once (a missing file is retried every turn).
fn mark(state: &watch::Sender<TapState>, new: TapState, path: &std::path::Path) {
    if *state.borrow() == new {
        return;
    }
    match &new {
        TapState::Connected => {
            tracing::info!(path = %path.display(), "security log tap following");
        }
        TapState::Disconnected(why) => {
            tracing::warn!("security log tap cannot read {why}; waiting for it");
        }
        TapState::Starting => {}
    }
    let _ = state.send(new);
}
