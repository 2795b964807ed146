//! `/api/v1/firewall`, `firewall/apply`, `firewall/confirm`, `firewall/revert`, `bans` and
//! `allowlist`: the firewall policy, its safe apply, bans and temporary trust. Viewers read;
//! administrators change.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use http::{StatusCode, header};
use serde::{Deserialize, Serialize};

use policy::firewall::FirewallPolicy;
use wire::Page;
use wire::firewall::{
    AllowEntryView, AllowlistView, BanAdded, BanView, FirewallApplied, FirewallStatus,
};

use super::{ListQuery, parse_json, tagged};
use crate::http::HttpState;
use crate::http::error::ApiError;
use crate::http::extract::{AdminCaller, ApiQuery, IfMatch, SignedIn};
use crate::services::firewall::{self, BanOrigin, NewAllow, NewBan};
use crate::services::page;

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    get_firewall,
    put_firewall,
    get_ruleset,
    apply,
    confirm,
    revert,
    list_bans,
    add_ban,
    remove_ban,
    list_allow,
    add_allow,
    remove_allow
))]
pub(super) struct FirewallApi;

/// The routes of this module.
pub fn routes() -> Router<HttpState> {
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
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct FirewallDoc {
    policy: FirewallPolicy,
    status: FirewallStatus,
}

/// The stored firewall policy and the kernel's state.
#[utoipa::path(get, path = "/api/v1/firewall", tag = "firewall",
    responses((status = 200, description = "Policy and status", body = FirewallDoc,
        headers(("ETag" = String, description = "The policy's version, for `If-Match`")))))]
async fn get_firewall(
    State(state): State<HttpState>,
    SignedIn(_): SignedIn,
) -> Result<Response, ApiError> {
    let (policy, status) = firewall::status(&state).await?;
    Ok(tagged(status.version, FirewallDoc { policy, status }))
}

/// Replaces the firewall policy (absent fields take their defaults); nothing reaches the
/// kernel until an apply.
#[utoipa::path(put, path = "/api/v1/firewall", tag = "firewall", request_body = FirewallPolicy,
    params(("If-Match" = Option<String>, Header, description = "Only update this version: the `ETag` of the last read (`\"v3\"`), or `*`")),
    responses(
        (status = 200, description = "Stored", body = FirewallDoc,
            headers(("ETag" = String, description = "The new version"))),
        (status = 412, description = "`If-Match` names another version (`current_version` says which is current)"),
    ))]
async fn put_firewall(
    State(state): State<HttpState>,
    AdminCaller(admin): AdminCaller,
    IfMatch(expected): IfMatch,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let raw: FirewallPolicy = parse_json(request).await?;
    firewall::update_policy(&state, &admin, raw, expected).await?;
    let (policy, status) = firewall::status(&state).await?;
    Ok(tagged(status.version, FirewallDoc { policy, status }))
}

/// The stored policy's ruleset as the JSON `nft -j -f` gets (administrators only: it
/// lists every trusted network).
/// The stored policy's ruleset as `nft -j -f` takes it (administrators only).
#[utoipa::path(get, path = "/api/v1/firewall/ruleset", tag = "firewall",
    responses((status = 200, description = "The nftables JSON ruleset", body = Object), (status = 403, description = "Administrators only")))]
async fn get_ruleset(
    State(state): State<HttpState>,
    AdminCaller(_): AdminCaller,
) -> Result<Response, ApiError> {
    let json = firewall::ruleset_json(&state).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], json).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ApplyQuery {
    /// Apply even though the lockout preview lists peers the rules would block.
    #[serde(default)]
    force: bool,
}

/// Applies the stored policy to the kernel; it reverts by itself unless confirmed in time.
#[utoipa::path(post, operation_id = "apply_firewall", path = "/api/v1/firewall/apply", tag = "firewall", params(ApplyQuery),
    responses(
        (status = 200, description = "What happened", body = FirewallApplied),
        (status = 409, description = "Applying would lock out peers (`lockout` lists them; repeat with `?force=true`)"),
        (status = 503, description = "The kernel firewall could not be changed (nothing changed there)"),
    ))]
async fn apply(
    State(state): State<HttpState>,
    AdminCaller(admin): AdminCaller,
    ApiQuery(query): ApiQuery<ApplyQuery>,
) -> Result<Json<FirewallApplied>, ApiError> {
    Ok(Json(firewall::apply(&state, &admin, query.force).await?))
}

/// Keeps the pending firewall change.
#[utoipa::path(post, operation_id = "confirm_firewall", path = "/api/v1/firewall/confirm", tag = "firewall",
    responses((status = 204, description = "Confirmed"), (status = 409, description = "Nothing waits for confirmation"), (status = 503, description = "The kernel firewall could not be changed (nothing changed there)")))]
async fn confirm(
    State(state): State<HttpState>,
    AdminCaller(admin): AdminCaller,
) -> Result<StatusCode, ApiError> {
    firewall::confirm(&state, &admin).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reverts the pending firewall change now.
#[utoipa::path(post, operation_id = "revert_firewall", path = "/api/v1/firewall/revert", tag = "firewall",
    responses((status = 204, description = "Reverted"), (status = 409, description = "Nothing waits for confirmation"), (status = 503, description = "The kernel firewall could not be changed (nothing changed there)")))]
async fn revert(
    State(state): State<HttpState>,
    AdminCaller(admin): AdminCaller,
) -> Result<StatusCode, ApiError> {
    firewall::revert(&state, &admin).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The active bans, newest first.
#[utoipa::path(get, path = "/api/v1/bans", tag = "firewall", params(ListQuery),
    responses((status = 200, description = "One page of bans", body = Page<BanView>)))]
async fn list_bans(
    State(state): State<HttpState>,
    SignedIn(_): SignedIn,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Page<BanView>>, ApiError> {
    Ok(Json(
        firewall::bans_page(&state, query.cursor.as_deref(), page::limit(query.limit)).await?,
    ))
}

/// Bans an address (in the kernel at once when the firewall is applied).
#[utoipa::path(post, path = "/api/v1/bans", tag = "firewall", request_body = NewBan,
    responses(
        (status = 201, description = "Banned", body = BanAdded),
        (status = 409, description = "The address may not be banned (loopback, trusted or allowlisted)"),
        (status = 503, description = "The kernel firewall could not be changed (nothing changed there)"),
    ))]
async fn add_ban(
    State(state): State<HttpState>,
    AdminCaller(admin): AdminCaller,
    request: axum::extract::Request,
) -> Result<(StatusCode, Json<BanAdded>), ApiError> {
    let body: NewBan = parse_json(request).await?;
    let added = firewall::ban(&state, BanOrigin::Admin(&admin), body).await?;
    Ok((StatusCode::CREATED, Json(added)))
}

/// Lifts a ban.
#[utoipa::path(delete, path = "/api/v1/bans/{address}", tag = "firewall",
    params(("address" = String, Path, description = "The banned address")),
    responses((status = 204, description = "Lifted"), (status = 404, description = "Not banned"),
        (status = 422, description = "Not an IP address"), (status = 503, description = "The kernel firewall could not be changed (nothing changed there)")))]
async fn remove_ban(
    State(state): State<HttpState>,
    AdminCaller(admin): AdminCaller,
    Path(address): Path<String>,
) -> Result<StatusCode, ApiError> {
    firewall::unban(&state, &admin, &address).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The allowlist: networks the policy pins and temporary entries.
#[utoipa::path(get, path = "/api/v1/allowlist", tag = "firewall",
    responses((status = 200, description = "The allowlist", body = AllowlistView)))]
async fn list_allow(
    State(state): State<HttpState>,
    SignedIn(caller): SignedIn,
) -> Result<Json<AllowlistView>, ApiError> {
    Ok(Json(firewall::allowlist(&state, caller.source_ip).await?))
}

/// Trusts an address (the caller's own when none is given) for some hours.
#[utoipa::path(post, path = "/api/v1/allowlist", tag = "firewall", request_body = NewAllow,
    responses(
        (status = 201, description = "Trusted", body = AllowEntryView),
        (status = 409, description = "The policy trusts it already"),
        (status = 503, description = "The kernel firewall could not be changed (nothing changed there)"),
    ))]
async fn add_allow(
    State(state): State<HttpState>,
    AdminCaller(admin): AdminCaller,
    request: axum::extract::Request,
) -> Result<(StatusCode, Json<AllowEntryView>), ApiError> {
    let body: NewAllow = parse_json(request).await?;
    Ok((
        StatusCode::CREATED,
        Json(firewall::allow(&state, &admin, body).await?),
    ))
}

/// Removes a temporary allow entry.
#[utoipa::path(delete, path = "/api/v1/allowlist/{address}", tag = "firewall",
    params(("address" = String, Path, description = "The trusted address")),
    responses((status = 204, description = "Removed"), (status = 404, description = "Not in the list"),
        (status = 422, description = "Not an IP address"), (status = 503, description = "The kernel firewall could not be changed (nothing changed there)")))]
async fn remove_allow(
    State(state): State<HttpState>,
    AdminCaller(admin): AdminCaller,
    Path(address): Path<String>,
) -> Result<StatusCode, ApiError> {
    firewall::disallow(&state, &admin, &address).await?;
    Ok(StatusCode::NO_CONTENT)
}
