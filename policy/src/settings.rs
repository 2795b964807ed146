//! Settings a form edits one by one (the guard policy, the fraud policy): each leaf of a
//! policy's serde form described once, with its label, help and kind, so the console's
//! forms are built from the list and cannot drift from the policy (each policy's tests
//! check its list names every leaf).

use serde::Serialize;

/// How a setting is edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// A whole number from 0 (count, seconds, bytes).
    Number,
    /// A whole number that may be negative (an offset).
    Integer,
    /// On or off.
    Switch,
    /// A list of strings, one per line.
    Lines,
    /// One short string.
    Text,
    /// One of these words.
    Choice(&'static [&'static str]),
}

impl FieldKind {
    /// Its name as a form shows it (`number`, `choice`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Number => "number",
            Self::Integer => "integer",
            Self::Switch => "switch",
            Self::Lines => "lines",
            Self::Text => "text",
            Self::Choice(_) => "choice",
        }
    }

    /// The words of a choice; empty for the other kinds.
    #[must_use]
    pub fn options(self) -> &'static [&'static str] {
        match self {
            Self::Choice(options) => options,
            _ => &[],
        }
    }
}

/// One leaf setting of a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SettingField {
    /// Dotted path into the serde form (`guessing.max_failures`).
    pub path: &'static str,
    /// Short label.
    pub label: &'static str,
    /// One sentence on what it does.
    pub help: &'static str,
    /// How it is edited.
    pub kind: FieldKind,
}

/// A [`SettingField`], for the lists.
#[must_use]
pub const fn field(
    path: &'static str,
    label: &'static str,
    help: &'static str,
    kind: FieldKind,
) -> SettingField {
    SettingField {
        path,
        label,
        help,
        kind,
    }
}

/// The label `fields` give the setting at `path`, for a refusal that names it.
#[must_use]
pub fn label_of(fields: &[SettingField], path: &str) -> Option<String> {
    fields
        .iter()
        .find(|f| f.path == path)
        .map(|f| f.label.to_owned())
}

/// The dotted paths of every leaf of `value` (a policy's serde form), for the tests that
/// check a field list against its policy. Lists and strings are leaves.
#[must_use]
pub fn leaf_paths(value: &serde_json::Value) -> Vec<String> {
    fn walk(prefix: &str, value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&path, v, out);
                }
            }
            _ => out.push(prefix.to_owned()),
        }
    }
    let mut out = Vec::new();
    walk("", value, &mut out);
    out.sort();
    out
}
