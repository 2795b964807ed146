//! The detection engine: observations in, events and ban decisions out.
//!
//! Deterministic (no clock, no randomness: time and the hash key are arguments) and bounded:
//! per-source, per-account and per-offender state live in capacity-bounded tables that evict
//! the least recently seen, and the table of authenticated requests awaiting an answer is a
//! fixed array. An observation that triggers nothing allocates nothing.
//!
//! Detectors, in the order they run for a request:
//! scanner fingerprint → flood → enumeration → probe sweep → toll-fraud; for Asterisk's
//! answers and security events: password guessing (per source and per account), ACL
//! violations on successful logins, malformed traffic. The first detector that fires decides;
//! the source is then banned (unless allowlisted) and ignored until the ban ends.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Timestamp;
use super::hash::KeyedHasher;
use super::model::GuardModel;
use super::observation::{Direction, Observation, SecurityKind, Subject, Transport};
use super::policy::{GuardPolicy, PolicyError, Rate};
use super::sip::Method;
use super::table::{Aged, BoundedTable};
use super::window::{BucketWindow, DistinctSet, Gcra};

/// What kind of attack an event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// Wrong passwords from one source.
    Guessing,
    /// Wrong passwords for one account from many sources.
    DistributedGuessing,
    /// Many distinct usernames tried from one source.
    Enumeration,
    /// A known attack tool, or a probe sweep.
    Scanner,
    /// Too many requests.
    Flood,
    /// A call attempt to a number the caller may not reach.
    TollFraudProbe,
    /// A correct login from outside the account's permitted networks.
    AclViolation,
    /// A correct login from a source whose passwords failed shortly before: a guess that
    /// succeeded, or a phone whose password was just fixed. Reported, never banned.
    LoginAfterFailures,
    /// Unreadable messages or requests Asterisk calls malformed.
    Malformed,
}

/// What the engine did about an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// A [`BanDecision`] for the source is in the same verdict.
    Banned,
    /// A ban was due, but the source is allowlisted.
    Allowlisted,
    /// Reported only (the policy does not ban for this).
    Reported,
}

/// One detection, for the console and the event log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// When the triggering observation was seen.
    pub time: Timestamp,
    /// What kind of attack.
    pub kind: EventKind,
    /// Who.
    pub source: SocketAddr,
    /// Over what.
    pub transport: Transport,
    /// The account involved, if any (sanitised attacker text).
    pub account: Option<String>,
    /// The SIP method (or security event name) of the triggering observation.
    pub method: Option<String>,
    /// The User-Agent (sanitised attacker text).
    pub user_agent: Option<String>,
    /// The detector that fired.
    pub detector: &'static str,
    /// A short summary of why (sanitised).
    pub evidence: String,
    /// Whether it led to a ban.
    pub outcome: Outcome,
}

/// Block this address for this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanDecision {
    /// The address (IPv4-mapped IPv6 is given as IPv4).
    pub source: IpAddr,
    /// Ban length (grows for repeat offenders).
    pub duration: Duration,
    /// Why.
    pub kind: EventKind,
    /// Which offence of this address this is (1 = first).
    pub offence: u32,
}

/// The result of one observation. Empty (and allocation-free) when nothing fired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// What was detected.
    pub events: Vec<Event>,
    /// Whom to ban.
    pub bans: Vec<BanDecision>,
}

impl Verdict {
    /// True when nothing fired.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.bans.is_empty()
    }
}

/// Counters for `/metrics` and the console.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GuardStats {
    /// Observations processed.
    pub messages: u64,
    /// Events emitted.
    pub events: u64,
    /// Bans decided.
    pub bans: u64,
    /// Observations from sources already banned (not analysed).
    pub from_banned: u64,
    /// Sources tracked now.
    pub tracked_sources: u64,
    /// Accounts tracked now.
    pub tracked_accounts: u64,
    /// Repeat-offender records held now.
    pub tracked_offenders: u64,
    /// Sources evicted to stay within `limits.max_sources`.
    pub source_evictions: u64,
    /// Accounts evicted to stay within `limits.max_accounts`.
    pub account_evictions: u64,
    /// Offender records evicted to stay within `limits.max_offenders`.
    pub offender_evictions: u64,
    /// Pending authenticated requests overwritten before their answer was seen.
    pub pending_overwrites: u64,
    /// Failed challenges reported by both the wire and Asterisk's security events, counted
    /// once (the second report is this).
    pub echoed_failures: u64,
    /// Heap bytes held by the engine's tables.
    pub state_bytes: u64,
}

/// A repeat offender, for export and import across restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffenceRecord {
    /// The address.
    pub source: IpAddr,
    /// Offences so far.
    pub offences: u32,
    /// When the last one was.
    pub last_offence: Timestamp,
}

/// Per-source state: about 128 bytes, no pointers.
#[derive(Debug, Clone, Copy, Default)]
struct SourceState {
    last_seen: u32,
    /// Banned (by this engine) until; observations before it are not analysed.
    banned_until: u32,
    /// Non-ban events for this source are not repeated before this time.
    quiet_until: u32,
    /// Low 32 bits (|1) of the hash of the account this source last logged in as.
    trusted_account: u32,
    trusted_until: u32,
    /// Last time the source sent credentials.
    last_credentials: u32,
    /// Hash (|1) of the last User-Agent checked against the fingerprints.
    ua_hash: u32,
    failures: BucketWindow,
    own_failures: BucketWindow,
    probes: BucketWindow,
    malformed: BucketWindow,
    names: DistinctSet,
    flood: [Gcra; 4],
    echo: FailureEcho,
}

/// Failed challenges one origin (the wire, or Asterisk's security events) reported and the
/// other has not reported yet.
///
/// Why: with both taps running, every wrong password is seen twice, as Asterisk's 401/403 on
/// the wire and as its `ChallengeResponseFailed`/`InvalidPassword` over AMI. Counting both
/// banned after half the threshold; muting one origin would leave the guard blind to what
/// only that origin sees (a fragmented or encrypted request never shows on the wire; AMI can
/// be disconnected). So a failure from one origin first cancels an unmatched failure of the
/// other within [`ECHO_SECS`], and only the rest count: exact with one tap or with both.
#[derive(Debug, Clone, Copy, Default)]
struct FailureEcho {
    /// Unmatched failures of `wire`'s origin.
    surplus: u16,
    /// Whether the surplus was seen on the wire (else in security events).
    wire: bool,
    /// When the surplus last grew.
    at: u32,
}

impl FailureEcho {
    /// Records a failure from the wire (`wire`) or AMI; returns whether it is new (to be
    /// counted) rather than the other origin's report of a failure already counted.
    fn is_new(&mut self, wire: bool, now_s: u32) -> bool {
        let live = self.surplus > 0 && now_s.saturating_sub(self.at) <= ECHO_SECS;
        if live && self.wire != wire {
            self.surplus -= 1;
            return false;
        }
        self.surplus = if live {
            self.surplus.saturating_add(1)
        } else {
            1
        };
        self.wire = wire;
        self.at = now_s;
        true
    }
}

impl Aged for SourceState {
    fn last_seen(&self) -> u32 {
        self.last_seen
    }

    fn keeps_evidence(&self) -> bool {
        !self.failures.is_clear()
            || !self.own_failures.is_clear()
            || self.banned_until > self.last_seen
            || self.trusted_until > self.last_seen
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct AccountState {
    last_seen: u32,
    under_attack_until: u32,
    failures: BucketWindow,
    sources: DistinctSet,
}

impl Aged for AccountState {
    fn last_seen(&self) -> u32 {
        self.last_seen
    }

    fn keeps_evidence(&self) -> bool {
        self.under_attack_until > self.last_seen
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct OffenderState {
    last_offence: u32,
    offences: u32,
}

impl Aged for OffenderState {
    fn last_seen(&self) -> u32 {
        self.last_offence
    }

    fn keeps_evidence(&self) -> bool {
        self.offences > 1
    }
}

const PENDING_USER: usize = 32;

/// An authenticated request awaiting Asterisk's answer.
#[derive(Debug, Clone, Copy, Default)]
struct Pending {
    /// 0 = free.
    key: u64,
    at: u32,
    user_hash: u64,
    user_len: u8,
    user: [u8; PENDING_USER],
}

impl Pending {
    fn user(&self) -> Option<&[u8]> {
        (self.user_len > 0).then(|| &self.user[..usize::from(self.user_len)])
    }
}

/// SIP transactions time out after 64·T1 = 32 s; an answer later than this is no answer.
const PENDING_TTL: u32 = 64;
/// How long a failure seen by one origin waits for the other's report of it (AMI events
/// trail the wire by milliseconds; seconds leave room for a busy Asterisk).
const ECHO_SECS: u32 = 5;
/// Non-ban events for one source are repeated at most this often.
const REPORT_INTERVAL: u32 = 60;
/// A source idle this long has its rate limiters reset (see [`Gcra`]).
const LIMITER_IDLE: u32 = 86_400;
/// Attacker text in events is cut to this many characters.
const TEXT_MAX: usize = 96;

/// The SIP guard's detection engine.
#[derive(Debug, Clone)]
pub struct Engine {
    policy: GuardPolicy,
    model: GuardModel,
    hasher: KeyedHasher,
    /// Scanner fingerprints, lower-cased once.
    fingerprints: Vec<Vec<u8>>,
    sources: BoundedTable<SourceState>,
    accounts: BoundedTable<AccountState>,
    offenders: BoundedTable<OffenderState>,
    pending: Vec<Pending>,
    stats: GuardStats,
}

/// What a detector found; turned into an [`Event`] (and maybe a ban) by `conclude`.
struct Finding<'a> {
    kind: EventKind,
    detector: &'static str,
    account: Option<&'a [u8]>,
    evidence: String,
    ban: bool,
}

impl Engine {
    /// An engine with a fixed hash key. Use [`Engine::with_hash_key`] in production with a
    /// random key, so attackers cannot precompute colliding addresses or usernames.
    pub fn new(policy: GuardPolicy) -> Result<Self, PolicyError> {
        Self::with_hash_key(policy, [0x5157_4152_4445_4e21, 0x6775_6172_6421_2121])
    }

    /// An engine whose tables and sketches are keyed with `key`.
    pub fn with_hash_key(policy: GuardPolicy, key: [u64; 2]) -> Result<Self, PolicyError> {
        policy.validate()?;
        let hasher = KeyedHasher::new(key);
        let limits = &policy.limits;
        let pending_slots = (limits.pending_slots as usize).next_power_of_two();
        Ok(Self {
            fingerprints: policy
                .scanner
                .user_agents
                .iter()
                .filter(|s| !s.is_empty())
                .map(|s| s.to_ascii_lowercase().into_bytes())
                .collect(),
            sources: BoundedTable::new(limits.max_sources as usize, hasher),
            accounts: BoundedTable::new(limits.max_accounts as usize, hasher),
            offenders: BoundedTable::new(limits.max_offenders as usize, hasher),
            pending: vec![Pending::default(); pending_slots],
            model: GuardModel::default(),
            hasher,
            policy,
            stats: GuardStats::default(),
        })
    }

    /// Replaces the PBX model (after a config apply).
    pub fn set_model(&mut self, model: GuardModel) {
        self.model = model;
    }

    /// The policy in force.
    pub fn policy(&self) -> &GuardPolicy {
        &self.policy
    }

    /// Counters.
    pub fn stats(&self) -> GuardStats {
        GuardStats {
            tracked_sources: self.sources.len() as u64,
            tracked_accounts: self.accounts.len() as u64,
            tracked_offenders: self.offenders.len() as u64,
            source_evictions: self.sources.evictions(),
            account_evictions: self.accounts.evictions(),
            offender_evictions: self.offenders.evictions(),
            state_bytes: (self.sources.heap_bytes()
                + self.accounts.heap_bytes()
                + self.offenders.heap_bytes()
                + self.pending.capacity() * std::mem::size_of::<Pending>())
                as u64,
            ..self.stats
        }
    }

    /// Size of one source's state in the arena (the index adds 8 to 16 bytes more).
    pub fn bytes_per_source() -> usize {
        std::mem::size_of::<SourceState>() + std::mem::size_of::<u128>()
    }

    /// When this engine's ban of `ip` ends, if one is running at `now`.
    pub fn banned_until(&self, ip: IpAddr, now: Timestamp) -> Option<Timestamp> {
        let st = self.sources.get(ip_key(ip))?;
        (st.banned_until > now.secs_u32()).then(|| Timestamp::from_secs(u64::from(st.banned_until)))
    }

    /// Forgets a running ban of `ip` (an administrator lifted it); its counters restart.
    pub fn unban(&mut self, ip: IpAddr) {
        if let Some(st) = self.sources.get_mut(ip_key(ip)) {
            *st = SourceState {
                last_seen: st.last_seen,
                ..SourceState::default()
            };
        }
    }

    /// The repeat-offender history, sorted by address, to persist across restarts.
    pub fn export_offences(&self) -> Vec<OffenceRecord> {
        let mut out: Vec<OffenceRecord> = self
            .offenders
            .iter()
            .filter(|(_, o)| o.offences > 0)
            .map(|(k, o)| OffenceRecord {
                source: key_ip(k),
                offences: o.offences,
                last_offence: Timestamp::from_secs(u64::from(o.last_offence)),
            })
            .collect();
        out.sort_by_key(|r| (r.source, r.last_offence));
        out
    }

    /// Loads a history exported by [`Engine::export_offences`] (merging: the larger count and
    /// the later time win).
    pub fn import_offences(&mut self, records: impl IntoIterator<Item = OffenceRecord>) {
        for r in records {
            let o = self.offenders.entry(ip_key(r.source));
            o.offences = o.offences.max(r.offences);
            o.last_offence = o.last_offence.max(r.last_offence.secs_u32());
        }
    }

    /// Runs every detector on one observation at `now`.
    pub fn observe(&mut self, obs: &Observation<'_>, now: Timestamp) -> Verdict {
        let mut out = Verdict::default();
        self.observe_into(obs, now, &mut out);
        out
    }

    /// Like [`Engine::observe`], appending to `out` (whose buffers can be reused).
    pub fn observe_into(&mut self, obs: &Observation<'_>, now: Timestamp, out: &mut Verdict) {
        self.stats.messages += 1;
        let now_s = now.secs_u32();
        let key = ip_key(obs.source.ip());
        let at = self.sources.position(key);
        let mut st = *self.sources.at_mut(at);
        if st.banned_until > now_s {
            // The kernel drops its packets; whatever still arrives (in flight, or in log-only
            // mode) must not stack up events or bans.
            self.stats.from_banned += 1;
            return;
        }
        if now_s.saturating_sub(st.last_seen) > LIMITER_IDLE {
            st.flood.iter_mut().for_each(|g| g.reset(now.0));
        }
        st.last_seen = now_s;
        let mut ctx = Ctx {
            obs,
            now,
            now_s,
            key,
            out,
        };
        match (obs.direction, obs.subject) {
            (Direction::ToAsterisk, Subject::Request(method)) => {
                self.on_request(&mut ctx, &mut st, method)
            }
            (Direction::FromAsterisk, Subject::Response(status)) => {
                self.on_response(&mut ctx, &mut st, status)
            }
            (_, Subject::Security(kind)) => self.on_security(&mut ctx, &mut st, kind),
            (_, Subject::Malformed) => self.on_malformed(&mut ctx, &mut st),
            // Asterisk's own requests (qualify OPTIONS) and the peers' answers to them say
            // nothing about the peer's intent.
            _ => {}
        }
        // No other source was inserted meanwhile, so the position is still this source's.
        *self.sources.at_mut(at) = st;
    }

    fn on_request(&mut self, ctx: &mut Ctx<'_, '_>, st: &mut SourceState, method: Method<'_>) {
        let obs = ctx.obs;
        if let Some(f) = self.check_user_agent(st, obs) {
            return self.conclude(ctx, st, f);
        }
        if let Some(f) = self.check_flood(ctx, st, method) {
            return self.conclude(ctx, st, f);
        }
        if obs.auth_present {
            st.last_credentials = ctx.now_s;
            self.remember_pending(ctx);
        }
        if let Some(f) = self.check_names(ctx, st, method) {
            return self.conclude(ctx, st, f);
        }
        if let Some(f) = self.check_sweep(ctx, st, method) {
            return self.conclude(ctx, st, f);
        }
        if method == Method::Invite
            && let Some(f) = self.check_toll_fraud(ctx)
        {
            self.conclude(ctx, st, f);
        }
    }

    fn check_user_agent<'o>(
        &self,
        st: &mut SourceState,
        obs: &Observation<'o>,
    ) -> Option<Finding<'o>> {
        let ua = obs.user_agent?;
        // Most sources send the same User-Agent every time: check each new one only once.
        let h = (self.hasher.hash_bytes(ua) as u32) | 1;
        if h == st.ua_hash {
            return None;
        }
        st.ua_hash = h;
        // Tools put their name first; a bound keeps a 64 KiB User-Agent from costing more.
        let head = &ua[..ua.len().min(256)];
        let tool = self
            .fingerprints
            .iter()
            .find(|f| contains_ignore_case(head, f))?;
        Some(Finding {
            kind: EventKind::Scanner,
            detector: "scanner-user-agent",
            account: obs.from_user,
            evidence: format!(
                "User-Agent {} matches the fingerprint {}",
                quote(ua),
                quote(tool)
            ),
            ban: true,
        })
    }

    fn check_flood(
        &self,
        ctx: &Ctx<'_, '_>,
        st: &mut SourceState,
        method: Method<'_>,
    ) -> Option<Finding<'static>> {
        let flood = &self.policy.flood;
        let (slot, rate): (usize, Rate) = match method {
            Method::Register => (0, flood.register),
            Method::Invite => (1, flood.invite),
            Method::Options => (2, flood.options),
            _ => (3, flood.other),
        };
        let interval = 1000 / rate.per_second.max(1);
        if st.flood[slot].admit(ctx.now.0, interval, rate.burst) {
            return None;
        }
        Some(Finding {
            kind: EventKind::Flood,
            detector: "flood",
            account: None,
            evidence: format!(
                "{} requests above {}/s with burst {}",
                quote(method.as_bytes()),
                rate.per_second,
                rate.burst
            ),
            ban: true,
        })
    }

    /// Enumeration: distinct usernames named by one source. Which fields name an identity
    /// depends on the method: svwar probes with REGISTER (To = From = the name), OPTIONS
    /// (Request-URI/To) or INVITE (From); the dialled number of an INVITE is no identity.
    fn check_names<'o>(
        &self,
        ctx: &Ctx<'o, '_>,
        st: &mut SourceState,
        method: Method<'_>,
    ) -> Option<Finding<'o>> {
        let obs = ctx.obs;
        let target = match method {
            Method::Register => obs.to_user,
            Method::Options => obs.request_user.or(obs.to_user),
            _ => None,
        };
        for name in [obs.from_user, obs.auth_user, target].into_iter().flatten() {
            if let Some(f) = self.count_name(ctx, st, name) {
                return Some(f);
            }
        }
        None
    }

    fn count_name<'o>(
        &self,
        ctx: &Ctx<'o, '_>,
        st: &mut SourceState,
        name: &'o [u8],
    ) -> Option<Finding<'o>> {
        let policy = &self.policy.enumeration;
        let h = self.hasher.hash_bytes(name);
        if st.names.contains(h, ctx.now_s, policy.window_secs) {
            return None;
        }
        // A real account, used from where it may be used, is no guess: a NAT office with
        // twenty phones names forty real identities and must not look like svwar.
        if self
            .model
            .account(name)
            .is_some_and(|a| a.permits(ctx.obs.source.ip()))
        {
            return None;
        }
        let count = st.names.add(h, ctx.now_s, policy.window_secs);
        (count >= policy.max_usernames).then(|| Finding {
            kind: EventKind::Enumeration,
            detector: "enumeration",
            account: Some(name),
            evidence: format!(
                "{count} distinct unknown usernames within {} s, the latest {}",
                policy.window_secs,
                quote(name)
            ),
            ban: true,
        })
    }

    /// A sweep: OPTIONS/REGISTER probes from a source that never sends credentials (svmap
    /// and friends fingerprint the PBX and move on; phones authenticate).
    fn check_sweep(
        &self,
        ctx: &Ctx<'_, '_>,
        st: &mut SourceState,
        method: Method<'_>,
    ) -> Option<Finding<'static>> {
        let policy = &self.policy.scanner;
        if !matches!(method, Method::Options | Method::Register) || ctx.obs.auth_present {
            return None;
        }
        if st.last_credentials != 0
            && ctx.now_s.saturating_sub(st.last_credentials) <= policy.window_secs
        {
            return None;
        }
        let n = st.probes.add(ctx.now_s, policy.window_secs);
        (n >= policy.max_unauthenticated_probes).then(|| Finding {
            kind: EventKind::Scanner,
            detector: "scanner-sweep",
            account: None,
            evidence: format!(
                "{n} unauthenticated OPTIONS/REGISTER within {} s and no credentials",
                policy.window_secs
            ),
            ban: true,
        })
    }

    fn check_toll_fraud<'o>(&self, ctx: &Ctx<'o, '_>) -> Option<Finding<'o>> {
        let policy = &self.policy.toll_fraud;
        let obs = ctx.obs;
        if !policy.enabled {
            return None;
        }
        let dialled = obs.request_user.or(obs.to_user)?;
        // Internal numbers cost nothing; only what leaves the PBX is toll fraud.
        if !self.model.is_external(dialled) {
            return None;
        }
        // Who claims to call: the credentials' user, else (the first, unauthenticated INVITE
        // of every call) the From user, which must be a known account where it may be.
        let caller_name = if obs.auth_present {
            obs.auth_user
        } else {
            obs.from_user
        };
        let caller = caller_name
            .and_then(|n| self.model.account(n))
            .filter(|a| a.permits(obs.source.ip()));
        match caller {
            Some(account) if account.may_dial(dialled) => None,
            Some(account) => Some(Finding {
                kind: EventKind::TollFraudProbe,
                detector: "toll-fraud-class",
                account: caller_name,
                evidence: format!(
                    "INVITE to external {} which the class of {} does not reach",
                    quote(dialled),
                    quote(account.name.as_bytes())
                ),
                ban: policy.ban_class_violations,
            }),
            None => Some(Finding {
                kind: EventKind::TollFraudProbe,
                detector: "toll-fraud-unknown-caller",
                account: caller_name,
                evidence: format!(
                    "INVITE to external {} from {}, no known account here",
                    quote(dialled),
                    caller_name.map_or_else(|| "nobody".to_owned(), quote)
                ),
                ban: policy.ban_unknown_callers,
            }),
        }
    }

    fn remember_pending(&mut self, ctx: &Ctx<'_, '_>) {
        let obs = ctx.obs;
        let Some(key) = self.pending_key(ctx) else {
            return;
        };
        let mask = self.pending.len() - 1;
        let slot = &mut self.pending[(key as usize) & mask];
        if slot.key != 0 && slot.key != key && ctx.now_s.saturating_sub(slot.at) <= PENDING_TTL {
            self.stats.pending_overwrites += 1;
        }
        let user = obs.auth_user.unwrap_or_default();
        let len = user.len().min(PENDING_USER);
        let mut copy = [0u8; PENDING_USER];
        copy[..len].copy_from_slice(&user[..len]);
        *slot = Pending {
            key,
            at: ctx.now_s,
            user_hash: self.hasher.hash_bytes(user),
            user_len: len as u8,
            user: copy,
        };
    }

    /// Matches a request and its answer: same peer, Call-ID, CSeq number and method.
    fn pending_key(&self, ctx: &Ctx<'_, '_>) -> Option<u64> {
        let obs = ctx.obs;
        let call_id = obs.call_id?;
        let cseq = obs.cseq?;
        let tx = u128::from(self.hasher.hash_bytes(call_id)) << 64
            | u128::from(cseq.number) << 32
            | u128::from(self.hasher.hash_bytes(cseq.method.as_bytes()) as u32);
        Some(self.hasher.hash_u128(tx ^ ctx.key.rotate_left(17)) | 1)
    }

    fn take_pending(&mut self, ctx: &Ctx<'_, '_>) -> Option<Pending> {
        let key = self.pending_key(ctx)?;
        let mask = self.pending.len() - 1;
        let slot = &mut self.pending[(key as usize) & mask];
        if slot.key != key || ctx.now_s.saturating_sub(slot.at) > PENDING_TTL {
            return None;
        }
        slot.key = 0;
        Some(*slot)
    }

    fn on_response(&mut self, ctx: &mut Ctx<'_, '_>, st: &mut SourceState, status: u16) {
        // Provisional answers (100 Trying) come before the real one.
        if status < 200 {
            return;
        }
        let pending = self.take_pending(ctx);
        let (user, user_hash) = match &pending {
            Some(p) => (p.user(), Some(p.user_hash)),
            None if ctx.obs.auth_present => (
                ctx.obs.auth_user,
                ctx.obs.auth_user.map(|u| self.hasher.hash_bytes(u)),
            ),
            // A 401 to a request without credentials is the normal first challenge.
            None => return,
        };
        let user_hash = user_hash.filter(|_| user.is_some());
        match status {
            401 | 407 if ctx.obs.stale_nonce => {}
            // 403 is chan_sip's answer to a wrong REGISTER password (asterisk-reference §2b).
            401 | 403 | 407 => {
                if let Some(f) = self.on_failure(ctx, st, user, user_hash, true) {
                    self.conclude(ctx, st, f);
                }
            }
            200..=299 => {
                if let Some(f) = self.on_success(ctx, st, user, user_hash) {
                    self.conclude(ctx, st, f);
                }
            }
            _ => {}
        }
    }

    fn on_security(&mut self, ctx: &mut Ctx<'_, '_>, st: &mut SourceState, kind: SecurityKind) {
        use SecurityKind::*;
        let account = ctx.obs.account;
        let hash = account.map(|a| self.hasher.hash_bytes(a));
        let finding = match kind {
            ChallengeResponseFailed | InvalidPassword => {
                self.on_failure(ctx, st, account, hash, false)
            }
            InvalidAccountID => account.and_then(|a| self.count_name(ctx, st, a)),
            SuccessfulAuth => self.on_success(ctx, st, account, hash),
            RequestBadFormat | RequestNotAllowed | RequestNotSupported | AuthMethodNotAllowed
            | InvalidTransport | SessionLimit | UnexpectedAddress => {
                return self.on_malformed(ctx, st);
            }
            // FailedACL is not a guess of its own: PJSIP raises it for every request from a
            // refused address (also the first, credential-less REGISTER, and for a refused
            // Contact), then hands the request to its artificial auth, whose failure arrives
            // as ChallengeResponseFailed. Counting both would ban after half the threshold
            // (seen with svcrack against a real Asterisk 22).
            FailedACL | ChallengeSent | MemoryLimit | LoadAverageLimit => None,
        };
        if let Some(f) = finding {
            self.conclude(ctx, st, f);
        }
    }

    fn on_malformed(&mut self, ctx: &mut Ctx<'_, '_>, st: &mut SourceState) {
        let policy = &self.policy.malformed;
        let n = st.malformed.add(ctx.now_s, policy.window_secs);
        if n >= policy.max_messages {
            let f = Finding {
                kind: EventKind::Malformed,
                detector: "malformed",
                account: None,
                evidence: format!("{n} malformed messages within {} s", policy.window_secs),
                ban: true,
            };
            self.conclude(ctx, st, f);
        }
    }

    /// A failed challenge for `account` (None: unknown) from this source, seen on the wire
    /// (`wire`) or in a security event.
    fn on_failure<'u>(
        &mut self,
        ctx: &Ctx<'_, '_>,
        st: &mut SourceState,
        account: Option<&'u [u8]>,
        account_hash: Option<u64>,
        wire: bool,
    ) -> Option<Finding<'u>> {
        if !st.echo.is_new(wire, ctx.now_s) {
            self.stats.echoed_failures += 1;
            return None;
        }
        let g = self.policy.guessing.clone();
        let what = || describe(ctx.obs, account);
        let trusted = account_hash
            .is_some_and(|h| st.trusted_account == (h as u32 | 1) && ctx.now_s < st.trusted_until);
        if trusted {
            // The NAT-office rule: this address logged in as this very account a moment ago,
            // so a few failures are a phone with a stale password, not an attacker. They are
            // counted apart, against a higher threshold; any other account gets no credit.
            let n = st.own_failures.add(ctx.now_s, g.window_secs);
            return (n >= g.own_account_max_failures).then(|| Finding {
                kind: EventKind::Guessing,
                detector: "guessing-own-account",
                account,
                evidence: format!(
                    "{n} failed challenges within {} s for the account this address logged in as; last {}",
                    g.window_secs,
                    what()
                ),
                ban: true,
            });
        }
        let n = st.failures.add(ctx.now_s, g.window_secs);
        let distributed = account_hash.and_then(|h| self.count_account_failure(ctx, h));
        if n >= g.max_failures {
            // Fires on exactly the N-th failure: the source is banned before its (N+1)-th
            // password reaches Asterisk.
            return Some(Finding {
                kind: EventKind::Guessing,
                detector: "guessing",
                account,
                evidence: format!(
                    "{n} failed challenges within {} s; last {}",
                    g.window_secs,
                    what()
                ),
                ban: true,
            });
        }
        distributed.map(|(failures, sources)| Finding {
            kind: EventKind::DistributedGuessing,
            detector: "distributed-guessing",
            account,
            evidence: format!(
                "account under attack: {failures} failed challenges from {sources} addresses within {} s; this one: {}",
                self.policy.distributed.window_secs,
                what()
            ),
            ban: true,
        })
    }

    /// Counts a failure against the account; returns (failures, sources) when the account is
    /// (now) under attack.
    fn count_account_failure(
        &mut self,
        ctx: &Ctx<'_, '_>,
        account_hash: u64,
    ) -> Option<(u32, u32)> {
        let d = &self.policy.distributed;
        let source_hash = self.hasher.hash_u128(ctx.key);
        let a = self.accounts.entry(u128::from(account_hash));
        a.last_seen = ctx.now_s;
        let failures = a.failures.add(ctx.now_s, d.window_secs);
        let sources = a.sources.add(source_hash, ctx.now_s, d.window_secs);
        if ctx.now_s < a.under_attack_until {
            return Some((failures, sources));
        }
        if failures >= d.max_failures && sources >= d.min_sources {
            a.under_attack_until = ctx.now_s.saturating_add(d.attack_secs);
            return Some((failures, sources));
        }
        None
    }

    fn on_success<'u>(
        &mut self,
        ctx: &Ctx<'_, '_>,
        st: &mut SourceState,
        account: Option<&'u [u8]>,
        account_hash: Option<u64>,
    ) -> Option<Finding<'u>> {
        let (name, hash) = (account?, account_hash?);
        let ip = ctx.obs.source.ip();
        if let Some(rules) = self.model.account(name)
            && !rules.permits(ip)
        {
            // The password is right but the place is wrong: a leaked secret in use.
            return Some(Finding {
                kind: EventKind::AclViolation,
                detector: "acl",
                account: Some(name),
                evidence: format!(
                    "correct login as {} from outside its permitted networks",
                    quote(name)
                ),
                ban: self.policy.acl.ban,
            });
        }
        // Failures this source had before its first login as this account (a login that
        // renews a trust already held is a phone re-registering, not news).
        let renewal = st.trusted_account == (hash as u32 | 1) && ctx.now_s < st.trusted_until;
        let window = self.policy.guessing.window_secs;
        let failures = if renewal || st.failures.is_clear() {
            0
        } else {
            st.failures.total(ctx.now_s, window)
        };
        st.trusted_account = hash as u32 | 1;
        st.trusted_until = ctx.now_s.saturating_add(self.policy.guessing.trust_secs);
        (failures > 0).then(|| Finding {
            kind: EventKind::LoginAfterFailures,
            detector: "login-after-failures",
            account: Some(name),
            evidence: format!(
                "correct login as {} after {failures} failed challenges from this address within {window} s",
                quote(name)
            ),
            ban: false,
        })
    }

    /// Turns a finding into an event and, unless allowlisted or not wanted, a ban.
    fn conclude(&mut self, ctx: &mut Ctx<'_, '_>, st: &mut SourceState, f: Finding<'_>) {
        let obs = ctx.obs;
        let ip = obs.source.ip().to_canonical();
        let allowlisted = self.policy.allowlist.iter().any(|n| n.contains(&ip));
        let outcome = if f.ban && !allowlisted {
            let offence = self.record_offence(ctx.key, ctx.now_s);
            let secs = self.ban_secs(offence);
            st.banned_until = ctx.now_s.saturating_add(secs);
            ctx.out.bans.push(BanDecision {
                source: ip,
                duration: Duration::from_secs(u64::from(secs)),
                kind: f.kind,
                offence,
            });
            self.stats.bans += 1;
            Outcome::Banned
        } else {
            // Not banned, so the detector will keep firing; report once a minute at most.
            if ctx.now_s < st.quiet_until {
                return;
            }
            st.quiet_until = ctx.now_s.saturating_add(REPORT_INTERVAL);
            if f.ban {
                Outcome::Allowlisted
            } else {
                Outcome::Reported
            }
        };
        let method = match obs.subject {
            Subject::Request(m) => Some(text(m.as_bytes())),
            Subject::Response(status) => Some(match obs.cseq {
                Some(c) => format!("{status} to {}", text(c.method.as_bytes())),
                None => status.to_string(),
            }),
            Subject::Security(k) => Some(format!("{k:?}")),
            Subject::Malformed => None,
        };
        ctx.out.events.push(Event {
            time: obs.time,
            kind: f.kind,
            source: SocketAddr::new(ip, obs.source.port()),
            transport: obs.transport,
            account: f.account.map(text),
            method,
            user_agent: obs.user_agent.map(text),
            detector: f.detector,
            evidence: f.evidence,
            outcome,
        });
        self.stats.events += 1;
    }

    fn record_offence(&mut self, key: u128, now_s: u32) -> u32 {
        let forget = self.policy.bans.forget_after_secs;
        let o = self.offenders.entry(key);
        if o.offences > 0 && now_s.saturating_sub(o.last_offence) > forget {
            o.offences = 0;
        }
        o.offences = o.offences.saturating_add(1);
        o.last_offence = now_s;
        o.offences
    }

    /// `base × factor^(offence-1)`, capped.
    fn ban_secs(&self, offence: u32) -> u32 {
        let b = &self.policy.bans;
        let mut secs = u64::from(b.base_secs);
        for _ in 1..offence {
            secs = secs.saturating_mul(u64::from(b.factor));
            if secs >= u64::from(b.max_secs) {
                break;
            }
        }
        secs.min(u64::from(b.max_secs)) as u32
    }
}

/// Per-observation context threaded through the detectors.
struct Ctx<'o, 'v> {
    obs: &'o Observation<'o>,
    now: Timestamp,
    now_s: u32,
    key: u128,
    out: &'v mut Verdict,
}

/// One key per host: IPv4 and IPv4-mapped IPv6 are the same source.
fn ip_key(ip: IpAddr) -> u128 {
    match ip.to_canonical() {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn key_ip(key: u128) -> IpAddr {
    IpAddr::V6(Ipv6Addr::from(key)).to_canonical()
}

fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || hay
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Attacker text made safe for logs and the console: lossy UTF-8, control characters
/// replaced (no forged log lines), cut to a bound.
fn text(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len().min(TEXT_MAX));
    for (i, c) in String::from_utf8_lossy(bytes).chars().enumerate() {
        if i == TEXT_MAX {
            s.push('…');
            break;
        }
        s.push(if c.is_control() { '?' } else { c });
    }
    s
}

fn quote(bytes: &[u8]) -> String {
    format!("\"{}\"", text(bytes))
}

/// "401 to REGISTER for \"1001\"" and the like, for evidence.
fn describe(obs: &Observation<'_>, account: Option<&[u8]>) -> String {
    let mut s = match obs.subject {
        Subject::Response(status) => match obs.cseq {
            Some(c) => format!("{status} to {}", text(c.method.as_bytes())),
            None => status.to_string(),
        },
        Subject::Security(k) => format!("{k:?}"),
        Subject::Request(m) => text(m.as_bytes()),
        Subject::Malformed => "malformed".to_owned(),
    };
    match account {
        Some(a) => {
            let _ = write!(s, " for {}", quote(a));
        }
        None => s.push_str(" for an unknown account"),
    }
    s
}
