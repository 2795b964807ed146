//! What the engine's tables hold per key: small fixed-size states with no pointers, so a
//! table's memory is its capacity times these sizes.

use super::super::observation::Transport;
use super::super::table::Aged;
use super::super::window::{BucketWindow, DistinctSet, Gcra};

/// Per source address: about 150 bytes.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct SourceState {
    pub last_seen: u32,
    /// The whole address is banned (by this engine) until; its observations are not analysed.
    pub banned_until: u32,
    /// Some port of this address is banned until then (the port table says which).
    pub port_banned_until: u32,
    /// Reports (not bans) of `quiet_kind` are not repeated before this time.
    pub quiet_until: u32,
    pub quiet_kind: u8,
    /// Last time the source sent credentials.
    pub last_credentials: u32,
    /// Hash (|1) of the last User-Agent checked against the fingerprints.
    pub ua_hash: u32,
    pub failures: BucketWindow,
    pub probes: BucketWindow,
    pub malformed: BucketWindow,
    pub names: DistinctSet,
    pub flood: [Gcra; 4],
    pub echo: FailureEcho,
    pub nonces: IssuedNonces,
}

impl Aged for SourceState {
    fn last_seen(&self) -> u32 {
        self.last_seen
    }

    fn keeps_evidence(&self) -> bool {
        !self.failures.is_clear()
            || self.banned_until > self.last_seen
            || self.port_banned_until > self.last_seen
    }
}

/// How many of Asterisk's nonces are remembered per address.
const NONCES: usize = 4;
/// A nonce older than this proves nothing any more (Asterisk's own lifetime is 32 s; phones
/// reuse a nonce with a growing nonce count until Asterisk calls it stale).
const NONCE_SECS: u32 = 300;

/// The nonces Asterisk sent to one address, as keyed hashes (never 0) with the time each was
/// last sent.
///
/// Why: over UDP the source address of a request is only a claim. Asterisk's nonce is bound
/// to the address it was sent to, so a request that carries a nonce Asterisk sent to its
/// source address was written by somebody who received Asterisk's answer there: the address
/// is proven. A forger who only writes datagrams never sees the nonce.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct IssuedNonces {
    hashes: [u32; NONCES],
    at: [u32; NONCES],
    next: u8,
}

impl IssuedNonces {
    /// Records that Asterisk sent the nonce with this hash at `now_s`.
    pub fn issue(&mut self, hash: u32, now_s: u32) {
        let hash = hash | 1;
        if let Some(i) = self.hashes.iter().position(|&h| h == hash) {
            self.at[i] = now_s;
            return;
        }
        let i = usize::from(self.next) % NONCES;
        self.hashes[i] = hash;
        self.at[i] = now_s;
        self.next = ((i + 1) % NONCES) as u8;
    }

    /// True when Asterisk sent the nonce with this hash recently.
    pub fn issued(&self, hash: u32, now_s: u32) -> bool {
        let hash = hash | 1;
        self.hashes
            .iter()
            .zip(self.at)
            .any(|(&h, at)| h == hash && now_s.saturating_sub(at) <= NONCE_SECS)
    }
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
pub(super) struct FailureEcho {
    /// Unmatched failures of `wire`'s origin.
    surplus: u16,
    /// Whether the surplus was seen on the wire (else in security events).
    wire: bool,
    /// When the surplus last grew.
    at: u32,
}

/// How long a failure seen by one origin waits for the other's report of it (AMI events
/// trail the wire by milliseconds; seconds leave room for a busy Asterisk).
const ECHO_SECS: u32 = 5;

impl FailureEcho {
    /// Records a failure from the wire (`wire`) or AMI; returns whether it is new (to be
    /// counted) rather than the other origin's report of a failure already counted.
    pub fn is_new(&mut self, wire: bool, now_s: u32) -> bool {
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

/// Per (address, port): one phone behind a NAT address.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct PortState {
    pub last_seen: u32,
    pub banned_until: u32,
    pub failures: BucketWindow,
}

impl Aged for PortState {
    fn last_seen(&self) -> u32 {
        self.last_seen
    }

    fn keeps_evidence(&self) -> bool {
        self.banned_until > self.last_seen || !self.failures.is_clear()
    }
}

/// Per (address, account): failures before a login, and the login's trust.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct PairState {
    pub last_seen: u32,
    /// The account logged in from this address; renewals until then are no news.
    pub logged_in_until: u32,
    pub failures: BucketWindow,
}

impl Aged for PairState {
    fn last_seen(&self) -> u32 {
        self.last_seen
    }

    fn keeps_evidence(&self) -> bool {
        self.logged_in_until > self.last_seen
    }
}

/// An address that logged in successfully. Only a correct login inserts one, so a flood of
/// forged sources cannot push an office out of this table.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct KnownState {
    /// When it last logged in.
    pub last_seen: u32,
    pub until: u32,
    /// When the backend was last told (it refreshes the kernel's known set and the record).
    pub announced: u32,
}

impl Aged for KnownState {
    fn last_seen(&self) -> u32 {
        self.last_seen
    }

    fn keeps_evidence(&self) -> bool {
        true
    }
}

/// How many recent failing sources an account remembers.
pub(super) const RECENT: usize = 16;

/// A source that failed on an account.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct RecentFailure {
    /// Source key (0 = empty).
    pub key: u128,
    pub at: u32,
    pub port: u16,
    pub transport: u8,
}

/// Per account: proven failures from all sources.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct AccountState {
    pub last_seen: u32,
    pub under_attack_until: u32,
    pub failures: BucketWindow,
    pub recent: [RecentFailure; RECENT],
}

impl AccountState {
    /// Records a failure of `key`: an earlier entry of the same source is refreshed, else the
    /// oldest entry makes room.
    pub fn remember(&mut self, entry: RecentFailure) {
        let slot = self
            .recent
            .iter()
            .position(|r| r.key == entry.key)
            .or_else(|| self.recent.iter().position(|r| r.key == 0))
            .unwrap_or_else(|| {
                (0..RECENT)
                    .min_by_key(|&i| self.recent[i].at)
                    .unwrap_or_default()
            });
        self.recent[slot] = entry;
    }

    /// Distinct sources that failed within `window_s` of `now_s`.
    pub fn sources(&self, now_s: u32, window_s: u32) -> u32 {
        self.recent
            .iter()
            .filter(|r| r.key != 0 && now_s.saturating_sub(r.at) < window_s)
            .count() as u32
    }
}

impl Aged for AccountState {
    fn last_seen(&self) -> u32 {
        self.last_seen
    }

    fn keeps_evidence(&self) -> bool {
        self.under_attack_until > self.last_seen
    }
}

/// A repeat offender.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct OffenderState {
    pub last_offence: u32,
    pub offences: u32,
}

impl Aged for OffenderState {
    fn last_seen(&self) -> u32 {
        self.last_offence
    }

    fn keeps_evidence(&self) -> bool {
        self.offences > 1
    }
}

/// The longest auth user kept for a pending request.
pub(super) const PENDING_USER: usize = 32;

/// An authenticated request awaiting Asterisk's answer.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Pending {
    /// 0 = free.
    pub key: u64,
    pub at: u32,
    /// The request answered a nonce Asterisk sent to its source (or came over TCP).
    pub proven: bool,
    pub user_hash: u64,
    pub user_len: u8,
    pub user: [u8; PENDING_USER],
}

impl Pending {
    pub fn user(&self) -> Option<&[u8]> {
        (self.user_len > 0).then(|| &self.user[..usize::from(self.user_len)])
    }
}

/// A transport as one byte, for [`RecentFailure`].
pub(super) fn transport_code(t: Transport) -> u8 {
    match t {
        Transport::Udp => 1,
        Transport::Tcp => 2,
        Transport::Tls => 3,
        Transport::Ws => 4,
        Transport::Wss => 5,
        Transport::Unknown => 0,
    }
}

/// The transport of [`transport_code`].
pub(super) fn transport_of(code: u8) -> Transport {
    match code {
        1 => Transport::Udp,
        2 => Transport::Tcp,
        3 => Transport::Tls,
        4 => Transport::Ws,
        5 => Transport::Wss,
        _ => Transport::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_nonces_are_recognised_for_a_while_and_the_oldest_make_room() {
        let mut n = IssuedNonces::default();
        n.issue(10, 1000);
        assert!(n.issued(10, 1100));
        assert!(!n.issued(10, 1000 + NONCE_SECS + 1));
        assert!(!n.issued(12, 1000));
        for h in [20, 22, 24, 26] {
            n.issue(h, 1001);
        }
        assert!(!n.issued(10, 1002), "four newer nonces pushed it out");
        assert!(n.issued(26, 1002));
        // Hash 0 is stored as 1: an empty slot never matches a real nonce.
        assert!(!IssuedNonces::default().issued(0, 0));
    }

    #[test]
    fn an_account_remembers_each_failing_source_once_and_the_newest_ones() {
        let mut a = AccountState::default();
        for i in 1..=20u32 {
            a.remember(RecentFailure {
                key: u128::from(i),
                at: i,
                port: 5060,
                transport: 1,
            });
        }
        a.remember(RecentFailure {
            key: 20,
            at: 21,
            port: 5060,
            transport: 1,
        });
        assert_eq!(a.sources(21, 100), 16);
        let mut keys: Vec<u128> = a.recent.iter().map(|r| r.key).collect();
        keys.sort_unstable();
        assert_eq!(keys, (5..=20u32).map(u128::from).collect::<Vec<_>>());
        assert_eq!(a.sources(30, 20), 10, "only those within the window");
    }
}
