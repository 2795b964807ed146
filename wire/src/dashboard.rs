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
}

/// The dashboard's facts for a period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct DashboardSummary {
    /// `hour`, `day` or `week`.
    pub period: String,
    /// Events in the period by kind.
    pub events_by_kind: Vec<(String, u64)>,
    pub top_sources: Vec<TopEntry>,
    pub top_accounts: Vec<TopEntry>,
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
