//! The call ledger and the pre-call decision (#15): which external calls sipwarden let
//! through and are still running, the recent attempts per endpoint and per dialled number,
//! and the locked accounts. [`Ledger::decide`] judges one call attempt against the fraud
//! policy and records it; [`Ledger::end`] forgets a call that hung up.
//!
//! Pure and synchronous (the caller passes the time), so the thresholds are tested exactly
//! and the decision costs microseconds. Every map is bounded: the attempts per endpoint by
//! the endpoints the dialplan names (set by sipwarden, never by a caller), the numbers by
//! [`MAX_NUMBERS`], the running calls by [`MAX_RUNNING`].

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use super::destination::Destination;
use super::policy::{FraudPolicy, Limit, RuleMode, Verdict};
use crate::asterisk::CallingClass;

/// The window of the call-rate rule.
pub const RATE_WINDOW: Duration = Duration::from_secs(60);
/// The window of the pumping rule (calls to one number).
pub const PUMPING_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Most dialled numbers remembered for the pumping rule; past it, new numbers are not
/// counted until old ones leave the window (the rate rules stop such a spread long before).
pub const MAX_NUMBERS: usize = 50_000;
/// Most calls tracked as running; past it, the oldest is forgotten.
pub const MAX_RUNNING: usize = 20_000;
/// A call whose hang-up never arrived is forgotten after this long.
pub const MAX_CALL_AGE: Duration = Duration::from_secs(24 * 3600);

/// One call attempt, as the dialplan describes it just before `Dial`.
#[derive(Clone, Copy, Debug)]
pub struct Attempt<'a> {
    /// The calling endpoint's id (`SW_EP`, set by its definition).
    pub endpoint: &'a str,
    /// Its calling class (`SW_CLASS`, set by its definition).
    pub class: CallingClass,
    /// The trunk the call would leave through.
    pub trunk: &'a str,
    /// The number as dialled.
    pub dialled: &'a str,
    /// The calling channel's name (`PJSIP/k7f3q9zx2m-00000001`), to hang it up.
    pub channel: &'a str,
    /// The calling channel's unique id, to learn its hang-up.
    pub uniqueid: &'a str,
}

/// What is done with the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It goes on (perhaps with rules that only report).
    Allow,
    /// It is refused.
    Block,
    /// It is refused and its endpoint locked; the endpoint's running calls are to be hung up.
    Lock,
}

/// A rule that fired on a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub rule: &'static str,
    pub mode: RuleMode,
    pub reason: String,
}

/// The decision on one attempt.
#[derive(Clone, Debug)]
pub struct Decision {
    pub destination: Destination,
    /// Every rule that fired, report-only ones included, in the order they were checked.
    pub findings: Vec<Finding>,
    pub outcome: Outcome,
    /// On [`Outcome::Lock`]: the endpoint's calls still running, to hang up.
    pub hang_up: Vec<RunningCall>,
}

/// An external call sipwarden let through that has not hung up yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunningCall {
    pub uniqueid: String,
    pub channel: String,
    pub endpoint: String,
    pub trunk: String,
    /// The destination in E.164 (no `+`), or the number as dialled when it has none.
    pub number: String,
    /// The destination's region (ISO code), empty when unknown.
    pub region: String,
    pub started: Instant,
    pub started_at: SystemTime,
    /// Whether the long-call rule has already fired on it.
    pub long_reported: bool,
}

/// The ledger; one per appliance.
#[derive(Debug, Default)]
pub struct Ledger {
    running: HashMap<String, RunningCall>,
    attempts: HashMap<String, VecDeque<Instant>>,
    to_number: HashMap<String, VecDeque<Instant>>,
    locked: BTreeSet<String>,
}

/// Drops the instants older than `window` before `now`.
fn trim(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= window)
    {
        times.pop_front();
    }
}

fn over(limit: Limit, count: usize) -> bool {
    limit.mode != RuleMode::Off && count > limit.max as usize
}

impl Ledger {
    /// An empty ledger with `locked` endpoints (the locks stored before a restart).
    #[must_use]
    pub fn with_locks(locked: impl IntoIterator<Item = String>) -> Self {
        Self {
            locked: locked.into_iter().collect(),
            ..Self::default()
        }
    }

    /// Judges `attempt` at `now` under `policy`, records it, and says what to do.
    ///
    /// Every external attempt counts toward the rate and pumping rules, refused ones too: a
    /// burst of refused calls is the same signal. Only calls that go on count as running.
    pub fn decide(&mut self, policy: &FraudPolicy, attempt: Attempt<'_>, now: Instant) -> Decision {
        let s = policy.settings();
        let (destination, verdict) = policy.judge_destination(attempt.class, attempt.dialled, &[]);
        let mut findings = Vec::new();
        let mut fire = |mode: RuleMode, rule: &'static str, reason: String| {
            if mode != RuleMode::Off {
                findings.push(Finding { rule, mode, reason });
            }
        };
        if self.locked.contains(attempt.endpoint) {
            // Refused whatever it dials, and not counted: the lock is the whole answer (a
            // locked account's retries would otherwise lock it again and again).
            let reason = format!(
                "{} is locked until an administrator unlocks it",
                attempt.endpoint
            );
            fire(RuleMode::Block, "account_locked", reason);
            return self.conclude(destination, findings, attempt, None, now);
        }
        if let Verdict::Fired { mode, rule, reason } = verdict {
            fire(mode, rule, reason);
        }
        let (number, region) = match &destination {
            Destination::Internal | Destination::Emergency => {
                // Not a call that costs: nothing to count (a locked account still may not
                // use the trunk for it).
                return self.conclude(destination, findings, attempt, None, now);
            }
            Destination::External { e164, region, .. } => (e164.clone(), region.code.to_owned()),
            Destination::Unknown { e164 } => (e164.clone(), String::new()),
        };

        let attempts = self
            .attempts
            .entry(attempt.endpoint.to_owned())
            .or_default();
        trim(attempts, now, RATE_WINDOW);
        attempts.push_back(now);
        if over(s.calls_per_minute, attempts.len()) {
            fire(
                s.calls_per_minute.mode,
                "call_rate",
                format!(
                    "{} placed {} external calls within a minute (limit {})",
                    attempt.endpoint,
                    attempts.len(),
                    s.calls_per_minute.max
                ),
            );
        }
        let known = self.to_number.len() < MAX_NUMBERS || self.to_number.contains_key(&number);
        if known {
            let calls = self.to_number.entry(number.clone()).or_default();
            trim(calls, now, PUMPING_WINDOW);
            calls.push_back(now);
            if over(s.calls_to_one_number, calls.len()) {
                fire(
                    s.calls_to_one_number.mode,
                    "pumping",
                    format!(
                        "+{number} was called {} times within 15 minutes (limit {})",
                        calls.len(),
                        s.calls_to_one_number.max
                    ),
                );
            }
        }
        let (mut global, mut trunk, mut endpoint) = (1, 1, 1);
        for call in self.running.values() {
            global += 1;
            trunk += usize::from(call.trunk == attempt.trunk);
            endpoint += usize::from(call.endpoint == attempt.endpoint);
        }
        for (limit, count, rule, whose) in [
            (
                s.concurrent_global,
                global,
                "concurrent_global",
                "all endpoints".to_owned(),
            ),
            (
                s.concurrent_per_trunk,
                trunk,
                "concurrent_trunk",
                format!("trunk {}", attempt.trunk),
            ),
            (
                s.concurrent_per_endpoint,
                endpoint,
                "concurrent_endpoint",
                attempt.endpoint.to_owned(),
            ),
        ] {
            if over(limit, count) {
                fire(
                    limit.mode,
                    rule,
                    format!(
                        "this would be external call {count} at once for {whose} (limit {})",
                        limit.max
                    ),
                );
            }
        }
        self.conclude(destination, findings, attempt, Some((number, region)), now)
    }

    /// The outcome of `findings`: the strongest mode wins. Records a call that goes on as
    /// running (when it has a number) and a lock.
    fn conclude(
        &mut self,
        destination: Destination,
        findings: Vec<Finding>,
        attempt: Attempt<'_>,
        external: Option<(String, String)>,
        now: Instant,
    ) -> Decision {
        let outcome = if findings.iter().any(|f| f.mode == RuleMode::Lock) {
            Outcome::Lock
        } else if findings.iter().any(|f| f.mode == RuleMode::Block) {
            Outcome::Block
        } else {
            Outcome::Allow
        };
        let mut hang_up = Vec::new();
        match (outcome, external) {
            (Outcome::Allow, Some((number, region))) => {
                if self.running.len() >= MAX_RUNNING
                    && let Some(oldest) = self
                        .running
                        .values()
                        .min_by_key(|c| c.started)
                        .map(|c| c.uniqueid.clone())
                {
                    self.running.remove(&oldest);
                }
                self.running.insert(
                    attempt.uniqueid.to_owned(),
                    RunningCall {
                        uniqueid: attempt.uniqueid.to_owned(),
                        channel: attempt.channel.to_owned(),
                        endpoint: attempt.endpoint.to_owned(),
                        trunk: attempt.trunk.to_owned(),
                        number,
                        region,
                        started: now,
                        started_at: SystemTime::now(),
                        long_reported: false,
                    },
                );
            }
            (Outcome::Lock, _) => {
                self.locked.insert(attempt.endpoint.to_owned());
                hang_up = self.calls_of(attempt.endpoint);
            }
            _ => {}
        }
        Decision {
            destination,
            findings,
            outcome,
            hang_up,
        }
    }

    /// Forgets the call with `uniqueid` (it hung up); the call when it was running.
    pub fn end(&mut self, uniqueid: &str) -> Option<RunningCall> {
        self.running.remove(uniqueid)
    }

    /// The running calls of `endpoint`, oldest first.
    #[must_use]
    pub fn calls_of(&self, endpoint: &str) -> Vec<RunningCall> {
        let mut calls: Vec<RunningCall> = self
            .running
            .values()
            .filter(|c| c.endpoint == endpoint)
            .cloned()
            .collect();
        calls.sort_by_key(|c| c.started);
        calls
    }

    /// Every running call, oldest first.
    #[must_use]
    pub fn running(&self) -> Vec<RunningCall> {
        let mut calls: Vec<RunningCall> = self.running.values().cloned().collect();
        calls.sort_by_key(|c| c.started);
        calls
    }

    /// Locks `endpoint` (an administrator's or a stored lock); its running calls.
    pub fn lock(&mut self, endpoint: &str) -> Vec<RunningCall> {
        self.locked.insert(endpoint.to_owned());
        self.calls_of(endpoint)
    }

    /// Unlocks `endpoint`; whether it was locked. Its rate window starts afresh, or the
    /// burst that locked it would lock it again at its next call.
    pub fn unlock(&mut self, endpoint: &str) -> bool {
        self.attempts.remove(endpoint);
        self.locked.remove(endpoint)
    }

    /// The locked endpoints.
    #[must_use]
    pub fn locked(&self) -> &BTreeSet<String> {
        &self.locked
    }

    /// Housekeeping at `now`: forgets windows that emptied and calls older than
    /// [`MAX_CALL_AGE`], and returns the calls that just passed the long-call limit (each
    /// once).
    pub fn tick(&mut self, policy: &FraudPolicy, now: Instant) -> Vec<RunningCall> {
        self.attempts.retain(|_, t| {
            trim(t, now, RATE_WINDOW);
            !t.is_empty()
        });
        self.to_number.retain(|_, t| {
            trim(t, now, PUMPING_WINDOW);
            !t.is_empty()
        });
        self.running
            .retain(|_, c| now.saturating_duration_since(c.started) < MAX_CALL_AGE);
        let limit = policy.settings().long_call_minutes;
        if limit.mode == RuleMode::Off {
            return Vec::new();
        }
        let longest = Duration::from_secs(u64::from(limit.max) * 60);
        let mut long = Vec::new();
        for call in self.running.values_mut() {
            if !call.long_reported && now.saturating_duration_since(call.started) >= longest {
                call.long_reported = true;
                long.push(call.clone());
            }
        }
        long
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fraud::policy::FraudSettings;

    fn policy(change: impl FnOnce(&mut FraudSettings)) -> FraudPolicy {
        let mut s = FraudSettings::default();
        change(&mut s);
        FraudPolicy::new(s).unwrap()
    }

    fn attempt<'a>(endpoint: &'a str, dialled: &'a str, uniqueid: &'a str) -> Attempt<'a> {
        Attempt {
            endpoint,
            class: CallingClass::International,
            trunk: "itsp",
            dialled,
            channel: "PJSIP/x-1",
            uniqueid,
        }
    }

    fn rules(d: &Decision) -> Vec<&'static str> {
        d.findings.iter().map(|f| f.rule).collect()
    }

    #[test]
    fn the_third_concurrent_call_over_a_limit_of_two_is_refused_and_an_end_frees_a_place() {
        let p = policy(|_| {});
        let mut l = Ledger::default();
        let t = Instant::now();
        for id in ["a", "b"] {
            let d = l.decide(&p, attempt("ep1", "0044207946000", id), t);
            assert_eq!(d.outcome, Outcome::Allow, "{:?}", d.findings);
        }
        let d = l.decide(&p, attempt("ep1", "0044207946001", "c"), t);
        assert_eq!(d.outcome, Outcome::Block);
        assert_eq!(rules(&d), ["concurrent_endpoint"]);
        assert_eq!(l.running().len(), 2, "a refused call is not running");
        assert!(l.end("a").is_some());
        assert_eq!(
            l.decide(&p, attempt("ep1", "0044207946002", "d"), t)
                .outcome,
            Outcome::Allow
        );
        assert!(l.end("nothing").is_none());
    }

    #[test]
    fn a_burst_locks_the_account_and_names_its_running_calls() {
        let p = policy(|s| s.concurrent_per_endpoint.max = 100);
        let mut l = Ledger::default();
        let t = Instant::now();
        let ids: Vec<String> = (0..6).map(|i| format!("u{i}")).collect();
        for (i, id) in ids.iter().enumerate().take(5) {
            let d = l.decide(
                &p,
                attempt("ep1", "0033140000000", id),
                t + Duration::from_secs(i as u64),
            );
            assert_eq!(d.outcome, Outcome::Allow, "call {i}: {:?}", d.findings);
        }
        let d = l.decide(
            &p,
            attempt("ep1", "0033140000000", &ids[5]),
            t + Duration::from_secs(5),
        );
        assert_eq!(d.outcome, Outcome::Lock);
        assert_eq!(rules(&d), ["call_rate"]);
        assert_eq!(d.hang_up.len(), 5, "every running call of the endpoint");
        // Locked: refused even a minute later, and other endpoints are untouched.
        let later = t + Duration::from_secs(120);
        let d = l.decide(&p, attempt("ep1", "0033140000000", "x"), later);
        assert_eq!(
            (d.outcome, rules(&d)[0]),
            (Outcome::Block, "account_locked")
        );
        assert_eq!(
            l.decide(&p, attempt("ep2", "0033140000000", "y"), later)
                .outcome,
            Outcome::Allow
        );
        assert!(l.unlock("ep1"));
        assert_eq!(
            l.decide(&p, attempt("ep1", "0033140000000", "z"), later)
                .outcome,
            Outcome::Allow
        );
    }

    #[test]
    fn the_rate_window_slides() {
        let p = policy(|s| {
            s.calls_per_minute = Limit {
                max: 2,
                mode: RuleMode::Block,
            };
            s.concurrent_per_endpoint.max = 100;
        });
        let mut l = Ledger::default();
        let t = Instant::now();
        let at = |s: u64| t + Duration::from_secs(s);
        assert_eq!(
            l.decide(&p, attempt("e", "030123", "1"), at(0)).outcome,
            Outcome::Allow
        );
        assert_eq!(
            l.decide(&p, attempt("e", "030123", "2"), at(30)).outcome,
            Outcome::Allow
        );
        assert_eq!(
            l.decide(&p, attempt("e", "030123", "3"), at(59)).outcome,
            Outcome::Block
        );
        // The first left the window at 60 s; the refused one at 59 s still counts.
        assert_eq!(
            l.decide(&p, attempt("e", "030123", "4"), at(60)).outcome,
            Outcome::Block
        );
        assert_eq!(
            l.decide(&p, attempt("e", "030123", "5"), at(120)).outcome,
            Outcome::Allow
        );
    }

    #[test]
    fn pumping_one_number_fires_across_endpoints() {
        let p = policy(|s| {
            s.calls_to_one_number = Limit {
                max: 3,
                mode: RuleMode::Block,
            };
            s.calls_per_minute.mode = RuleMode::Off;
        });
        let mut l = Ledger::default();
        let t = Instant::now();
        for (i, ep) in ["a", "b", "c"].into_iter().enumerate() {
            let d = l.decide(&p, attempt(ep, "00442079460000", &i.to_string()), t);
            assert_eq!(d.outcome, Outcome::Allow);
            l.end(&i.to_string());
        }
        let d = l.decide(&p, attempt("d", "+442079460000", "4"), t);
        assert_eq!(
            rules(&d),
            ["pumping"],
            "the same number however it is dialled"
        );
        let d = l.decide(&p, attempt("d", "00442079460000", "5"), t + PUMPING_WINDOW);
        assert_eq!(d.outcome, Outcome::Allow, "{:?}", d.findings);
    }

    #[test]
    fn report_only_lets_everything_through_and_records_every_rule() {
        let report = Limit {
            max: 1,
            mode: RuleMode::Report,
        };
        let p = policy(|s| {
            s.high_risk_mode = RuleMode::Report;
            s.concurrent_per_endpoint = report;
            s.calls_per_minute = report;
        });
        let mut l = Ledger::default();
        let t = Instant::now();
        assert_eq!(
            l.decide(&p, attempt("e", "00881123456", "1"), t).outcome,
            Outcome::Allow
        );
        let d = l.decide(&p, attempt("e", "00881123456", "2"), t);
        assert_eq!(d.outcome, Outcome::Allow);
        assert_eq!(
            rules(&d),
            ["high_risk_destination", "call_rate", "concurrent_endpoint"]
        );
        assert!(l.locked().is_empty());
    }

    #[test]
    fn internal_numbers_are_not_counted_and_a_class_is_held_to_its_reach() {
        let p = policy(|s| s.calls_per_minute.max = 1);
        let mut l = Ledger::default();
        let t = Instant::now();
        for i in 0..5 {
            let d = l.decide(&p, attempt("e", "2001", &i.to_string()), t);
            assert_eq!(d.outcome, Outcome::Allow);
        }
        assert!(l.running().is_empty());
        let national = Attempt {
            class: CallingClass::National,
            ..attempt("n", "0044207946000", "9")
        };
        let d = l.decide(&p, national, t);
        assert_eq!((d.outcome, rules(&d)), (Outcome::Block, vec!["class"]));
    }

    #[test]
    fn long_calls_are_reported_once_and_stale_calls_forgotten() {
        let p = policy(|s| {
            s.long_call_minutes = Limit {
                max: 20,
                mode: RuleMode::Report,
            }
        });
        let mut l = Ledger::default();
        let t = Instant::now();
        l.decide(&p, attempt("e", "030123", "1"), t);
        assert!(l.tick(&p, t + Duration::from_secs(19 * 60)).is_empty());
        assert_eq!(l.tick(&p, t + Duration::from_secs(20 * 60)).len(), 1);
        assert!(
            l.tick(&p, t + Duration::from_secs(21 * 60)).is_empty(),
            "once"
        );
        assert!(l.tick(&p, t + MAX_CALL_AGE).is_empty());
        assert!(
            l.running().is_empty(),
            "a call without a hang-up is forgotten"
        );
    }
}
