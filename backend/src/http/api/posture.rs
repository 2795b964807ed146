//! `/api/v1/posture`: the hardening findings over the stored model and the files on disk,
//! worst first, with the score. Any signed-in user.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use policy::posture::Posture;

use crate::http::error::ApiError;
use crate::http::extract::SignedIn;
use crate::state::AppState;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new().route("/posture", get(posture))
}

async fn posture(
    State(state): State<AppState>,
    SignedIn(_): SignedIn,
) -> Result<Json<Posture>, ApiError> {
    Ok(Json(crate::services::posture::posture(&state).await?))
}
