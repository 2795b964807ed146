//! The guard's event queue as the rest of the server holds it: where the guard hands events
//! (never waiting on the database), the live feed of stored events, and the writer's counters.
//! The writer that drains it into SQLite is a service (`services::events`); it takes the
//! [`EventIntake`] once, at start.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use policy::guard::Event;
use tokio::sync::{broadcast, mpsc};
use wire::events::EventView;

/// Events queued for the writer at most: several seconds of the 10,000/s a flood produces.
pub const QUEUE: usize = 65_536;
/// Stored events a live subscriber may fall behind by before it is told it missed some.
const LIVE: usize = 1024;

/// The handle the server keeps: the writer's queue, the live feed and the counters.
#[derive(Clone)]
pub struct EventQueue {
    queue: mpsc::Sender<Event>,
    live: broadcast::Sender<EventView>,
    stats: Arc<WriterStats>,
}

impl std::fmt::Debug for EventQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventQueue")
            .field("stored", &self.stored())
            .finish_non_exhaustive()
    }
}

/// The writer's counters.
#[derive(Debug, Default)]
pub struct WriterStats {
    stored: AtomicU64,
    failed_batches: AtomicU64,
}

impl WriterStats {
    /// Counts events stored.
    pub fn stored(&self, n: usize) {
        self.stored.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Counts a batch the database refused.
    pub fn failed_batch(&self) {
        self.failed_batches.fetch_add(1, Ordering::Relaxed);
    }
}

/// What the writer takes: the queue's receiving end, the live feed to publish stored events
/// on, and the counters to keep.
#[derive(Debug)]
pub struct EventIntake {
    pub rx: mpsc::Receiver<Event>,
    pub live: broadcast::Sender<EventView>,
    pub stats: Arc<WriterStats>,
}

impl EventQueue {
    /// A new queue and the intake its writer drains.
    #[must_use]
    pub fn new() -> (Self, EventIntake) {
        let (queue, rx) = mpsc::channel(QUEUE);
        let (live, _) = broadcast::channel(LIVE);
        let stats = Arc::new(WriterStats::default());
        let intake = EventIntake {
            rx,
            live: live.clone(),
            stats: stats.clone(),
        };
        (Self { queue, live, stats }, intake)
    }

    /// The queue the guard hands its events to.
    #[must_use]
    pub fn queue(&self) -> mpsc::Sender<Event> {
        self.queue.clone()
    }

    /// Events as they are stored (a slow subscriber misses some and is told so).
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<EventView> {
        self.live.subscribe()
    }

    /// Events written since start.
    #[must_use]
    pub fn stored(&self) -> u64 {
        self.stats.stored.load(Ordering::Relaxed)
    }

    /// Waits until the writer has stored at least `count` events since start, or `limit`
    /// passes. For tests and benchmarks: the guard never waits for the store.
    pub async fn wait_stored(&self, count: u64, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while self.stored() < count {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }
}
