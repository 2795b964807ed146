//! `/api/v1/endpoints`, `trunks`, `ami-users`, `policy` and `config/*`: the PBX model and
//! applying it. Viewers read; administrators change. Responses that carry a secret are
//! marked `Cache-Control: no-store`.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::{HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};

use app::model::pbx::{AmiUserView, EndpointList, Preview, RevisionView, TrunkView};
use policy::asterisk::{NewAmiUser, NewEndpoint, NewTrunk, PolicySettings};

use super::parse_json;
use crate::http::error::ApiError;
use crate::http::extract::{AdminCaller, ApiQuery, IfMatch, SignedIn, etag};
use crate::services::{config, pbx};
use crate::state::AppState;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/endpoints", get(list_endpoints).post(create_endpoint))
        .route(
            "/endpoints/{id}",
            get(get_endpoint)
                .put(update_endpoint)
                .delete(delete_endpoint),
        )
        .route("/endpoints/{id}/secret", post(rotate_endpoint_secret))
        .route("/trunks", get(list_trunks).post(create_trunk))
        .route(
            "/trunks/{name}",
            get(get_trunk).put(update_trunk).delete(delete_trunk),
        )
        .route("/ami-users", get(list_ami_users).post(create_ami_user))
        .route(
            "/ami-users/{name}",
            get(get_ami_user)
                .put(update_ami_user)
                .delete(delete_ami_user),
        )
        .route("/ami-users/{name}/secret", post(rotate_ami_secret))
        .route("/policy", get(get_policy).put(update_policy))
        .route("/config/preview", get(preview))
        .route("/config/apply", post(apply))
        .route("/config/revisions", get(revisions))
        .route("/config/revisions/{number}", get(revision))
        .route("/config/revisions/{number}/rollback", post(rollback))
}

/// An object with its `ETag` (send it back in `If-Match` to update only that version).
fn tagged<T: Serialize>(version: i32, body: T) -> Response {
    let mut res = Json(body).into_response();
    res.headers_mut().insert(header::ETAG, etag(version));
    res
}

/// A created object (201) or a rotated secret (200), never cached anywhere.
fn secret_response(status: StatusCode, body: impl Serialize) -> Response {
    let mut res = (status, Json(body)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointQuery {
    /// Search in extension, name and id.
    q: Option<String>,
    /// The `next_after` of the previous page.
    after: Option<String>,
    /// Page size, 1 to 500 (100 by default).
    limit: Option<u64>,
}

async fn list_endpoints(
    State(state): State<AppState>,
    SignedIn(_): SignedIn,
    ApiQuery(query): ApiQuery<EndpointQuery>,
) -> Result<Json<EndpointList>, ApiError> {
    Ok(Json(
        pbx::list_endpoints(
            &state.db,
            query.q.as_deref(),
            query.after.as_deref(),
            query.limit.unwrap_or(100),
        )
        .await?,
    ))
}

async fn create_endpoint(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let body: NewEndpoint = parse_json(request).await?;
    let created = pbx::create_endpoint(&state, &admin, body).await?;
    let mut res = secret_response(StatusCode::CREATED, &created);
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/endpoints/{}", created.object.id)) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

async fn get_endpoint(
    State(state): State<AppState>,
    SignedIn(_): SignedIn,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let view = pbx::get_endpoint(&state.db, &id).await?;
    Ok(tagged(view.version, view))
}

async fn update_endpoint(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    IfMatch(expected): IfMatch,
    Path(id): Path<String>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let body: NewEndpoint = parse_json(request).await?;
    let view = pbx::update_endpoint(&state, &admin, &id, body, expected).await?;
    Ok(tagged(view.version, view))
}

async fn delete_endpoint(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    pbx::delete_endpoint(&state, &admin, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST …/secret` body: a secret to set, or nothing (or `{}`) for a generated one.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateRequest {
    secret: Option<String>,
}

async fn rotate_body(request: axum::extract::Request) -> Result<RotateRequest, ApiError> {
    let empty = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .is_some_and(|v| v == "0")
        || !request.headers().contains_key(header::CONTENT_TYPE);
    if empty {
        return Ok(RotateRequest::default());
    }
    parse_json(request).await
}

async fn rotate_endpoint_secret(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    Path(id): Path<String>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let body = rotate_body(request).await?;
    let rotated = pbx::rotate_endpoint_secret(&state, &admin, &id, body.secret).await?;
    Ok(secret_response(StatusCode::OK, rotated))
}

async fn list_trunks(
    State(state): State<AppState>,
    SignedIn(_): SignedIn,
) -> Result<Json<Vec<TrunkView>>, ApiError> {
    Ok(Json(pbx::list_trunks(&state.db).await?))
}

async fn create_trunk(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let body: NewTrunk = parse_json(request).await?;
    let created = pbx::create_trunk(&state, &admin, body).await?;
    let mut res = (StatusCode::CREATED, Json(&created)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/trunks/{}", created.name)) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

async fn get_trunk(
    State(state): State<AppState>,
    SignedIn(_): SignedIn,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let view = pbx::get_trunk(&state.db, &name).await?;
    Ok(tagged(view.version, view))
}

async fn update_trunk(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    IfMatch(expected): IfMatch,
    Path(name): Path<String>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let body: NewTrunk = parse_json(request).await?;
    let view = pbx::update_trunk(&state, &admin, &name, body, expected).await?;
    Ok(tagged(view.version, view))
}

async fn delete_trunk(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    pbx::delete_trunk(&state, &admin, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_ami_users(
    State(state): State<AppState>,
    SignedIn(_): SignedIn,
) -> Result<Json<Vec<AmiUserView>>, ApiError> {
    Ok(Json(pbx::list_ami_users(&state.db).await?))
}

async fn create_ami_user(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let body: NewAmiUser = parse_json(request).await?;
    let created = pbx::create_ami_user(&state, &admin, body).await?;
    let mut res = secret_response(StatusCode::CREATED, &created);
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/ami-users/{}", created.object.name)) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

async fn get_ami_user(
    State(state): State<AppState>,
    SignedIn(_): SignedIn,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let view = pbx::get_ami_user(&state.db, &name).await?;
    Ok(tagged(view.version, view))
}

async fn update_ami_user(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    IfMatch(expected): IfMatch,
    Path(name): Path<String>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let body: NewAmiUser = parse_json(request).await?;
    let view = pbx::update_ami_user(&state, &admin, &name, body, expected).await?;
    Ok(tagged(view.version, view))
}

async fn delete_ami_user(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    pbx::delete_ami_user(&state, &admin, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn rotate_ami_secret(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    Path(name): Path<String>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let body = rotate_body(request).await?;
    let rotated = pbx::rotate_ami_secret(&state, &admin, &name, body.secret).await?;
    Ok(secret_response(StatusCode::OK, rotated))
}

/// The policy and its version.
#[derive(Debug, Serialize)]
struct PolicyView {
    #[serde(flatten)]
    settings: PolicySettings,
    version: i32,
}

async fn get_policy(
    State(state): State<AppState>,
    SignedIn(_): SignedIn,
) -> Result<Response, ApiError> {
    let (settings, version) = pbx::get_policy(&state.db).await?;
    Ok(tagged(version, PolicyView { settings, version }))
}

async fn update_policy(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    IfMatch(expected): IfMatch,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let body: PolicySettings = parse_json(request).await?;
    let (settings, version) = pbx::update_policy(&state, &admin, body, expected).await?;
    Ok(tagged(version, PolicyView { settings, version }))
}

async fn preview(
    State(state): State<AppState>,
    // Admins only: the diff of manager.conf shows AMI secrets.
    AdminCaller(_): AdminCaller,
) -> Result<Json<Preview>, ApiError> {
    Ok(Json(config::preview(&state).await?))
}

/// 200 with the report when the revision is live; otherwise a 409 problem whose `report`
/// says what failed and which revision is live instead.
fn report_response(report: app::model::pbx::ApplyReport) -> Response {
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

async fn apply(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
) -> Result<Response, ApiError> {
    Ok(report_response(config::apply(&state, &admin).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevisionQuery {
    limit: Option<u64>,
}

async fn revisions(
    State(state): State<AppState>,
    SignedIn(_): SignedIn,
    ApiQuery(query): ApiQuery<RevisionQuery>,
) -> Result<Json<Vec<RevisionView>>, ApiError> {
    Ok(Json(
        config::revisions(&state, query.limit.unwrap_or(50)).await?,
    ))
}

/// A revision with the files it wrote.
#[derive(Debug, Serialize)]
struct RevisionFiles {
    #[serde(flatten)]
    revision: RevisionView,
    contents: Vec<FileContents>,
}

#[derive(Debug, Serialize)]
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

async fn revision(
    State(state): State<AppState>,
    AdminCaller(_): AdminCaller,
    Path(number): Path<String>,
) -> Result<Json<RevisionFiles>, ApiError> {
    // Admins only: the files include manager.conf with AMI secrets.
    let (revision, files) = config::revision(&state, revision_number(&number)?).await?;
    Ok(Json(RevisionFiles {
        revision,
        contents: files
            .into_iter()
            .map(|(name, contents)| FileContents { name, contents })
            .collect(),
    }))
}

async fn rollback(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    let number = revision_number(&number)?;
    Ok(report_response(
        config::rollback(&state, &admin, number).await?,
    ))
}
