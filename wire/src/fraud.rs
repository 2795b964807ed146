//! Toll-fraud protection (#15): the locked accounts, the rules that fired on calls, the
//! external calls running now, and the state of the pre-call decision.

use serde::{Deserialize, Serialize};

/// An account a fraud rule (or an administrator) locked: its external calls are refused
/// until it is unlocked.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FraudLockView {
    pub endpoint_id: String,
    /// The rule that locked it (`call_rate`), or `manual`.
    pub rule: String,
    pub reason: String,
    pub locked_at: String,
}

/// One rule that fired on one call attempt, and what happened to the call.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FraudFindingView {
    pub id: i64,
    pub at: String,
    pub endpoint_id: String,
    pub trunk: String,
    /// E.164 without `+`, or the number as dialled when it has no known calling code.
    pub number: String,
    /// ISO region code of the destination; empty when unknown.
    pub region: String,
    /// `allow` (report-only), `block` or `lock`: what happened to the call.
    pub outcome: String,
    /// `class`, `high_risk_destination`, `destination_not_allowed`, `unknown_destination`,
    /// `account_locked`, `call_rate`, `pumping`, `concurrent_global`, `concurrent_trunk`,
    /// `concurrent_endpoint` or `long_call`.
    pub rule: String,
    /// The rule's mode: `report`, `block` or `lock`.
    pub mode: String,
    pub reason: String,
}

/// An external call sipwarden let through that is still running.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveCallView {
    /// Asterisk's unique id of the calling channel; hang up with it.
    pub uniqueid: String,
    pub channel: String,
    pub endpoint_id: String,
    pub trunk: String,
    pub number: String,
    pub region: String,
    pub started_at: String,
    pub seconds: u64,
}

/// Whether the pre-call decision is served, and what it decided since the start.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FraudStatusView {
    /// Whether the FastAGI listener is up.
    pub listening: bool,
    /// Where it listens (or was to listen).
    pub address: String,
    /// Why it is not listening, when it is not.
    pub error: Option<String>,
    pub allowed: u64,
    pub blocked: u64,
    pub locked: u64,
    pub malformed: u64,
    pub running_calls: usize,
    pub locked_accounts: usize,
    /// Spent in the last hour and the last 24 hours, running calls included (`12.34`).
    pub spent_last_hour: String,
    pub spent_last_day: String,
    /// Prefixes the rate table prices.
    pub rate_prefixes: usize,
}

/// One external call sipwarden let through, as it ended.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecordView {
    pub id: i64,
    pub uniqueid: String,
    pub endpoint_id: String,
    pub trunk: String,
    /// The address the call came from; empty when Asterisk did not say.
    pub source: String,
    pub number: String,
    pub region: String,
    pub started_at: String,
    pub ended_at: String,
    /// Dial's status: `ANSWER`, `BUSY`, `NOANSWER`, `CANCEL`, `CONGESTION`, `CHANUNAVAIL`;
    /// empty when it never dialled.
    pub dial_status: String,
    pub answered_secs: i64,
    /// What it cost at the rate table's prices (`12.34`, in its currency).
    pub cost: String,
}

/// The rate table in force.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatesView {
    /// How many prefixes it prices (0: none uploaded; every call costs the unknown rate).
    pub prefixes: i32,
    /// When it was uploaded; empty when none was.
    pub updated_at: String,
}

/// The Fraud page's data: the decision's status, the rate table, the locked accounts, the
/// running external calls, the latest findings and call records (filtered as asked).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FraudPageData {
    pub status: FraudStatusView,
    pub rates: RatesView,
    pub locks: Vec<FraudLockView>,
    pub calls: Vec<LiveCallView>,
    pub findings: Vec<FraudFindingView>,
    pub records: Vec<CallRecordView>,
}

/// The fraud policy as the Fraud page edits it: its settings by section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FraudSettingsView {
    /// The stored policy's version (0: never changed); sent back with the form.
    pub version: i32,
    /// Section titles with their settings, in order.
    pub sections: Vec<(String, Vec<crate::guard::GuardSettingView>)>,
}

/// The dashboard's toll-fraud charts: per hour over the last day, the external calls (ended
/// ones by how they ended, and the attempts the rules refused) and what they cost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FraudSeries {
    /// Kinds `answered`, `unanswered`, `refused`.
    pub calls: crate::dashboard::TimeSeries,
    /// Kind `spend`, in hundredths of the rate table's currency.
    pub spend: crate::dashboard::TimeSeries,
}
