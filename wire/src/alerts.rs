//! Alerts (webhooks) and their deliveries, as the API and the console show them. The signing
//! secret is never here, except in the one response that creates an alert.

use serde::{Deserialize, Serialize};

/// What an alert can fire on.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// A source was banned (by the guard or by hand).
    Ban,
    /// More guard events in one minute than the alert's `rate_per_minute`.
    RateSpike,
    /// A correct login from a source whose passwords failed shortly before.
    LoginAfterFailures,
    /// A posture finding of high severity that was not there before.
    PostureHigh,
    /// A guard tap went down (the SIP capture, or the AMI connection).
    GuardBlind,
    /// The guard spared a source the PBX depends on (a trunk, the host's gateway or
    /// resolver, an address that logged in) where it would have banned anybody else.
    ProtectedSource,
    /// A sign that a secret is in the wrong hands: an account's credentials from outside its
    /// networks, or a phone dialling outside its calling class.
    Compromise,
    /// A toll-fraud rule fired on a call (blocked, locked the account, or report-only).
    Fraud,
}

impl Trigger {
    /// Every trigger, in the order the console lists them.
    pub const ALL: [Trigger; 8] = [
        Trigger::Ban,
        Trigger::RateSpike,
        Trigger::LoginAfterFailures,
        Trigger::Compromise,
        Trigger::Fraud,
        Trigger::ProtectedSource,
        Trigger::PostureHigh,
        Trigger::GuardBlind,
    ];

    /// The name as stored and sent (`rate-spike`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Ban => "ban",
            Trigger::RateSpike => "rate-spike",
            Trigger::LoginAfterFailures => "login-after-failures",
            Trigger::PostureHigh => "posture-high",
            Trigger::GuardBlind => "guard-blind",
            Trigger::ProtectedSource => "protected-source",
            Trigger::Compromise => "compromise",
            Trigger::Fraud => "fraud",
        }
    }

    /// The trigger with this name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// What it means, for the console.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Trigger::Ban => "a source is banned",
            Trigger::RateSpike => "guard events per minute exceed the threshold",
            Trigger::LoginAfterFailures => {
                "a correct login follows failed ones from the same source"
            }
            Trigger::PostureHigh => "a new high-severity posture finding appears",
            Trigger::GuardBlind => "a guard tap goes down (capture or AMI)",
            Trigger::ProtectedSource => {
                "a trunk, the gateway or an office that logged in is spared a ban"
            }
            Trigger::Compromise => {
                "an account's credentials are used from outside its networks, or a phone dials outside its class"
            }
            Trigger::Fraud => {
                "a toll-fraud rule fires on a call (blocked, account locked, or reported)"
            }
        }
    }
}

/// An alert as listed (without its secret).
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertView {
    pub id: i32,
    pub name: String,
    /// Where deliveries are POSTed.
    pub url: String,
    pub triggers: Vec<Trigger>,
    /// Events per minute above which `rate-spike` fires.
    pub rate_per_minute: Option<u32>,
    pub enabled: bool,
    /// Whether deliveries may go to loopback, link-local or this host's own addresses
    /// (refused otherwise).
    pub allow_internal_targets: bool,
    /// For `If-Match`; also the `ETag`.
    pub version: i32,
    pub created_at: String,
    pub updated_at: String,
}

/// An alert just created: the only time its signing secret is shown.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedAlert {
    #[serde(flatten)]
    pub view: AlertView,
    /// The HMAC-SHA256 key of `X-Sipwarden-Signature`. Shown this once.
    pub secret: String,
}

/// One delivery: every attempt to send one notification to one alert's URL.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryView {
    pub id: i32,
    pub alert_id: i32,
    /// A trigger's name, or `test`.
    pub trigger: String,
    /// What happened, in one line.
    pub summary: String,
    /// When the notification was raised (RFC 3339, UTC).
    pub at: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// The HTTP status of the last attempt, if an answer came.
    pub status_code: Option<u16>,
    /// Why the last attempt failed, if it did (no answer, or a non-2xx status).
    pub error: Option<String>,
    /// `pending` (attempts remain), `delivered` or `failed`.
    pub outcome: String,
    /// From the first attempt to the last one's end, milliseconds.
    pub duration_ms: u64,
}

/// The console's alerts page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertsPage {
    pub alerts: Vec<AlertView>,
    /// Newest first.
    pub deliveries: Vec<DeliveryView>,
    /// Notifications dropped because the delivery queue was full, since start.
    pub dropped: u64,
}
