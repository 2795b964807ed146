//! `/api/v1/config/*`: what an apply would write, applying the PBX model to Asterisk, the
//! revisions it made and rolling back to one. Viewers list revisions; administrators see
//! their files (every account is named; secrets are hidden from everyone) and apply.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::StatusCode;
use serde::Serialize;

use policy::asterisk::redact_secrets;
use wire::Page;
use wire::pbx::{ApplyReport, Preview, RevisionView};

use super::ListQuery;
use crate::http::HttpState;
use crate::http::error::ApiError;
use crate::http::extract::{AdminCaller, ApiQuery, SignedIn};
use crate::services::{config, page};

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(preview, apply, revisions, revision, rollback))]
pub(super) struct ConfigApi;

/// The routes of this module.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/config/preview", get(preview))
        .route("/config/apply", post(apply))
        .route("/config/revisions", get(revisions))
        .route("/config/revisions/{number}", get(revision))
        .route("/config/revisions/{number}/rollback", post(rollback))
}

/// What an apply would write, as diffs against the files on disk (administrators only).
#[utoipa::path(get, operation_id = "preview_config", path = "/api/v1/config/preview", tag = "config",
    responses((status = 200, description = "The diffs", body = Preview), (status = 403, description = "Administrators only"), (status = 409, description = "Conflicts with another object (`problems` lists each)")))]
async fn preview(
    State(state): State<HttpState>,
    // Admins only: the diff names every account (its secrets are hidden from everyone).
    AdminCaller(_): AdminCaller,
) -> Result<Json<Preview>, ApiError> {
    Ok(Json(config::preview(&state).await?))
}

/// 200 with the report when the revision is live; otherwise a 409 problem whose `report`
/// says what failed and which revision is live instead.
fn report_response(report: wire::pbx::ApplyReport) -> Response {
    if report.applied {
        return Json(report).into_response();
    }
    ApiError::new(
        StatusCode::CONFLICT,
        "apply_failed",
        format!(
            "revision {} was not applied: {}",
            report.revision.number, report.revision.message
        ),
    )
    .with("report", &report)
    .into_response()
}

/// Renders the model, writes it, reloads Asterisk and verifies it; rolls back on failure.
#[utoipa::path(post, operation_id = "apply_config", path = "/api/v1/config/apply", tag = "config",
    responses(
        (status = 200, description = "Applied and verified", body = ApplyReport),
        (status = 409, description = "Not applied: `report` says why and which revision is live (or the model cannot be rendered)"),
    ))]
async fn apply(
    State(state): State<HttpState>,
    AdminCaller(admin): AdminCaller,
) -> Result<Response, ApiError> {
    Ok(report_response(config::apply(&state, &admin).await?))
}

/// Configuration revisions, newest first.
#[utoipa::path(get, operation_id = "list_revisions", path = "/api/v1/config/revisions", tag = "config", params(ListQuery),
    responses((status = 200, description = "One page of revisions", body = Page<RevisionView>)))]
async fn revisions(
    State(state): State<HttpState>,
    SignedIn(_): SignedIn,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Page<RevisionView>>, ApiError> {
    let before = page::id_cursor(query.cursor.as_deref())?;
    Ok(Json(
        config::revisions(&state, before, page::limit(query.limit)).await?,
    ))
}

/// A revision with the files it wrote.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct RevisionFiles {
    #[serde(flatten)]
    revision: RevisionView,
    contents: Vec<FileContents>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct FileContents {
    name: String,
    contents: String,
}

fn revision_number(raw: &str) -> Result<i32, ApiError> {
    raw.parse::<i32>().ok().filter(|n| *n > 0).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "number: a revision number is a positive integer",
        )
        .with("field", "number")
    })
}

/// One revision with the files it wrote (administrators only), secrets hidden: AMI
/// `secret=` and `md5_cred=` values read `(hidden)`.
#[utoipa::path(get, operation_id = "get_revision", path = "/api/v1/config/revisions/{number}", tag = "config",
    params(("number" = i32, Path, minimum = 1, description = "The revision's number")),
    responses(
        (status = 200, description = "The revision and its files", body = RevisionFiles),
        (status = 403, description = "Administrators only"), (status = 404, description = "No such revision"),
        (status = 422, description = "The number is not a positive integer"),
    ))]
async fn revision(
    State(state): State<HttpState>,
    AdminCaller(_): AdminCaller,
    Path(number): Path<String>,
) -> Result<Json<RevisionFiles>, ApiError> {
    // Admins only: the files name every account; their secrets are hidden from everyone.
    let (revision, files) = config::revision(&state, revision_number(&number)?).await?;
    Ok(Json(RevisionFiles {
        revision,
        contents: files
            .into_iter()
            .map(|(name, contents)| FileContents {
                name,
                contents: redact_secrets(&contents),
            })
            .collect(),
    }))
}

/// Applies an earlier revision's files again (as a new revision).
#[utoipa::path(post, operation_id = "rollback_revision", path = "/api/v1/config/revisions/{number}/rollback", tag = "config",
    params(("number" = i32, Path, minimum = 1, description = "The revision's number")),
    responses(
        (status = 200, description = "Applied and verified", body = ApplyReport),
        (status = 404, description = "No such revision"),
        (status = 409, description = "Not applied: `report` says why and which revision is live"),
        (status = 422, description = "The number is not a positive integer"),
    ))]
async fn rollback(
    State(state): State<HttpState>,
    AdminCaller(admin): AdminCaller,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    let number = revision_number(&number)?;
    Ok(report_response(
        config::rollback(&state, &admin, number).await?,
    ))
}
