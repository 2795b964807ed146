//! The detection engine: observations in, events and ban decisions out.
//!
//! Deterministic (no clock, no randomness: time and the hash key are arguments) and bounded:
//! per-source, per-port, per-account and per-offender state live in capacity-bounded tables
//! that evict the least recently seen, and the table of authenticated requests awaiting an
//! answer is a fixed array. An observation that triggers nothing allocates nothing.
//!
//! Detectors, in the order they run for a request (`requests`): scanner fingerprint → flood →
//! credentials from outside an account's networks → enumeration → probe sweep → toll fraud;
//! for Asterisk's answers and security events (`answers`): password guessing (per source,
//! per port of a known address, per account across sources), correct logins (ACL, login after
//! failures, known addresses), malformed traffic.
//!
//! # Acting on proof, and never cutting off what the PBX depends on
//!
//! A detector's finding says what it saw and whether that evidence *proves* the source
//! address: a message over TCP (a handshake was needed), or a failed answer to a nonce that
//! Asterisk sent to that very address. A single UDP datagram proves nothing; anybody can
//! write any source address into one. [`Engine`] then weighs the finding against who the
//! source is (`Standing`):
//!
//! | source | unproven evidence | proven evidence |
//! |---|---|---|
//! | trusted by the firewall | reported | reported |
//! | a trunk | reported, alerted | reported, alerted |
//! | the host's gateway or resolver | reported, alerted | its port banned |
//! | logged in within the trust period | reported, alerted | its port banned (the address at a higher threshold) |
//! | anybody else | a short ban, no offence | a ban that grows per offence |

mod answers;
mod requests;
mod state;
mod text;

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use self::state::{
    AccountState, KnownState, OffenderState, PairState, Pending, PortState, SourceState,
};
use super::Timestamp;
use super::hash::KeyedHasher;
use super::model::GuardModel;
use super::observation::{Direction, Observation, Subject, Transport};
use super::policy::{GuardPolicy, PolicyError};
use super::table::BoundedTable;

pub use wire::events::EventKind;

/// A kind as one byte, 1-based (0 means none), for the per-source quiet state.
fn kind_code(kind: EventKind) -> u8 {
    kind as u8 + 1
}

/// What the engine did about an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// A [`BanDecision`] for the whole address is in the same verdict.
    Banned,
    /// A [`BanDecision`] for the source's address *and port* is in the same verdict: one
    /// phone behind a protected address, the rest untouched.
    BannedPort,
    /// A ban was due, but the firewall trusts the source.
    Allowlisted,
    /// A ban was due, but the source is one the PBX depends on (a trunk, the host's gateway
    /// or resolver, an address that logged in) and the evidence does not warrant cutting it
    /// off: reported and alerted instead.
    Protected,
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
    /// A short summary of why (sanitised), and why the outcome is what it is.
    pub evidence: String,
    /// Whether it led to a ban.
    pub outcome: Outcome,
    /// Whether the deciding evidence proves the source address (see the module docs).
    pub proven: bool,
}

/// Block this address (or this address and port) for this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanDecision {
    /// The address (IPv4-mapped IPv6 is given as IPv4).
    pub source: IpAddr,
    /// Only this source port of the address, when set.
    pub port: Option<u16>,
    /// Ban length (grows for repeat offenders).
    pub duration: Duration,
    /// Why.
    pub kind: EventKind,
    /// Which proven offence of this address this is (1 = first); 0 for a ban that counts as
    /// none (unproven evidence, or one port).
    pub offence: u32,
    /// Whether the deciding evidence proves the source address.
    pub proven: bool,
}

/// An address that logged in: the firewall gives it the generous rate tier, and the record
/// survives a restart. Also the export and import form of the engine's known addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownSource {
    /// The address.
    pub source: IpAddr,
    /// Known until.
    pub until: Timestamp,
    /// The account that logged in from it, when this is news of a login (not a stored
    /// memory): the fraud rules check it against the networks the account used before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

/// The result of one observation. Empty (and allocation-free) when nothing happened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// What was detected.
    pub events: Vec<Event>,
    /// Whom to ban.
    pub bans: Vec<BanDecision>,
    /// Addresses that logged in (new, or due for a refresh).
    pub known: Vec<KnownSource>,
}

impl Verdict {
    /// True when nothing happened.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.bans.is_empty() && self.known.is_empty()
    }

    /// True when nothing was detected (known addresses aside).
    pub fn is_quiet(&self) -> bool {
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
    /// Bans decided (addresses and ports).
    pub bans: u64,
    /// Of those, bans of one port.
    pub port_bans: u64,
    /// Of those, bans on unproven evidence.
    pub unproven_bans: u64,
    /// Findings that would have banned a protected source (a trunk, the gateway, a known
    /// address) and were reported instead.
    pub protected: u64,
    /// Observations from sources already banned (not analysed).
    pub from_banned: u64,
    /// Sources tracked now.
    pub tracked_sources: u64,
    /// Accounts tracked now.
    pub tracked_accounts: u64,
    /// Addresses known now (logged in within the trust period, or just before).
    pub tracked_known: u64,
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

/// SIP transactions time out after 64·T1 = 32 s; an answer later than this is no answer.
const PENDING_TTL: u32 = 64;
/// Reports of one kind for one source are repeated at most this often.
const REPORT_INTERVAL: u32 = 60;
/// A source idle this long has its rate limiters reset (see `window::Gcra`).
const LIMITER_IDLE: u32 = 86_400;
/// A known address is announced again (refreshing the kernel's timeout and the stored
/// record) after this long.
const KNOWN_REFRESH: u32 = 3600;
/// The hash key of [`Engine::new`]: public, so for tests and replays only.
const FIXED_KEY: [u64; 2] = [0x5157_4152_4445_4e21, 0x6775_6172_6421_2121];

/// The SIP guard's detection engine.
#[derive(Debug, Clone)]
pub struct Engine {
    policy: GuardPolicy,
    model: GuardModel,
    key: [u64; 2],
    hasher: KeyedHasher,
    /// Scanner fingerprints, lower-cased once.
    fingerprints: Vec<Vec<u8>>,
    sources: BoundedTable<SourceState>,
    ports: BoundedTable<PortState>,
    pairs: BoundedTable<PairState>,
    known: BoundedTable<KnownState>,
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
    /// The policy wants a ban for this.
    ban: bool,
    /// The evidence proves the source address.
    proven: bool,
    /// Enough to ban even a known (NAT office) address as a whole, not only the port.
    address_wide: bool,
}

impl<'a> Finding<'a> {
    fn new(kind: EventKind, detector: &'static str, evidence: String) -> Self {
        Self {
            kind,
            detector,
            account: None,
            evidence,
            ban: true,
            proven: false,
            address_wide: false,
        }
    }

    fn account(mut self, account: Option<&'a [u8]>) -> Self {
        self.account = account;
        self
    }

    fn ban(mut self, ban: bool) -> Self {
        self.ban = ban;
        self
    }

    fn proven(mut self, proven: bool) -> Self {
        self.proven = proven;
        self
    }
}

/// Who a source is to the PBX (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    Trusted,
    Trunk,
    Infrastructure,
    Known,
    Ordinary,
}

/// Where a finding lands: the observation's source, or another source swept up with it.
struct Target {
    key: u128,
    source: SocketAddr,
    transport: Transport,
}

/// Per-observation context threaded through the detectors.
struct Ctx<'o, 'v> {
    obs: &'o Observation<'o>,
    now: Timestamp,
    now_s: u32,
    key: u128,
    out: &'v mut Verdict,
}

impl Engine {
    /// An engine with a fixed, published hash key, for tests and replays. The server uses
    /// [`Engine::with_hash_key`] with a random key, so attackers cannot precompute colliding
    /// addresses or usernames.
    pub fn new(policy: GuardPolicy) -> Result<Self, PolicyError> {
        Self::with_hash_key(policy, FIXED_KEY)
    }

    /// An engine whose tables and sketches are keyed with `key`.
    pub fn with_hash_key(policy: GuardPolicy, key: [u64; 2]) -> Result<Self, PolicyError> {
        policy.validate()?;
        let hasher = KeyedHasher::new(key);
        let limits = &policy.limits;
        let pending_slots = (limits.pending_slots as usize).next_power_of_two();
        Ok(Self {
            fingerprints: fingerprints(&policy),
            sources: BoundedTable::new(limits.max_sources as usize, hasher),
            ports: BoundedTable::new(limits.max_ports as usize, hasher),
            pairs: BoundedTable::new(limits.max_ports as usize, hasher),
            known: BoundedTable::new(limits.max_known as usize, hasher),
            accounts: BoundedTable::new(limits.max_accounts as usize, hasher),
            offenders: BoundedTable::new(limits.max_offenders as usize, hasher),
            pending: vec![Pending::default(); pending_slots],
            model: GuardModel::default(),
            key,
            hasher,
            policy,
            stats: GuardStats::default(),
        })
    }

    /// Replaces the PBX model (after any change of the stored model, the firewall's trusted
    /// networks or the allowlist).
    pub fn set_model(&mut self, model: GuardModel) {
        self.model = model;
    }

    /// The model in force.
    pub fn model(&self) -> &GuardModel {
        &self.model
    }

    /// Replaces the policy. Thresholds take effect with the next observation and the
    /// counters so far are kept; new memory limits rebuild the tables, keeping the offence
    /// history and the known addresses.
    pub fn set_policy(&mut self, policy: GuardPolicy) -> Result<(), PolicyError> {
        policy.validate()?;
        if policy.limits == self.policy.limits {
            self.fingerprints = fingerprints(&policy);
            self.policy = policy;
            return Ok(());
        }
        let offences = self.export_offences();
        let known = self.export_known();
        let mut fresh = Self::with_hash_key(policy, self.key)?;
        fresh.model = std::mem::take(&mut self.model);
        fresh.stats.messages = self.stats.messages;
        fresh.stats.events = self.stats.events;
        fresh.stats.bans = self.stats.bans;
        fresh.import_offences(offences);
        fresh.import_known(known);
        *self = fresh;
        Ok(())
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
            tracked_known: self.known.len() as u64,
            tracked_offenders: self.offenders.len() as u64,
            source_evictions: self.sources.evictions(),
            account_evictions: self.accounts.evictions(),
            offender_evictions: self.offenders.evictions(),
            state_bytes: (self.sources.heap_bytes()
                + self.ports.heap_bytes()
                + self.pairs.heap_bytes()
                + self.known.heap_bytes()
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

    /// The most heap the tables of an engine with these limits can ever hold: each table
    /// full (key and state per entry, an index of two to four slots per entry) and the
    /// pending array.
    pub fn capacity_bytes(limits: &super::policy::LimitsPolicy) -> u64 {
        fn table<V>(capacity: u32) -> u64 {
            let capacity = u64::from(capacity);
            let slots = (capacity * 2).next_power_of_two();
            capacity * (std::mem::size_of::<V>() as u64 + 16) + slots * 8
        }
        table::<SourceState>(limits.max_sources)
            + table::<PortState>(limits.max_ports)
            + table::<PairState>(limits.max_ports)
            + table::<KnownState>(limits.max_known)
            + table::<AccountState>(limits.max_accounts)
            + table::<OffenderState>(limits.max_offenders)
            + u64::from(limits.pending_slots).next_power_of_two()
                * std::mem::size_of::<Pending>() as u64
    }

    /// When this engine's ban of the whole of `ip` ends, if one is running at `now`.
    pub fn banned_until(&self, ip: IpAddr, now: Timestamp) -> Option<Timestamp> {
        let st = self.sources.get(ip_key(ip))?;
        (st.banned_until > now.secs_u32()).then(|| Timestamp::from_secs(u64::from(st.banned_until)))
    }

    /// Whether `ip` logged in within the trust period (as of `now`).
    pub fn is_known(&self, ip: IpAddr, now: Timestamp) -> bool {
        self.known_key(ip_key(ip), now.secs_u32())
    }

    /// Forgets a running ban of the whole of `ip` (an administrator lifted it); its counters
    /// restart.
    pub fn unban(&mut self, ip: IpAddr) {
        if let Some(st) = self.sources.get_mut(ip_key(ip)) {
            *st = SourceState {
                last_seen: st.last_seen,
                port_banned_until: st.port_banned_until,
                nonces: st.nonces,
                ..SourceState::default()
            };
        }
    }

    /// Forgets a running ban of one port of an address; its counters restart.
    pub fn unban_port(&mut self, source: SocketAddr) {
        let key = self.port_key(ip_key(source.ip()), source.port());
        if let Some(p) = self.ports.get_mut(key) {
            *p = PortState {
                last_seen: p.last_seen,
                ..PortState::default()
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

    /// The addresses that logged in, sorted, to persist across restarts.
    pub fn export_known(&self) -> Vec<KnownSource> {
        let mut out: Vec<KnownSource> = self
            .known
            .iter()
            .map(|(k, s)| KnownSource {
                source: key_ip(k),
                until: Timestamp::from_secs(u64::from(s.until)),
                account: None,
            })
            .collect();
        out.sort_by_key(|k| k.source);
        out
    }

    /// Loads known addresses (the later end wins). They count as announced: the caller holds
    /// their records already.
    pub fn import_known(&mut self, records: impl IntoIterator<Item = KnownSource>) {
        for r in records {
            let until = r.until.secs_u32();
            let k = self.known.entry(ip_key(r.source));
            k.until = k.until.max(until);
            k.last_seen = k
                .last_seen
                .max(until.saturating_sub(self.policy.guessing.trust_secs));
            k.announced = k.announced.max(k.last_seen).max(1);
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
        if st.banned_until > now_s
            || (st.port_banned_until > now_s && self.port_banned(key, obs.source.port(), now_s))
        {
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
        // Other sources may have been changed meanwhile (swept up with a distributed attack),
        // but none was inserted, so the position is still this source's.
        *self.sources.at_mut(at) = st;
    }

    fn port_key(&self, key: u128, port: u16) -> u128 {
        (u128::from(self.hasher.hash_u128(key)) << 16) | u128::from(port)
    }

    fn pair_key(&self, key: u128, account_hash: u64) -> u128 {
        (u128::from(self.hasher.hash_u128(key)) << 64) | u128::from(account_hash)
    }

    fn port_banned(&self, key: u128, port: u16, now_s: u32) -> bool {
        self.ports
            .get(self.port_key(key, port))
            .is_some_and(|p| p.banned_until > now_s)
    }

    fn known_key(&self, key: u128, now_s: u32) -> bool {
        self.known.get(key).is_some_and(|k| k.until > now_s)
    }

    fn nonce_hash(&self, nonce: &[u8]) -> u32 {
        self.hasher.hash_bytes(nonce) as u32
    }

    fn standing(&self, ip: IpAddr, key: u128, now_s: u32) -> Standing {
        if self.model.is_trusted(ip) {
            Standing::Trusted
        } else if self.model.trunk_at(ip).is_some() {
            Standing::Trunk
        } else if self.model.is_infrastructure(ip) {
            Standing::Infrastructure
        } else if self.known_key(key, now_s) {
            Standing::Known
        } else {
            Standing::Ordinary
        }
    }

    /// [`Engine::conclude`] for the observation's own source.
    fn decide(&mut self, ctx: &mut Ctx<'_, '_>, st: &mut SourceState, f: Finding<'_>) {
        let target = Target {
            key: ctx.key,
            source: ctx.obs.source,
            transport: ctx.obs.transport,
        };
        self.conclude(ctx.out, ctx.now, &target, Some(ctx.obs), st, f);
    }

    /// Turns a finding into an event and, where the source's standing and the proof allow,
    /// a ban (see the module docs).
    fn conclude(
        &mut self,
        out: &mut Verdict,
        now: Timestamp,
        target: &Target,
        obs: Option<&Observation<'_>>,
        st: &mut SourceState,
        f: Finding<'_>,
    ) {
        enum Act {
            Ban,
            BanPort,
            Report(Outcome),
        }
        let now_s = now.secs_u32();
        let ip = target.source.ip().to_canonical();
        let port = target.source.port();
        let standing = self.standing(ip, target.key, now_s);
        let act = match (f.ban, standing) {
            (false, _) => Act::Report(Outcome::Reported),
            (true, Standing::Trusted) => Act::Report(Outcome::Allowlisted),
            (true, Standing::Trunk) => Act::Report(Outcome::Protected),
            (true, Standing::Infrastructure | Standing::Known) if !f.proven => {
                Act::Report(Outcome::Protected)
            }
            (true, Standing::Known) if f.address_wide => Act::Ban,
            (true, Standing::Infrastructure | Standing::Known) => Act::BanPort,
            (true, Standing::Ordinary) => Act::Ban,
        };
        let mut evidence = f.evidence;
        let outcome = match act {
            Act::Report(outcome) => {
                // Not banned, so the detector will keep firing; each kind is reported once
                // a minute at most.
                if now_s < st.quiet_until && st.quiet_kind == kind_code(f.kind) {
                    return;
                }
                st.quiet_until = now_s.saturating_add(REPORT_INTERVAL);
                st.quiet_kind = kind_code(f.kind);
                match outcome {
                    Outcome::Protected => {
                        self.stats.protected += 1;
                        let why = self.protection(ip, standing, f.proven);
                        evidence.push_str("; not banned: ");
                        evidence.push_str(&why);
                    }
                    Outcome::Allowlisted => {
                        evidence.push_str("; not banned: the firewall trusts this address");
                    }
                    _ => {}
                }
                outcome
            }
            Act::Ban => {
                let (secs, offence) = if f.proven {
                    let offence = self.record_offence(target.key, now_s);
                    (self.ban_secs(offence), offence)
                } else {
                    self.stats.unproven_bans += 1;
                    evidence.push_str(
                        "; unproven (a UDP datagram's source can be forged), so the ban is short and no offence",
                    );
                    (self.policy.bans.unproven_secs, 0)
                };
                st.banned_until = now_s.saturating_add(secs);
                out.bans.push(BanDecision {
                    source: ip,
                    port: None,
                    duration: Duration::from_secs(u64::from(secs)),
                    kind: f.kind,
                    offence,
                    proven: f.proven,
                });
                self.stats.bans += 1;
                Outcome::Banned
            }
            Act::BanPort => {
                let secs = self.policy.bans.base_secs;
                let until = now_s.saturating_add(secs);
                let p = self.ports.entry(self.port_key(target.key, port));
                p.last_seen = now_s;
                p.banned_until = until;
                st.port_banned_until = st.port_banned_until.max(until);
                let why = self.protection(ip, standing, true);
                evidence.push_str(&format!("; only port {port} is banned: {why}"));
                out.bans.push(BanDecision {
                    source: ip,
                    port: Some(port),
                    duration: Duration::from_secs(u64::from(secs)),
                    kind: f.kind,
                    offence: 0,
                    proven: true,
                });
                self.stats.bans += 1;
                self.stats.port_bans += 1;
                Outcome::BannedPort
            }
        };
        out.events.push(Event {
            time: obs.map_or(now, |o| o.time),
            kind: f.kind,
            source: SocketAddr::new(ip, port),
            transport: target.transport,
            account: f.account.map(text::text),
            method: obs.and_then(text::subject),
            user_agent: obs.and_then(|o| o.user_agent).map(text::text),
            detector: f.detector,
            evidence,
            outcome,
            proven: f.proven,
        });
        self.stats.events += 1;
    }

    /// Why a protected source is not (wholly) banned, for evidence.
    fn protection(&self, ip: IpAddr, standing: Standing, proven: bool) -> String {
        let evidence = if proven {
            ""
        } else {
            "unproven evidence (one datagram can be forged) bans no protected source, and "
        };
        match standing {
            Standing::Trunk => format!(
                "{evidence}{} is a trunk's address, never banned for its traffic",
                self.model
                    .trunk_at(ip)
                    .map_or_else(|| "this".to_owned(), |t| text::quote(t.name.as_bytes()))
            ),
            Standing::Infrastructure => {
                format!("{evidence}this is the host's gateway or DNS resolver")
            }
            Standing::Known => {
                format!(
                    "{evidence}this address logged in within the trust period (an office behind NAT?)"
                )
            }
            Standing::Trusted => "the firewall trusts this address".to_owned(),
            Standing::Ordinary => String::new(),
        }
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

fn fingerprints(policy: &GuardPolicy) -> Vec<Vec<u8>> {
    policy
        .scanner
        .user_agents
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| s.to_ascii_lowercase().into_bytes())
        .collect()
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
