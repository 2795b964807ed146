//! `/healthz`: for load balancers, container health checks and people.

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use serde::Serialize;

use crate::http::HttpState;

/// The body of `/healthz`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` or `degraded`.
    pub status: String,
    pub version: String,
    /// `ok` or `unreachable`.
    pub database: String,
    pub uptime_seconds: u64,
}

/// 200 when everything answers, 503 otherwise.
#[utoipa::path(get, path = "/healthz", tag = "operations", security(()),
    responses(
        (status = 200, description = "Healthy", body = Health),
        (status = 503, description = "The database does not answer", body = Health),
    ))]
pub async fn healthz(State(state): State<HttpState>) -> (StatusCode, Json<Health>) {
    let db_ok = crate::db::ping(&state.db).await;
    let status = if db_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Health {
            status: if db_ok { "ok" } else { "degraded" }.to_owned(),
            version: crate::VERSION.to_owned(),
            database: if db_ok { "ok" } else { "unreachable" }.to_owned(),
            uptime_seconds: state.started_at.elapsed().as_secs(),
        }),
    )
}
