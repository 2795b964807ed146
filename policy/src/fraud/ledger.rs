//! The call ledger and the pre-call decision (#15): which external calls sipwarden let
//! through and are still running, the recent attempts per endpoint and per dialled number,
//! what was spent in the last hour and day, the countries and networks each endpoint has
//! called from and to, and the locked accounts. [`Ledger::decide`] judges one call attempt
//! against the fraud policy and records it; [`Ledger::end`] prices a call that hung up;
//! [`Ledger::tick`] watches running calls (long calls, spend as it runs).
//!
//! Pure and synchronous (the caller passes the time), so the thresholds are tested exactly
//! and the decision costs microseconds. Every map is bounded: the per-endpoint ones by the
//! endpoints the dialplan names (set by sipwarden, never by a caller), the numbers by
//! [`MAX_NUMBERS`], the running calls by [`MAX_RUNNING`], the spend by minute buckets.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use super::destination::Destination;
use super::policy::{FraudPolicy, Limit, RuleMode, Verdict};
use super::rates::{MICROS, RateTable, cost};
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
/// Countries and networks remembered per endpoint at most.
pub const MAX_HISTORY: usize = 1_000;
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

/// The time of a decision: for windows, and for office hours.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    pub now: Instant,
    /// Seconds since the Unix epoch, UTC.
    pub unix_secs: i64,
}

impl Clock {
    /// The clock now.
    #[must_use]
    pub fn now() -> Self {
        Self {
            now: Instant::now(),
            unix_secs: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        }
    }

    /// `secs` later.
    #[must_use]
    pub fn later(self, secs: u64) -> Self {
        Self {
            now: self.now + Duration::from_secs(secs),
            unix_secs: self.unix_secs + i64::try_from(secs).unwrap_or(i64::MAX),
        }
    }
}

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
    /// The address the call came from, when Asterisk said.
    pub source: Option<IpAddr>,
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
    /// What the endpoint did for the first time (`region FR`, `network 198.51.100.0/24`),
    /// to remember across restarts.
    pub learned: Vec<String>,
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
    pub source: Option<IpAddr>,
    /// Its price per minute (millionths), from the rate table or the unknown rate.
    pub per_minute: u64,
    pub started: Instant,
    pub started_at: SystemTime,
    /// Whether the long-call rule has already fired on it.
    pub long_reported: bool,
}

impl RunningCall {
    /// What it has cost in the last `window` (millionths), counted from when it was let
    /// through.
    #[must_use]
    pub fn cost_within(&self, now: Instant, window: Duration) -> u64 {
        let ran = now.saturating_duration_since(self.started).min(window);
        cost(
            self.per_minute,
            u64::try_from(ran.as_millis()).unwrap_or(u64::MAX),
        )
    }
}

/// A call that ended, priced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndedCall {
    pub call: RunningCall,
    /// Seconds it was answered (Dial's `ANSWEREDTIME`); 0 when it was not.
    pub answered_secs: u64,
    /// What it cost (millionths): the answered time at its price.
    pub cost: u64,
}

/// Something the watch over running calls found (long calls, spend as it runs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alarm {
    pub rule: &'static str,
    pub mode: RuleMode,
    /// The endpoint it is about; `None` for all of them.
    pub endpoint: Option<String>,
    pub reason: String,
    /// The calls to hang up (block and lock modes).
    pub hang_up: Vec<RunningCall>,
}

/// One minute's spend per endpoint: (the part counting toward the hour, all of it).
type MinuteSpend = HashMap<String, (u64, u64)>;

/// Spend by minute, summed over the last hour and the last day, per endpoint and in all.
#[derive(Debug)]
struct Spend {
    epoch: Instant,
    /// `(minute, spend per endpoint)`, oldest first, at most a day of them.
    /// Per endpoint: the part of the spend that counts toward the hour, and all of it (a
    /// call booked when it ends counts toward the hour only for its last hour).
    buckets: VecDeque<(u64, MinuteSpend)>,
    /// Buckets at the front that have already left the hour's sums.
    out_of_hour: usize,
    hour: HashMap<String, u64>,
    day: HashMap<String, u64>,
    hour_total: u64,
    day_total: u64,
}

impl Default for Spend {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            buckets: VecDeque::new(),
            out_of_hour: 0,
            hour: HashMap::new(),
            day: HashMap::new(),
            hour_total: 0,
            day_total: 0,
        }
    }
}

/// Takes `part` of each endpoint's spend in `bucket` off `sums`; the total taken.
fn subtract(
    sums: &mut HashMap<String, u64>,
    bucket: &MinuteSpend,
    part: fn(&(u64, u64)) -> u64,
) -> u64 {
    let mut total = 0;
    for (endpoint, both) in bucket {
        let micros = &part(both);
        total += micros;
        if let Some(sum) = sums.get_mut(endpoint) {
            *sum = sum.saturating_sub(*micros);
            if *sum == 0 {
                sums.remove(endpoint);
            }
        }
    }
    total
}

impl Spend {
    fn minute(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_secs() / 60
    }

    /// Lets minutes older than an hour leave the hour's sums and older than a day go.
    fn advance(&mut self, now: Instant) {
        let minute = self.minute(now);
        while let Some((m, _)) = self.buckets.get(self.out_of_hour)
            && minute.saturating_sub(*m) >= 60
        {
            let (_, bucket) = &self.buckets[self.out_of_hour];
            let total = subtract(&mut self.hour, bucket, |b| b.0);
            self.hour_total = self.hour_total.saturating_sub(total);
            self.out_of_hour += 1;
        }
        while let Some((m, _)) = self.buckets.front()
            && minute.saturating_sub(*m) >= 24 * 60
        {
            if let Some((_, bucket)) = self.buckets.pop_front() {
                let total = subtract(&mut self.day, &bucket, |b| b.1);
                self.day_total = self.day_total.saturating_sub(total);
                self.out_of_hour = self.out_of_hour.saturating_sub(1);
            }
        }
    }

    /// Books `total` spent by `endpoint`, of which `recent` in the last hour, at `now`.
    fn add(&mut self, now: Instant, endpoint: &str, recent: u64, total: u64) {
        self.advance(now);
        let minute = self.minute(now);
        if self.buckets.back().is_none_or(|(m, _)| *m != minute) {
            self.buckets.push_back((minute, HashMap::new()));
        }
        if let Some((_, bucket)) = self.buckets.back_mut() {
            let both = bucket.entry(endpoint.to_owned()).or_default();
            *both = (both.0 + recent, both.1 + total);
        }
        *self.hour.entry(endpoint.to_owned()).or_default() += recent;
        *self.day.entry(endpoint.to_owned()).or_default() += total;
        self.hour_total += recent;
        self.day_total += total;
    }
}

/// The ledger; one per appliance.
#[derive(Debug, Default)]
pub struct Ledger {
    running: HashMap<String, RunningCall>,
    attempts: HashMap<String, VecDeque<Instant>>,
    to_number: HashMap<String, VecDeque<Instant>>,
    locked: BTreeSet<String>,
    spend: Spend,
    /// Per endpoint: `region FR`, `network 198.51.100.0/24`.
    history: HashMap<String, HashSet<String>>,
    /// When each alarm of the watch last went off (`rule endpoint`), so it goes off once a
    /// window.
    alarmed: HashMap<String, Instant>,
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

/// Whether spend (millionths) has reached a limit in whole units.
fn spent_up(limit: Limit, micros: u64) -> bool {
    limit.mode != RuleMode::Off && micros >= u64::from(limit.max) * MICROS
}

/// Millionths as `12.34`.
#[must_use]
pub fn money(micros: u64) -> String {
    let cents = micros.div_ceil(MICROS / 100);
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// The network an address is in, for the new-network rule: its /24 (IPv4) or /48 (IPv6).
#[must_use]
pub fn network_of(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => network_of(IpAddr::V4(v4)),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
            }
        },
    }
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

    /// Remembers that `endpoint` did `what` before (`region FR`, `network …`), from a
    /// stored history.
    pub fn remember(&mut self, endpoint: &str, what: String) {
        let known = self.history.entry(endpoint.to_owned()).or_default();
        if known.len() < MAX_HISTORY {
            known.insert(what);
        }
    }

    /// Whether `endpoint` did `what` before; records it when it did not (within bounds).
    /// Whether `endpoint` never did `what`; when so, `what` joins `learned` (remembered
    /// only if the call goes on: a refused first call must not teach the rule to let the
    /// retry through).
    fn first_time(&self, endpoint: &str, what: String, learned: &mut Vec<String>) -> bool {
        if self
            .history
            .get(endpoint)
            .is_some_and(|h| h.contains(&what))
        {
            return false;
        }
        learned.push(what);
        true
    }

    /// Judges `attempt` at `clock` under `policy` (`rates` price the destinations), records
    /// it, and says what to do.
    ///
    /// Every external attempt counts toward the rate and pumping rules, refused ones too: a
    /// burst of refused calls is the same signal. Only calls that go on count as running.
    pub fn decide(
        &mut self,
        policy: &FraudPolicy,
        rates: &RateTable,
        attempt: Attempt<'_>,
        clock: Clock,
    ) -> Decision {
        let now = clock.now;
        let s = policy.settings();
        let (destination, verdict) = policy.judge_destination(attempt.class, attempt.dialled, &[]);
        let mut findings = Vec::new();
        let mut learned = Vec::new();
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
            return self.conclude(destination, findings, learned, attempt, None, now);
        }
        if let Verdict::Fired { mode, rule, reason } = verdict {
            fire(mode, rule, reason);
        }
        let (number, region, national) = match &destination {
            Destination::Emergency => {
                // Never counted, never refused by a count.
                return self.conclude(destination, findings, learned, attempt, None, now);
            }
            // A short number without a prefix that still leaves through a trunk (a national
            // service number such as 118 33, often premium): a home call like any other.
            Destination::Internal => (attempt.dialled.to_owned(), String::new(), true),
            Destination::External {
                e164,
                region,
                national,
            } => (e164.clone(), region.code.to_owned(), *national),
            Destination::Unknown { e164 } => (e164.clone(), String::new(), false),
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
        // What running calls cost in the last hour and day: all, and the caller's.
        let (mut all, mut mine) = ((0u64, 0u64), (0u64, 0u64));
        for call in self.running.values() {
            global += 1;
            trunk += usize::from(call.trunk == attempt.trunk);
            let cost = (call.cost_within(now, HOUR), call.cost_within(now, DAY));
            all = (all.0 + cost.0, all.1 + cost.1);
            if call.endpoint == attempt.endpoint {
                endpoint += 1;
                mine = (mine.0 + cost.0, mine.1 + cost.1);
            }
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
        self.spend.advance(now);
        let ended = |sums: &HashMap<String, u64>| sums.get(attempt.endpoint).copied().unwrap_or(0);
        for (limit, spent, rule, whose, window) in [
            (
                s.spend_endpoint_per_hour,
                ended(&self.spend.hour) + mine.0,
                "spend_endpoint_per_hour",
                attempt.endpoint,
                "hour",
            ),
            (
                s.spend_endpoint_per_day,
                ended(&self.spend.day) + mine.1,
                "spend_endpoint_per_day",
                attempt.endpoint,
                "day",
            ),
            (
                s.spend_global_per_hour,
                self.spend.hour_total + all.0,
                "spend_global_per_hour",
                "all endpoints",
                "hour",
            ),
            (
                s.spend_global_per_day,
                self.spend.day_total + all.1,
                "spend_global_per_day",
                "all endpoints",
                "day",
            ),
        ] {
            if spent_up(limit, spent) {
                fire(
                    limit.mode,
                    rule,
                    format!(
                        "{whose} spent {} in the last {window} (limit {})",
                        money(spent),
                        limit.max
                    ),
                );
            }
        }
        if !national && !region.is_empty() && s.new_country_mode != RuleMode::Off {
            let first = self.first_time(attempt.endpoint, format!("region {region}"), &mut learned);
            if first {
                fire(
                    s.new_country_mode,
                    "new_country",
                    format!(
                        "{} called {region} (+{number}) for the first time",
                        attempt.endpoint
                    ),
                );
            }
        }
        if let Some(source) = attempt.source {
            let network = network_of(source);
            let had_any = self
                .history
                .get(attempt.endpoint)
                .is_some_and(|h| h.iter().any(|w| w.starts_with("network ")));
            let first =
                self.first_time(attempt.endpoint, format!("network {network}"), &mut learned);
            // An endpoint's very first network is learned, not reported: there is nothing
            // yet to compare it with.
            if first && had_any {
                fire(
                    s.new_network_mode,
                    "new_network",
                    format!(
                        "{} calls from {network} ({source}), a network it never called from",
                        attempt.endpoint
                    ),
                );
            }
        }
        if s.office_hours.mode != RuleMode::Off && !s.office_hours.contains(clock.unix_secs) {
            fire(
                s.office_hours.mode,
                "outside_office_hours",
                format!(
                    "{} calls outside office hours ({}–{} on {})",
                    attempt.endpoint,
                    s.office_hours.start,
                    s.office_hours.end,
                    s.office_hours.days.join(", ")
                ),
            );
        }
        let per_minute = rates
            .per_minute(&number)
            .unwrap_or_else(|| u64::from(s.unknown_rate_cents) * (MICROS / 100));
        self.conclude(
            destination,
            findings,
            learned,
            attempt,
            Some((number, region, per_minute)),
            now,
        )
    }

    /// The outcome of `findings`: the strongest mode wins. Records a call that goes on as
    /// running (when it has a number) and a lock.
    fn conclude(
        &mut self,
        destination: Destination,
        findings: Vec<Finding>,
        learned: Vec<String>,
        attempt: Attempt<'_>,
        external: Option<(String, String, u64)>,
        now: Instant,
    ) -> Decision {
        let outcome = if findings.iter().any(|f| f.mode == RuleMode::Lock) {
            Outcome::Lock
        } else if findings.iter().any(|f| f.mode == RuleMode::Block) {
            Outcome::Block
        } else {
            Outcome::Allow
        };
        let mut learned = learned;
        if outcome == Outcome::Allow {
            for what in &learned {
                self.remember(attempt.endpoint, what.clone());
            }
        } else {
            learned.clear();
        }
        let mut hang_up = Vec::new();
        match (outcome, external) {
            (Outcome::Allow, Some((number, region, per_minute))) => {
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
                        source: attempt.source,
                        per_minute,
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
            learned,
        }
    }

    /// The call with `uniqueid` hung up after `answered_secs` answered: it is priced, its
    /// cost counts toward the spend rules, and it is no longer running. `None` when it was
    /// not running.
    pub fn end(&mut self, uniqueid: &str, answered_secs: u64, now: Instant) -> Option<EndedCall> {
        let call = self.running.remove(uniqueid)?;
        // Never more than the time since it was let through.
        let elapsed = now.saturating_duration_since(call.started).as_secs();
        let answered_secs = answered_secs.min(elapsed + 1);
        let cost = cost(call.per_minute, answered_secs * 1000);
        if cost > 0 {
            // Its answered time ended now: only its last hour counts toward the hour, as it
            // did while it ran.
            let recent = super::rates::cost(call.per_minute, answered_secs.min(3600) * 1000);
            self.spend.add(now, &call.endpoint, recent, cost);
        }
        Some(EndedCall {
            call,
            answered_secs,
            cost,
        })
    }

    /// `endpoint` logged in (registered) from `source`: the new-network rule's finding when
    /// that network is new for it (its first network is learned silently), with what to
    /// remember. A locking mode locks the account: its external calls are refused.
    pub fn logged_in(
        &mut self,
        policy: &FraudPolicy,
        endpoint: &str,
        source: IpAddr,
    ) -> (Option<Finding>, Vec<String>) {
        let mode = policy.settings().new_network_mode;
        let network = network_of(source);
        let had_any = self
            .history
            .get(endpoint)
            .is_some_and(|h| h.iter().any(|w| w.starts_with("network ")));
        let mut learned = Vec::new();
        let first = self.first_time(endpoint, format!("network {network}"), &mut learned);
        let finding = (first && had_any && mode != RuleMode::Off).then(|| {
            if mode == RuleMode::Lock {
                self.locked.insert(endpoint.to_owned());
            }
            Finding {
                rule: "new_network",
                mode,
                reason: format!(
                    "{endpoint} registered from {network} ({source}), a network it never used"
                ),
            }
        });
        // In block mode a new network stays new, so its calls are refused by the same rule;
        // an endpoint's first network is always learned (there is nothing to compare).
        if finding.as_ref().is_some_and(|f| f.mode == RuleMode::Block) {
            learned.clear();
        }
        for what in &learned {
            self.remember(endpoint, what.clone());
        }
        (finding, learned)
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

    /// The running call with `uniqueid`, if any.
    #[must_use]
    pub fn call(&self, uniqueid: &str) -> Option<RunningCall> {
        self.running.get(uniqueid).cloned()
    }

    /// How many calls are running.
    #[must_use]
    pub fn running_count(&self) -> usize {
        self.running.len()
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

    /// What was spent (millionths) in the last hour and day, ended calls and running ones.
    #[must_use]
    pub fn spent(&mut self, now: Instant) -> (u64, u64) {
        self.spend.advance(now);
        let hour: u64 = self
            .running
            .values()
            .map(|c| c.cost_within(now, HOUR))
            .sum();
        let day: u64 = self.running.values().map(|c| c.cost_within(now, DAY)).sum();
        (self.spend.hour_total + hour, self.spend.day_total + day)
    }

    /// Whether the alarm `key` may go off at `now` (once per `window`).
    fn may_alarm(&mut self, key: String, now: Instant, window: Duration) -> bool {
        match self.alarmed.get(&key) {
            Some(at) if now.saturating_duration_since(*at) < window => false,
            _ => {
                self.alarmed.insert(key, now);
                true
            }
        }
    }

    /// The watch over running calls at `now`, once a second: forgets windows that emptied
    /// and calls older than [`MAX_CALL_AGE`]; raises the long-call alarm once per call, and
    /// the spend alarms once per window when running calls push spend over a limit. A
    /// locking alarm locks here.
    pub fn tick(&mut self, policy: &FraudPolicy, now: Instant) -> Vec<Alarm> {
        let s = policy.settings();
        self.attempts.retain(|_, t| {
            trim(t, now, RATE_WINDOW);
            !t.is_empty()
        });
        self.to_number.retain(|_, t| {
            trim(t, now, PUMPING_WINDOW);
            !t.is_empty()
        });
        self.alarmed
            .retain(|_, at| now.saturating_duration_since(*at) < Duration::from_secs(24 * 3600));
        self.running
            .retain(|_, c| now.saturating_duration_since(c.started) < MAX_CALL_AGE);
        self.spend.advance(now);
        let mut alarms = Vec::new();

        let limit = s.long_call_minutes;
        if limit.mode != RuleMode::Off {
            let longest = Duration::from_secs(u64::from(limit.max) * 60);
            let mut long = Vec::new();
            for call in self.running.values_mut() {
                if !call.long_reported && now.saturating_duration_since(call.started) >= longest {
                    call.long_reported = true;
                    long.push(call.clone());
                }
            }
            for call in long {
                // A lock hangs up all of the account's calls; a block only this one.
                let hang_up = if limit.mode == RuleMode::Lock {
                    self.lock(&call.endpoint)
                } else {
                    vec![call.clone()]
                };
                alarms.push(Alarm {
                    rule: "long_call",
                    mode: limit.mode,
                    endpoint: Some(call.endpoint.clone()),
                    reason: format!(
                        "the call of {} to +{} has run past {} minutes",
                        call.endpoint, call.number, limit.max
                    ),
                    hang_up,
                });
            }
        }

        // Spend as it runs: per endpoint (block and lock hang up its calls), and in all
        // (new calls are refused at the decision; running ones are left to their limits).
        let mut running_by: HashMap<String, (u64, u64)> = HashMap::new();
        let mut all = (0, 0);
        for call in self.running.values() {
            let cost = (call.cost_within(now, HOUR), call.cost_within(now, DAY));
            let mine = running_by.entry(call.endpoint.clone()).or_default();
            *mine = (mine.0 + cost.0, mine.1 + cost.1);
            all = (all.0 + cost.0, all.1 + cost.1);
        }
        for (endpoint, running) in running_by {
            let ended_hour = self.spend.hour.get(&endpoint).copied().unwrap_or(0);
            let ended_day = self.spend.day.get(&endpoint).copied().unwrap_or(0);
            for (limit, spent, rule, window, span) in [
                (
                    s.spend_endpoint_per_hour,
                    ended_hour + running.0,
                    "spend_endpoint_per_hour",
                    "hour",
                    HOUR,
                ),
                (
                    s.spend_endpoint_per_day,
                    ended_day + running.1,
                    "spend_endpoint_per_day",
                    "day",
                    DAY,
                ),
            ] {
                if spent_up(limit, spent) && self.may_alarm(format!("{rule} {endpoint}"), now, span)
                {
                    let hang_up = match limit.mode {
                        RuleMode::Lock => self.lock(&endpoint),
                        RuleMode::Block => self.calls_of(&endpoint),
                        RuleMode::Off | RuleMode::Report => Vec::new(),
                    };
                    alarms.push(Alarm {
                        rule,
                        mode: limit.mode,
                        endpoint: Some(endpoint.clone()),
                        reason: format!(
                            "{endpoint} spent {} in the last {window} (limit {})",
                            money(spent),
                            limit.max
                        ),
                        hang_up,
                    });
                }
            }
        }
        for (limit, spent, rule, window, span) in [
            (
                s.spend_global_per_hour,
                self.spend.hour_total + all.0,
                "spend_global_per_hour",
                "hour",
                HOUR,
            ),
            (
                s.spend_global_per_day,
                self.spend.day_total + all.1,
                "spend_global_per_day",
                "day",
                DAY,
            ),
        ] {
            if spent_up(limit, spent) && self.may_alarm(rule.to_owned(), now, span) {
                alarms.push(Alarm {
                    rule,
                    mode: limit.mode,
                    endpoint: None,
                    reason: format!(
                        "all endpoints spent {} in the last {window} (limit {})",
                        money(spent),
                        limit.max
                    ),
                    hang_up: Vec::new(),
                });
            }
        }
        alarms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fraud::policy::FraudSettings;

    fn policy(change: impl FnOnce(&mut FraudSettings)) -> FraudPolicy {
        // Rules these tests do not look at stay quiet unless a test turns them on.
        let mut s = FraudSettings {
            new_country_mode: RuleMode::Off,
            new_network_mode: RuleMode::Off,
            ..FraudSettings::default()
        };
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
            source: None,
        }
    }

    fn decide(l: &mut Ledger, p: &FraudPolicy, a: Attempt<'_>, at: Clock) -> Decision {
        l.decide(p, &RateTable::default(), a, at)
    }

    fn rules(d: &Decision) -> Vec<&'static str> {
        d.findings.iter().map(|f| f.rule).collect()
    }

    /// Monday 2026-12-07, 10:00 UTC.
    fn monday_morning() -> Clock {
        Clock {
            now: Instant::now(),
            unix_secs: 1_796_637_600,
        }
    }

    #[test]
    fn the_third_concurrent_call_over_a_limit_of_two_is_refused_and_an_end_frees_a_place() {
        let p = policy(|_| {});
        let mut l = Ledger::default();
        let t = Clock::now();
        for id in ["a", "b"] {
            let d = decide(&mut l, &p, attempt("ep1", "0044207946000", id), t);
            assert_eq!(d.outcome, Outcome::Allow, "{:?}", d.findings);
        }
        let d = decide(&mut l, &p, attempt("ep1", "0044207946001", "c"), t);
        assert_eq!(d.outcome, Outcome::Block);
        assert_eq!(rules(&d), ["concurrent_endpoint"]);
        assert_eq!(l.running().len(), 2, "a refused call is not running");
        assert!(l.end("a", 0, t.now).is_some());
        let d = decide(&mut l, &p, attempt("ep1", "0044207946002", "d"), t);
        assert_eq!(d.outcome, Outcome::Allow);
        assert!(l.end("nothing", 0, t.now).is_none());
    }

    #[test]
    fn a_burst_locks_the_account_and_names_its_running_calls() {
        let p = policy(|s| s.concurrent_per_endpoint.max = 100);
        let mut l = Ledger::default();
        let t = Clock::now();
        let ids: Vec<String> = (0..6).map(|i| format!("u{i}")).collect();
        for (i, id) in ids.iter().enumerate().take(5) {
            let d = decide(
                &mut l,
                &p,
                attempt("ep1", "0033140000000", id),
                t.later(i as u64),
            );
            assert_eq!(d.outcome, Outcome::Allow, "call {i}: {:?}", d.findings);
        }
        let d = decide(
            &mut l,
            &p,
            attempt("ep1", "0033140000000", &ids[5]),
            t.later(5),
        );
        assert_eq!(d.outcome, Outcome::Lock);
        assert_eq!(rules(&d), ["call_rate"]);
        assert_eq!(d.hang_up.len(), 5, "every running call of the endpoint");
        // Locked: refused even a minute later, and other endpoints are untouched.
        let later = t.later(120);
        let d = decide(&mut l, &p, attempt("ep1", "0033140000000", "x"), later);
        assert_eq!(
            (d.outcome, rules(&d)),
            (Outcome::Block, vec!["account_locked"])
        );
        let d = decide(&mut l, &p, attempt("ep2", "0033140000000", "y"), later);
        assert_eq!(d.outcome, Outcome::Allow);
        assert!(l.unlock("ep1"));
        let d = decide(&mut l, &p, attempt("ep1", "0033140000000", "z"), later);
        assert_eq!(d.outcome, Outcome::Allow);
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
        let t = Clock::now();
        let mut at = |secs: u64, id: &str| {
            decide(&mut l, &p, attempt("e", "030123", id), t.later(secs)).outcome
        };
        assert_eq!(at(0, "1"), Outcome::Allow);
        assert_eq!(at(30, "2"), Outcome::Allow);
        assert_eq!(at(59, "3"), Outcome::Block);
        // The first left the window at 60 s; the refused one at 59 s still counts.
        assert_eq!(at(60, "4"), Outcome::Block);
        assert_eq!(at(120, "5"), Outcome::Allow);
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
        let t = Clock::now();
        for (i, ep) in ["a", "b", "c"].into_iter().enumerate() {
            let d = decide(&mut l, &p, attempt(ep, "00442079460000", &i.to_string()), t);
            assert_eq!(d.outcome, Outcome::Allow);
            l.end(&i.to_string(), 0, t.now);
        }
        let d = decide(&mut l, &p, attempt("d", "+442079460000", "4"), t);
        assert_eq!(
            rules(&d),
            ["pumping"],
            "the same number however it is dialled"
        );
        let d = decide(
            &mut l,
            &p,
            attempt("d", "00442079460000", "5"),
            t.later(15 * 60),
        );
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
        let t = Clock::now();
        let d = decide(&mut l, &p, attempt("e", "00881123456", "1"), t);
        assert_eq!(d.outcome, Outcome::Allow);
        let d = decide(&mut l, &p, attempt("e", "00881123456", "2"), t);
        assert_eq!(d.outcome, Outcome::Allow);
        assert_eq!(
            rules(&d),
            ["high_risk_destination", "call_rate", "concurrent_endpoint"]
        );
        assert!(l.locked().is_empty());
    }

    #[test]
    fn short_numbers_through_a_trunk_count_and_a_class_is_held_to_its_reach() {
        // A short service number (118 33) leaving through the trunk counts like any call.
        let p = policy(|s| s.calls_per_minute.max = 1);
        let mut l = Ledger::default();
        let t = Clock::now();
        let d = decide(&mut l, &p, attempt("e", "11833", "1"), t);
        assert_eq!(d.outcome, Outcome::Allow);
        assert_eq!(l.running().len(), 1);
        let d = decide(&mut l, &p, attempt("e", "11834", "2"), t);
        assert_eq!((d.outcome, rules(&d)), (Outcome::Lock, vec!["call_rate"]));
        let national = Attempt {
            class: CallingClass::National,
            ..attempt("n", "0044207946000", "9")
        };
        let d = decide(&mut l, &p, national, t);
        assert_eq!((d.outcome, rules(&d)), (Outcome::Block, vec!["class"]));
    }

    #[test]
    fn a_refused_first_call_teaches_nothing() {
        let p = policy(|s| s.new_country_mode = RuleMode::Block);
        let mut l = Ledger::default();
        let t = Clock::now();
        for id in ["1", "2"] {
            let d = decide(&mut l, &p, attempt("e", "0044207946000", id), t);
            assert_eq!(rules(&d), ["new_country"], "the retry is refused too");
            assert!(d.learned.is_empty());
        }
        // Allowed once (reported), it is known from then on.
        let p = policy(|s| s.new_country_mode = RuleMode::Report);
        let d = decide(&mut l, &p, attempt("e", "0044207946000", "3"), t);
        assert_eq!(
            (d.outcome, d.learned.clone()),
            (Outcome::Allow, vec!["region GB".to_owned()])
        );
        let d = decide(&mut l, &p, attempt("e", "0044207946001", "4"), t);
        assert!(d.findings.is_empty(), "{:?}", d.findings);
    }

    #[test]
    fn a_long_call_counts_only_its_last_hour_toward_the_hour_when_it_ends() {
        // Three hours at 0.20 a minute: 12.00 of it in the last hour, 36.00 in the day.
        let rates = RateTable::parse("44,0.2").unwrap();
        let p = policy(|_| {});
        let mut l = Ledger::default();
        let t = Clock::now();
        l.decide(&p, &rates, attempt("e", "0044207946000", "1"), t);
        let end = t.later(3 * 3600);
        assert_eq!(l.spent(end.now), (12_000_000, 36_000_000), "while it runs");
        l.end("1", 3 * 3600, end.now);
        assert_eq!(l.spent(end.now), (12_000_000, 36_000_000), "once it ended");
    }

    #[test]
    fn long_calls_are_reported_once_and_stale_calls_forgotten() {
        let p = policy(|s| {
            s.long_call_minutes = Limit {
                max: 20,
                mode: RuleMode::Report,
            };
        });
        let mut l = Ledger::default();
        let t = Clock::now();
        decide(&mut l, &p, attempt("e", "030123", "1"), t);
        let long = |l: &mut Ledger, secs| {
            l.tick(&p, t.now + Duration::from_secs(secs))
                .into_iter()
                .filter(|a| a.rule == "long_call")
                .count()
        };
        assert_eq!(long(&mut l, 19 * 60), 0);
        assert_eq!(long(&mut l, 20 * 60), 1);
        assert_eq!(long(&mut l, 21 * 60), 0, "once");
        l.tick(&p, t.now + MAX_CALL_AGE);
        assert!(
            l.running().is_empty(),
            "a call without a hang-up is forgotten"
        );
    }

    #[test]
    fn spend_counts_ended_calls_at_their_price_and_running_ones_as_they_run() {
        // 1.50 a minute to the UK; the endpoint may spend 10 an hour, then it is blocked.
        let rates = RateTable::parse("44,1.5").unwrap();
        let p = policy(|s| {
            s.spend_endpoint_per_hour = Limit {
                max: 10,
                mode: RuleMode::Block,
            };
            s.concurrent_per_endpoint.max = 10;
        });
        let mut l = Ledger::default();
        let t = Clock::now();
        let d = l.decide(&p, &rates, attempt("e", "00442079460000", "1"), t);
        assert_eq!(d.outcome, Outcome::Allow);
        // Answered for 4 minutes: 6.00.
        let ended = l.end("1", 240, t.later(250).now).unwrap();
        assert_eq!(
            (ended.answered_secs, money(ended.cost)),
            (240, "6.00".to_owned())
        );
        // A second call runs; after 3 minutes it has cost 4.50: 10.50 in all, over 10.
        let d = l.decide(
            &p,
            &rates,
            attempt("e", "00442079460001", "2"),
            t.later(260),
        );
        assert_eq!(d.outcome, Outcome::Allow);
        assert!(
            l.tick(&p, t.later(300).now).is_empty(),
            "6.00 + 1.00 so far"
        );
        let alarms = l.tick(&p, t.later(440).now);
        assert_eq!(alarms.len(), 1, "{alarms:?}");
        assert_eq!(alarms[0].rule, "spend_endpoint_per_hour");
        assert_eq!(
            alarms[0].hang_up.len(),
            1,
            "block hangs up the running call"
        );
        assert!(l.tick(&p, t.later(441).now).is_empty(), "once an hour");
        // New calls are refused while the hour's spend is over; an hour later they pass.
        l.end("2", 170, t.later(441).now);
        let d = l.decide(
            &p,
            &rates,
            attempt("e", "00442079460002", "3"),
            t.later(500),
        );
        assert_eq!(rules(&d), ["spend_endpoint_per_hour"], "{:?}", d.findings);
        let d = l.decide(
            &p,
            &rates,
            attempt("e", "00442079460003", "4"),
            t.later(500 + 3700),
        );
        assert_eq!(d.outcome, Outcome::Allow, "{:?}", d.findings);
        // Unknown destinations cost the unknown rate (0.50 by default).
        assert_eq!(l.running()[0].per_minute, 1_500_000);
        let d = l.decide(
            &p,
            &rates,
            attempt("f", "0033140000000", "5"),
            t.later(4300),
        );
        assert_eq!(d.outcome, Outcome::Allow);
        assert_eq!(l.calls_of("f")[0].per_minute, 500_000);
    }

    #[test]
    fn a_new_country_and_a_new_network_are_signals() {
        let p = policy(|s| {
            s.new_country_mode = RuleMode::Report;
            s.new_network_mode = RuleMode::Report;
            s.concurrent_per_endpoint.max = 100;
        });
        let mut l = Ledger::default();
        l.remember("e", "region FR".to_owned());
        let t = Clock::now();
        let from = |ip: &str| Some(ip.parse::<IpAddr>().unwrap());
        let a = |dialled, id, source| Attempt {
            source,
            ..attempt("e", dialled, id)
        };
        // The first network is learned, not reported; France was called before.
        let d = decide(&mut l, &p, a("0033140000000", "1", from("198.51.100.7")), t);
        assert!(d.findings.is_empty(), "{:?}", d.findings);
        assert_eq!(d.learned, ["network 198.51.100.0/24"]);
        let d = decide(&mut l, &p, a("0044207946000", "2", from("198.51.100.9")), t);
        assert_eq!(rules(&d), ["new_country"]);
        assert_eq!(d.learned, ["region GB"]);
        let d = decide(&mut l, &p, a("0044207946001", "3", from("203.0.113.5")), t);
        assert_eq!(rules(&d), ["new_network"]);
        // National calls are no new country.
        let d = decide(&mut l, &p, a("030123", "4", from("203.0.113.5")), t);
        assert!(d.findings.is_empty(), "{:?}", d.findings);
        assert_eq!(
            network_of("2001:db8:1:2::9".parse().unwrap()),
            "2001:db8:1::/48"
        );
        assert_eq!(
            network_of("::ffff:198.51.100.7".parse().unwrap()),
            "198.51.100.0/24"
        );
    }

    #[test]
    fn calls_outside_office_hours_fire() {
        let p = policy(|s| s.office_hours.mode = RuleMode::Block);
        let mut l = Ledger::default();
        let monday = monday_morning();
        let d = decide(&mut l, &p, attempt("e", "030123", "1"), monday);
        assert_eq!(d.outcome, Outcome::Allow, "{:?}", d.findings);
        l.end("1", 60, monday.later(60).now);
        // Monday 19:00, and Sunday 10:00.
        let d = decide(
            &mut l,
            &p,
            attempt("e", "030124", "2"),
            monday.later(9 * 3600),
        );
        assert_eq!(rules(&d), ["outside_office_hours"]);
        let sunday = Clock {
            unix_secs: monday.unix_secs - 24 * 3600,
            ..monday
        };
        let d = decide(&mut l, &p, attempt("e", "030125", "3"), sunday);
        assert_eq!(rules(&d), ["outside_office_hours"]);
    }

    #[test]
    fn a_registration_from_a_new_network_is_a_signal() {
        let p = policy(|s| s.new_network_mode = RuleMode::Lock);
        let mut l = Ledger::default();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let (f, learned) = l.logged_in(&p, "e", ip("198.51.100.7"));
        assert!(f.is_none(), "the first network is learned");
        assert_eq!(learned, ["network 198.51.100.0/24"]);
        assert!(
            l.logged_in(&p, "e", ip("198.51.100.99")).0.is_none(),
            "same /24"
        );
        let (f, _) = l.logged_in(&p, "e", ip("203.0.113.5"));
        assert_eq!(f.map(|f| f.rule), Some("new_network"));
        assert!(l.locked().contains("e"), "lock mode locks");
        let d = decide(&mut l, &p, attempt("e", "030123", "1"), Clock::now());
        assert_eq!(rules(&d), ["account_locked"]);
    }
}
