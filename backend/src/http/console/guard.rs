//! The backend side of the console's Events page: [`app::ssr::guard::GuardConsole`] over the
//! event store.

use http::request::Parts;

use app::form::ActionError;
use app::form::ConsoleError;
use policy::guard::POLICY_FIELDS;
use wire::dashboard::{DashboardSummary, TimeSeries};
use wire::events::{EventFilter, EventPage, GuardStatusView};
use wire::guard::{GuardSettingView, GuardSettingsForm, GuardSettingsView};

use super::{ConsoleService, admin, caller, internal};
use crate::services::dashboard::{self, Range};
use crate::services::events::{self, CheckedFilter};
use crate::services::guard_policy::{self, GuardPolicyError};
use crate::services::{alarms, guard_status, page};

/// The label the guard's settings form shows for a policy path.
fn label_of(path: &str) -> Option<String> {
    policy::settings::label_of(POLICY_FIELDS, path)
}

/// What the browser sees of a refusal: the field and the rule, both sipwarden's own words.
fn shown(e: GuardPolicyError) -> ActionError {
    match e {
        GuardPolicyError::Invalid(e) => ActionError::Invalid {
            label: label_of(e.field),
            field: e.field.to_owned(),
            reason: e.problem,
        },
        GuardPolicyError::BadValue { field, reason } => ActionError::Invalid {
            label: label_of(&field),
            field,
            reason,
        },
        e @ GuardPolicyError::Stale { .. } => ActionError::Conflict(vec![format!(
            "{e}. Reload the page to see the stored policy."
        )]),
        GuardPolicyError::Internal(cause) => {
            tracing::error!(error = %cause, "internal error");
            ActionError::Console(ConsoleError::Internal)
        }
    }
}

#[async_trait::async_trait]
impl app::ssr::guard::GuardConsole for ConsoleService {
    async fn events(
        &self,
        req: &Parts,
        filter: EventFilter,
        cursor: Option<String>,
    ) -> Result<EventPage, ConsoleError> {
        caller(req)?;
        let filter = CheckedFilter::new(&filter).map_err(|_| ConsoleError::BadFilter)?;
        let before = page::id_cursor(cursor.as_deref()).map_err(|_| ConsoleError::BadFilter)?;
        events::page(&self.state().db, &filter, before, page::DEFAULT_LIMIT)
            .await
            .map_err(internal)
    }

    async fn guard_status(&self, req: &Parts) -> Result<GuardStatusView, ConsoleError> {
        caller(req)?;
        guard_status::status(self.state()).await.map_err(internal)
    }

    async fn dashboard_summary(
        &self,
        req: &Parts,
        period: &str,
    ) -> Result<DashboardSummary, ConsoleError> {
        caller(req)?;
        // An unknown period (a hand-edited URL) shows the default day rather than an error.
        let period = if dashboard::period_secs(period).is_some() {
            period
        } else {
            "day"
        };
        dashboard::summary(self.state(), period)
            .await
            .map_err(internal)
    }

    async fn guard_settings(&self, req: &Parts) -> Result<GuardSettingsView, ActionError> {
        // Viewers read the policy (as over the API); the page disables the form for them.
        caller(req)?;
        let (policy, version) = guard_policy::load(&self.state().db)
            .await
            .map_err(|e| shown(e.into()))?;
        let mut values = guard_policy::form_values(&policy);
        let settings = POLICY_FIELDS
            .iter()
            .map(|f| GuardSettingView {
                path: f.path.to_owned(),
                label: f.label.to_owned(),
                help: f.help.to_owned(),
                kind: f.kind.as_str().to_owned(),
                options: Vec::new(),
                value: values.remove(f.path).unwrap_or_default(),
            })
            .collect();
        Ok(GuardSettingsView { version, settings })
    }

    async fn update_guard_settings(
        &self,
        req: &Parts,
        csrf: &str,
        version: i32,
        form: GuardSettingsForm,
    ) -> Result<i32, ActionError> {
        let admin = admin(req, csrf)?;
        let policy = guard_policy::from_form(&form.values).map_err(shown)?;
        guard_policy::update(self.state(), &admin, policy, Some(version))
            .await
            .map(|(_, version)| version)
            .map_err(shown)
    }

    async fn acknowledge_alarms(
        &self,
        req: &Parts,
        csrf: &str,
        through: i64,
    ) -> Result<u64, ActionError> {
        let admin = admin(req, csrf)?;
        alarms::acknowledge(self.state(), &admin, through)
            .await
            .map_err(|e| ActionError::Console(internal(e)))
    }

    async fn attack_series(&self, req: &Parts, week: bool) -> Result<TimeSeries, ConsoleError> {
        caller(req)?;
        let range = if week { Range::Week } else { Range::Hour };
        dashboard::timeseries(self.state(), range)
            .await
            .map_err(internal)
    }
}
