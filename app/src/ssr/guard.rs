//! What the console's Events page needs from the backend.

use std::sync::Arc;

use http::request::Parts;

use crate::form::{ActionError, ConsoleError};
use wire::dashboard::{DashboardSummary, TimeSeries};
use wire::events::{EventFilter, EventPage, GuardStatusView};
use wire::guard::{GuardSettingsForm, GuardSettingsView};

/// The guard half of the console, implemented by the backend over its event store.
#[async_trait::async_trait]
pub trait GuardConsole: super::form::Flashes {
    /// A page of stored events, newest first, from `cursor` (a page's `next_cursor`) on.
    async fn events(
        &self,
        req: &Parts,
        filter: EventFilter,
        cursor: Option<String>,
    ) -> Result<EventPage, ConsoleError>;
    /// The guard's taps and counters.
    async fn guard_status(&self, req: &Parts) -> Result<GuardStatusView, ConsoleError>;
    /// The dashboard's facts for the last day.
    /// The dashboard's facts for `period` (`hour`, `day` or `week`).
    async fn dashboard_summary(
        &self,
        req: &Parts,
        period: &str,
    ) -> Result<DashboardSummary, ConsoleError>;
    /// Takes the compromise signals up to event `through` off the alarm card (administrators).
    async fn acknowledge_alarms(
        &self,
        req: &Parts,
        csrf: &str,
        through: i64,
    ) -> Result<u64, ActionError>;
    /// Attacks per minute over the last hour (`week`: per hour over the last week).
    async fn attack_series(&self, req: &Parts, week: bool) -> Result<TimeSeries, ConsoleError>;
    /// The guard policy as the Guard page shows it (administrators edit it).
    async fn guard_settings(&self, req: &Parts) -> Result<GuardSettingsView, ActionError>;
    /// Stores the guard policy from the form (over `version`); returns the new version.
    async fn update_guard_settings(
        &self,
        req: &Parts,
        csrf: &str,
        version: i32,
        form: GuardSettingsForm,
    ) -> Result<i32, ActionError>;
}

/// This page's backend and the current request.
pub fn context() -> Result<(Arc<dyn GuardConsole>, Parts), ConsoleError> {
    super::part::<dyn GuardConsole>()
}
