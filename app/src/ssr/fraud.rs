//! What the console's Fraud page needs from the backend.

use std::sync::Arc;

use http::request::Parts;

use crate::form::{ActionError, ConsoleError};
use wire::fraud::{FraudPageData, FraudSeries, FraudSettingsView, RatesView};
use wire::guard::GuardSettingsForm;

/// Toll-fraud protection in the console, implemented by the backend.
#[async_trait::async_trait]
pub trait FraudConsole: super::form::Flashes {
    /// The page's data; findings and call records only of `endpoint` and numbers starting
    /// with `number` when given.
    async fn fraud_page(
        &self,
        req: &Parts,
        endpoint: Option<String>,
        number: Option<String>,
    ) -> Result<FraudPageData, ConsoleError>;
    /// The dashboard's external calls and spend per hour over the last day.
    async fn fraud_series(&self, req: &Parts) -> Result<FraudSeries, ConsoleError>;
    /// The fraud policy as the page edits it (administrators edit it).
    async fn fraud_settings(&self, req: &Parts) -> Result<FraudSettingsView, ActionError>;
    /// Stores the fraud policy from the form (over `version`); returns the new version.
    async fn update_fraud_settings(
        &self,
        req: &Parts,
        csrf: &str,
        version: i32,
        form: GuardSettingsForm,
    ) -> Result<i32, ActionError>;
    /// Unlocks an account.
    async fn unlock_account(
        &self,
        req: &Parts,
        csrf: &str,
        endpoint_id: &str,
    ) -> Result<(), ActionError>;
    /// Hangs up a running external call.
    async fn hang_up_call(
        &self,
        req: &Parts,
        csrf: &str,
        uniqueid: &str,
    ) -> Result<(), ActionError>;
    /// Replaces the rate table with `csv`.
    async fn upload_rates(
        &self,
        req: &Parts,
        csrf: &str,
        csv: String,
    ) -> Result<RatesView, ActionError>;
}

/// This page's backend and the current request.
pub fn context() -> Result<(Arc<dyn FraudConsole>, Parts), ConsoleError> {
    super::part::<dyn FraudConsole>()
}
