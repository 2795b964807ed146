//! The core every service takes: the database, the configuration, the locks that serialise
//! changes, the model's version, the kernel firewall, the event queue, the alerts' notifier,
//! the pre-call fraud decision and the running guard.
//!
//! Layers run one way: `http` → `services` → `core` → {`db`, `firewall`, `asterisk`, `guard`, `fraud`}.
//! Nothing here knows about HTTP (that is [`crate::http::HttpState`]), and nothing here calls a
//! service: what is started around the core (the event writer, the alerts' worker, the guard)
//! is wired together in [`crate::server`].

pub mod events;
pub mod model_version;
pub mod notifier;

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use sea_orm::DatabaseConnection;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::firewall::Firewall;
use crate::fraud::CallDecisions;
use crate::guard::RunningGuard;
use events::EventQueue;
use model_version::ModelVersion;
use notifier::Notifier;

/// Shared, cheaply clonable.
#[derive(Clone, Debug)]
pub struct Core {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    pub started_at: Instant,
    /// Serialises changes to the PBX model and config applies: each checks the whole model
    /// before it writes, which is only sound if no other change lands in between.
    pub pbx_lock: Arc<tokio::sync::Mutex<()>>,
    /// The model's version, bumped after every committed change and every apply; caches and
    /// watchers follow it.
    pub model: ModelVersion,
    /// Whether changes are pending (see `services::config::pending`), with the model version
    /// and the time it was worked out at: every console page asks.
    pub pending_changes: Arc<std::sync::Mutex<Option<(u64, Instant, bool)>>>,
    /// The kernel firewall of this network namespace (bans, safe apply).
    pub firewall: Firewall,
    /// Serialises firewall policy changes, applies and start-up restoration, so an apply
    /// never renders from a policy that changes under it.
    pub firewall_lock: Arc<tokio::sync::Mutex<()>>,
    /// The guard's event queue (its writer is `services::events`).
    pub events: EventQueue,
    /// The alerts' notice queue (bans, taps down).
    pub alerts: Notifier,
    /// The pre-call fraud decision: its ledger, policy in force and follow-up queue.
    pub fraud: Arc<CallDecisions>,
    /// The running guard, once the server has started it.
    pub guard: Arc<OnceLock<RunningGuard>>,
    /// Cancelled when the server begins to stop: the endless streams end with it, so the
    /// graceful shutdown is not held open by a browser tab.
    pub stopping: CancellationToken,
}

impl Core {
    /// A core over an open database, with the firewall of this network namespace and an
    /// event queue whose writer the caller starts (see `services::events::start_writer`).
    #[must_use]
    pub fn new(db: DatabaseConnection, config: Config, events: EventQueue) -> Self {
        let firewall = Firewall::new(
            crate::firewall::Target::current(),
            config.data_dir.join("firewall"),
        );
        Self {
            db,
            config: Arc::new(config),
            started_at: Instant::now(),
            pbx_lock: Arc::default(),
            model: ModelVersion::default(),
            pending_changes: Arc::default(),
            firewall,
            firewall_lock: Arc::default(),
            events,
            alerts: Notifier::default(),
            fraud: Arc::default(),
            guard: Arc::default(),
            stopping: CancellationToken::new(),
        }
    }
}
