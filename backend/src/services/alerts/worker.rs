//! The delivery worker: turns what happens into notices for the alerts that chose each
//! trigger, and sends them.
//!
//! Sources: the [`super::Notifier`] queue (bans, taps going down), the event store's live
//! feed (rate spikes counted per wall-clock minute, `login-after-failures` events), and the
//! posture check (every [`POSTURE_EVERY`], and a second after a model change or an apply).
//! Each delivery runs in its own task; at most [`super::CONCURRENT`] run at once, and while
//! all are busy the worker waits, so the notice queue fills and further notices are dropped
//! and counted rather than held in memory.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, broadcast, mpsc};
use tokio::time::Instant;

use policy::posture::Severity;
use wire::alerts::Trigger;
use wire::events::EventView;

use super::{ATTEMPT_TIMEOUT, CONCURRENT, Notice, Target, deliver, enabled_targets, webhook};
use crate::config::GuardMode;
use crate::core::Core;
use crate::guard::ami_tap::TapState;
use crate::services::Internal;

/// How often posture is checked without a change to prompt it.
pub const POSTURE_EVERY: Duration = Duration::from_secs(60);
/// How long after a model change the check waits (a burst of changes is checked once).
const POSTURE_SETTLE: Duration = Duration::from_secs(1);

/// Starts the worker (once; later calls do nothing). Takes the posture baseline first, so a
/// finding that exists at start-up is not "new", and starts a watcher per guard tap.
pub async fn start(core: &Core) {
    let Some(rx) = core.alerts.take_receiver() else {
        return;
    };
    match super::close_interrupted(&core.db).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            deliveries = n,
            "alert deliveries interrupted by the last stop marked failed"
        ),
        Err(e) => tracing::warn!(error = %e, "alerts: cannot close interrupted deliveries"),
    }
    let known = match high_findings(core).await {
        Ok(known) => known,
        Err(e) => {
            tracing::warn!(error = %e, "alerts: cannot take the posture baseline");
            BTreeMap::new()
        }
    };
    watch_taps(core);
    tokio::spawn(run(core.clone(), rx, known));
}

/// A watcher per tap: a tap that goes down (or never came up) is one `guard-blind` notice
/// per outage.
fn watch_taps(core: &Core) {
    let Some(running) = core.guard.get() else {
        if core.config.guard_mode != GuardMode::Off {
            core.alerts.notify(Notice::new(
                Some(Trigger::GuardBlind),
                "the guard did not start: nobody is watching SIP traffic or Asterisk's security events (see the server log)".to_owned(),
                serde_json::json!({ "tap": null, "core": "not-started" }),
            ));
        }
        return;
    };
    for (name, rx) in &running.taps {
        let name = *name;
        let mut rx = rx.clone();
        let notifier = core.alerts.clone();
        tokio::spawn(async move {
            let mut blind = false;
            loop {
                let now = rx.borrow_and_update().clone();
                match now {
                    TapState::Disconnected(why) if !blind => {
                        blind = true;
                        notifier.notify(Notice::new(
                            Some(Trigger::GuardBlind),
                            format!("guard tap `{name}` is down, the guard is blind: {why}"),
                            serde_json::json!({ "tap": name, "core": "down", "reason": why }),
                        ));
                    }
                    TapState::Connected => blind = false,
                    _ => {}
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        });
    }
}

/// The enabled alerts, reloaded when they change.
struct Cache {
    generation: Option<u64>,
    targets: Vec<Target>,
}

impl Cache {
    async fn refresh(&mut self, core: &Core) {
        let now = core.alerts.generation();
        if self.generation == Some(now) {
            return;
        }
        match enabled_targets(&core.db).await {
            Ok(targets) => {
                self.targets = targets;
                self.generation = Some(now);
            }
            Err(e) => tracing::warn!(error = %e, "alerts: cannot load the alerts"),
        }
    }

    fn choosing(&self, trigger: Trigger) -> impl Iterator<Item = &Target> {
        self.targets
            .iter()
            .filter(move |t| t.triggers.contains(&trigger))
    }
}

/// Guard events in the current wall-clock minute, and which alerts fired in it.
#[derive(Default)]
struct SpikeCounter {
    minute: i64,
    count: u64,
    fired: BTreeSet<i32>,
}

impl SpikeCounter {
    /// Counts `n` events; returns the alerts whose threshold the count just passed.
    fn count<'t>(&mut self, n: u64, minute: i64, targets: &'t [Target]) -> Vec<&'t Target> {
        if minute != self.minute {
            self.minute = minute;
            self.count = 0;
            self.fired.clear();
        }
        self.count = self.count.saturating_add(n);
        targets
            .iter()
            .filter(|t| t.triggers.contains(&Trigger::RateSpike))
            .filter(|t| t.rate_per_minute.is_some_and(|r| self.count > u64::from(r)))
            .filter(|t| self.fired.insert(t.id))
            .collect()
    }
}

async fn run(
    core: Core,
    mut notices: mpsc::Receiver<Notice>,
    mut known: BTreeMap<String, serde_json::Value>,
) {
    let limiter = Arc::new(Semaphore::new(CONCURRENT));
    let mut events = core.events.subscribe();
    let mut events_open = true;
    let mut cache = Cache {
        generation: None,
        targets: Vec::new(),
    };
    let mut spike = SpikeCounter::default();
    let mut every = tokio::time::interval_at(Instant::now() + POSTURE_EVERY, POSTURE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut posture_due: Option<Instant> = None;
    // A change of the model or an apply: posture is checked a moment later.
    let mut model_changes = core.model.subscribe();
    loop {
        tokio::select! {
            notice = notices.recv() => {
                let Some(notice) = notice else { return };
                cache.refresh(&core).await;
                if let Some(trigger) = notice.trigger {
                    let targets: Vec<Target> = cache.choosing(trigger).cloned().collect();
                    send_all(&core, &limiter, targets, notice).await;
                }
            }
            event = events.recv(), if events_open => {
                let n = match &event {
                    Ok(_) => 1,
                    // Missed while busy: still counted for the rate.
                    Err(broadcast::error::RecvError::Lagged(n)) => *n,
                    Err(broadcast::error::RecvError::Closed) => {
                        events_open = false;
                        continue;
                    }
                };
                cache.refresh(&core).await;
                let now = chrono::Utc::now();
                let minute = now.timestamp().div_euclid(60);
                let spiking: Vec<Target> =
                    spike.count(n, minute, &cache.targets).into_iter().cloned().collect();
                for target in spiking {
                    let threshold = target.rate_per_minute.unwrap_or_default();
                    let notice = Notice::new(
                        Some(Trigger::RateSpike),
                        format!(
                            "attack rate spike: more than {threshold} guard events in the minute from {}",
                            chrono::DateTime::from_timestamp(minute * 60, 0)
                                .map(|t| t.format("%H:%M UTC").to_string())
                                .unwrap_or_default()
                        ),
                        serde_json::json!({
                            "events_this_minute": spike.count,
                            "threshold_per_minute": threshold,
                        }),
                    );
                    send_all(&core, &limiter, vec![target], notice).await;
                }
                if let Ok(view) = event
                    && let Some(notice) = event_notice(&view)
                    && let Some(trigger) = notice.trigger
                {
                    let targets: Vec<Target> = cache.choosing(trigger).cloned().collect();
                    if !targets.is_empty() {
                        send_all(&core, &limiter, targets, notice).await;
                    }
                }
            }
            Ok(()) = model_changes.changed() => {
                posture_due.get_or_insert(Instant::now() + POSTURE_SETTLE);
            }
            () = sleep_until(posture_due) => {
                posture_due = None;
                check_posture(&core, &limiter, &mut cache, &mut known).await;
            }
            _ = every.tick() => {
                check_posture(&core, &limiter, &mut cache, &mut known).await;
            }
        }
    }
}

async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The alert an event raises by itself, if any: a correct login after failures, a sign of a
/// leaked secret, or a source the guard spared because the PBX depends on it.
fn event_notice(view: &EventView) -> Option<Notice> {
    let as_account = view
        .account
        .as_deref()
        .map(|a| format!(" as {a}"))
        .unwrap_or_default();
    let (trigger, summary) = if view.kind == "login-after-failures" {
        (
            Trigger::LoginAfterFailures,
            format!(
                "correct login{as_account} from {} after failed ones: {}",
                view.address, view.evidence
            ),
        )
    } else if view.kind == "acl-violation" || view.detector == "toll-fraud-class" {
        (
            Trigger::Compromise,
            format!(
                "possible compromise{as_account} from {}: {}",
                view.address, view.evidence
            ),
        )
    } else if view.outcome == "protected" {
        (
            Trigger::ProtectedSource,
            format!(
                "{} seen from {} and not banned: {}",
                view.kind, view.source, view.evidence
            ),
        )
    } else {
        return None;
    };
    Some(Notice::new(
        Some(trigger),
        summary,
        serde_json::json!({
            "event_id": view.id,
            "kind": view.kind,
            "detector": view.detector,
            "outcome": view.outcome,
            "proven": view.proven,
            "source": view.source,
            "address": view.address,
            "account": view.account,
            "user_agent": view.user_agent,
            "evidence": view.evidence,
        }),
    ))
}

/// Hands one notice to each target, one delivery task each (waits while all are busy).
async fn send_all(core: &Core, limiter: &Arc<Semaphore>, targets: Vec<Target>, notice: Notice) {
    for target in targets {
        let Ok(permit) = limiter.clone().acquire_owned().await else {
            return;
        };
        let db = core.db.clone();
        let notice = notice.clone();
        tokio::spawn(async move {
            if let Err(e) = deliver(&db, &target, &notice, webhook::SCHEDULE, ATTEMPT_TIMEOUT).await
            {
                tracing::warn!(alert = target.id, error = %e, "alert delivery not recorded");
            }
            drop(permit);
        });
    }
}

/// High findings now, by a key naming rule and object.
async fn high_findings(core: &Core) -> Result<BTreeMap<String, serde_json::Value>, Internal> {
    let posture = crate::services::posture::posture(core).await?;
    Ok(posture
        .findings
        .into_iter()
        .filter(|f| f.severity == Severity::High)
        .map(|f| {
            (
                format!("{} {} {}", f.rule, f.object_kind, f.object),
                serde_json::json!({
                    "rule": f.rule,
                    "object_kind": f.object_kind,
                    "object": f.object,
                    "message": f.message,
                    "step": f.step,
                }),
            )
        })
        .collect())
}

/// Checks posture; the high findings that were not there last time are one notice.
async fn check_posture(
    core: &Core,
    limiter: &Arc<Semaphore>,
    cache: &mut Cache,
    known: &mut BTreeMap<String, serde_json::Value>,
) {
    let now = match high_findings(core).await {
        Ok(now) => now,
        Err(e) => {
            tracing::warn!(error = %e, "alerts: cannot check posture");
            return;
        }
    };
    let new: Vec<serde_json::Value> = now
        .iter()
        .filter(|(key, _)| !known.contains_key(*key))
        .map(|(_, f)| f.clone())
        .collect();
    *known = now;
    if new.is_empty() {
        return;
    }
    cache.refresh(core).await;
    let targets: Vec<Target> = cache.choosing(Trigger::PostureHigh).cloned().collect();
    if targets.is_empty() {
        return;
    }
    let text = |f: &serde_json::Value| {
        format!(
            "{} on {} {}",
            f["rule"].as_str().unwrap_or_default(),
            f["object_kind"].as_str().unwrap_or_default(),
            f["object"].as_str().unwrap_or_default()
        )
    };
    let summary = match new.as_slice() {
        [one] => format!(
            "new high-severity posture finding: {}: {}",
            text(one),
            one["message"].as_str().unwrap_or_default()
        ),
        many => format!(
            "{} new high-severity posture findings: {}",
            many.len(),
            many.iter().map(text).collect::<Vec<_>>().join("; ")
        ),
    };
    let notice = Notice::new(
        Some(Trigger::PostureHigh),
        summary,
        serde_json::json!({ "findings": new }),
    );
    send_all(core, limiter, targets, notice).await;
}
