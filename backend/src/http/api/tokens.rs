//! `/api/v1/tokens`: API tokens (administrators only). The token value is in the creating
//! response only (`Cache-Control: no-store`).

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{delete, get};
use axum::{Json, Router};
use http::StatusCode;

use wire::Page;
use wire::tokens::TokenView;

use super::{ListQuery, parse_json, secret_response};
use crate::http::HttpState;
use crate::http::error::ApiError;
use crate::http::extract::{AccessAdminCaller, AdminCaller, ApiQuery};
use crate::services::page;
use crate::services::tokens::{self, NewToken, TokenError};

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, revoke))]
pub(super) struct TokensApi;

/// The routes of this module.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/tokens", get(list).post(create))
        .route("/tokens/{id}", delete(revoke))
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        match e {
            e @ TokenError::BadValue { field, .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                e.to_string(),
            )
            .with("field", field),
            e @ TokenError::NotFound(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
            }
            TokenError::Internal(cause) => cause.into(),
        }
    }
}

/// API tokens, newest first, without their values (administrators only).
#[utoipa::path(get, operation_id = "list_tokens", path = "/api/v1/tokens", tag = "tokens", params(ListQuery),
    responses((status = 200, description = "One page of tokens", body = Page<TokenView>), (status = 403, description = "Administrators only")))]
async fn list(
    State(state): State<HttpState>,
    AdminCaller(_): AdminCaller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Page<TokenView>>, ApiError> {
    let before = page::id_cursor(query.cursor.as_deref())?;
    Ok(Json(
        tokens::list(&state, before, page::limit(query.limit)).await?,
    ))
}

/// Creates an API token; its value is in this response only.
#[utoipa::path(post, operation_id = "create_token", path = "/api/v1/tokens", tag = "tokens", request_body = NewToken,
    responses((status = 201, description = "Created, with its value (shown this once)", body = wire::tokens::CreatedToken)))]
async fn create(
    State(state): State<HttpState>,
    AccessAdminCaller(admin): AccessAdminCaller,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let body: NewToken = parse_json(request).await?;
    let created = tokens::create(&state, &admin, body).await?;
    Ok(secret_response(StatusCode::CREATED, created))
}

/// Revokes a token at once.
#[utoipa::path(delete, operation_id = "revoke_token", path = "/api/v1/tokens/{id}", tag = "tokens",
    params(("id" = i32, Path, description = "The token's id")),
    responses((status = 200, description = "Revoked", body = TokenView), (status = 404, description = "No such token")))]
async fn revoke(
    State(state): State<HttpState>,
    AccessAdminCaller(admin): AccessAdminCaller,
    Path(id): Path<String>,
) -> Result<Json<TokenView>, ApiError> {
    let id: i32 = id
        .parse()
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "not_found", "token ids are numbers"))?;
    Ok(Json(tokens::revoke(&state, &admin, id).await?))
}
