//! `/api/v1/alerts`: webhooks on chosen triggers, their test and their delivery history.
//! Administrators only, reading included: a webhook URL is often a credential of its own
//! (chat services put their token in the path). The secret is in the creating response only
//! (`Cache-Control: no-store`).

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use http::{HeaderValue, StatusCode, header};
use wire::Page;
use wire::alerts::{AlertView, CreatedAlert, DeliveryView};

use super::{ListQuery, parse_json, secret_response, tagged};
use crate::http::HttpState;
use crate::http::error::ApiError;
use crate::http::extract::{AdminCaller, ApiQuery, IfMatch};
use crate::services::alerts::{self, AlertError, NewAlert};
use crate::services::page;

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, get_one, update, remove, test, deliveries))]
pub(super) struct AlertsApi;

/// The routes of this module.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/alerts", get(list).post(create))
        .route("/alerts/{id}", get(get_one).put(update).delete(remove))
        .route("/alerts/{id}/test", post(test))
        .route("/alerts/{id}/deliveries", get(deliveries))
}

impl From<AlertError> for ApiError {
    fn from(e: AlertError) -> Self {
        match e {
            e @ AlertError::BadValue { field, .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                e.to_string(),
            )
            .with("field", field),
            e @ AlertError::NotFound(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
            }
            e @ AlertError::Stale { current, .. } => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                e.to_string(),
            )
            .with("current_version", current),
            e @ AlertError::TooMany => {
                ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string())
            }
            e @ AlertError::InternalTargetsNeedAccess => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", e.to_string())
            }
            AlertError::Internal(cause) => cause.into(),
        }
    }
}

fn alert_id(text: &str) -> Result<i32, ApiError> {
    text.parse()
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "not_found", "alert ids are numbers"))
}

/// Alerts, oldest first, without their secrets.
#[utoipa::path(get, operation_id = "list_alerts", path = "/api/v1/alerts", tag = "alerts", params(ListQuery),
    responses((status = 200, description = "One page of alerts", body = Page<AlertView>)))]
async fn list(
    State(state): State<HttpState>,
    AdminCaller(_): AdminCaller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Page<AlertView>>, ApiError> {
    let after = page::id_cursor(query.cursor.as_deref())?;
    Ok(Json(
        alerts::list(&state.db, after, page::limit(query.limit)).await?,
    ))
}

/// Creates an alert; its signing secret is in this response only.
#[utoipa::path(post, operation_id = "create_alert", path = "/api/v1/alerts", tag = "alerts", request_body = NewAlert,
    responses(
        (status = 201, description = "Created, with its signing secret (shown this once)", body = CreatedAlert,
            headers(("Location" = String, description = "The alert's URL"))),
        (status = 409, description = "Too many alerts"),
    ))]
async fn create(
    State(state): State<HttpState>,
    AdminCaller(admin): AdminCaller,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let body: NewAlert = parse_json(request).await?;
    let created = alerts::create(&state, &admin, body).await?;
    let location = format!("/api/v1/alerts/{}", created.view.id);
    let mut res = secret_response(StatusCode::CREATED, created);
    if let Ok(v) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

/// One alert.
#[utoipa::path(get, operation_id = "get_alert", path = "/api/v1/alerts/{id}", tag = "alerts",
    params(("id" = i32, Path, description = "The alert's id")),
    responses(
        (status = 200, description = "The alert", body = AlertView,
            headers(("ETag" = String, description = "Its version, for `If-Match`"))),
        (status = 404, description = "No such alert"),
    ))]
async fn get_one(
    State(state): State<HttpState>,
    AdminCaller(_): AdminCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let view = alerts::get(&state.db, alert_id(&id)?).await?;
    Ok(tagged(view.version, view))
}

/// Replaces an alert's settings (its secret stays).
#[utoipa::path(put, operation_id = "update_alert", path = "/api/v1/alerts/{id}", tag = "alerts", request_body = NewAlert,
    params(("id" = i32, Path, description = "The alert's id"), ("If-Match" = Option<String>, Header, description = "Only update this version: the `ETag` of the last read (`\"v3\"`), or `*`")),
    responses(
        (status = 200, description = "Updated", body = AlertView,
            headers(("ETag" = String, description = "The new version"))),
        (status = 404, description = "No such alert"),
        (status = 412, description = "`If-Match` names another version (`current_version` says which is current)"),
    ))]
async fn update(
    State(state): State<HttpState>,
    AdminCaller(admin): AdminCaller,
    IfMatch(expected): IfMatch,
    Path(id): Path<String>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let id = alert_id(&id)?;
    let body: NewAlert = parse_json(request).await?;
    let view = alerts::update(&state, &admin, id, body, expected).await?;
    Ok(tagged(view.version, view))
}

/// Deletes an alert and its delivery history.
#[utoipa::path(delete, operation_id = "delete_alert", path = "/api/v1/alerts/{id}", tag = "alerts",
    params(("id" = i32, Path, description = "The alert's id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such alert")))]
async fn remove(
    State(state): State<HttpState>,
    AdminCaller(admin): AdminCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    alerts::delete(&state, &admin, alert_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends a test notice now: one attempt, at most 3 s; the answer is the recorded delivery
/// (`outcome` `delivered` or `failed`, with the receiver's status code or the error).
#[utoipa::path(post, operation_id = "test_alert", path = "/api/v1/alerts/{id}/test", tag = "alerts",
    params(("id" = i32, Path, description = "The alert's id")),
    responses(
        (status = 200, description = "Attempted (delivered or not: see `outcome`)", body = DeliveryView),
        (status = 404, description = "No such alert"),
    ))]
async fn test(
    State(state): State<HttpState>,
    AdminCaller(admin): AdminCaller,
    Path(id): Path<String>,
) -> Result<Json<DeliveryView>, ApiError> {
    Ok(Json(alerts::test(&state, &admin, alert_id(&id)?).await?))
}

/// An alert's deliveries, newest first (the last 1,000 of all alerts are kept).
#[utoipa::path(get, operation_id = "list_alert_deliveries", path = "/api/v1/alerts/{id}/deliveries", tag = "alerts",
    params(("id" = i32, Path, description = "The alert's id"), ListQuery),
    responses(
        (status = 200, description = "One page of deliveries", body = Page<DeliveryView>),
        (status = 404, description = "No such alert"),
    ))]
async fn deliveries(
    State(state): State<HttpState>,
    AdminCaller(_): AdminCaller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Page<DeliveryView>>, ApiError> {
    let id = alert_id(&id)?;
    let before = page::id_cursor(query.cursor.as_deref())?;
    Ok(Json(
        alerts::deliveries(&state.db, Some(id), before, page::limit(query.limit)).await?,
    ))
}
