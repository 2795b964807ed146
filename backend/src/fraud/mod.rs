//! The pre-call fraud decision as the appliance runs it (#15): the ledger of
//! `policy::fraud` behind a mutex held for one decision (microseconds, never across I/O),
//! the fraud policy in force, and a bounded queue of what a decision leaves to do (store its
//! findings and a lock, hang up the locked account's calls, raise the alert). The FastAGI
//! listener (`agi_server`) answers Asterisk first; the worker in `server::fraud` carries the
//! rest out after the answer is on its way.

pub mod agi_server;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime};

use policy::fraud::ledger::{
    Alarm, Attempt, Clock, Decision, EndedCall, Finding, Ledger, Outcome, RunningCall,
};
use policy::fraud::policy::{FraudPolicy, FraudSettings};
use policy::fraud::rates::RateTable;
use tokio::sync::mpsc;

use crate::sync::lock;

/// Follow-ups queued for the worker at most; past it they are dropped and counted (the
/// decision itself is never held up).
pub const QUEUE: usize = 1024;

/// What a decision (or the long-call check) leaves to the worker.
#[derive(Debug, Clone)]
pub enum Followup {
    /// Rules fired on a call attempt.
    Decided {
        at: SystemTime,
        endpoint: String,
        trunk: String,
        dialled: String,
        decision: Decision,
    },
    /// A call let through ended (its record, priced).
    Ended {
        at: SystemTime,
        ended: EndedCall,
        /// Dial's status (`ANSWER`, `BUSY`, …); empty when it never dialled.
        dial_status: String,
    },
    /// The watch over running calls found something (a long call, spend as it runs).
    Alarm { at: SystemTime, alarm: Alarm },
    /// An account logged in (registered) from a network: a finding when it is new for it,
    /// and what to remember.
    LoggedIn {
        at: SystemTime,
        endpoint: String,
        source: std::net::IpAddr,
        finding: Option<Finding>,
        learned: Vec<String>,
    },
}

/// Whether the FastAGI listener is up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listening {
    NotStarted,
    On(std::net::SocketAddr),
    Failed(String),
}

/// Decisions taken since the start, by outcome.
#[derive(Debug, Default)]
pub struct Counters {
    pub allowed: AtomicU64,
    pub blocked: AtomicU64,
    pub locked: AtomicU64,
    /// Requests that were not a well-formed decision (answered `block`).
    pub malformed: AtomicU64,
    /// Follow-ups dropped because the worker's queue was full.
    pub dropped: AtomicU64,
}

/// The decision point; one per appliance, in the [`Core`](crate::core::Core).
pub struct CallDecisions {
    policy: RwLock<Arc<FraudPolicy>>,
    rates: RwLock<Arc<RateTable>>,
    ledger: Mutex<Ledger>,
    tx: mpsc::Sender<Followup>,
    rx: Mutex<Option<mpsc::Receiver<Followup>>>,
    /// Locks never wait behind other follow-ups and are never dropped: each account locks
    /// once (a locked account's calls lock nothing more), so this queue is bounded by the
    /// accounts.
    locks_tx: mpsc::UnboundedSender<Followup>,
    locks_rx: Mutex<Option<mpsc::UnboundedReceiver<Followup>>>,
    listening: Mutex<Listening>,
    pub counters: Counters,
}

impl std::fmt::Debug for CallDecisions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallDecisions").finish_non_exhaustive()
    }
}

impl Default for CallDecisions {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let (locks_tx, locks_rx) = mpsc::unbounded_channel();
        #[allow(clippy::expect_used, reason = "the default settings are valid by test")]
        let policy = FraudPolicy::new(FraudSettings::default()).expect("default fraud policy");
        Self {
            policy: RwLock::new(Arc::new(policy)),
            rates: RwLock::default(),
            ledger: Mutex::default(),
            tx,
            rx: Mutex::new(Some(rx)),
            locks_tx,
            locks_rx: Mutex::new(Some(locks_rx)),
            listening: Mutex::new(Listening::NotStarted),
            counters: Counters::default(),
        }
    }
}

impl CallDecisions {
    /// Judges `attempt` now, records it, and queues what is left to do.
    pub fn decide(&self, attempt: Attempt<'_>) -> Decision {
        let (policy, rates) = (self.policy(), self.rates());
        let decision = lock(&self.ledger).decide(&policy, &rates, attempt, Clock::now());
        let counter = match decision.outcome {
            Outcome::Allow => &self.counters.allowed,
            Outcome::Block => &self.counters.blocked,
            Outcome::Lock => &self.counters.locked,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        // A locked account's attempts are refused and counted, not queued one by one: a
        // flood of them must not crowd out what matters.
        let only_locked = !decision.findings.is_empty()
            && decision.findings.iter().all(|f| f.rule == "account_locked");
        if (!decision.findings.is_empty() || !decision.learned.is_empty()) && !only_locked {
            let followup = Followup::Decided {
                at: SystemTime::now(),
                endpoint: attempt.endpoint.to_owned(),
                trunk: attempt.trunk.to_owned(),
                dialled: attempt.dialled.to_owned(),
                decision: decision.clone(),
            };
            if decision.outcome == Outcome::Lock {
                let _ = self.locks_tx.send(followup);
            } else {
                self.follow_up(followup);
            }
        }
        decision
    }

    fn follow_up(&self, followup: Followup) {
        let locks = match &followup {
            Followup::Alarm { alarm, .. } => alarm.mode == policy::fraud::policy::RuleMode::Lock,
            Followup::LoggedIn { finding, .. } => finding
                .as_ref()
                .is_some_and(|f| f.mode == policy::fraud::policy::RuleMode::Lock),
            Followup::Decided { .. } | Followup::Ended { .. } => false,
        };
        if locks {
            let _ = self.locks_tx.send(followup);
        } else if self.tx.try_send(followup).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The call with `uniqueid` hung up (Dial's status, seconds answered): priced, and its
    /// record goes to the worker.
    pub fn end(&self, uniqueid: &str, dial_status: &str, answered_secs: u64) {
        let ended = lock(&self.ledger).end(uniqueid, answered_secs, Instant::now());
        if let Some(ended) = ended {
            self.follow_up(Followup::Ended {
                at: SystemTime::now(),
                ended,
                dial_status: dial_status.to_owned(),
            });
        }
    }

    /// The watch over running calls, once a second: its alarms go to the worker.
    pub fn tick(&self) {
        let policy = self.policy();
        let alarms = lock(&self.ledger).tick(&policy, Instant::now());
        for alarm in alarms {
            self.follow_up(Followup::Alarm {
                at: SystemTime::now(),
                alarm,
            });
        }
    }

    /// `endpoint` logged in from `source` (the guard saw a correct login): the new-network
    /// rule checks it.
    pub fn logged_in(&self, endpoint: &str, source: std::net::IpAddr) {
        let policy = self.policy();
        let (finding, learned) = lock(&self.ledger).logged_in(&policy, endpoint, source);
        if finding.is_some() || !learned.is_empty() {
            self.follow_up(Followup::LoggedIn {
                at: SystemTime::now(),
                endpoint: endpoint.to_owned(),
                source,
                finding,
                learned,
            });
        }
    }

    /// The rate table in force.
    pub fn rates(&self) -> Arc<RateTable> {
        self.rates
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Puts `rates` in force for the next decision.
    pub fn set_rates(&self, rates: RateTable) {
        *self
            .rates
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(rates);
    }

    /// Remembers what `endpoint` did before (stored history, at start).
    pub fn remember(&self, endpoint: &str, what: String) {
        lock(&self.ledger).remember(endpoint, what);
    }

    /// What was spent (millionths) in the last hour and the last day.
    pub fn spent(&self) -> (u64, u64) {
        lock(&self.ledger).spent(Instant::now())
    }

    /// The policy in force.
    pub fn policy(&self) -> Arc<FraudPolicy> {
        self.policy
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Puts `policy` in force for the next decision.
    pub fn set_policy(&self, policy: FraudPolicy) {
        *self
            .policy
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(policy);
    }

    /// Locks `endpoint`; its running calls (to hang up).
    pub fn lock(&self, endpoint: &str) -> Vec<RunningCall> {
        lock(&self.ledger).lock(endpoint)
    }

    /// Replaces the locked set with the stored one (at start).
    pub fn restore_locks(&self, locked: Vec<String>) {
        let mut ledger = lock(&self.ledger);
        for endpoint in locked {
            ledger.lock(&endpoint);
        }
    }

    /// Whether `endpoint` is locked.
    pub fn is_locked(&self, endpoint: &str) -> bool {
        lock(&self.ledger).locked().contains(endpoint)
    }

    /// How many accounts are locked.
    pub fn locked_count(&self) -> usize {
        lock(&self.ledger).locked().len()
    }

    /// Unlocks `endpoint`; whether it was locked here.
    pub fn unlock(&self, endpoint: &str) -> bool {
        lock(&self.ledger).unlock(endpoint)
    }

    /// The external calls running now, oldest first.
    pub fn running(&self) -> Vec<RunningCall> {
        lock(&self.ledger).running()
    }

    /// The running call with `uniqueid`, if any.
    pub fn call(&self, uniqueid: &str) -> Option<RunningCall> {
        lock(&self.ledger).call(uniqueid)
    }

    /// How many external calls are running.
    pub fn running_count(&self) -> usize {
        lock(&self.ledger).running_count()
    }

    /// The running calls of `endpoint`, oldest first.
    pub fn calls_of(&self, endpoint: &str) -> Vec<RunningCall> {
        lock(&self.ledger).calls_of(endpoint)
    }

    /// Whether the listener is up.
    pub fn listening(&self) -> Listening {
        lock(&self.listening).clone()
    }

    pub(crate) fn set_listening(&self, state: Listening) {
        *lock(&self.listening) = state;
    }

    /// The worker's ends of the follow-up queues (locks, everything else); taken once.
    pub fn take_receivers(
        &self,
    ) -> Option<(mpsc::UnboundedReceiver<Followup>, mpsc::Receiver<Followup>)> {
        Some((lock(&self.locks_rx).take()?, lock(&self.rx).take()?))
    }
}
