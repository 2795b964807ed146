//! The alerts' notice queue: whoever raises a notice (a ban, a tap going down, a posture drop)
//! hands it over here without waiting; the delivery worker (`services::alerts`) takes the
//! receiving end once and sends each notice to the alerts that chose its trigger.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use wire::alerts::Trigger;

use crate::sync::lock;

/// Notices queued for the worker at most; past it they are dropped and counted.
pub const QUEUE: usize = 256;

/// Something to tell the alerts that chose its trigger.
#[derive(Debug, Clone)]
pub struct Notice {
    /// `None` for a test.
    pub trigger: Option<Trigger>,
    /// One line, for the history and the body.
    pub summary: String,
    /// The trigger's own fields, sent as `details`.
    pub details: serde_json::Value,
    pub at: DateTime<Utc>,
}

impl Notice {
    /// A notice raised now.
    #[must_use]
    pub fn new(trigger: Option<Trigger>, summary: String, details: serde_json::Value) -> Self {
        Self {
            trigger,
            summary,
            details,
            at: Utc::now(),
        }
    }

    /// The trigger's wire name, `test` for a test notice.
    #[must_use]
    pub fn trigger_name(&self) -> &'static str {
        self.trigger.map_or("test", Trigger::as_str)
    }
}

/// The queue into the delivery worker, kept in the [`Core`](super::Core).
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<NotifierInner>,
}

struct NotifierInner {
    tx: mpsc::Sender<Notice>,
    /// Taken once by the worker.
    rx: Mutex<Option<mpsc::Receiver<Notice>>>,
    dropped: AtomicU64,
    /// Bumped on every alert change, so the worker reloads its copy.
    generation: AtomicU64,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl Default for Notifier {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        Self {
            inner: Arc::new(NotifierInner {
                tx,
                rx: Mutex::new(Some(rx)),
                dropped: AtomicU64::new(0),
                generation: AtomicU64::new(0),
            }),
        }
    }
}

impl Notifier {
    /// Queues a notice without waiting; a full queue drops it and counts the drop.
    pub fn notify(&self, notice: Notice) {
        if self.inner.tx.try_send(notice).is_err() {
            let n = self.inner.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(dropped = n, "alert queue full: notices dropped");
            }
        }
    }

    /// Notices dropped since start (queue full).
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    /// Tells the worker the alerts changed.
    pub fn alerts_changed(&self) {
        self.inner.generation.fetch_add(1, Ordering::Relaxed);
    }

    /// How many times the alerts changed since start.
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Relaxed)
    }

    /// The receiving end, for the one worker (`None` once taken).
    #[must_use]
    pub fn take_receiver(&self) -> Option<mpsc::Receiver<Notice>> {
        lock(&self.inner.rx).take()
    }
}
