//! Server functions of the Events and Guard pages.

use leptos::prelude::*;

use crate::form::ActionError;
use crate::form::ConsoleError;
use wire::dashboard::{DashboardSummary, TimeSeries};
#[cfg(feature = "ssr")]
use wire::events::EventFilter;
use wire::events::{EventPage, GuardStatusView};
use wire::guard::{GuardSettingsForm, GuardSettingsView};

/// A page of stored events (empty filter values mean "any").
#[server(prefix = "/fn", endpoint = "events")]
pub async fn get_events(
    kind: Option<String>,
    source: Option<String>,
    account: Option<String>,
    cursor: Option<String>,
) -> Result<EventPage, ConsoleError> {
    let (console, parts) = crate::ssr::guard::context()?;
    console
        .events(
            &parts,
            EventFilter {
                kind,
                source,
                account,
            },
            cursor,
        )
        .await
}

/// The guard's taps and counters.
#[server(prefix = "/fn", endpoint = "guard_status")]
pub async fn get_guard_status() -> Result<GuardStatusView, ConsoleError> {
    let (console, parts) = crate::ssr::guard::context()?;
    console.guard_status(&parts).await
}

/// The dashboard's facts for a period (`hour`, `day` or `week`).
#[server(prefix = "/fn", endpoint = "dashboard_summary")]
pub async fn get_dashboard_summary(period: String) -> Result<DashboardSummary, ConsoleError> {
    let (console, parts) = crate::ssr::guard::context()?;
    console.dashboard_summary(&parts, &period).await
}

/// Takes the compromise signals up to event `through` off the dashboard's alarm card.
#[server(prefix = "/fn", endpoint = "acknowledge_alarms")]
pub async fn acknowledge_alarms(csrf: String, through: i64) -> Result<u64, ActionError> {
    use crate::ssr::form::{Then, finish};
    let (console, parts) = crate::ssr::guard::context()?;
    let outcome = console.acknowledge_alarms(&parts, &csrf, through).await;
    finish(&*console, &parts, outcome, "/", None, |_| {
        Then::Redirect("/?acknowledged=1".to_owned())
    })
    .await
}

/// Attacks over time (per minute for the last hour, or per hour for the last week).
#[server(prefix = "/fn", endpoint = "attack_series")]
pub async fn get_attack_series(week: bool) -> Result<TimeSeries, ConsoleError> {
    let (console, parts) = crate::ssr::guard::context()?;
    console.attack_series(&parts, week).await
}

/// The guard policy as the Guard page edits it.
#[server(prefix = "/fn", endpoint = "guard_settings")]
pub async fn get_guard_settings() -> Result<GuardSettingsView, ActionError> {
    let (console, parts) = crate::ssr::guard::context()?;
    console.guard_settings(&parts).await
}

/// Stores the guard policy from the form; it is in force in the running guard at once.
#[server(prefix = "/fn", endpoint = "update_guard_settings")]
pub async fn update_guard_settings(
    csrf: String,
    version: i32,
    #[server(flatten)] form: GuardSettingsForm,
) -> Result<i32, ActionError> {
    use crate::form::TypedForm;
    use crate::ssr::form::{Then, finish};
    let (console, parts) = crate::ssr::guard::context()?;
    let outcome = console
        .update_guard_settings(&parts, &csrf, version, form.clone())
        .await;
    finish(
        &*console,
        &parts,
        outcome,
        "/guard",
        Some(TypedForm::GuardSettings(Box::new(form))),
        |_| Then::Redirect("/guard?saved=1".to_owned()),
    )
    .await
}
