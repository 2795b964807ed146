//! Server functions of the Events page.

use leptos::prelude::*;

use crate::api::ConsoleError;
use crate::model::dashboard::{DashboardSummary, TimeSeries};
#[cfg(feature = "ssr")]
use crate::model::events::EventFilter;
use crate::model::events::{EventPage, GuardStatusView};

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

/// Attacks over time (per minute for the last hour, or per hour for the last week).
#[server(prefix = "/fn", endpoint = "attack_series")]
pub async fn get_attack_series(week: bool) -> Result<TimeSeries, ConsoleError> {
    let (console, parts) = crate::ssr::guard::context()?;
    console.attack_series(&parts, week).await
}
