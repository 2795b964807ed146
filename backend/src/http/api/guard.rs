//! `/api/v1/guard/policy`: the guard's thresholds and what each detector does. Viewers read;
//! administrators change, with `If-Match` like the other single objects. A stored policy is
//! in force in the running guard at once.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

use policy::guard::GuardPolicy;

use super::{parse_json, tagged};
use crate::http::HttpState;
use crate::http::error::ApiError;
use crate::http::extract::{AdminCaller, IfMatch, SignedIn};
use crate::services::guard_policy;

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(get_policy, put_policy))]
pub(super) struct GuardApi;

/// The routes of this module.
pub fn routes() -> Router<HttpState> {
    Router::new().route("/guard/policy", get(get_policy).put(put_policy))
}

/// The guard policy in force (the defaults until one is stored).
#[utoipa::path(get, operation_id = "get_guard_policy", path = "/api/v1/guard/policy", tag = "guard",
    responses((status = 200, description = "The policy", body = GuardPolicy,
        headers(("ETag" = String, description = "The policy's version, for `If-Match`")))))]
async fn get_policy(
    State(state): State<HttpState>,
    SignedIn(_): SignedIn,
) -> Result<Response, ApiError> {
    let (policy, version) = guard_policy::load(&state.db).await?;
    Ok(tagged(version, policy))
}

/// Replaces the guard policy (absent fields take their defaults); the running guard judges
/// the next observation by it.
#[utoipa::path(put, operation_id = "put_guard_policy", path = "/api/v1/guard/policy", tag = "guard", request_body = GuardPolicy,
    params(("If-Match" = Option<String>, Header, description = "Only update this version: the `ETag` of the last read (`\"v3\"`), or `*`")),
    responses(
        (status = 200, description = "Stored and in force", body = GuardPolicy,
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
    let raw: GuardPolicy = parse_json(request).await?;
    let (policy, version) = guard_policy::update(&state, &admin, raw, expected).await?;
    Ok(tagged(version, policy))
}
