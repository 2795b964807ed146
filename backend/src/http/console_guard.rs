//! The backend side of the console's Events page: [`app::ssr::guard::GuardConsole`] over the
//! event store.

use http::request::Parts;

use app::api::ConsoleError;
use app::model::dashboard::{DashboardSummary, TimeSeries};
use app::model::events::{EventFilter, EventPage, GuardStatusView};

use crate::http::console::{ConsoleService, caller, internal};
use crate::services::dashboard::{self, Range};
use crate::services::events::{self, CheckedFilter};
use crate::services::{guard_status, page};

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

    async fn attack_series(&self, req: &Parts, week: bool) -> Result<TimeSeries, ConsoleError> {
        caller(req)?;
        let range = if week { Range::Week } else { Range::Hour };
        dashboard::timeseries(self.state(), range)
            .await
            .map_err(internal)
    }
}
