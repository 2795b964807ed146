//! `/api/v1/users`: console users and their lifecycle (create, list, disable and enable,
//! delete, reset a password, end their sessions). Changing who has access needs an
//! administrator's console session or an `admin`-scope token; listing, any administrator.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use http::StatusCode;
use serde::{Deserialize, Serialize};

use wire::{Page, Role};

use super::{ListQuery, parse_json, secret_response};
use crate::http::HttpState;
use crate::http::error::ApiError;
use crate::http::extract::{AccessAdminCaller, AdminCaller, ApiQuery};
use crate::services::users::{self, Actor};
use crate::services::{accounts, page};

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list_users,
    create_user,
    disable_user,
    enable_user,
    delete_user,
    reset_password,
    end_sessions,
    remove_second_factor
))]
pub(super) struct UsersApi;

/// The routes of this module.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/users", get(list_users).post(create_user))
        .route("/users/{username}", delete(delete_user))
        .route("/users/{username}/disable", post(disable_user))
        .route("/users/{username}/enable", post(enable_user))
        .route("/users/{username}/password", post(reset_password))
        .route("/users/{username}/sessions", delete(end_sessions))
        .route(
            "/users/{username}/second-factor",
            delete(remove_second_factor),
        )
}

/// `POST /api/v1/users` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    /// 1 to 64 letters, digits, `.`, `-`, `_`.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub username: String,
    /// At least 12 characters, not containing the username.
    #[schema(min_length = 12, max_length = 1024)]
    pub password: String,
    pub role: Role,
}

/// Console users by name (administrators only).
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "users",
    params(ListQuery),
    responses(
        (status = 200, description = "One page of users", body = Page<accounts::UserView>),
        (status = 403, description = "Administrators only"),
    )
)]
async fn list_users(
    State(state): State<HttpState>,
    AdminCaller(admin): AdminCaller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Page<accounts::UserView>>, ApiError> {
    let cursor = page::name_cursor(query.cursor.as_deref())?;
    accounts::list_users(&state.db, &admin, cursor, page::limit(query.limit))
        .await
        .map(Json)
        .map_err(|e| accounts::AccountError::from(e).into())
}

/// Creates a console user (administrators only).
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "users",
    request_body = NewUserRequest,
    responses((status = 201, description = "Created"))
)]
async fn create_user(
    State(state): State<HttpState>,
    AccessAdminCaller(admin): AccessAdminCaller,
    request: axum::extract::Request,
) -> Result<StatusCode, ApiError> {
    let body: NewUserRequest = parse_json(request).await?;
    accounts::create_user(
        &state.db,
        accounts::Actor::Admin(&admin),
        &body.username,
        &body.password,
        body.role,
    )
    .await?;
    Ok(StatusCode::CREATED)
}

/// Disables a user: their sessions end, they cannot sign in, and the API tokens they made
/// stop authenticating until they are enabled again. The last enabled administrator cannot
/// be disabled (409).
#[utoipa::path(post, path = "/api/v1/users/{username}/disable", tag = "users",
    params(("username" = String, Path, description = "The user")),
    responses((status = 204, description = "Disabled (or already was)"),
        (status = 404, description = "No such user"),
        (status = 409, description = "It is the last enabled administrator")))]
async fn disable_user(
    State(state): State<HttpState>,
    AccessAdminCaller(admin): AccessAdminCaller,
    Path(username): Path<String>,
) -> Result<StatusCode, ApiError> {
    users::disable(&state.db, Actor::Admin(&admin), &username).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Enables a disabled user again.
#[utoipa::path(post, path = "/api/v1/users/{username}/enable", tag = "users",
    params(("username" = String, Path, description = "The user")),
    responses((status = 204, description = "Enabled (or already was)"),
        (status = 404, description = "No such user")))]
async fn enable_user(
    State(state): State<HttpState>,
    AccessAdminCaller(admin): AccessAdminCaller,
    Path(username): Path<String>,
) -> Result<StatusCode, ApiError> {
    users::enable(&state.db, Actor::Admin(&admin), &username).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a user with their sessions and revokes the API tokens they made. The last
/// enabled administrator cannot be deleted (409).
#[utoipa::path(delete, path = "/api/v1/users/{username}", tag = "users",
    params(("username" = String, Path, description = "The user")),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such user"),
        (status = 409, description = "It is the last enabled administrator")))]
async fn delete_user(
    State(state): State<HttpState>,
    AccessAdminCaller(admin): AccessAdminCaller,
    Path(username): Path<String>,
) -> Result<StatusCode, ApiError> {
    users::delete(&state.db, Actor::Admin(&admin), &username).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/users/{username}/password` body: the new password, or nothing to have one
/// generated.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPassword {
    /// At least 12 characters, not containing the username; omitted: generated.
    #[schema(min_length = 12, max_length = 1024)]
    pub password: Option<String>,
}

/// A generated password, shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GeneratedPassword {
    pub password: String,
}

/// Sets a user's password and ends all their sessions. Without a password in the body one
/// is generated and answered this once (`Cache-Control: no-store`).
#[utoipa::path(post, path = "/api/v1/users/{username}/password", tag = "users",
    params(("username" = String, Path, description = "The user")),
    request_body(content = ResetPassword, description = "Optional"),
    responses((status = 200, description = "The generated password", body = GeneratedPassword),
        (status = 204, description = "The given password is set"),
        (status = 404, description = "No such user"),
        (status = 422, description = "The password breaks the password rules")))]
async fn reset_password(
    State(state): State<HttpState>,
    AccessAdminCaller(admin): AccessAdminCaller,
    Path(username): Path<String>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    // The body is already in memory (`middleware::body_deadline`); an empty one, however
    // it was sent (chunked included), asks for a generated password.
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, crate::http::MAX_BODY_BYTES)
        .await
        .unwrap_or_default();
    let body: ResetPassword = if bytes.iter().all(u8::is_ascii_whitespace) {
        ResetPassword::default()
    } else {
        parse_json(axum::extract::Request::from_parts(
            parts,
            axum::body::Body::from(bytes),
        ))
        .await?
    };
    let generated = users::reset_password(
        &state.db,
        Actor::Admin(&admin),
        &username,
        body.password.as_deref(),
    )
    .await?;
    Ok(match generated {
        Some(password) => secret_response(StatusCode::OK, GeneratedPassword { password }),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// How many sessions ended.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EndedSessions {
    pub ended: u64,
}

/// Ends every console session of a user (a lost laptop, a shared screen).
#[utoipa::path(delete, path = "/api/v1/users/{username}/sessions", tag = "users",
    params(("username" = String, Path, description = "The user")),
    responses((status = 200, description = "Sessions ended", body = EndedSessions),
        (status = 404, description = "No such user")))]
async fn end_sessions(
    State(state): State<HttpState>,
    AccessAdminCaller(admin): AccessAdminCaller,
    Path(username): Path<String>,
) -> Result<Json<EndedSessions>, ApiError> {
    let ended = users::end_sessions(&state.db, Actor::Admin(&admin), &username).await?;
    Ok(Json(EndedSessions { ended }))
}

/// Removes a user's second factor and recovery codes (a lost phone) and ends their
/// sessions: they sign in with their password and set up a new authenticator app.
#[utoipa::path(delete, path = "/api/v1/users/{username}/second-factor", tag = "users",
    params(("username" = String, Path, description = "The user")),
    responses((status = 204, description = "Removed (or there was none)"),
        (status = 404, description = "No such user")))]
async fn remove_second_factor(
    State(state): State<HttpState>,
    AccessAdminCaller(admin): AccessAdminCaller,
    Path(username): Path<String>,
) -> Result<StatusCode, ApiError> {
    users::remove_second_factor(&state.db, Actor::Admin(&admin), &username).await?;
    Ok(StatusCode::NO_CONTENT)
}
