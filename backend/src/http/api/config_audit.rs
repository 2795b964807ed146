//! `/api/v1/audit/config`: the audit of an Asterisk configuration sipwarden did not write,
//! uploaded as a tar or tar.gz archive of its configuration directory. Nothing uploaded is
//! kept (the files hold plain secrets); the report names files and lines, never a secret.
//! Any signed-in user: it reads nothing of sipwarden's and changes nothing.

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use http::StatusCode;

use wire::config_audit::ConfigAudit;

use crate::config_audit::{AuditError, audit_upload};
use crate::http::HttpState;
use crate::http::error::ApiError;
use crate::http::extract::SignedIn;

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(audit_config))]
pub(super) struct ConfigAuditApi;

/// The routes of this module.
pub fn routes() -> Router<HttpState> {
    // The 8 MiB limit is `http::body_limit`'s, for this path.
    Router::new().route("/audit/config", post(audit_config))
}

/// Audits an uploaded configuration: the weaknesses of the seven hardening steps with file
/// and line, worst first, and a score on the posture's scale.
#[utoipa::path(post, operation_id = "audit_config", path = "/api/v1/audit/config", tag = "posture",
    request_body(content = Vec<u8>, description = "A tar or tar.gz archive of Asterisk's configuration directory (at most 8 MiB; the content type is not read)", content_type = "application/octet-stream"),
    responses(
        (status = 200, description = "The audit", body = ConfigAudit),
        (status = 413, description = "Larger than 8 MiB"),
        (status = 422, description = "Not an archive, no configuration in it, or a file Asterisk could not read either (file and line named)")))]
async fn audit_config(
    State(_): State<HttpState>,
    SignedIn(_): SignedIn,
    body: Bytes,
) -> Result<Json<ConfigAudit>, ApiError> {
    // Expanding and parsing up to 64 MiB is work for a blocking thread, not the runtime's.
    let report = tokio::task::spawn_blocking(move || audit_upload(&body))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "the configuration audit stopped");
            ApiError::internal()
        })?;
    report.map(Json).map_err(|e| match e {
        AuditError::Archive(e) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-archive",
            e.to_string(),
        ),
        AuditError::Unreadable(e) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unreadable-configuration",
            e,
        ),
    })
}
