//! `/api/v1/endpoints`, `trunks`, `ami-users` and `policy`: the PBX model (applying it is
//! [`super::config`]). Viewers read; administrators change. Responses that carry a secret are
//! marked `Cache-Control: no-store`.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::{HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};

use policy::asterisk::{NewAmiUser, NewEndpoint, NewTrunk, PolicySettings};
use wire::Page;
use wire::pbx::{AmiUserView, EndpointList, EndpointView, TrunkView, WithSecret};

use super::{ListQuery, parse_json, secret_response, tagged};
use crate::http::HttpState;
use crate::http::error::ApiError;
use crate::http::extract::{AdminCaller, ApiQuery, IfMatch, SignedIn};
use crate::services::{page, pbx};

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list_endpoints, create_endpoint, get_endpoint, update_endpoint, delete_endpoint,
        rotate_endpoint_secret, list_trunks, create_trunk, get_trunk, update_trunk, delete_trunk,
        replace_trunk_secret,
        list_ami_users, create_ami_user, get_ami_user, update_ami_user, delete_ami_user,
        rotate_ami_secret, get_policy, update_policy
    ),
    components(schemas(
        wire::pbx::WithSecret<EndpointView>,
        wire::pbx::WithSecret<AmiUserView>,
    ))
)]
pub(super) struct PbxApi;

/// The routes of this module.
pub fn routes() -> Router<HttpState> {
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
        .route("/trunks/{name}/secret", post(replace_trunk_secret))
        .route("/ami-users", get(list_ami_users).post(create_ami_user))
        .route(
            "/ami-users/{name}",
            get(get_ami_user)
                .put(update_ami_user)
                .delete(delete_ami_user),
        )
        .route("/ami-users/{name}/secret", post(rotate_ami_secret))
        .route("/policy", get(get_policy).put(update_policy))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct EndpointQuery {
    /// Search in extension, name and id.
    q: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// 1 to 500 (100 by default).
    limit: Option<u64>,
}

/// Endpoints by extension, a page at a time.
#[utoipa::path(get, path = "/api/v1/endpoints", tag = "pbx", params(EndpointQuery),
    responses((status = 200, description = "One page of endpoints", body = EndpointList)))]
async fn list_endpoints(
    State(state): State<HttpState>,
    SignedIn(_): SignedIn,
    ApiQuery(query): ApiQuery<EndpointQuery>,
) -> Result<Response, ApiError> {
    let limit = page::limit(query.limit);
    let key = (query.q, query.cursor, limit);
    let generation = state.endpoint_pages.generation();
    let body = match state.endpoint_pages.get(generation, &key) {
        Some(body) => body,
        None => {
            let list =
                pbx::list_endpoints(&state.db, key.0.as_deref(), key.1.as_deref(), limit).await?;
            let body = axum::body::Bytes::from(serde_json::to_vec(&list).map_err(|e| {
                ApiError::from(crate::services::Internal::Corrupt(format!(
                    "endpoint page: {e}"
                )))
            })?);
            state.endpoint_pages.put(generation, key, body.clone());
            body
        }
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Creates an endpoint: its id, auth name and (unless given) secret are generated. The
/// secret is in this response only.
#[utoipa::path(post, path = "/api/v1/endpoints", tag = "pbx", request_body = NewEndpoint,
    responses(
        (status = 201, description = "Created, with its secret (shown this once)", body = WithSecret<EndpointView>,
            headers(("Location" = String, description = "The endpoint's URL"))),
        (status = 409, description = "Conflicts with another object (`problems` lists each)"),
    ))]
async fn create_endpoint(
    State(state): State<HttpState>,
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

/// One endpoint.
#[utoipa::path(get, path = "/api/v1/endpoints/{id}", tag = "pbx",
    params(("id" = String, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "The endpoint", body = EndpointView,
            headers(("ETag" = String, description = "Its version, for `If-Match`"))),
        (status = 404, description = "No such endpoint"),
    ))]
async fn get_endpoint(
    State(state): State<HttpState>,
    SignedIn(_): SignedIn,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let view = pbx::get_endpoint(&state.db, &id).await?;
    Ok(tagged(view.version, view))
}

/// Replaces an endpoint's settings (the secret stays unless `secret` is given).
#[utoipa::path(put, path = "/api/v1/endpoints/{id}", tag = "pbx", request_body = NewEndpoint,
    params(("id" = String, Path, description = "The endpoint's id"), ("If-Match" = Option<String>, Header, description = "Only update this version: the `ETag` of the last read (`\"v3\"`), or `*`")),
    responses(
        (status = 200, description = "Updated", body = EndpointView,
            headers(("ETag" = String, description = "The new version"))),
        (status = 404, description = "No such endpoint"), (status = 409, description = "Conflicts with another object (`problems` lists each)"), (status = 412, description = "`If-Match` names another version (`current_version` says which is current)"),
    ))]
async fn update_endpoint(
    State(state): State<HttpState>,
    AdminCaller(admin): AdminCaller,
    IfMatch(expected): IfMatch,
    Path(id): Path<String>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let body: NewEndpoint = parse_json(request).await?;
    let view = pbx::update_endpoint(&state, &admin, &id, body, expected).await?;
    Ok(tagged(view.version, view))
}

/// Deletes an endpoint.
#[utoipa::path(delete, path = "/api/v1/endpoints/{id}", tag = "pbx",
    params(("id" = String, Path, description = "The endpoint's id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such endpoint")))]
async fn delete_endpoint(
    State(state): State<HttpState>,
    AdminCaller(admin): AdminCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    pbx::delete_endpoint(&state, &admin, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST …/secret` body: a secret to set, or nothing (or `{}`) for a generated one.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RotateRequest {
    /// The new secret; generated when absent.
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

/// Sets a new secret (generated unless given); it is in this response only.
#[utoipa::path(post, path = "/api/v1/endpoints/{id}/secret", tag = "pbx",
    request_body(content = Option<RotateRequest>, description = "A secret to set, or nothing for a generated one"),
    params(("id" = String, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "The endpoint with its new secret (shown this once)", body = WithSecret<EndpointView>),
        (status = 404, description = "No such endpoint"),
    ))]
async fn rotate_endpoint_secret(
    State(state): State<HttpState>,
    AdminCaller(admin): AdminCaller,
    Path(id): Path<String>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let body = rotate_body(request).await?;
    let rotated = pbx::rotate_endpoint_secret(&state, &admin, &id, body.secret).await?;
    Ok(secret_response(StatusCode::OK, rotated))
}

/// Trunks by name, a page at a time.
#[utoipa::path(get, path = "/api/v1/trunks", tag = "pbx", params(ListQuery),
    responses((status = 200, description = "One page of trunks", body = Page<TrunkView>)))]
async fn list_trunks(
    State(state): State<HttpState>,
    SignedIn(_): SignedIn,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Page<TrunkView>>, ApiError> {
    let cursor = page::name_cursor(query.cursor.as_deref())?;
    Ok(Json(
        pbx::list_trunks(&state.db, cursor, page::limit(query.limit)).await?,
    ))
}

/// Creates a trunk.
#[utoipa::path(post, path = "/api/v1/trunks", tag = "pbx", request_body = NewTrunk,
    responses(
        (status = 201, description = "Created", body = TrunkView,
            headers(("Location" = String, description = "The trunk's URL"))),
        (status = 409, description = "Conflicts with another object (`problems` lists each)"),
    ))]
async fn create_trunk(
    State(state): State<HttpState>,
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

/// One trunk, with its registration's state as Asterisk reports it (`unknown`, and why,
/// when Asterisk cannot be asked).
#[utoipa::path(get, path = "/api/v1/trunks/{name}", tag = "pbx",
    params(("name" = String, Path, description = "The trunk's name")),
    responses(
        (status = 200, description = "The trunk", body = TrunkView,
            headers(("ETag" = String, description = "Its version, for `If-Match`"))),
        (status = 404, description = "No such trunk"),
    ))]
async fn get_trunk(
    State(state): State<HttpState>,
    SignedIn(_): SignedIn,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let view = pbx::get_trunk(&state, &name).await?;
    Ok(tagged(view.version, view))
}

/// The provider's password for a registering trunk.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TrunkSecretRequest {
    /// The new password (the provider's; it is never returned).
    #[schema(write_only)]
    secret: String,
}

/// Replaces the provider's password of a registering trunk and nothing else; the answer
/// does not carry it. Apply the configuration to make it live.
#[utoipa::path(post, path = "/api/v1/trunks/{name}/secret", tag = "pbx",
    request_body = TrunkSecretRequest,
    params(("name" = String, Path, description = "The trunk's name")),
    responses(
        (status = 200, description = "Replaced", body = TrunkView,
            headers(("ETag" = String, description = "The new version"))),
        (status = 404, description = "No such trunk"),
        (status = 422, description = "The password was refused, or the trunk does not register"),
    ))]
async fn replace_trunk_secret(
    State(state): State<HttpState>,
    AdminCaller(admin): AdminCaller,
    Path(name): Path<String>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let body: TrunkSecretRequest = parse_json(request).await?;
    let view = pbx::replace_trunk_secret(&state, &admin, &name, body.secret).await?;
    Ok(tagged(view.version, view))
}

/// Replaces a trunk (its name stays).
#[utoipa::path(put, path = "/api/v1/trunks/{name}", tag = "pbx", request_body = NewTrunk,
    params(("name" = String, Path, description = "The trunk's name"), ("If-Match" = Option<String>, Header, description = "Only update this version: the `ETag` of the last read (`\"v3\"`), or `*`")),
    responses(
        (status = 200, description = "Updated", body = TrunkView,
            headers(("ETag" = String, description = "The new version"))),
        (status = 404, description = "No such trunk"), (status = 409, description = "Conflicts with another object (`problems` lists each)"), (status = 412, description = "`If-Match` names another version (`current_version` says which is current)"),
    ))]
async fn update_trunk(
    State(state): State<HttpState>,
    AdminCaller(admin): AdminCaller,
    IfMatch(expected): IfMatch,
    Path(name): Path<String>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let body: NewTrunk = parse_json(request).await?;
    let view = pbx::update_trunk(&state, &admin, &name, body, expected).await?;
    Ok(tagged(view.version, view))
}

/// Deletes a trunk.
#[utoipa::path(delete, path = "/api/v1/trunks/{name}", tag = "pbx",
    params(("name" = String, Path, description = "The trunk's name")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such trunk")))]
async fn delete_trunk(
    State(state): State<HttpState>,
    AdminCaller(admin): AdminCaller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    pbx::delete_trunk(&state, &admin, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// AMI users by name, a page at a time (never their secrets).
#[utoipa::path(get, path = "/api/v1/ami-users", tag = "pbx", params(ListQuery),
    responses((status = 200, description = "One page of AMI users", body = Page<AmiUserView>)))]
async fn list_ami_users(
    State(state): State<HttpState>,
    SignedIn(_): SignedIn,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Page<AmiUserView>>, ApiError> {
    let cursor = page::name_cursor(query.cursor.as_deref())?;
    Ok(Json(
        pbx::list_ami_users(&state.db, cursor, page::limit(query.limit)).await?,
    ))
}

/// Creates an AMI user; a generated secret is in this response only.
#[utoipa::path(post, path = "/api/v1/ami-users", tag = "pbx", request_body = NewAmiUser,
    responses(
        (status = 201, description = "Created, with its secret (shown this once)", body = WithSecret<AmiUserView>,
            headers(("Location" = String, description = "The AMI user's URL"))),
        (status = 409, description = "Conflicts with another object (`problems` lists each)"),
    ))]
async fn create_ami_user(
    State(state): State<HttpState>,
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

/// One AMI user.
#[utoipa::path(get, path = "/api/v1/ami-users/{name}", tag = "pbx",
    params(("name" = String, Path, description = "The AMI user's name")),
    responses(
        (status = 200, description = "The AMI user", body = AmiUserView,
            headers(("ETag" = String, description = "Its version, for `If-Match`"))),
        (status = 404, description = "No such AMI user"),
    ))]
async fn get_ami_user(
    State(state): State<HttpState>,
    SignedIn(_): SignedIn,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let view = pbx::get_ami_user(&state.db, &name).await?;
    Ok(tagged(view.version, view))
}

/// Replaces an AMI user (the secret stays unless `secret` is given).
#[utoipa::path(put, path = "/api/v1/ami-users/{name}", tag = "pbx", request_body = NewAmiUser,
    params(("name" = String, Path, description = "The AMI user's name"), ("If-Match" = Option<String>, Header, description = "Only update this version: the `ETag` of the last read (`\"v3\"`), or `*`")),
    responses(
        (status = 200, description = "Updated", body = AmiUserView,
            headers(("ETag" = String, description = "The new version"))),
        (status = 404, description = "No such AMI user"), (status = 409, description = "Conflicts with another object (`problems` lists each)"), (status = 412, description = "`If-Match` names another version (`current_version` says which is current)"),
    ))]
async fn update_ami_user(
    State(state): State<HttpState>,
    AdminCaller(admin): AdminCaller,
    IfMatch(expected): IfMatch,
    Path(name): Path<String>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let body: NewAmiUser = parse_json(request).await?;
    let view = pbx::update_ami_user(&state, &admin, &name, body, expected).await?;
    Ok(tagged(view.version, view))
}

/// Deletes an AMI user.
#[utoipa::path(delete, path = "/api/v1/ami-users/{name}", tag = "pbx",
    params(("name" = String, Path, description = "The AMI user's name")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such AMI user")))]
async fn delete_ami_user(
    State(state): State<HttpState>,
    AdminCaller(admin): AdminCaller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    pbx::delete_ami_user(&state, &admin, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets a new AMI secret (generated unless given); it is in this response only.
#[utoipa::path(post, path = "/api/v1/ami-users/{name}/secret", tag = "pbx",
    request_body(content = Option<RotateRequest>, description = "A secret to set, or nothing for a generated one"),
    params(("name" = String, Path, description = "The AMI user's name")),
    responses(
        (status = 200, description = "The AMI user with its new secret (shown this once)", body = WithSecret<AmiUserView>),
        (status = 404, description = "No such AMI user"),
    ))]
async fn rotate_ami_secret(
    State(state): State<HttpState>,
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

// By hand: the derived schema would be `allOf` the settings (which refuse unknown members)
// and `version`, which no document can satisfy.
impl utoipa::PartialSchema for PolicyView {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::schema::Schema;
        let mut schema = <PolicySettings as utoipa::PartialSchema>::schema();
        if let RefOr::T(Schema::Object(object)) = &mut schema {
            object.properties.insert(
                "version".to_owned(),
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::Integer)
                    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Int32,
                    )))
                    .description(Some("Increases with every change (the `ETag`)"))
                    .into(),
            );
            object.required.push("version".to_owned());
            object.additional_properties = None;
            object.description = Some("The policy and its version.".to_owned());
        }
        schema
    }
}

impl utoipa::ToSchema for PolicyView {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        <PolicySettings as utoipa::ToSchema>::schemas(schemas);
    }
}

/// The hardening policy.
#[utoipa::path(get, path = "/api/v1/policy", tag = "pbx",
    responses((status = 200, description = "The policy and its version", body = PolicyView,
        headers(("ETag" = String, description = "Its version, for `If-Match`")))))]
async fn get_policy(
    State(state): State<HttpState>,
    SignedIn(_): SignedIn,
) -> Result<Response, ApiError> {
    let (settings, version) = pbx::get_policy(&state.db).await?;
    Ok(tagged(version, PolicyView { settings, version }))
}

/// Replaces the hardening policy (absent fields take their defaults).
#[utoipa::path(put, path = "/api/v1/policy", tag = "pbx", request_body = PolicySettings,
    params(("If-Match" = Option<String>, Header, description = "Only update this version: the `ETag` of the last read (`\"v3\"`), or `*`")),
    responses(
        (status = 200, description = "Updated", body = PolicyView,
            headers(("ETag" = String, description = "The new version"))),
        (status = 409, description = "Conflicts with another object (`problems` lists each)"), (status = 412, description = "`If-Match` names another version (`current_version` says which is current)"),
    ))]
async fn update_policy(
    State(state): State<HttpState>,
    AdminCaller(admin): AdminCaller,
    IfMatch(expected): IfMatch,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let body: PolicySettings = parse_json(request).await?;
    let (settings, version) = pbx::update_policy(&state, &admin, body, expected).await?;
    Ok(tagged(version, PolicyView { settings, version }))
}
