//! The API's contract: an OpenAPI 3.1 document generated from the handlers' `#[utoipa::path]`
//! attributes and the body types, served at `/api/openapi.json`, and a small page at
//! `/api/docs` that renders it without loading anything from outside the appliance (which is
//! often offline, and whose CSP allows only its own scripts).
//!
//! The errors every operation shares (401, 403, 429, and 400/413/415/422 for a JSON body) are
//! added by [`CommonErrors`] from what the operation is, so they are written once and cannot be
//! forgotten on a new route; an operation lists only its own (`(status = 404, description =
//! "No such alert")`), and every error response is given the problem body here, once.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, header};
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, Ref, RefOr};
use utoipa::{Modify, OpenApi};

/// The whole API document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "sipwarden",
        description = "REST API of sipwarden, a security appliance for Asterisk PBXs. \
            Authenticate with an API token (`Authorization: Bearer swt_…`, created under \
            `/api/v1/tokens`), or with the console's session cookie plus its CSRF token in \
            `X-CSRF-Token` on state-changing calls. Errors are `application/problem+json`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        crate::http::health::healthz,
        crate::http::metrics::metrics,
    ),
    components(schemas(crate::http::error::ProblemDoc)),
    modifiers(&SecuritySchemes, &CommonErrors),
    security(("bearerAuth" = []), ("cookieAuth" = [], "csrfToken" = [])),
    tags(
        (name = "session", description = "Signing in and out of the console"),
        (name = "users", description = "Console users and the audit log"),
        (name = "pbx", description = "Endpoints, trunks, AMI users and the hardening policy"),
        (name = "config", description = "Rendering and applying the Asterisk configuration"),
        (name = "firewall", description = "The firewall policy, bans and the allowlist"),
        (name = "guard", description = "The guard's events and status"),
        (name = "fraud", description = "Toll-fraud protection: the fraud policy, the pre-call decision's status, locked accounts, findings and running external calls"),
        (name = "tokens", description = "API tokens"),
        (name = "alerts", description = "Webhook alerts on bans, attack rate spikes, logins after failures, high posture findings and a blind guard; signed with HMAC-SHA256 (`X-Sipwarden-Signature: sha256=<hex>` over `<X-Sipwarden-Timestamp>.<body>`)"),
        (name = "operations", description = "Health and metrics"),
    )
)]
struct RootDoc;

/// The OpenAPI document of this build.
#[must_use]
pub fn document() -> Document {
    let mut doc = RootDoc::openapi();
    doc.merge(crate::http::api::openapi());
    // Modifiers run in `openapi()`, before the merge: run the one that needs every path again.
    CommonErrors.modify(&mut doc);
    Links.modify(&mut doc);
    doc
}

/// The document as pretty JSON with a final newline (what `docs/openapi.json` holds).
#[must_use]
pub fn document_json() -> String {
    let mut value = serde_json::to_value(document()).unwrap_or_default();
    fix_link_names(&mut value);
    let mut json =
        serde_json::to_string_pretty(&value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    json.push('\n');
    json
}

/// utoipa 5.5 writes a Link object's members in snake case (`operation_id`); OpenAPI spells
/// them in camel case (`operationId`), and tools ignore the others.
fn fix_link_names(doc: &mut serde_json::Value) {
    let operations = doc["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(serde_json::Value::as_object_mut)
        .flat_map(|item| item.values_mut());
    for operation in operations {
        let responses = operation["responses"].as_object_mut().into_iter();
        for response in responses.flat_map(|r| r.values_mut()) {
            let Some(links) = response
                .get_mut("links")
                .and_then(serde_json::Value::as_object_mut)
            else {
                continue;
            };
            for link in links
                .values_mut()
                .filter_map(serde_json::Value::as_object_mut)
            {
                for (snake, camel) in [
                    ("operation_id", "operationId"),
                    ("operation_ref", "operationRef"),
                    ("request_body", "requestBody"),
                ] {
                    if let Some(v) = link.remove(snake) {
                        link.insert(camel.to_owned(), v);
                    }
                }
            }
        }
    }
}

/// `GET /api/openapi.json`.
pub async fn openapi_json() -> Response {
    static JSON: std::sync::LazyLock<String> = std::sync::LazyLock::new(document_json);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        JSON.as_str(),
    )
        .into_response()
}

/// `GET /api/docs`: the browsable reference.
pub async fn docs_page() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        include_str!("openapi/docs.html"),
    )
        .into_response()
}

/// `GET /api/docs/docs.js`: the page's renderer (a file, not inline: the CSP allows only
/// scripts from the appliance itself).
pub async fn docs_script() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/javascript; charset=utf-8"),
        )],
        include_str!("openapi/docs.js"),
    )
        .into_response()
}

/// `GET /api/docs/docs.css`.
pub async fn docs_style() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/css; charset=utf-8"),
        )],
        include_str!("openapi/docs.css"),
    )
        .into_response()
}

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearerAuth",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("swt_…")
                    .description(Some(
                        "An API token (`swt_…`) from `POST /api/v1/tokens`. `read` tokens may \
                         only GET; `write` tokens do what an administrator may. No CSRF header.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "cookieAuth",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "sipwarden_session",
                "The console's session cookie (from `POST /api/v1/session`).",
            ))),
        );
        components.add_security_scheme(
            "csrfToken",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-CSRF-Token",
                "With the session cookie, on every state-changing call: the `csrf_token` the \
                 session resource returned.",
            ))),
        );
    }
}

/// Links from the response that creates an object to the operations on it: clients (and the
/// fuzzer's stateful phase) learn where the id in the answer goes.
struct Links;

impl Links {
    /// (creating path, status, id in the body, target operations and their parameter).
    const FROM_CREATED: &[(&str, &str, &str, &[&str], &str)] = &[
        (
            "/api/v1/endpoints",
            "201",
            "/id",
            &[
                "get_endpoint",
                "update_endpoint",
                "delete_endpoint",
                "rotate_endpoint_secret",
            ],
            "id",
        ),
        (
            "/api/v1/trunks",
            "201",
            "/name",
            &["get_trunk", "update_trunk", "delete_trunk"],
            "name",
        ),
        (
            "/api/v1/ami-users",
            "201",
            "/name",
            &[
                "get_ami_user",
                "update_ami_user",
                "delete_ami_user",
                "rotate_ami_secret",
            ],
            "name",
        ),
        (
            "/api/v1/bans",
            "201",
            "/ban/address",
            &["remove_ban"],
            "address",
        ),
        (
            "/api/v1/allowlist",
            "201",
            "/address",
            &["remove_allow"],
            "address",
        ),
        (
            "/api/v1/alerts",
            "201",
            "/id",
            &[
                "get_alert",
                "update_alert",
                "delete_alert",
                "test_alert",
                "list_alert_deliveries",
            ],
            "id",
        ),
    ];
}

impl Modify for Links {
    fn modify(&self, doc: &mut Document) {
        for (path, status, pointer, targets, parameter) in Self::FROM_CREATED {
            let Some(RefOr::T(response)) = doc
                .paths
                .paths
                .get_mut(*path)
                .and_then(|item| item.post.as_mut())
                .and_then(|op| op.responses.responses.get_mut(*status))
            else {
                continue;
            };
            for target in *targets {
                let link = LinkBuilder::new()
                    .operation_id(*target)
                    .parameter(*parameter, format!("$response.body#{pointer}"))
                    .build();
                response.links.insert((*target).to_owned(), RefOr::T(link));
            }
        }
    }
}

/// Adds the errors that follow from what an operation is.
struct CommonErrors;

impl CommonErrors {
    /// How every error is sent.
    fn problem() -> Content {
        Content::new(Some(Ref::from_schema_name("Problem")))
    }

    fn add(operation: &mut Operation, status: &str, description: &str) {
        if operation.responses.responses.contains_key(status) {
            return;
        }
        let response = ResponseBuilder::new()
            .description(description)
            .content("application/problem+json", Self::problem())
            .build();
        operation
            .responses
            .responses
            .insert(status.to_owned(), response.into());
    }

    fn for_operation(path: &str, method: &Method, operation: &mut Operation) {
        if !path.starts_with("/api/v1/") {
            return;
        }
        let public = operation
            .security
            .as_ref()
            .is_some_and(|s| s.iter().all(|r| r == &Default::default()));
        let has_body = operation.request_body.is_some();
        let has_query = operation.parameters.as_ref().is_some_and(|ps| {
            ps.iter()
                .any(|p| p.parameter_in == utoipa::openapi::path::ParameterIn::Query)
        });
        if !public {
            Self::add(
                operation,
                "401",
                "Not signed in, or the API token is unknown, expired or revoked",
            );
            if method != Method::GET {
                Self::add(
                    operation,
                    "403",
                    "Not allowed: a viewer or a read-only token, or the CSRF header is missing",
                );
            }
        }
        if has_body {
            Self::add(operation, "400", "The body is not JSON");
            Self::add(operation, "413", "The body is too large");
            Self::add(operation, "415", "The body is not `application/json`");
            Self::add(
                operation,
                "422",
                "A field is unknown, of the wrong type or breaks its rule (`field` names it)",
            );
        }
        if has_query {
            Self::add(operation, "422", "A query parameter is invalid");
        }
        Self::add(
            operation,
            "429",
            "Too many requests: wait `Retry-After` seconds",
        );
    }

    /// Gives the operation's own errors, listed with a status and a description only, the
    /// problem body.
    fn problem_bodies(operation: &mut Operation) {
        for (status, response) in &mut operation.responses.responses {
            if let RefOr::T(response) = response
                && (status.starts_with('4') || status.starts_with('5'))
                && response.content.is_empty()
            {
                response
                    .content
                    .insert("application/problem+json".to_owned(), Self::problem());
            }
        }
    }
}

impl Modify for CommonErrors {
    fn modify(&self, doc: &mut Document) {
        for (path, item) in &mut doc.paths.paths {
            let PathItem {
                get,
                put,
                post,
                delete,
                ..
            } = item;
            for (method, operation) in [
                (Method::GET, get),
                (Method::PUT, put),
                (Method::POST, post),
                (Method::DELETE, delete),
            ] {
                if let Some(operation) = operation {
                    Self::for_operation(path, &method, operation);
                    Self::problem_bodies(operation);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed `docs/openapi.json` is what clients and reviewers read: a change of the
    /// API must show up in it, in the same commit.
    #[test]
    fn the_committed_openapi_document_is_the_generated_one() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        let generated = document_json();
        if committed != generated {
            let first = committed
                .lines()
                .zip(generated.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
            panic!(
                "docs/openapi.json is not the API this code serves (first difference at line \
                 {}: committed {:?}, generated {:?}).\nRegenerate it with:\n    \
                 cargo run -p backend -- openapi > docs/openapi.json",
                first + 1,
                committed.lines().nth(first).unwrap_or("<end>"),
                generated.lines().nth(first).unwrap_or("<end>"),
            );
        }
    }

    #[test]
    fn operation_ids_are_unique() {
        let json = serde_json::to_value(document()).unwrap_or_default();
        let mut seen = std::collections::BTreeSet::new();
        for item in json["paths"]
            .as_object()
            .into_iter()
            .flat_map(|p| p.values())
        {
            for op in item.as_object().into_iter().flat_map(|o| o.values()) {
                let id = op["operationId"].as_str().unwrap_or("").to_owned();
                assert!(!id.is_empty(), "an operation without an id: {op}");
                assert!(seen.insert(id.clone()), "operationId {id} twice");
            }
        }
    }

    #[test]
    fn every_operation_documents_its_errors_as_problems() {
        let doc = document();
        let json = serde_json::to_value(&doc).unwrap_or_default();
        let paths = json["paths"].as_object().cloned().unwrap_or_default();
        assert!(paths.len() > 30, "{}", paths.len());
        for (path, item) in paths.iter().filter(|(p, _)| p.starts_with("/api/v1/")) {
            for (method, op) in item.as_object().into_iter().flatten() {
                let responses = op["responses"].as_object().cloned().unwrap_or_default();
                assert!(responses.contains_key("429"), "{method} {path}");
                if !(path == "/api/v1/session" && method == "post") {
                    assert!(responses.contains_key("401"), "{method} {path}");
                }
            }
        }
    }
}
