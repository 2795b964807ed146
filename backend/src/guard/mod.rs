//! The live guard: taps that turn what Asterisk reports into observations, the engine of
//! `policy::guard` that judges them, and an enforcer that carries ban decisions out.
//!
//! The engine is pure and single-threaded (`&mut self`); it sits behind a mutex that is held
//! only for one `observe` (microseconds), never across I/O. Bans are carried out after the
//! lock is released, so a slow kernel call never stalls the taps.

pub mod ami_tap;
pub mod host;
pub mod latency;
pub mod log_follower;
pub mod log_tap;
// Captured frames down to UDP/TCP payloads: pure parsing of attacker-chosen bytes, so it lives
// (and is fuzzed) in the pure core.
pub use policy::guard::packet;
pub mod pcap_tap;

use std::sync::{Arc, Mutex};

use std::net::{IpAddr, SocketAddr};
use std::time::SystemTime;

use policy::guard::{
    BanDecision, Engine, Event, GuardModel, GuardPolicy, KnownSource, ModelSummary, Observation,
    PolicyError, Timestamp, Verdict,
};

/// Carries out ban decisions (the kernel firewall, or only a log line in log-only mode).
#[async_trait::async_trait]
pub trait Enforcer: Send + Sync + 'static {
    /// Bans every source of `bans`, decided on a packet (or event) seen at `decided_at`;
    /// failures are the enforcer's to report.
    async fn enforce(&self, bans: &[BanDecision], decided_at: SystemTime);

    /// [`Enforcer::enforce`] for a caller outside the runtime that must not wait long (the
    /// capture thread). By default a task on `runtime` carries the bans out; an enforcer that
    /// never blocks for long (the appliance's: one netlink transaction or a queue) does it at
    /// once, sparing the decision a trip through the scheduler.
    fn hand_over(
        self: Arc<Self>,
        bans: Vec<BanDecision>,
        decided_at: SystemTime,
        runtime: &tokio::runtime::Handle,
    ) {
        runtime.spawn(async move { self.enforce(&bans, decided_at).await });
    }

    /// Remembers addresses that logged in (the firewall's generous rate tier, and a record
    /// that outlives a restart). Nothing by default.
    async fn remember(&self, _known: &[KnownSource]) {}
}

/// The running guard and its taps, as the server keeps it.
pub struct RunningGuard {
    pub guard: Arc<Guard>,
    /// Each tap's name (`ami`, `capture`, `log`) and state.
    pub taps: Vec<(
        &'static str,
        tokio::sync::watch::Receiver<ami_tap::TapState>,
    )>,
    /// The live SIP capture, when it could start (for its counters).
    pub capture: Option<pcap_tap::CaptureTap>,
    /// How long bans take to reach the kernel and the database.
    pub ban_latency: Arc<latency::BanLatency>,
    /// The security log tap's counters, when it runs.
    pub log: Option<Arc<log_tap::LogTapCounters>>,
}

impl std::fmt::Debug for RunningGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningGuard").finish_non_exhaustive()
    }
}

/// The engine, the enforcer and the live event stream, shared by every tap.
pub struct Guard {
    engine: Mutex<Engine>,
    enforcer: Arc<dyn Enforcer>,
    events: tokio::sync::broadcast::Sender<Event>,
    /// The event store's queue: every event goes there (a broadcast could drop some).
    store: Option<tokio::sync::mpsc::Sender<Event>>,
    /// Events the store's queue had no room for.
    store_dropped: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard").finish_non_exhaustive()
    }
}

impl Guard {
    /// A guard judging with `engine` and banning through `enforcer`.
    #[must_use]
    pub fn new(engine: Engine, enforcer: Arc<dyn Enforcer>) -> Arc<Self> {
        Self::with_store(engine, enforcer, None)
    }

    /// A guard that also hands every event to an event store's queue.
    #[must_use]
    pub fn with_store(
        engine: Engine,
        enforcer: Arc<dyn Enforcer>,
        store: Option<tokio::sync::mpsc::Sender<Event>>,
    ) -> Arc<Self> {
        let (events, _) = tokio::sync::broadcast::channel(4096);
        Arc::new(Self {
            engine: Mutex::new(engine),
            enforcer,
            events,
            store,
            store_dropped: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Events the store's queue had no room for (it holds a few seconds of a flood).
    pub fn store_dropped(&self) -> u64 {
        self.store_dropped
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Live events (a slow subscriber loses the oldest, it never slows the guard).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Judges one observation and carries out its bans before returning.
    pub async fn observe(&self, obs: &Observation<'_>, now: Timestamp) -> Verdict {
        let seen = SystemTime::now();
        let verdict = crate::sync::lock(&self.engine).observe(obs, now);
        if !verdict.bans.is_empty() {
            self.enforcer.enforce(&verdict.bans, seen).await;
        }
        if !verdict.known.is_empty() {
            self.enforcer.remember(&verdict.known).await;
        }
        self.publish(&verdict);
        verdict
    }

    /// [`Guard::observe`] for a thread outside the runtime (the capture thread): the engine
    /// is called directly, and bans go through [`Enforcer::hand_over`] rather than being
    /// awaited. `captured` is the packet's capture time, from which a ban's latency is
    /// measured. Why: carrying a ban out whole takes milliseconds (the kernel element, then
    /// a `conntrack` run and the database), and a capture thread waiting for that reads
    /// nothing meanwhile: every other source's packets, another attacker's threshold answer
    /// among them, waited 10 to 40 ms behind each ban (measured). Only the kernel element,
    /// a fraction of a millisecond, may be written on this thread.
    pub fn observe_detached(
        &self,
        obs: &Observation<'_>,
        now: Timestamp,
        captured: SystemTime,
        runtime: &tokio::runtime::Handle,
    ) -> Verdict {
        let verdict = crate::sync::lock(&self.engine).observe(obs, now);
        if !verdict.bans.is_empty() {
            self.enforcer
                .clone()
                .hand_over(verdict.bans.clone(), captured, runtime);
        }
        if !verdict.known.is_empty() {
            let enforcer = self.enforcer.clone();
            let known = verdict.known.clone();
            runtime.spawn(async move { enforcer.remember(&known).await });
        }
        self.publish(&verdict);
        verdict
    }

    /// Replaces what the engine judges by (the PBX, trusted networks, the host's gateways).
    pub fn set_model(&self, model: GuardModel) {
        crate::sync::lock(&self.engine).set_model(model);
    }

    /// What the engine judges by now.
    pub fn model_summary(&self) -> ModelSummary {
        crate::sync::lock(&self.engine).model().summary()
    }

    /// Puts a new policy in force for the next observation.
    pub fn set_policy(&self, policy: GuardPolicy) -> Result<(), PolicyError> {
        crate::sync::lock(&self.engine).set_policy(policy)
    }

    /// The policy in force.
    pub fn policy(&self) -> GuardPolicy {
        crate::sync::lock(&self.engine).policy().clone()
    }

    /// An administrator lifted the ban of `ip`: the engine judges it afresh.
    pub fn unban(&self, ip: IpAddr) {
        crate::sync::lock(&self.engine).unban(ip);
    }

    /// An administrator lifted the ban of one port of an address.
    pub fn unban_port(&self, source: SocketAddr) {
        crate::sync::lock(&self.engine).unban_port(source);
    }

    fn publish(&self, verdict: &Verdict) {
        for event in &verdict.events {
            if let Some(store) = &self.store
                && store.try_send(event.clone()).is_err()
            {
                self.store_dropped
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            // No subscriber is fine.
            let _ = self.events.send(event.clone());
        }
    }

    /// The engine's counters.
    pub fn stats(&self) -> policy::guard::GuardStats {
        crate::sync::lock(&self.engine).stats()
    }
}

/// Now, as the engine counts time.
#[must_use]
pub fn now() -> Timestamp {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Timestamp(millis)
}
