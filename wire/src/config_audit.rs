//! The audit of an Asterisk configuration sipwarden did not write, as the API answers it and
//! the console's audit page reads it.

use serde::{Deserialize, Serialize};

/// What the audit found, worst first, and the score (100 minus the findings' weights, the
/// posture's scale).
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigAudit {
    pub score: u32,
    /// The files read (those that exist), in the order audited.
    pub files: Vec<String>,
    pub findings: Vec<ConfigFinding>,
}

/// One weakness, where to fix it.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigFinding {
    /// Stable rule name (`sip.guest_calls`).
    pub rule: String,
    /// `high`, `medium`, `low` or `info`.
    pub severity: String,
    /// The hardening step (1 to 7; 0 for the design's extras).
    pub step: u8,
    /// The file, relative to the configuration directory.
    pub file: String,
    pub line: usize,
    /// The section it concerns (`general` for settings).
    pub object: String,
    pub message: String,
}
