//! The guard's stored policy: one row, versioned like the firewall's (`If-Match` over the API,
//! the version in the console's form), audited, and in force in the running engine as soon
//! as it is stored.

use std::collections::BTreeMap;

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, EntityTrait};

use policy::guard::{GuardPolicy, POLICY_FIELDS, PolicyError};

use crate::auth::Admin;
use crate::core::Core;
use crate::db::entities::guard_policy;
use crate::services::Internal;
use crate::services::audit::{self, Action, Record};
use crate::services::settings_form;

/// Why a guard policy was refused.
#[derive(Debug, thiserror::Error)]
pub enum GuardPolicyError {
    /// A value broke its rule (422, naming the field).
    #[error("{0}")]
    Invalid(#[from] PolicyError),
    /// A form value is not what its field takes (422, naming the field).
    #[error("{field}: {reason}")]
    BadValue { field: String, reason: String },
    /// `If-Match` (or the form's version) named another version than the stored one (412).
    #[error("the guard policy changed meanwhile: it is at version {current}, not {expected}")]
    Stale { expected: i32, current: i32 },
    /// Not the caller's fault (500, logged).
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<sea_orm::DbErr> for GuardPolicyError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Internal(Internal::Db(e))
    }
}

/// The stored policy and its version; the default at version 0 when none was stored yet.
pub async fn load(db: &impl sea_orm::ConnectionTrait) -> Result<(GuardPolicy, i32), Internal> {
    let Some(row) = guard_policy::Entity::find_by_id(1).one(db).await? else {
        return Ok((GuardPolicy::default(), 0));
    };
    let policy: GuardPolicy = serde_json::from_str(&row.body)
        .map_err(|e| Internal::Corrupt(format!("guard_policy: {e}")))?;
    policy
        .validate()
        .map_err(|e| Internal::Corrupt(format!("guard_policy: {e}")))?;
    Ok((policy, row.version))
}

/// Checks and stores `policy` (only over version `expected` when given), then puts it in
/// force in the running guard.
pub async fn update(
    core: &Core,
    admin: &Admin,
    policy: GuardPolicy,
    expected: Option<i32>,
) -> Result<(GuardPolicy, i32), GuardPolicyError> {
    if let Err(e) = policy.validate() {
        let detail = format!("refused: {e}");
        audit::record(
            &core.db,
            Record::by_caller(admin.caller(), Action::GuardPolicyUpdate, false, &detail),
        )
        .await?;
        return Err(e.into());
    }
    // Serialised with the other changes of what the guard judges by, so the running engine
    // ends with the policy stored last.
    let _guard = core.pbx_lock.lock().await;
    let body = serde_json::to_string(&policy)
        .map_err(|e| Internal::Corrupt(format!("serialising the guard policy: {e}")))?;
    let txn = crate::db::begin_write(&core.db).await?;
    let (_, current) = load(&txn).await?;
    if let Some(expected) = expected.filter(|e| *e != current) {
        return Err(GuardPolicyError::Stale { expected, current });
    }
    let version = current + 1;
    guard_policy::Entity::insert(guard_policy::ActiveModel {
        id: Set(1),
        body: Set(body),
        version: Set(version),
        updated_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::column(guard_policy::Column::Id)
            .update_columns([
                guard_policy::Column::Body,
                guard_policy::Column::Version,
                guard_policy::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec(&txn)
    .await?;
    txn.commit().await?;
    if let Some(running) = core.guard.get()
        && let Err(e) = running.guard.set_policy(policy.clone())
    {
        // Validated above, so only a bug gets here; the stored policy wins at the next start.
        tracing::error!(error = %e, "the running guard refused a validated policy");
    }
    // What the guard judges by changed: whoever follows the model hears of it.
    core.model.bump();
    let detail = format!("guard policy version {version}");
    audit::record(
        &core.db,
        Record::by_caller(admin.caller(), Action::GuardPolicyUpdate, true, &detail),
    )
    .await?;
    Ok((policy, version))
}

/// The value of each field of `policy`, as the Guard page's form shows it.
#[must_use]
pub fn form_values(policy: &GuardPolicy) -> BTreeMap<String, String> {
    settings_form::form_values(policy, POLICY_FIELDS)
}

/// The policy the Guard page's form describes (not yet validated).
pub fn from_form(values: &BTreeMap<String, String>) -> Result<GuardPolicy, GuardPolicyError> {
    settings_form::from_form(POLICY_FIELDS, values).map_err(|e| GuardPolicyError::BadValue {
        field: e.field,
        reason: e.reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_survives_the_trip_through_its_form() {
        let mut policy = GuardPolicy::default();
        policy.guessing.max_failures = 7;
        policy.scanner.ban = false;
        policy.scanner.user_agents = vec!["evil-scanner".into(), "other tool".into()];
        let mut values = form_values(&policy);
        assert_eq!(values["guessing.max_failures"], "7");
        assert_eq!(values["scanner.user_agents"], "evil-scanner\nother tool");
        // An unticked checkbox sends nothing.
        assert_eq!(values.remove("scanner.ban").as_deref(), Some("false"));
        assert_eq!(from_form(&values).expect("the form reads back"), policy);
    }

    #[test]
    fn a_bad_number_is_refused_naming_its_field() {
        let mut values = form_values(&GuardPolicy::default());
        values.insert("bans.base_secs".into(), "ten minutes".into());
        match from_form(&values) {
            Err(GuardPolicyError::BadValue { field, .. }) => assert_eq!(field, "bans.base_secs"),
            other => panic!("{other:?}"),
        }
    }
}
