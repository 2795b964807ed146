//! Request middleware: session loading, cross-site refusal, security headers.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};

use std::sync::Arc;
use std::time::Duration;

use crate::auth::session::token_from_headers;
use crate::config::Config;
use crate::http::HttpState;
use crate::http::extract::peer_ip;
use crate::services::accounts;

/// The token of an `Authorization: Bearer <token>` header, if there is one (`Some("")` for a
/// Bearer header without a usable token, which is refused rather than ignored).
fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().unwrap_or("");
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Resolves the API token (on `/api/v1/*` and `/metrics`) or else the session cookie into a
/// [`crate::auth::Caller`] request extension. A bearer token that is unknown, expired or
/// revoked is a 401 at once: a script must learn its token is bad, not be treated as
/// anonymous.
pub async fn load_session(
    State(state): State<HttpState>,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    if (path.starts_with("/api/v1/") || path == "/metrics")
        && let Some(token) = bearer(req.headers())
    {
        let ip = peer_ip(req.extensions());
        return match crate::services::tokens::caller_from_bearer(&state, token, ip).await {
            Ok(Some(caller)) => {
                super::request_id::record_caller(&caller);
                req.extensions_mut().insert(caller);
                next.run(req).await
            }
            Ok(None) => {
                let mut res = crate::http::error::ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_token",
                    "the API token is unknown, expired or revoked",
                )
                .into_response();
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"sipwarden\", error=\"invalid_token\""),
                );
                res
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot check an API token");
                super::error::internal_response()
            }
        };
    }
    if let Some(token) = token_from_headers(req.headers()) {
        let ip = peer_ip(req.extensions());
        let activity = !BY_ITSELF.contains(&req.uri().path());
        match accounts::caller_from_token(&state, &token, ip, activity).await {
            Ok(Some(caller)) => {
                super::request_id::record_caller(&caller);
                req.extensions_mut().insert(caller);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, "cannot load session");
                return super::error::internal_response();
            }
        }
    }
    next.run(req).await
}

/// What a console page asks by itself on a timer: it checks the session but is no sign of a
/// person, so it does not hold an idle session open.
const BY_ITSELF: [&str; 1] = ["/fn/pending_changes"];

/// Pages anyone may see without a session; everything else in the console needs one.
const PUBLIC_PAGES: &[&str] = &["/login", "/setup"];

/// What an administrator who must set up a second factor may still reach: the account page,
/// its server functions, signing out, and who they are.
const WHILE_ENROLLING: [&str; 11] = [
    "/account",
    "/fn/pending_changes",
    "/fn/session",
    "/fn/second_factor",
    "/fn/begin_second_factor",
    "/fn/confirm_second_factor",
    "/fn/change_password",
    "/fn/sign_out",
    "/fn/flash",
    "/api/v1/session",
    "/login",
];

/// Holds an administrator who must set up a second factor (see
/// `Config::require_second_factor_for_admins`) to the account page: other pages redirect
/// there, other calls are refused (403) saying why.
pub async fn require_enrolment(req: Request, next: Next) -> Response {
    let enrolling = req
        .extensions()
        .get::<crate::auth::Caller>()
        .is_some_and(|c| c.must_enrol);
    let path = req.uri().path();
    let is_page = matches!(*req.method(), Method::GET | Method::HEAD)
        && !path.starts_with("/api/")
        && !path.starts_with("/fn/");
    // Static files (the bundle, the stylesheet, the icon) are read like pages, never changed.
    let is_asset = is_page && (path.starts_with("/pkg/") || path.contains('.'));
    if !enrolling || WHILE_ENROLLING.contains(&path) || is_asset {
        return next.run(req).await;
    }
    if is_page {
        return axum::response::Redirect::to("/account#second-factor").into_response();
    }
    if path.starts_with("/fn/") {
        // As the server functions answer their errors, so the page shows the sentence.
        let body =
            serde_json::to_string(&app::form::ConsoleError::EnrolSecondFactor).unwrap_or_default();
        return (StatusCode::FORBIDDEN, body).into_response();
    }
    crate::http::error::ApiError::from(app::form::ConsoleError::EnrolSecondFactor).into_response()
}

/// Sends a signed-out browser asking for a console page to `/login?next=<the page>`, before
/// any page code runs, so that signing in comes back to it. (The console layout also
/// redirects after hydration; this is the server-side gate, which also holds without
/// JavaScript.) The API, server functions, health, the bundle and static files answer for
/// themselves.
pub async fn require_sign_in_for_pages(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let is_page = matches!(*req.method(), Method::GET | Method::HEAD)
        && !path.starts_with("/api/")
        && !path.starts_with("/fn/")
        && !path.starts_with("/pkg/")
        && path != "/healthz"
        && path != "/metrics"
        && !path.contains('.')
        && !PUBLIC_PAGES.contains(&path);
    if is_page && req.extensions().get::<crate::auth::Caller>().is_none() {
        let to = app::components::form::sign_in_path(path, req.uri().query().unwrap_or(""));
        return axum::response::Redirect::to(&to).into_response();
    }
    next.run(req).await
}

/// Gives server-function errors their real status: `server_fn` answers every error with
/// 500, which would make a wrong password look like a server fault to clients and logs.
/// The browser client treats any 4xx/5xx as an error and decodes the same body.
pub async fn server_fn_status(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    if res.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !res.headers().contains_key("serverfnerror")
    {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    // Our own error, already whole in memory: read it all. A cap would turn a long but
    // legitimate refusal (one line per endpoint a realm change breaks) into an empty 500.
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    if let Ok(error) = serde_json::from_slice::<app::form::ConsoleError>(&bytes) {
        parts.status = super::error::status_of(error);
    } else if let Ok(error) = serde_json::from_slice::<app::form::ActionError>(&bytes) {
        parts.status = super::console::status_of(&error);
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// Refuses state-changing requests sent by another site.
///
/// Browsers send `Sec-Fetch-Site` and `Origin` on cross-site requests; SameSite=Strict
/// cookies already keep sessions out of them, and this also covers sign-in forms (login CSRF)
/// that have no session yet. Requests without these headers (curl, scripts) pass: they carry
/// no ambient browser credentials, and cookie-authenticated API calls also need the CSRF
/// header (see `extract`).
pub async fn reject_cross_site(req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && is_cross_site(req.headers()) {
        return (StatusCode::FORBIDDEN, "cross-site request refused").into_response();
    }
    next.run(req).await
}

fn is_cross_site(headers: &http::HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site == "cross-site" || site == "same-site";
    }
    match (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        (Some("null"), _) => true,
        (Some(origin), Some(host)) => {
            let origin_host = origin
                .split_once("://")
                .map_or(origin, |(_, rest)| rest)
                .trim_end_matches('/');
            !origin_host.eq_ignore_ascii_case(host)
        }
        _ => false,
    }
}

/// Reads a request's whole body within `body_timeout_secs` (a client trickling its body
/// keeps a connection slot no longer than that) and no larger than
/// [`super::MAX_BODY_BYTES`] (uploads: [`super::body_limit`]); the handler then gets it from
/// memory.
pub async fn body_deadline(
    State(config): State<Arc<Config>>,
    req: Request,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let deadline = Duration::from_secs(config.body_timeout_secs.into());
    let limit = super::body_limit(parts.uri.path());
    let bytes = match tokio::time::timeout(deadline, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body is larger than {limit} bytes, or was cut off\n"),
            )
                .into_response();
        }
        Err(_) => {
            return (
                StatusCode::REQUEST_TIMEOUT,
                format!("the request body did not arrive within {deadline:?}\n"),
            )
                .into_response();
        }
    };
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// Headers every response carries; over HTTPS also `Strict-Transport-Security` (a browser
/// keeps it only from a certificate it trusts, so a self-signed one is not locked in).
pub async fn security_headers(
    State(config): State<Arc<Config>>,
    req: Request,
    next: Next,
) -> Response {
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    if config.serves_https() {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    // Console pages set their own policy with a per-response nonce (see `app::ssr`); this is
    // the policy for everything else, which never needs an inline script.
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
             img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
             form-action 'self'; base-uri 'none'; object-src 'none'",
        ));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn same_origin_posts_pass_and_foreign_ones_do_not() {
        assert!(!is_cross_site(&headers(&[(
            "sec-fetch-site",
            "same-origin"
        )])));
        assert!(is_cross_site(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(!is_cross_site(&headers(&[
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080")
        ])));
        assert!(is_cross_site(&headers(&[
            ("origin", "https://evil.example"),
            ("host", "127.0.0.1:8080")
        ])));
        assert!(
            !is_cross_site(&headers(&[])),
            "scripts without browser headers pass"
        );
    }
}
