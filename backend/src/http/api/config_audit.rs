//! An Asterisk configuration sipwarden did not write, uploaded as a tar or tar.gz archive of
//! its configuration directory: `/api/v1/audit/config` audits it (any signed-in user: it
//! reads nothing of sipwarden's and changes nothing), `/api/v1/import/config` takes it over
//! into the model (administrators). The upload itself is never kept (the files hold plain
//! secrets); reports name files and lines, never a secret from the upload.

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use http::StatusCode;

use axum::response::Response;
use policy::import::ImportOptions;
use wire::config_audit::ConfigAudit;
use wire::config_import::ConfigImport;

use super::secret_response;
use crate::config_audit::archive::{ArchiveError, read_archive};
use crate::config_audit::{AuditError, audit_upload};
use crate::http::HttpState;
use crate::http::error::ApiError;
use crate::http::extract::{AdminCaller, ApiQuery, SignedIn};
use crate::services::pbx::{ImportRequest, import_configuration};

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(audit_config, import_config))]
pub(super) struct ConfigAuditApi;

/// The routes of this module.
pub fn routes() -> Router<HttpState> {
    // The 8 MiB limit is `http::body_limit`'s, for this path.
    Router::new()
        .route("/audit/config", post(audit_config))
        .route("/import/config", post(import_config))
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
        AuditError::Archive(e) => invalid_archive(&e),
        AuditError::Unreadable(e) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unreadable-configuration",
            e,
        ),
    })
}

fn invalid_archive(e: &ArchiveError) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-archive",
        e.to_string(),
    )
}

/// How to import.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ImportQuery {
    /// Check and report only; store nothing.
    dry_run: bool,
    /// Contexts mapped to calling classes instead of by their reach in the dialplan:
    /// `from-internal=national,ceo=international`.
    classes: Option<String>,
}

/// Takes an uploaded configuration over into the model: phones become endpoints that keep
/// the names and secrets they register with (only digests are stored), providers trunks,
/// `manager.conf` users AMI users. The answer lists what was taken, what changed on the way
/// in and what could not be represented; a generated AMI secret is in it this once. Nothing
/// is rendered: apply the configuration afterwards.
#[utoipa::path(post, operation_id = "import_config", path = "/api/v1/import/config", tag = "pbx",
    params(ImportQuery),
    request_body(content = Vec<u8>, description = "A tar or tar.gz archive of Asterisk's configuration directory (at most 8 MiB; the content type is not read)", content_type = "application/octet-stream"),
    responses(
        (status = 200, description = "What was imported (or, with dry_run, would be)", body = ConfigImport),
        (status = 409, description = "What the import adds breaks a rule across objects (`problems` lists each); nothing was stored"),
        (status = 413, description = "Larger than 8 MiB"),
        (status = 422, description = "Not an archive, no configuration in it, a file Asterisk could not read either (file and line named), or a bad query")))]
async fn import_config(
    State(state): State<HttpState>,
    AdminCaller(admin): AdminCaller,
    ApiQuery(query): ApiQuery<ImportQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let pairs: Vec<String> = query
        .classes
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    let options = ImportOptions::from_pairs(&pairs).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_query",
            e.to_string(),
        )
    })?;
    let files = tokio::task::spawn_blocking(move || read_archive(&body))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "reading the configuration archive stopped");
            ApiError::internal()
        })?
        .map_err(|e| invalid_archive(&e))?;
    let request = ImportRequest {
        files,
        options,
        dry_run: query.dry_run,
    };
    let report = import_configuration(&state, Some(&admin), request).await?;
    // A generated AMI secret may be in it: not for any cache.
    Ok(secret_response(StatusCode::OK, report))
}
