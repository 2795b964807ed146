//! The guard's events and its status, as the console and the REST API show them.

use serde::{Deserialize, Serialize};

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
    /// An account's credentials used from outside its permitted networks.
    AclViolation,
    /// A correct login from a source whose passwords failed shortly before: a guess that
    /// succeeded, or a phone whose password was just fixed. Reported, never banned.
    LoginAfterFailures,
    /// Unreadable messages or requests Asterisk calls malformed.
    Malformed,
}

impl EventKind {
    /// Every kind, in the order the console lists them (and the dashboard's chart stacks).
    pub const ALL: [EventKind; 9] = [
        EventKind::Guessing,
        EventKind::DistributedGuessing,
        EventKind::Enumeration,
        EventKind::Scanner,
        EventKind::Flood,
        EventKind::TollFraudProbe,
        EventKind::AclViolation,
        EventKind::Malformed,
        EventKind::LoginAfterFailures,
    ];

    /// The serde name (`toll-fraud-probe`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Guessing => "guessing",
            EventKind::DistributedGuessing => "distributed-guessing",
            EventKind::Enumeration => "enumeration",
            EventKind::Scanner => "scanner",
            EventKind::Flood => "flood",
            EventKind::TollFraudProbe => "toll-fraud-probe",
            EventKind::AclViolation => "acl-violation",
            EventKind::LoginAfterFailures => "login-after-failures",
            EventKind::Malformed => "malformed",
        }
    }

    /// What the console calls it: words for people, where `as_str` is the code scripts use.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            EventKind::Guessing => "password guessing",
            EventKind::DistributedGuessing => "password guessing from many addresses",
            EventKind::Enumeration => "account probing",
            EventKind::Scanner => "attack tool or scan",
            EventKind::Flood => "request flood",
            EventKind::TollFraudProbe => "call to a forbidden number",
            EventKind::AclViolation => "login from outside its networks",
            EventKind::LoginAfterFailures => "login after failed passwords",
            EventKind::Malformed => "malformed message",
        }
    }

    /// The kind a code names, if any.
    #[must_use]
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == code)
    }

    /// The label of a stored code; an unknown code is shown as it is.
    #[must_use]
    pub fn label_of(code: &str) -> &str {
        match Self::from_code(code) {
            Some(kind) => kind.label(),
            None => code,
        }
    }

    /// Signs that an account's secret is in the wrong hands or a phone is abused: always
    /// worth an alert, whatever the outcome.
    #[must_use]
    pub fn is_compromise_signal(self) -> bool {
        matches!(
            self,
            EventKind::AclViolation | EventKind::TollFraudProbe | EventKind::LoginAfterFailures
        )
    }
}

/// One stored event.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventView {
    pub id: i64,
    /// RFC 3339 with milliseconds, UTC.
    pub at: String,
    /// `guessing`, `distributed-guessing`, `enumeration`, `scanner`, `flood`,
    /// `toll-fraud-probe`, `acl-violation`, `malformed` or `login-after-failures`.
    pub kind: String,
    /// The source address (without port).
    pub address: String,
    /// `address:port`.
    pub source: String,
    pub transport: String,
    pub account: Option<String>,
    pub method: Option<String>,
    pub user_agent: Option<String>,
    pub detector: String,
    /// Why it fired (sanitised attacker text).
    pub evidence: String,
    /// `banned` (the address), `banned-port` (one source port of it), `allowlisted` (the
    /// firewall trusts it), `protected` (a trunk, the host's gateway or resolver, or an
    /// address that logged in, spared on this evidence and alerted) or `reported`.
    pub outcome: String,
    /// Whether the evidence proves the source address (a TCP connection, or an answer to a
    /// nonce Asterisk sent there); one UDP datagram can be forged.
    pub proven: bool,
}

/// A page of events, newest first.
pub type EventPage = crate::Page<EventView>;

/// Filters of the event list and stream (all optional).
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventFilter {
    pub kind: Option<String>,
    /// An address (the port is ignored).
    pub source: Option<String>,
    pub account: Option<String>,
}

/// One of the guard's taps.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TapView {
    /// `ami` or `capture`.
    pub name: String,
    /// `starting`, `connected` or `down`.
    pub state: String,
    /// Why it is down.
    pub detail: Option<String>,
}

/// What the guard is doing.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardStatusView {
    /// `enforce`, `log_only` or `off`.
    pub mode: String,
    pub running: bool,
    pub taps: Vec<TapView>,
    /// Observations judged.
    pub messages: u64,
    pub events: u64,
    pub bans: u64,
    /// Of the bans, those of one source port (a phone behind a NAT office) and those on
    /// unproven evidence (short, no offence).
    pub port_bans: u64,
    pub unproven_bans: u64,
    /// Findings against a protected source (a trunk, the gateway, a known address) reported
    /// and alerted instead of banned.
    pub protected: u64,
    pub tracked_sources: u64,
    /// Addresses that logged in within the trust period.
    pub known_addresses: u64,
    pub source_evictions: u64,
    /// Heap bytes of the engine's tables.
    pub engine_bytes: u64,
    /// Events written to the database since start.
    pub events_stored: u64,
    /// Events lost because the store's queue was full (should stay 0).
    pub events_dropped: u64,
    /// Events in the database.
    pub events_total: u64,
    /// Frames the SIP capture read (0 without a capture).
    pub capture_packets: u64,
    /// SIP messages the capture judged.
    pub capture_messages: u64,
    /// Packets the kernel dropped because the capture buffer was full.
    pub capture_dropped: u64,
    /// The security log tap's counts, when it runs (watch-only mode, or as AMI's stand-by).
    #[serde(default)]
    pub log_tap: Option<LogTapView>,
    /// What the engine judges by.
    pub model: Option<GuardModelView>,
    /// From the capture of the packet that decided a ban to the kernel's acknowledgement
    /// (the newest bans).
    pub ban_to_kernel: Option<LatencyView>,
    /// ... to the end of its recording in the database.
    pub ban_recorded: Option<LatencyView>,
    /// The stored guard policy's version (0: the defaults, never changed).
    pub policy_version: i32,
}

/// What the security log tap has read.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogTapView {
    /// Security events handed to the guard.
    pub observed: u64,
    /// Events left to the connected AMI tap (the same events, reported by both).
    pub deferred: u64,
    /// Lines that looked like security events but could not be attributed safely (a value
    /// an attacker chose could be read as another address) or read at all.
    pub unreadable: u64,
}

/// Percentiles of a latency over its newest samples, in microseconds.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyView {
    /// Samples since start.
    pub count: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// How much of the PBX the running guard knows.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardModelView {
    pub accounts: u64,
    pub trunks: u64,
    /// Dial patterns that cost money (national and international).
    pub external_patterns: u64,
    /// Trusted networks and temporarily allowed addresses (never banned).
    pub trusted: u64,
    /// The host's gateways and resolvers (protected).
    pub infrastructure: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_words_of_its_own_and_its_code_comes_back() {
        let labels: std::collections::BTreeSet<&str> =
            EventKind::ALL.iter().map(|k| k.label()).collect();
        assert_eq!(labels.len(), EventKind::ALL.len());
        for kind in EventKind::ALL {
            assert_ne!(kind.label(), kind.as_str());
            assert_eq!(EventKind::from_code(kind.as_str()), Some(kind));
        }
        assert_eq!(EventKind::label_of("something-new"), "something-new");
    }
}
