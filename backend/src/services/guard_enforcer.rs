//! Carrying the guard's ban decisions out, kernel first.
//!
//! The goal is physical: a ban is in the kernel before the attacker's next datagram reaches
//! Asterisk. So the path from a decision to the kernel does nothing else:
//!
//! 1. the thread that decided (the capture thread, or the AMI tap's task) puts its bans into
//!    the kernel itself when the ban path is free: one netlink transaction, no hand-off to a
//!    scheduler that may be asleep (that wake-up was half of a single ban's time);
//! 2. otherwise the decisions go into a queue, never waited on by the taps, and one writer
//!    task takes everything queued (a whole distributed attack's worth) and puts it into the
//!    kernel as **one** transaction (over netlink, or the `nft` session); while it runs, new
//!    decisions queue up for the next one (group commit). Whether the firewall is live is
//!    read from memory, not from a file or the database;
//! 3. then, off that path: the banned flows are ended (`conntrack`, in a task of its own),
//!    and a recorder task writes the bans to the database in one transaction per batch,
//!    checks them against what the database knows (trusted after all, a longer ban already in
//!    force) and raises the alerts.
//!
//! [`BanLatency`] measures each ban from the capture time of the packet that decided it to
//! the kernel's acknowledgement, and to the end of its recording.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use policy::firewall::{TimedAddress, TimedPort};
use policy::guard::{BanDecision, KnownSource};
use tokio::sync::mpsc;

use crate::core::Core;
use crate::firewall::FirewallError;
use crate::guard::Enforcer;
use crate::guard::latency::BanLatency;
use crate::services::firewall;

/// Decisions queued for the kernel at most; beyond, a flood's newest are dropped (and
/// counted): the kernel set is capped at a million elements anyway.
const QUEUE: usize = 65_536;
/// Most decisions in one transaction: it then fits one netlink datagram
/// (`policy::firewall::netlink::MAX_BYTES`), and the next thousand follow at once.
const MAX_BATCH: usize = 1_000;
/// One ban decision and when the packet (or event) that decided it was seen.
#[derive(Debug, Clone, Copy)]
struct Decided {
    ban: BanDecision,
    at: SystemTime,
    /// When it reached the ban path (the decision's own lag: capture thread, engine).
    queued: SystemTime,
}

/// A batch as the writer left it for the recorder.
struct Written {
    decided: Vec<Decided>,
    in_kernel: bool,
    /// From each decision's packet to the kernel's acknowledgement.
    to_kernel: Option<Vec<Duration>>,
    /// The kernel transaction alone.
    kernel: Duration,
}

/// The appliance's enforcer: the kernel first, then the database (see the module docs). In
/// log-only mode it only says what it would ban.
pub struct ServiceEnforcer {
    core: Core,
    paths: Option<Paths>,
    latency: Arc<BanLatency>,
}

/// Where decisions and written batches go (none in log-only mode).
struct Paths {
    /// To the writer task.
    queue: mpsc::Sender<Decided>,
    /// What the kernel has, to the recorder.
    written: mpsc::Sender<Written>,
    /// Banned flows, to the flow ender.
    flows: mpsc::UnboundedSender<Flows>,
}

impl ServiceEnforcer {
    /// An enforcer for `state`'s firewall; starts its writer and recorder tasks unless
    /// `log_only`.
    #[must_use]
    pub fn start(core: Core, log_only: bool, latency: Arc<BanLatency>) -> Self {
        let paths = (!log_only).then(|| {
            let (queue, queued) = mpsc::channel(QUEUE);
            let (written, to_record) = mpsc::channel(QUEUE);
            let (flows, to_end) = mpsc::unbounded_channel();
            tokio::spawn(end_flows(core.clone(), to_end));
            tokio::spawn(write_bans(
                core.clone(),
                queued,
                written.clone(),
                flows.clone(),
                latency.clone(),
            ));
            tokio::spawn(record_bans(core.clone(), to_record, latency.clone()));
            Paths {
                queue,
                written,
                flows,
            }
        });
        Self {
            core,
            paths,
            latency,
        }
    }
}

impl ServiceEnforcer {
    /// Puts `bans` into the kernel on this thread if the ban path is free, else queues them
    /// for the writer (or, in log-only mode, says what it would ban).
    fn carry_out(&self, bans: &[BanDecision], decided_at: SystemTime) {
        let Some(paths) = &self.paths else {
            for ban in bans {
                tracing::info!(target = %target_text(ban), kind = ?ban.kind, proven = ban.proven, secs = ban.duration.as_secs(), "log-only: would ban");
            }
            return;
        };
        let queued = SystemTime::now();
        let decided: Vec<Decided> = bans
            .iter()
            .map(|ban| Decided {
                ban: *ban,
                at: decided_at,
                queued,
            })
            .collect();
        let (addresses, ports) = kernel_entries(&decided);
        let started = SystemTime::now();
        match self.core.firewall.try_ban_batch_now(&addresses, &ports) {
            Some(done) => {
                let written = kernel_done(
                    Some(done),
                    decided,
                    &addresses,
                    &ports,
                    started,
                    &paths.flows,
                    &self.latency,
                );
                if paths.written.try_send(written).is_err() {
                    tracing::error!("the recorder is behind: bans in the kernel go unrecorded");
                }
            }
            None => {
                for d in decided {
                    if paths.queue.try_send(d).is_err() {
                        self.latency.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }
}

#[async_trait::async_trait]
impl Enforcer for ServiceEnforcer {
    async fn enforce(&self, bans: &[BanDecision], decided_at: SystemTime) {
        self.carry_out(bans, decided_at);
    }

    fn hand_over(
        self: Arc<Self>,
        bans: Vec<BanDecision>,
        decided_at: SystemTime,
        _runtime: &tokio::runtime::Handle,
    ) {
        self.carry_out(&bans, decided_at);
    }

    async fn remember(&self, known: &[KnownSource]) {
        // Known addresses are memory, not enforcement: kept in log-only mode too, so turning
        // enforcement on later does not start from nothing.
        firewall::known_from_guard(&self.core, known).await;
        // A login is also news for the fraud rules: a network new for the account is a
        // sign its secret is used elsewhere.
        for k in known {
            if let Some(account) = &k.account {
                self.core.fraud.logged_in(account, k.source);
            }
        }
    }
}

fn target_text(ban: &BanDecision) -> String {
    match ban.port {
        Some(port) => SocketAddr::new(ban.source, port).to_string(),
        None => ban.source.to_string(),
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn whole_secs(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX).max(1)
}

/// The kernel's share of decisions: whole addresses (never loopback, which a ban would cut
/// the appliance off from itself) and single ports.
fn kernel_entries(decided: &[Decided]) -> (Vec<TimedAddress>, Vec<TimedPort>) {
    let mut addresses: Vec<TimedAddress> = Vec::new();
    let mut ports: Vec<TimedPort> = Vec::new();
    for d in decided {
        let secs = whole_secs(d.ban.duration);
        match d.ban.port {
            Some(port) => ports.push(TimedPort::expiring(
                SocketAddr::new(d.ban.source, port),
                secs,
            )),
            None if !d.ban.source.is_loopback() => {
                addresses.push(TimedAddress::expiring(d.ban.source, secs));
            }
            None => {}
        }
    }
    (addresses, ports)
}

/// After a transaction that began at `started`: the latency of each ban, the banned flows to
/// the flow ender, and the batch as the recorder is to get it. `done` is `None` when the
/// firewall is not live (nothing was sent).
fn kernel_done(
    done: Option<Result<(), FirewallError>>,
    decided: Vec<Decided>,
    addresses: &[TimedAddress],
    ports: &[TimedPort],
    started: SystemTime,
    flows: &mpsc::UnboundedSender<Flows>,
    latency: &BanLatency,
) -> Written {
    let in_kernel = match done {
        Some(Ok(())) => true,
        Some(Err(e)) => {
            tracing::error!(error = %e, bans = decided.len(), "guard bans did not reach the kernel");
            false
        }
        None => false,
    };
    let acknowledged = SystemTime::now();
    let kernel = acknowledged.duration_since(started).unwrap_or_default();
    let mut to_kernel = None;
    if in_kernel {
        let took: Vec<Duration> = decided
            .iter()
            .map(|d| acknowledged.duration_since(d.at).unwrap_or_default())
            .collect();
        for t in &took {
            latency.to_kernel.observe(*t);
        }
        to_kernel = Some(took);
        // The banned flows end soon after, once the burst is over: conntrack forks a process
        // per source with live flows, CPU that the next bans and Asterisk need more (the
        // kernel set already drops every packet of theirs).
        let _ = flows.send(Flows {
            sources: addresses.iter().map(|a| a.address).collect(),
            ports: ports.iter().map(|p| p.source).collect(),
        });
    }
    Written {
        decided,
        in_kernel,
        to_kernel,
        kernel,
    }
}

/// The writer: everything queued, into the kernel in one transaction.
async fn write_bans(
    core: Core,
    mut queue: mpsc::Receiver<Decided>,
    written: mpsc::Sender<Written>,
    flows: mpsc::UnboundedSender<Flows>,
    latency: Arc<BanLatency>,
) {
    if let Err(e) = core.firewall.warm_ban_path().await {
        // The first ban tries again, and says so if it fails too.
        tracing::debug!(error = %e, "the ban path could not be readied ahead of the first ban");
    }
    let mut batch: Vec<Decided> = Vec::new();
    while let Some(first) = queue.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let (addresses, ports) = kernel_entries(&batch);
        let enforcing = core.firewall.enforcing().await;
        let started = SystemTime::now();
        let done = if enforcing {
            Some(core.firewall.ban_batch(&addresses, &ports).await)
        } else {
            None
        };
        let batch_written = kernel_done(
            done,
            std::mem::take(&mut batch),
            &addresses,
            &ports,
            started,
            &flows,
            &latency,
        );
        if written.send(batch_written).await.is_err() {
            return;
        }
    }
}

/// Sources and ports whose conntrack entries are to go.
#[derive(Debug, Default)]
struct Flows {
    sources: Vec<IpAddr>,
    ports: Vec<SocketAddr>,
}

/// How long the flow ender waits for more bans after the last one before it runs
/// `conntrack`, and at most after the first.
const FLOWS_SETTLE: Duration = Duration::from_millis(100);
const FLOWS_AT_MOST: Duration = Duration::from_secs(1);

/// The flow ender: bans arriving close together are ended together, after the burst (a
/// distributed attack's fifty bans are one listing of the table, not fifty processes racing
/// the next bans for the CPU).
async fn end_flows(core: Core, mut to_end: mpsc::UnboundedReceiver<Flows>) {
    while let Some(first) = to_end.recv().await {
        let mut all = first;
        let deadline = tokio::time::Instant::now() + FLOWS_AT_MOST;
        loop {
            let wait =
                FLOWS_SETTLE.min(deadline.saturating_duration_since(tokio::time::Instant::now()));
            match tokio::time::timeout(wait, to_end.recv()).await {
                Ok(Some(more)) => {
                    all.sources.extend(more.sources);
                    all.ports.extend(more.ports);
                }
                // Quiet for a moment, the deadline, or the writer gone: end what we have.
                Ok(None) | Err(_) => break,
            }
        }
        all.sources.sort_unstable();
        all.sources.dedup();
        all.ports.sort_unstable();
        all.ports.dedup();
        if let Err(e) = core.firewall.end_flows(&all.sources, &all.ports).await {
            tracing::warn!(error = %e, "the banned sources' flows could not be ended");
        }
    }
}

/// The recorder: each batch into the database, one transaction, then the alerts.
async fn record_bans(core: Core, mut written: mpsc::Receiver<Written>, latency: Arc<BanLatency>) {
    while let Some(first) = written.recv().await {
        let mut batches = vec![first];
        while let Ok(next) = written.try_recv() {
            batches.push(next);
        }
        let bans: Vec<(BanDecision, bool)> = batches
            .iter()
            .flat_map(|w| w.decided.iter().map(|d| (d.ban, w.in_kernel)))
            .collect();
        // In a task of its own, so that a bug in recording (a panic) loses this batch's rows,
        // never the recorder.
        let task_state = core.clone();
        let recorded =
            tokio::spawn(async move { firewall::record_guard_bans(&task_state, &bans).await })
                .await;
        if let Err(e) = recorded {
            tracing::error!(error = %e, "recording guard bans failed");
        }
        let recorded = SystemTime::now();
        for w in &batches {
            for (i, d) in w.decided.iter().enumerate() {
                let to_record = recorded.duration_since(d.at).unwrap_or_default();
                latency.to_record.observe(to_record);
                let to_kernel_us = w
                    .to_kernel
                    .as_ref()
                    .and_then(|t| t.get(i))
                    .map(|t| micros(*t));
                tracing::warn!(
                    target = %target_text(&d.ban),
                    kind = ?d.ban.kind,
                    proven = d.ban.proven,
                    secs = d.ban.duration.as_secs(),
                    in_kernel = w.in_kernel,
                    to_kernel_us,
                    queued_us = micros(d.queued.duration_since(d.at).unwrap_or_default()),
                    kernel_us = micros(w.kernel),
                    batch = w.decided.len(),
                    total_ms = to_record.as_millis() as u64,
                    "guard banned a source"
                );
            }
        }
    }
}
