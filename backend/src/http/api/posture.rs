//! `/api/v1/posture`: the hardening findings over the stored model and the files on disk,
//! worst first, with the score. Any signed-in user.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use policy::posture::Posture;

use crate::http::HttpState;
use crate::http::error::ApiError;
use crate::http::extract::SignedIn;

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(posture))]
pub(super) struct PostureApi;

/// The routes of this module.
pub fn routes() -> Router<HttpState> {
    Router::new().route("/posture", get(posture))
}

/// The hardening findings (worst first) and the score.
#[utoipa::path(get, operation_id = "get_posture", path = "/api/v1/posture", tag = "posture",
    responses((status = 200, description = "Findings and score", body = Posture)))]
async fn posture(
    State(state): State<HttpState>,
    SignedIn(_): SignedIn,
) -> Result<Json<Posture>, ApiError> {
    Ok(Json(crate::services::posture::posture(&state).await?))
}
