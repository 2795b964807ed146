//! `/api/v1/dashboard/summary` and `/api/v1/dashboard/timeseries`: the dashboard's figures;
//! `/api/v1/dashboard/stream`: when to fetch them again. Any signed-in user.

use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::{Instant, Interval, MissedTickBehavior};

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use http::StatusCode;
use serde::Deserialize;

use wire::dashboard::{AcknowledgeAlarms, DashboardSummary, TimeSeries};

use crate::http::HttpState;
use crate::http::error::ApiError;
use crate::http::extract::{AdminCaller, ApiQuery, SignedIn};
use crate::services::alarms;
use crate::services::dashboard::{self, Range};

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(summary, timeseries, stream, acknowledge_alarms))]
pub(super) struct DashboardApi;

/// The routes of this module.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/dashboard/summary", get(summary))
        .route("/dashboard/timeseries", get(timeseries))
        .route("/dashboard/stream", get(stream))
        .route("/dashboard/alarms/acknowledge", post(acknowledge_alarms))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct SummaryQuery {
    /// `hour`, `day` (default) or `week`.
    period: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct SeriesQuery {
    /// `hour` (per minute, default) or `week` (per hour).
    range: Option<String>,
}

fn bad(field: &'static str, allowed: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_query",
        format!("{field} must be one of {allowed}"),
    )
    .with("field", field)
}

/// The dashboard's facts for a period.
#[utoipa::path(get, operation_id = "dashboard_summary", path = "/api/v1/dashboard/summary", tag = "dashboard",
    params(SummaryQuery),
    responses((status = 200, description = "The summary", body = DashboardSummary)))]
async fn summary(
    State(state): State<HttpState>,
    SignedIn(_): SignedIn,
    ApiQuery(q): ApiQuery<SummaryQuery>,
) -> Result<Json<DashboardSummary>, ApiError> {
    let period = q.period.unwrap_or_else(|| "day".to_owned());
    if dashboard::period_secs(&period).is_none() {
        return Err(bad("period", "hour, day, week"));
    }
    Ok(Json(dashboard::summary(&state, &period).await?))
}

/// Events per bucket and kind, from the rollups.
#[utoipa::path(get, operation_id = "dashboard_timeseries", path = "/api/v1/dashboard/timeseries", tag = "dashboard",
    params(SeriesQuery),
    responses((status = 200, description = "The series", body = TimeSeries)))]
async fn timeseries(
    State(state): State<HttpState>,
    SignedIn(_): SignedIn,
    ApiQuery(q): ApiQuery<SeriesQuery>,
) -> Result<Json<TimeSeries>, ApiError> {
    let range = Range::parse(q.range.as_deref().unwrap_or("hour"))
        .ok_or_else(|| bad("range", "hour, week"))?;
    Ok(Json(dashboard::timeseries(&state, range).await?))
}

/// Takes the compromise signals up to `through` off the dashboard's alarm card (later ones
/// stay); answers with how many it took off. Audited.
#[utoipa::path(post, operation_id = "acknowledge_alarms", path = "/api/v1/dashboard/alarms/acknowledge", tag = "dashboard",
    request_body = AcknowledgeAlarms,
    responses((status = 200, description = "How many signals were acknowledged", body = AcknowledgedCount)))]
async fn acknowledge_alarms(
    State(state): State<HttpState>,
    AdminCaller(admin): AdminCaller,
    request: axum::extract::Request,
) -> Result<Json<AcknowledgedCount>, ApiError> {
    let body: AcknowledgeAlarms = super::parse_json(request).await?;
    let acknowledged = alarms::acknowledge(&state, &admin, body.through).await?;
    Ok(Json(AcknowledgedCount { acknowledged }))
}

/// The answer of an acknowledgement.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
struct AcknowledgedCount {
    /// Signals taken off the card.
    acknowledged: u64,
}

/// After the first event of a burst, how long to gather more before telling the page: an
/// attack of thousands of events a second becomes one refresh a second per open dashboard.
const COALESCE: Duration = Duration::from_secs(1);
/// A refresh at least this often, for what no event announces: bans lifted or expiring, taps
/// going up or down, an apply.
const HEARTBEAT: Duration = Duration::from_secs(10);

/// When the dashboard's figures changed: `event: changed` with `{"events": N}` (guard events
/// stored since the last message; 0 for the periodic refresh), at most once a second. The
/// page fetches `summary` and `timeseries` again on each. Ends when the server stops or the
/// caller is no longer signed in.
#[utoipa::path(get, operation_id = "dashboard_stream", path = "/api/v1/dashboard/stream", tag = "dashboard",
    responses((status = 200, description = "The change feed", content_type = "text/event-stream", body = ChangeMessage),
        (status = 429, description = "This user or token has all its live streams open")))]
async fn stream(
    State(state): State<HttpState>,
    SignedIn(caller): SignedIn,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let ends = super::open_stream(state.clone(), caller)?;
    let mut heartbeat = tokio::time::interval_at(Instant::now() + HEARTBEAT, HEARTBEAT);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let feed = ChangeFeed {
        events: state.events.subscribe(),
        heartbeat,
    };
    let changes = futures::stream::unfold(feed, |mut feed| async move {
        let events = feed.next_change().await?;
        let message = SseEvent::default()
            .event("changed")
            .data(format!("{{\"events\":{events}}}"));
        Some((Ok(message), feed))
    });
    let changes = changes.take_until(ends);
    Ok(Sse::new(changes).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// One message of the change feed, as a Server-Sent Event.
#[derive(Debug, utoipa::ToSchema)]
#[allow(
    dead_code,
    reason = "describes the events `stream` writes; never built"
)]
struct ChangeMessage {
    /// Always `changed`.
    #[schema(pattern = "^changed$")]
    event: String,
    /// `{"events": N}`: guard events stored since the previous message (JSON text).
    data: String,
}

struct ChangeFeed {
    events: broadcast::Receiver<wire::events::EventView>,
    heartbeat: Interval,
}

impl ChangeFeed {
    /// Waits for a burst of events (gathered for [`COALESCE`]) or the heartbeat; how many
    /// events it was. `None` when the event store is gone (the server is stopping).
    async fn next_change(&mut self) -> Option<u64> {
        let first = tokio::select! {
            received = self.events.recv() => received,
            _ = self.heartbeat.tick() => return Some(0),
        };
        let mut events = match first {
            Ok(_) => 1,
            Err(RecvError::Lagged(missed)) => missed,
            Err(RecvError::Closed) => return None,
        };
        let until = Instant::now() + COALESCE;
        loop {
            tokio::select! {
                received = self.events.recv() => match received {
                    Ok(_) => events += 1,
                    Err(RecvError::Lagged(missed)) => events += missed,
                    Err(RecvError::Closed) => break,
                },
                () = tokio::time::sleep_until(until) => break,
            }
        }
        self.heartbeat.reset();
        Some(events)
    }
}
