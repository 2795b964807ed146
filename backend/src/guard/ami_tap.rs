//! Asterisk's security events over AMI, as the guard's own account (`read = security`, no
//! write class) receives them, fed to the [`Guard`]. Reconnects with growing pauses (1 s
//! doubling to 30 s) for as long as it runs, and publishes whether it is connected: a
//! disconnected tap means a blind guard, which the console must say.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use policy::guard::parse_security_event;
use tokio::sync::watch;

use super::{Guard, now};
use crate::asterisk::ami::AmiClient;

/// Where and as whom the tap logs in.
#[derive(Clone)]
pub struct AmiTapConfig {
    pub addr: SocketAddr,
    pub user: String,
    pub secret: String,
    /// For connecting and logging in (events themselves may be minutes apart).
    pub timeout: Duration,
}

impl std::fmt::Debug for AmiTapConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmiTapConfig")
            .field("addr", &self.addr)
            .field("user", &self.user)
            .field("secret", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// The tap's state, for `guard/status` and alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TapState {
    /// Not connected yet.
    Starting,
    /// Logged in and receiving events.
    Connected,
    /// Lost or refused; retrying. The reason says why.
    Disconnected(String),
}

/// Runs the tap until the task is dropped. Returns the state channel right away.
pub fn spawn(config: AmiTapConfig, guard: Arc<Guard>) -> watch::Receiver<TapState> {
    let (tx, rx) = watch::channel(TapState::Starting);
    tokio::spawn(run(config, guard, tx));
    rx
}

async fn run(config: AmiTapConfig, guard: Arc<Guard>, state: watch::Sender<TapState>) {
    let mut pause = Duration::from_secs(1);
    loop {
        let why = match AmiClient::login_with_events(
            config.addr,
            &config.user,
            &config.secret,
            config.timeout,
            true,
        )
        .await
        {
            Ok(mut ami) => {
                tracing::info!(addr = %config.addr, "AMI security tap connected");
                let _ = state.send(TapState::Connected);
                pause = Duration::from_secs(1);
                let mut buf = Vec::with_capacity(1024);
                loop {
                    if let Err(e) = ami.next_event_raw(&mut buf).await {
                        break e.to_string();
                    }
                    let Ok(event) = parse_security_event(&buf) else {
                        continue;
                    };
                    let at = now();
                    if let Some(obs) = event.observation(at) {
                        guard.observe(&obs, at).await;
                    }
                }
            }
            Err(e) => e.to_string(),
        };
        // Said loudly once per outage (the guard is blind meanwhile), quietly on each retry.
        if matches!(*state.borrow(), TapState::Disconnected(_)) {
            tracing::debug!(addr = %config.addr, "AMI security tap still down ({why}); retrying in {pause:?}");
        } else {
            tracing::warn!(addr = %config.addr, "AMI security tap down, the guard is blind ({why}); retrying with growing pauses");
        }
        let _ = state.send(TapState::Disconnected(why));
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(30));
    }
}
