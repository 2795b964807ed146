//! A policy edited setting by setting in a console form (the guard's, the fraud policy):
//! each setting's value as the form shows it, and the policy a submitted form describes,
//! both driven by the policy's field list (`policy::settings`).

use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use policy::settings::{FieldKind, SettingField};

/// A form value that is not what its field takes.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct BadValue {
    pub field: String,
    pub reason: String,
}

/// The value of each field of `policy` as a form shows it: a number, a word,
/// `true`/`false`, or one list entry per line.
#[must_use]
pub fn form_values<T: Serialize>(policy: &T, fields: &[SettingField]) -> BTreeMap<String, String> {
    let json = serde_json::to_value(policy).unwrap_or(Value::Null);
    fields
        .iter()
        .map(|f| {
            let value = f.path.split('.').fold(&json, |v, k| &v[k]);
            let text = match value {
                Value::Array(items) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("\n"),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (f.path.to_owned(), text)
        })
        .collect()
}

fn value_of(f: &SettingField, raw: Option<&str>) -> Result<Value, BadValue> {
    let bad = |reason: &str| BadValue {
        field: f.path.to_owned(),
        reason: reason.to_owned(),
    };
    let text = raw.unwrap_or_default();
    Ok(match f.kind {
        FieldKind::Switch => Value::Bool(raw.is_some_and(|v| !v.is_empty() && v != "false")),
        FieldKind::Number => Value::from(
            text.parse::<u32>()
                .map_err(|_| bad("must be a whole number from 0 to 4294967295"))?,
        ),
        FieldKind::Integer => Value::from(
            text.parse::<i32>()
                .map_err(|_| bad("must be a whole number (it may be negative)"))?,
        ),
        FieldKind::Text => Value::String(text.to_owned()),
        FieldKind::Choice(options) => {
            if !options.contains(&text) {
                return Err(bad(&format!("must be one of {}", options.join(", "))));
            }
            Value::String(text.to_owned())
        }
        FieldKind::Lines => Value::Array(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(|l| Value::String(l.to_owned()))
                .collect(),
        ),
    })
}

/// The policy a form describes. Every field of `fields` is read from `values` (a switch
/// that is absent is off, as an unticked checkbox sends nothing); anything else in `values`
/// is ignored. The result is not yet validated.
pub fn from_form<T: Serialize + DeserializeOwned + Default>(
    fields: &[SettingField],
    values: &BTreeMap<String, String>,
) -> Result<T, BadValue> {
    let mut json = serde_json::to_value(T::default()).unwrap_or(Value::Null);
    for f in fields {
        let value = value_of(f, values.get(f.path).map(|v| v.trim()))?;
        let mut parts = f.path.split('.').peekable();
        let mut at = &mut json;
        while let Some(key) = parts.next() {
            if parts.peek().is_none() {
                at[key] = value;
                break;
            }
            at = &mut at[key];
        }
    }
    serde_json::from_value(json).map_err(|e| BadValue {
        field: "policy".to_owned(),
        reason: e.to_string(),
    })
}
