//! `/api/v1/dashboard/summary` and `/api/v1/dashboard/timeseries`: the dashboard's figures.
//! Any signed-in user.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;
use serde::Deserialize;

use app::model::dashboard::{DashboardSummary, TimeSeries};

use crate::http::error::ApiError;
use crate::http::extract::{ApiQuery, SignedIn};
use crate::services::dashboard::{self, Range};
use crate::state::AppState;

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(summary, timeseries))]
pub(super) struct DashboardApi;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard/summary", get(summary))
        .route("/dashboard/timeseries", get(timeseries))
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
    State(state): State<AppState>,
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
    State(state): State<AppState>,
    SignedIn(_): SignedIn,
    ApiQuery(q): ApiQuery<SeriesQuery>,
) -> Result<Json<TimeSeries>, ApiError> {
    let range = Range::parse(q.range.as_deref().unwrap_or("hour"))
        .ok_or_else(|| bad("range", "hour, week"))?;
    Ok(Json(dashboard::timeseries(&state, range).await?))
}
