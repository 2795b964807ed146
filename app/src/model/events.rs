//! The guard's events and its status, as the console and the REST API show them.

use serde::{Deserialize, Serialize};

/// One stored event.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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
    /// `banned`, `allowlisted` or `reported`.
    pub outcome: String,
}

/// A page of events, newest first.
pub type EventPage = crate::model::Page<EventView>;

/// Filters of the event list and stream (all optional).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventFilter {
    pub kind: Option<String>,
    /// An address (the port is ignored).
    pub source: Option<String>,
    pub account: Option<String>,
}

/// One of the guard's taps.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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
    pub tracked_sources: u64,
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
}
