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

use wire::Page;
use wire::events::{EventFilter, EventPage, EventView, GuardStatusView};

use crate::http::HttpState;
use crate::http::error::ApiError;
use crate::http::extract::{ApiQuery, SignedIn};
use crate::services::events::{self, CheckedFilter};
use crate::services::{guard_status, page};

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, stream, status))]
pub(super) struct EventsApi;

/// The routes of this module.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/events", get(list))
        .route("/events/stream", get(stream))
        .route("/guard/status", get(status))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct EventQuery {
    /// Only this kind (`guessing`, `enumeration`, `scanner`, …).
    kind: Option<String>,
    /// Only from this address.
    source: Option<String>,
    /// Only about this account.
    account: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
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

/// Stored events, newest first.
#[utoipa::path(get, operation_id = "list_events", path = "/api/v1/events", tag = "guard", params(EventQuery),
    responses((status = 200, description = "One page of events", body = Page<EventView>)))]
async fn list(
    State(state): State<HttpState>,
    SignedIn(_): SignedIn,
    ApiQuery(q): ApiQuery<EventQuery>,
) -> Result<Json<EventPage>, ApiError> {
    let filter = q.filter()?;
    Ok(Json(
        events::page(
            &state.db,
            &filter,
            page::id_cursor(q.cursor.as_deref())?,
            page::limit(q.limit),
        )
        .await?,
    ))
}

/// The live events as Server-Sent Events (`event: event` with an event as JSON; `event:
/// lagged` with how many were missed). Ends when the server stops or the caller is no longer
/// signed in (signed out, token revoked, expired); `cursor` and `limit` are ignored.
#[utoipa::path(get, operation_id = "stream_events", path = "/api/v1/events/stream", tag = "guard", params(EventQuery),
    responses((status = 200, description = "The live stream", content_type = "text/event-stream", body = String),
        (status = 429, description = "This user or token has all its live streams open")))]
async fn stream(
    State(state): State<HttpState>,
    SignedIn(caller): SignedIn,
    ApiQuery(q): ApiQuery<EventQuery>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let filter = q.filter()?;
    let ends = super::open_stream(state.clone(), caller)?;
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
    let live = live.take_until(ends);
    Ok(Sse::new(live).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// What the guard is doing: taps, counters, memory.
#[utoipa::path(get, operation_id = "guard_status", path = "/api/v1/guard/status", tag = "guard",
    responses((status = 200, description = "The guard's status", body = GuardStatusView)))]
async fn status(
    State(state): State<HttpState>,
    SignedIn(_): SignedIn,
) -> Result<Json<GuardStatusView>, ApiError> {
    Ok(Json(guard_status::status(&state).await?))
}
