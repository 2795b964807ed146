//! The dashboard's figures: attacks over time by kind, top sources and accounts, and the
//! state of the defence.

use serde::{Deserialize, Serialize};

use crate::events::GuardStatusView;
use crate::firewall::{BanView, TableState};

/// Events per time bucket and kind, from the rollups.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct TimeSeries {
    /// Seconds per bucket (60 for the last hour, 3600 for the last week).
    pub bucket_secs: u64,
    /// Unix time of the first bucket's start.
    pub start_unix: i64,
    /// The kinds, in the order of each bucket's counts.
    pub kinds: Vec<String>,
    /// One row per bucket, oldest first; each row has one count per kind.
    pub buckets: Vec<Vec<u64>>,
}

/// A source or account with its event count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct TopEntry {
    pub key: String,
    pub events: u64,
    /// Whether a ban is in force for it (sources only).
    pub banned: bool,
    /// For an account that is one of the PBX's endpoints: its extension and name
    /// ("1001 Remote worker"); `None` for names that are not accounts here.
    #[serde(default)]
    pub label: Option<String>,
}

/// The sources of one network (an IPv4 /24 or an IPv6 /64) and their events: ten addresses
/// of one office or one scanner farm are one line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct NetworkEntry {
    /// `203.0.113.0/24` or `2001:db8:1:2::/64`.
    pub network: String,
    /// Addresses of it among the period's most active sources.
    pub sources: u64,
    pub events: u64,
    /// How many of those addresses are banned now.
    pub banned: u64,
}

/// Compromise signals no administrator has acknowledged yet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct Alarms {
    /// How many there are.
    pub total: u64,
    /// The newest of them.
    pub events: Vec<Alarm>,
}

/// One compromise signal and the account it concerns, in words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct Alarm {
    #[serde(flatten)]
    pub event: crate::events::EventView,
    /// "1001 Remote worker" when the account is one of the PBX's endpoints.
    pub account_label: Option<String>,
}

/// Takes the compromise signals up to an event off the alarm card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeAlarms {
    /// The newest event id the administrator saw; later signals stay.
    pub through: i64,
}

/// The dashboard's facts for a period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct DashboardSummary {
    /// `hour`, `day` or `week`.
    pub period: String,
    /// Events in the period by kind.
    pub events_by_kind: Vec<(String, u64)>,
    /// The attack rate now: events per minute over the last five minutes, rounded up.
    #[serde(default)]
    pub rate_per_minute: u64,
    pub top_sources: Vec<TopEntry>,
    /// The most active sources grouped by network, most events first.
    pub top_networks: Vec<NetworkEntry>,
    pub top_accounts: Vec<TopEntry>,
    /// Compromise signals waiting for an administrator.
    pub alarms: Alarms,
    /// Whether the model differs from what Asterisk last loaded (an apply is due).
    pub pending_changes: bool,
    /// Whether sipwarden writes Asterisk's configuration (false: watch-only mode).
    #[serde(default = "managed_by_default")]
    pub asterisk_managed: bool,
    pub bans_active: u64,
    pub newest_ban: Option<BanView>,
    /// Bans ending within ten minutes.
    pub bans_expiring_soon: u64,
    pub guard: GuardStatusView,
    pub firewall: TableState,
    /// The configuration revision live in Asterisk.
    pub live_revision: Option<i32>,
    pub posture_score: u32,
    pub posture_high: u32,
}

fn managed_by_default() -> bool {
    true
}
