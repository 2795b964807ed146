//! `/api/v1/fraud/…`: toll-fraud protection (#15). The fraud policy (viewers read;
//! administrators change, with `If-Match`), the decision point's status, the locked
//! accounts (administrators unlock), the findings, and the external calls running now
//! (administrators hang up).

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get};
use serde::Deserialize;

use policy::fraud::policy::FraudSettings;
use wire::fraud::{FraudFindingView, FraudLockView, FraudStatusView, LiveCallView};

use super::{parse_json, tagged};
use crate::http::HttpState;
use crate::http::error::ApiError;
use crate::http::extract::{AdminCaller, ApiQuery, IfMatch, SignedIn};
use crate::services::fraud;

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    get_policy, put_policy, status, locks, unlock, findings, calls, hang_up
))]
pub(super) struct FraudApi;

/// The routes of this module.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/fraud/policy", get(get_policy).put(put_policy))
        .route("/fraud/status", get(status))
        .route("/fraud/locks", get(locks))
        .route("/fraud/locks/{endpoint_id}", delete(unlock))
        .route("/fraud/findings", get(findings))
        .route("/fraud/calls", get(calls))
        .route("/fraud/calls/{uniqueid}", delete(hang_up))
}

/// The fraud policy in force (the defaults until one is stored).
#[utoipa::path(get, operation_id = "get_fraud_policy", path = "/api/v1/fraud/policy", tag = "fraud",
    responses((status = 200, description = "The policy", body = FraudSettings,
        headers(("ETag" = String, description = "The policy's version, for `If-Match`")))))]
async fn get_policy(
    State(state): State<HttpState>,
    SignedIn(_): SignedIn,
) -> Result<Response, ApiError> {
    let (policy, version) = fraud::load(&state.db).await?;
    Ok(tagged(version, policy.settings().clone()))
}

/// Replaces the fraud policy (absent fields take their defaults). The next call is decided
/// by it; the fail modes are in the dialplan and take effect at the next apply.
#[utoipa::path(put, operation_id = "put_fraud_policy", path = "/api/v1/fraud/policy", tag = "fraud", request_body = FraudSettings,
    params(("If-Match" = Option<String>, Header, description = "Only update this version: the `ETag` of the last read (`\"v3\"`), or `*`")),
    responses(
        (status = 200, description = "Stored and in force", body = FraudSettings,
            headers(("ETag" = String, description = "The new version"))),
        (status = 412, description = "`If-Match` names another version (`current_version` says which is current)"),
        (status = 422, description = "A value breaks its rule (`field` names it)"),
    ))]
async fn put_policy(
    State(state): State<HttpState>,
    AdminCaller(admin): AdminCaller,
    IfMatch(expected): IfMatch,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let raw: FraudSettings = parse_json(request).await?;
    let (settings, version) = fraud::update(&state, &admin, raw, expected).await?;
    Ok(tagged(version, settings))
}

/// Whether the pre-call decision is served, and what it decided since the start.
#[utoipa::path(get, operation_id = "get_fraud_status", path = "/api/v1/fraud/status", tag = "fraud",
    responses((status = 200, description = "The status", body = FraudStatusView)))]
async fn status(State(state): State<HttpState>, SignedIn(_): SignedIn) -> Json<FraudStatusView> {
    Json(fraud::status(&state))
}

/// The locked accounts, most recent first.
#[utoipa::path(get, operation_id = "list_fraud_locks", path = "/api/v1/fraud/locks", tag = "fraud",
    responses((status = 200, description = "The locks", body = Vec<FraudLockView>)))]
async fn locks(
    State(state): State<HttpState>,
    SignedIn(_): SignedIn,
) -> Result<Json<Vec<FraudLockView>>, ApiError> {
    Ok(Json(fraud::locks(&state.db).await?))
}

/// Unlocks an account: its next external call is decided afresh.
#[utoipa::path(delete, operation_id = "unlock_fraud_lock", path = "/api/v1/fraud/locks/{endpoint_id}", tag = "fraud",
    params(("endpoint_id" = String, Path, description = "The locked endpoint's id")),
    responses((status = 204, description = "Unlocked"), (status = 404, description = "Not locked")))]
async fn unlock(
    State(state): State<HttpState>,
    AdminCaller(admin): AdminCaller,
    Path(endpoint_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    fraud::unlock(&state, &admin, &endpoint_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct FindingQuery {
    /// Only this endpoint's.
    endpoint_id: Option<String>,
    /// 1 to 500 (100 by default).
    limit: Option<u64>,
}

/// The rules that fired on calls, newest first (report-only ones included).
#[utoipa::path(get, operation_id = "list_fraud_findings", path = "/api/v1/fraud/findings", tag = "fraud", params(FindingQuery),
    responses((status = 200, description = "The findings", body = Vec<FraudFindingView>),
        (status = 422, description = "`limit` is out of range")))]
async fn findings(
    State(state): State<HttpState>,
    SignedIn(_): SignedIn,
    ApiQuery(q): ApiQuery<FindingQuery>,
) -> Result<Json<Vec<FraudFindingView>>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_query",
            "limit must be between 1 and 500",
        )
        .with("field", "limit"));
    }
    Ok(Json(
        fraud::findings(&state.db, q.endpoint_id.as_deref(), limit).await?,
    ))
}

/// The external calls running now, oldest first.
#[utoipa::path(get, operation_id = "list_fraud_calls", path = "/api/v1/fraud/calls", tag = "fraud",
    responses((status = 200, description = "The running calls", body = Vec<LiveCallView>)))]
async fn calls(State(state): State<HttpState>, SignedIn(_): SignedIn) -> Json<Vec<LiveCallView>> {
    Json(fraud::live_calls(&state))
}

/// Hangs up a running external call.
#[utoipa::path(delete, operation_id = "hang_up_fraud_call", path = "/api/v1/fraud/calls/{uniqueid}", tag = "fraud",
    params(("uniqueid" = String, Path, description = "The calling channel's unique id")),
    responses((status = 204, description = "Hung up"), (status = 404, description = "No such running call"),
        (status = 503, description = "Asterisk could not be asked")))]
async fn hang_up(
    State(state): State<HttpState>,
    AdminCaller(admin): AdminCaller,
    Path(uniqueid): Path<String>,
) -> Result<StatusCode, ApiError> {
    fraud::hang_up_call(&state, &admin, &uniqueid).await?;
    Ok(StatusCode::NO_CONTENT)
}
