//! `/api/v1/events` (stored events, newest first, filtered), `events/stream` (the live feed
//! as Server-Sent Events, same filters) and `guard/status` (taps, counters, memory). Any
//! signed-in user.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::routing::get;
use axum::{Json, Router};
use futures::Stream;
use futures::StreamExt;
use http::StatusCode;
use serde::Deserialize;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use app::model::events::{EventFilter, EventPage, GuardStatusView};

use crate::http::error::ApiError;
use crate::http::extract::{ApiQuery, SignedIn};
use crate::services::events::{self, CheckedFilter};
use crate::services::guard_status;
use crate::state::AppState;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/events", get(list))
        .route("/events/stream", get(stream))
        .route("/guard/status", get(status))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventQuery {
    kind: Option<String>,
    source: Option<String>,
    account: Option<String>,
    /// The `next_before` of the previous page.
    before: Option<i64>,
    /// 1 to 500 (100 by default).
    limit: Option<u64>,
}

impl EventQuery {
    fn filter(&self) -> Result<CheckedFilter, ApiError> {
        CheckedFilter::new(&EventFilter {
            kind: self.kind.clone(),
            source: self.source.clone(),
            account: self.account.clone(),
        })
        .map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_query",
                e.to_string(),
            )
            .with("field", e.field)
        })
    }
}

async fn list(
    State(state): State<AppState>,
    SignedIn(_): SignedIn,
    ApiQuery(q): ApiQuery<EventQuery>,
) -> Result<Json<EventPage>, ApiError> {
    let filter = q.filter()?;
    Ok(Json(
        events::page(&state.db, &filter, q.before, q.limit.unwrap_or(100)).await?,
    ))
}

async fn stream(
    State(state): State<AppState>,
    SignedIn(_): SignedIn,
    ApiQuery(q): ApiQuery<EventQuery>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let filter = q.filter()?;
    let live = BroadcastStream::new(state.events.subscribe()).filter_map(move |item| {
        let out = match item {
            Ok(view) if filter.matches(&view) => SseEvent::default()
                .id(view.id.to_string())
                .event("event")
                .json_data(&view)
                .ok(),
            Ok(_) => None,
            // A slow reader missed some: say so, so the page can reload the list.
            Err(BroadcastStreamRecvError::Lagged(n)) => {
                Some(SseEvent::default().event("lagged").data(n.to_string()))
            }
        };
        std::future::ready(out.map(Ok))
    });
    Ok(Sse::new(live).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

async fn status(
    State(state): State<AppState>,
    SignedIn(_): SignedIn,
) -> Result<Json<GuardStatusView>, ApiError> {
    Ok(Json(guard_status::status(&state).await?))
}
