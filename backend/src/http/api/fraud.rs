//! `/api/v1/fraud/…`: toll-fraud protection (#15). The fraud policy (viewers read;
//! administrators change, with `If-Match`), the rate table the spend rules price calls
//! with, the decision point's status, the locked accounts (administrators unlock), the
//! findings, the external calls running now (administrators hang up) and those that ended.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get};
use serde::Deserialize;

use policy::fraud::policy::FraudSettings;
use wire::fraud::{
    CallRecordView, FraudFindingView, FraudLockView, FraudStatusView, LiveCallView, RatesView,
};

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
        .route("/fraud/rates", get(get_rates).put(put_rates))
        .route("/fraud/rates/csv", get(get_rates_csv))
        .route("/fraud/call-records", get(call_records))
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
    let limit = checked_limit(q.limit)?;
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

/// The rate table the spend rules price calls with.
#[utoipa::path(get, operation_id = "get_fraud_rates", path = "/api/v1/fraud/rates", tag = "fraud",
    responses((status = 200, description = "The table in force", body = RatesView)))]
async fn get_rates(
    State(state): State<HttpState>,
    SignedIn(_): SignedIn,
) -> Result<Json<RatesView>, ApiError> {
    Ok(Json(fraud::load_rates(&state.db).await?.1))
}

/// The rate table as uploaded (CSV).
#[utoipa::path(get, operation_id = "get_fraud_rates_csv", path = "/api/v1/fraud/rates/csv", tag = "fraud",
    responses((status = 200, description = "`prefix,per_minute` lines; empty when none was uploaded", body = String, content_type = "text/csv")))]
async fn get_rates_csv(
    State(state): State<HttpState>,
    SignedIn(_): SignedIn,
) -> Result<Response, ApiError> {
    use axum::response::IntoResponse;
    let csv = fraud::rates_csv(&state.db).await?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")],
        csv,
    )
        .into_response())
}

/// Replaces the rate table: CSV lines `prefix,per_minute` (an optional header, `#`
/// comments; the longest prefix prices a number; at most 100,000 prefixes). A bad line
/// refuses the whole table and the old one stays. An empty body clears it.
#[utoipa::path(put, operation_id = "put_fraud_rates", path = "/api/v1/fraud/rates", tag = "fraud",
    request_body(content = String, description = "CSV, `prefix,per_minute` (at most 8 MiB)", content_type = "text/csv"),
    responses((status = 200, description = "Stored and in force", body = RatesView),
        (status = 413, description = "Larger than 8 MiB"),
        (status = 422, description = "A bad line (`line` names it), or not UTF-8")))]
async fn put_rates(
    State(state): State<HttpState>,
    AdminCaller(admin): AdminCaller,
    body: axum::body::Bytes,
) -> Result<Json<RatesView>, ApiError> {
    let csv = String::from_utf8(body.to_vec()).map_err(|_| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_rates",
            "the rate table must be UTF-8 text",
        )
    })?;
    Ok(Json(fraud::store_rates(&state, &admin, csv).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct CallRecordQuery {
    /// Only this endpoint's calls.
    endpoint_id: Option<String>,
    /// Only calls through this trunk.
    trunk: Option<String>,
    /// Only numbers starting with these digits (E.164 without `+`).
    number: Option<String>,
    /// 1 to 500 (100 by default).
    limit: Option<u64>,
}

/// External calls that ended, newest first.
#[utoipa::path(get, operation_id = "list_call_records", path = "/api/v1/fraud/call-records", tag = "fraud", params(CallRecordQuery),
    responses((status = 200, description = "The records", body = Vec<CallRecordView>),
        (status = 422, description = "`limit` is out of range, or `number` is not digits")))]
async fn call_records(
    State(state): State<HttpState>,
    SignedIn(_): SignedIn,
    ApiQuery(q): ApiQuery<CallRecordQuery>,
) -> Result<Json<Vec<CallRecordView>>, ApiError> {
    let limit = checked_limit(q.limit)?;
    if let Some(number) = &q.number
        && (number.len() > 15 || !number.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_query",
            "number must be up to 15 digits",
        )
        .with("field", "number"));
    }
    Ok(Json(
        fraud::call_records(
            &state.db,
            q.endpoint_id.as_deref(),
            q.trunk.as_deref(),
            q.number.as_deref(),
            limit,
        )
        .await?,
    ))
}

/// `limit` of a list, 100 by default, refused outside 1 to 500.
fn checked_limit(limit: Option<u64>) -> Result<u64, ApiError> {
    let limit = limit.unwrap_or(100);
    if (1..=500).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_query",
            "limit must be between 1 and 500",
        )
        .with("field", "limit"))
    }
}
