//! Server functions of the Fraud page.

use leptos::prelude::*;

use crate::form::{ActionError, ConsoleError};
use wire::fraud::{FraudPageData, FraudSeries, FraudSettingsView, RatesView};
use wire::guard::GuardSettingsForm;

/// The page's data (findings and call records filtered by endpoint and number).
#[server(prefix = "/fn", endpoint = "fraud_page")]
pub async fn get_fraud_page(
    endpoint: Option<String>,
    number: Option<String>,
) -> Result<FraudPageData, ConsoleError> {
    let (console, parts) = crate::ssr::fraud::context()?;
    console.fraud_page(&parts, endpoint, number).await
}

/// The dashboard's external calls and spend per hour over the last day.
#[server(prefix = "/fn", endpoint = "fraud_series")]
pub async fn get_fraud_series() -> Result<FraudSeries, ConsoleError> {
    let (console, parts) = crate::ssr::fraud::context()?;
    console.fraud_series(&parts).await
}

/// The fraud policy as the page edits it.
#[server(prefix = "/fn", endpoint = "fraud_settings")]
pub async fn get_fraud_settings() -> Result<FraudSettingsView, ActionError> {
    let (console, parts) = crate::ssr::fraud::context()?;
    console.fraud_settings(&parts).await
}

/// Stores the fraud policy from the form; the next call is decided by it.
#[server(prefix = "/fn", endpoint = "update_fraud_settings")]
pub async fn update_fraud_settings(
    csrf: String,
    version: i32,
    #[server(flatten)] form: GuardSettingsForm,
) -> Result<i32, ActionError> {
    use crate::form::TypedForm;
    use crate::ssr::form::{Then, finish};
    let (console, parts) = crate::ssr::fraud::context()?;
    let outcome = console
        .update_fraud_settings(&parts, &csrf, version, form.clone())
        .await;
    finish(
        &*console,
        &parts,
        outcome,
        "/fraud",
        Some(TypedForm::FraudSettings(Box::new(form))),
        |_| Then::Redirect("/fraud?saved=1".to_owned()),
    )
    .await
}

/// Unlocks an account the fraud rules locked.
#[server(prefix = "/fn", endpoint = "unlock_fraud_account")]
pub async fn unlock_fraud_account(csrf: String, endpoint_id: String) -> Result<(), ActionError> {
    use crate::ssr::form::{Then, finish};
    let (console, parts) = crate::ssr::fraud::context()?;
    let outcome = console.unlock_account(&parts, &csrf, &endpoint_id).await;
    finish(&*console, &parts, outcome, "/fraud", None, |_| {
        Then::Redirect("/fraud?unlocked=1".to_owned())
    })
    .await
}

/// Hangs up a running external call.
#[server(prefix = "/fn", endpoint = "hang_up_fraud_call")]
pub async fn hang_up_fraud_call(csrf: String, uniqueid: String) -> Result<(), ActionError> {
    use crate::ssr::form::{Then, finish};
    let (console, parts) = crate::ssr::fraud::context()?;
    let outcome = console.hang_up_call(&parts, &csrf, &uniqueid).await;
    finish(&*console, &parts, outcome, "/fraud", None, |_| {
        Then::Redirect("/fraud?hung_up=1".to_owned())
    })
    .await
}

/// Replaces the rate table (CSV pasted into the form).
#[server(prefix = "/fn", endpoint = "upload_fraud_rates")]
pub async fn upload_fraud_rates(csrf: String, csv: String) -> Result<RatesView, ActionError> {
    use crate::ssr::form::{Then, finish};
    let (console, parts) = crate::ssr::fraud::context()?;
    let outcome = console.upload_rates(&parts, &csrf, csv).await;
    finish(&*console, &parts, outcome, "/fraud", None, |_| {
        Then::Redirect("/fraud?rates=1".to_owned())
    })
    .await
}
