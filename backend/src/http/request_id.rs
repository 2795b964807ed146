//! One span per request, and the id that ties a request's log lines, its answer and a
//! user's report together.
//!
//! Every request gets an id: the caller's own `X-Request-Id` when it is a plain token (a
//! proxy in front may have set one: up to 64 of `A-Z a-z 0-9 . _ -`), else a fresh random
//! one. The id goes back in `X-Request-Id`, into every problem+json answer as `request_id`,
//! and onto the span every log line of the request is written in, with the method, the route
//! template (never the raw path, which holds ids and whatever a scanner typed) and, once
//! the session or token is known, the caller.

use std::fmt;
use std::sync::Arc;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderValue;
use tracing::Instrument;

/// The header that carries the id both ways.
pub const HEADER: &str = "x-request-id";
/// Longest id taken from a caller.
const MAX_LEN: usize = 64;

tokio::task_local! {
    static CURRENT: RequestId;
}

/// A request's id: only characters that are safe in a header, a log line and JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// The caller's id if it is a plain token, else `None`.
    #[must_use]
    pub fn from_caller(value: &HeaderValue) -> Option<Self> {
        let text = value.to_str().ok()?;
        let plain = !text.is_empty()
            && text.len() <= MAX_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        plain.then(|| Self(text.into()))
    }

    /// A fresh id: 128 random bits in hex.
    #[must_use]
    pub fn fresh() -> Self {
        Self(hex::encode(rand::random::<[u8; 16]>()).into())
    }

    /// The id of the request being answered on this task, if any.
    #[must_use]
    pub fn current() -> Option<Self> {
        CURRENT.try_with(Clone::clone).ok()
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The outermost middleware: the id, the span, and the id on the answer.
pub async fn trace_requests(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(RequestId::from_caller)
        .unwrap_or_else(RequestId::fresh);
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let span = tracing::info_span!(
        "request",
        id = %id,
        method = %method_label(req.method()),
        route = %route,
        caller = tracing::field::Empty,
    );
    let mut res = CURRENT
        .scope(id.clone(), next.run(req).instrument(span))
        .await;
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        res.headers_mut().insert(HEADER, value);
    }
    res
}

/// Names the caller on the current request's span (a user name, and the token's number when
/// the request came with an API token; never the token or the session).
pub fn record_caller(caller: &crate::auth::Caller) {
    let span = tracing::Span::current();
    match caller.token_id {
        Some(token) => span.record(
            "caller",
            tracing::field::display(format_args!("{} (token {token})", caller.username)),
        ),
        None => span.record("caller", tracing::field::display(&caller.username)),
    };
}

/// The method as a label: one of the standard ones, else `other`. HTTP lets a client invent
/// any method name of any length, and each would otherwise become a counter kept for good.
pub fn method_label(method: &http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_caller_id_is_kept_and_anything_else_is_replaced() {
        let keep = |s: &str| RequestId::from_caller(&HeaderValue::from_str(s).unwrap());
        assert_eq!(keep("lb-7f3a.01_x").unwrap().as_str(), "lb-7f3a.01_x");
        assert!(keep(&"a".repeat(64)).is_some());
        assert!(keep(&"a".repeat(65)).is_none());
        for bad in ["", "two words", "a\"b", "x;y", "ü", "a=b"] {
            assert!(
                HeaderValue::from_str(bad).map_or(true, |v| RequestId::from_caller(&v).is_none()),
                "{bad:?}"
            );
        }
        let fresh = RequestId::fresh();
        assert_eq!(fresh.as_str().len(), 32);
        assert_ne!(fresh, RequestId::fresh());
    }

    #[tokio::test]
    async fn the_id_is_known_inside_the_request_and_nowhere_else() {
        assert_eq!(RequestId::current(), None);
        let id = RequestId::fresh();
        let inside = CURRENT
            .scope(id.clone(), async { RequestId::current() })
            .await;
        assert_eq!(inside, Some(id));
    }
}
