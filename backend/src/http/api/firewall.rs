//! `/api/v1/firewall`, `firewall/apply`, `firewall/confirm`, `firewall/revert`, `bans` and
//! `allowlist`: the firewall policy, its safe apply, bans and temporary trust. Viewers read;
//! administrators change.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use http::{StatusCode, header};
use serde::{Deserialize, Serialize};

use app::model::firewall::{
    AllowEntryView, AllowlistView, BanAdded, BanView, FirewallApplied, FirewallStatus,
};
use policy::firewall::FirewallPolicy;

use super::parse_json;
use crate::http::error::ApiError;
use crate::http::extract::{AdminCaller, ApiQuery, IfMatch, SignedIn, etag};
use crate::services::firewall::{self, BanOrigin, NewAllow, NewBan};
use crate::state::AppState;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/firewall", get(get_firewall).put(put_firewall))
        .route("/firewall/ruleset", get(get_ruleset))
        .route("/firewall/apply", post(apply))
        .route("/firewall/confirm", post(confirm))
        .route("/firewall/revert", post(revert))
        .route("/bans", get(list_bans).post(add_ban))
        .route("/bans/{address}", delete(remove_ban))
        .route("/allowlist", get(list_allow).post(add_allow))
        .route("/allowlist/{address}", delete(remove_allow))
}

/// `GET /firewall`: the stored policy and where the kernel stands.
#[derive(Debug, Serialize)]
struct FirewallDoc {
    policy: FirewallPolicy,
    status: FirewallStatus,
}

/// The document with its `ETag` (the policy's version).
fn tagged(doc: FirewallDoc) -> Response {
    let version = doc.status.version;
    let mut res = Json(doc).into_response();
    res.headers_mut().insert(header::ETAG, etag(version));
    res
}

async fn get_firewall(
    State(state): State<AppState>,
    SignedIn(_): SignedIn,
) -> Result<Response, ApiError> {
    let (policy, status) = firewall::status(&state).await?;
    Ok(tagged(FirewallDoc { policy, status }))
}

async fn put_firewall(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    IfMatch(expected): IfMatch,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let raw: FirewallPolicy = parse_json(request).await?;
    firewall::update_policy(&state, &admin, raw, expected).await?;
    let (policy, status) = firewall::status(&state).await?;
    Ok(tagged(FirewallDoc { policy, status }))
}

/// The stored policy's ruleset as the JSON `nft -j -f` gets (administrators only: it
/// lists every trusted network).
async fn get_ruleset(
    State(state): State<AppState>,
    AdminCaller(_): AdminCaller,
) -> Result<Response, ApiError> {
    let json = firewall::ruleset_json(&state).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], json).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplyQuery {
    /// Apply even though the lockout preview lists peers the rules would block.
    #[serde(default)]
    force: bool,
}

async fn apply(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    ApiQuery(query): ApiQuery<ApplyQuery>,
) -> Result<Json<FirewallApplied>, ApiError> {
    Ok(Json(firewall::apply(&state, &admin, query.force).await?))
}

async fn confirm(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
) -> Result<StatusCode, ApiError> {
    firewall::confirm(&state, &admin).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn revert(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
) -> Result<StatusCode, ApiError> {
    firewall::revert(&state, &admin).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_bans(
    State(state): State<AppState>,
    SignedIn(_): SignedIn,
) -> Result<Json<Vec<BanView>>, ApiError> {
    Ok(Json(firewall::bans(&state).await?))
}

async fn add_ban(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    request: axum::extract::Request,
) -> Result<(StatusCode, Json<BanAdded>), ApiError> {
    let body: NewBan = parse_json(request).await?;
    let added = firewall::ban(&state, BanOrigin::Admin(&admin), body).await?;
    Ok((StatusCode::CREATED, Json(added)))
}

async fn remove_ban(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    Path(address): Path<String>,
) -> Result<StatusCode, ApiError> {
    firewall::unban(&state, &admin, &address).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_allow(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
) -> Result<Json<AllowlistView>, ApiError> {
    Ok(Json(firewall::allowlist(&state, caller.source_ip).await?))
}

async fn add_allow(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    request: axum::extract::Request,
) -> Result<(StatusCode, Json<AllowEntryView>), ApiError> {
    let body: NewAllow = parse_json(request).await?;
    Ok((
        StatusCode::CREATED,
        Json(firewall::allow(&state, &admin, body).await?),
    ))
}

async fn remove_allow(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    Path(address): Path<String>,
) -> Result<StatusCode, ApiError> {
    firewall::disallow(&state, &admin, &address).await?;
    Ok(StatusCode::NO_CONTENT)
}
