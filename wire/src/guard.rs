//! The Guard settings page: every setting of the guard policy as the server describes it (the
//! list of settings lives with the policy, so the page cannot fall out of step with it).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One setting, with its value as the form shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardSettingView {
    /// Dotted path in the API's JSON (`guessing.max_failures`); also the form field's key.
    pub path: String,
    pub label: String,
    pub help: String,
    /// `number`, `integer`, `switch`, `lines`, `text` or `choice`.
    pub kind: String,
    /// The words of a `choice`.
    #[serde(default)]
    pub options: Vec<String>,
    /// A number, `true`/`false`, or one entry per line.
    pub value: String,
}

impl GuardSettingView {
    /// The section the setting belongs to (`guessing`).
    #[must_use]
    pub fn section(&self) -> &str {
        self.path.split('.').next().unwrap_or_default()
    }
}

/// The page's data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardSettingsView {
    /// The stored policy's version (0: never changed); sent back with the form.
    pub version: i32,
    pub settings: Vec<GuardSettingView>,
}

/// The form as typed: each setting's value by its path (an unticked switch is absent).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GuardSettingsForm {
    pub values: BTreeMap<String, String>,
}

/// A section's title for the page.
#[must_use]
pub fn section_title(section: &str) -> &'static str {
    match section {
        "guessing" => "Password guessing",
        "distributed" => "Distributed guessing",
        "enumeration" => "Username enumeration",
        "scanner" => "Scanners and sweeps",
        "flood" => "Request floods",
        "toll_fraud" => "Toll fraud",
        "acl" => "Credentials from outside",
        "malformed" => "Malformed traffic",
        "bans" => "Ban durations",
        "limits" => "Memory bounds",
        _ => "Other",
    }
}
