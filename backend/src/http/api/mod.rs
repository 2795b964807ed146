//! REST API under `/api/v1`. Each resource gets its own module as features land; for now the
//! session resource (sign in, who am I, sign out) and the audit log.

mod alerts;
mod config;
mod config_audit;
mod dashboard;
mod events;
mod firewall;
mod fraud;
mod guard;
mod pbx;
mod posture;
mod tokens;
mod users;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::{HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};

use wire::{AuditEntry, Page, Role};

use crate::http::HttpState;
use crate::http::error::ApiError;
use crate::http::extract::{ApiQuery, SignedIn, peer_ip};
use crate::services::{accounts, audit, page};

/// This module's part of the OpenAPI document, with every resource module's.
#[derive(utoipa::OpenApi)]
#[openapi(paths(whoami, sign_in, sign_out, audit_page))]
struct SessionApi;

/// The OpenAPI description of `/api/v1`.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi as _;
    let mut doc = SessionApi::openapi();
    doc.merge(pbx::PbxApi::openapi());
    doc.merge(config::ConfigApi::openapi());
    doc.merge(firewall::FirewallApi::openapi());
    doc.merge(events::EventsApi::openapi());
    doc.merge(guard::GuardApi::openapi());
    doc.merge(fraud::FraudApi::openapi());
    doc.merge(tokens::TokensApi::openapi());
    doc.merge(users::UsersApi::openapi());
    doc.merge(posture::PostureApi::openapi());
    doc.merge(config_audit::ConfigAuditApi::openapi());
    doc.merge(dashboard::DashboardApi::openapi());
    doc.merge(alerts::AlertsApi::openapi());
    doc
}

/// The `/api/v1` routes.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/session", get(whoami).post(sign_in).delete(sign_out))
        .route("/audit", get(audit_page))
        .merge(users::routes())
        .merge(pbx::routes())
        .merge(config::routes())
        .merge(firewall::routes())
        .merge(events::routes())
        .merge(guard::routes())
        .merge(fraud::routes())
        .merge(tokens::routes())
        .merge(posture::routes())
        .merge(config_audit::routes())
        .merge(dashboard::routes())
        .merge(alerts::routes())
        .fallback(not_found)
}

/// `POST /api/v1/session` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    pub username: String,
    pub password: String,
    /// The current code of the user's authenticator app, or one of their recovery codes;
    /// needed when they have set up a second factor.
    #[serde(default)]
    pub code: Option<String>,
}

/// What the API says about the signed-in user.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    pub username: String,
    pub role: Role,
    /// Send this back in the `X-CSRF-Token` header on state-changing calls.
    pub csrf_token: String,
}

/// Signs in with a console user's name and password; sets the session cookie.
#[utoipa::path(
    post,
    path = "/api/v1/session",
    tag = "session",
    request_body = SignInRequest,
    security(()),
    responses(
        (status = 201, description = "Signed in; the session cookie is set", body = SessionView),
        (status = 401, description = "Wrong username or password; or the user has a second factor and the code is missing (`second_factor_required`) or wrong (`bad_second_factor`)"),
        (status = 429, description = "Too many failed attempts: wait `Retry-After` seconds"),
    )
)]
async fn sign_in(
    State(state): State<HttpState>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let ip = peer_ip(request.extensions());
    let body: SignInRequest = parse_json(request).await?;
    let session = accounts::sign_in_with_code(
        &state,
        &state.sign_in_throttle,
        &body.username,
        &body.password,
        body.code.as_deref(),
        ip,
    )
    .await?;
    let mut res = (
        StatusCode::CREATED,
        Json(SessionView {
            username: session.username,
            role: session.role,
            csrf_token: session.csrf,
        }),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&session.set_cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(res)
}

/// Who is calling, and the CSRF token of the session.
#[utoipa::path(
    get,
    operation_id = "get_session", path = "/api/v1/session",
    tag = "session",
    responses((status = 200, description = "The caller", body = SessionView))
)]
async fn whoami(SignedIn(caller): SignedIn) -> Json<SessionView> {
    Json(SessionView {
        username: caller.username,
        role: caller.role,
        csrf_token: caller.csrf,
    })
}

/// Signs the session out and clears the cookie.
#[utoipa::path(
    delete,
    path = "/api/v1/session",
    tag = "session",
    responses((status = 204, description = "Signed out"))
)]
async fn sign_out(
    State(state): State<HttpState>,
    SignedIn(caller): SignedIn,
) -> Result<Response, ApiError> {
    let clear = accounts::sign_out(&state, &caller).await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = HeaderValue::from_str(&clear) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(res)
}

/// The query of a list without filters: which page (see [`wire::Page`]).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1 to 500 (100 by default).
    pub limit: Option<u64>,
}

/// The audit log, newest first.
#[utoipa::path(
    get,
    operation_id = "get_audit_page", path = "/api/v1/audit",
    tag = "users",
    params(ListQuery),
    responses((status = 200, description = "One page of the audit log", body = Page<AuditEntry>))
)]
async fn audit_page(
    State(state): State<HttpState>,
    SignedIn(_caller): SignedIn,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Page<AuditEntry>>, ApiError> {
    let cursor = page::id_cursor(query.cursor.as_deref())?;
    Ok(Json(
        audit::entries(&state.db, cursor, page::limit(query.limit)).await?,
    ))
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such API route")
}

/// How often a live stream checks that its caller is still signed in.
const STREAM_RECHECK: std::time::Duration = std::time::Duration::from_secs(5);

/// Resolves when a live stream must end: the server is stopping, or its caller signed out,
/// was revoked or expired (checked every [`STREAM_RECHECK`]; a failed check is logged and the
/// stream kept until the next one).
///
/// Opening one takes one of the caller's stream slots (429 when all are taken); it is freed
/// when the stream ends or its client goes away (this future is dropped with the stream).
pub(crate) fn open_stream(
    state: HttpState,
    caller: crate::auth::Caller,
) -> Result<impl Future<Output = ()>, ApiError> {
    let Some(slot) = state.stream_slots.take(&caller) else {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_streams",
            format!(
                "this user or token already has {} live streams open; close one first",
                state.stream_slots.limit()
            ),
        )
        .with_retry_after(STREAM_RECHECK));
    };
    Ok(async move {
        let _slot = slot;
        stream_ends(state, caller).await;
    })
}

async fn stream_ends(state: HttpState, caller: crate::auth::Caller) {
    let signed_out = async {
        loop {
            tokio::time::sleep(STREAM_RECHECK).await;
            match crate::services::accounts::still_signed_in(&state, &caller).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => tracing::warn!(error = %e, "live stream: cannot check its caller"),
            }
        }
    };
    tokio::select! {
        () = state.stopping.cancelled() => {}
        () = signed_out => {}
    }
}

/// An object with its version as `ETag`, the value a later `If-Match` names.
pub(crate) fn tagged<T: Serialize>(version: i32, body: T) -> Response {
    let mut res = Json(body).into_response();
    res.headers_mut()
        .insert(header::ETAG, crate::http::extract::etag(version));
    res
}

/// A response with a secret shown this once (a created token, endpoint or alert, a rotated
/// secret): no cache anywhere may keep it.
pub(crate) fn secret_response(status: StatusCode, body: impl Serialize) -> Response {
    let mut res = (status, Json(body)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Reads a JSON body with errors that say what is wrong (axum's `Json` rejection texts are
/// fine but not problem+json).
pub(crate) async fn parse_json<T: serde::de::DeserializeOwned>(
    request: axum::extract::Request,
) -> Result<T, ApiError> {
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        });
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as application/json",
        ));
    }
    let bytes = axum::body::to_bytes(request.into_body(), crate::http::MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body exceeds {} bytes", crate::http::MAX_BODY_BYTES),
            )
        })?;
    parse_json_bytes(&bytes)
}

/// Deserialises a JSON body. Syntax errors are 400; a well-formed body with a wrong field
/// (unknown name, wrong type, unknown enum value) is 422 naming the field's path.
pub(crate) fn parse_json_bytes<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_data() {
            let field = if path == "." { String::new() } else { path };
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                if field.is_empty() {
                    format!("invalid body: {inner}")
                } else {
                    format!("{field}: {inner}")
                },
            )
            .with("field", field)
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("invalid JSON body: {inner}"),
            )
        }
    })?;
    de.end().map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("invalid JSON body: {e}"),
        )
    })?;
    Ok(value)
}
