//! Extractors that turn a request into a capability: [`crate::auth::Caller`] for any
//! signed-in user, [`crate::auth::Admin`] for administrators. A handler that takes one cannot
//! run without it. Also who the client is ([`peer_ip`]), behind a trusted proxy too.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::Method;
use http::request::Parts;

use app::form::ConsoleError;

use crate::auth::{AccessAdmin, Admin, Caller};
use crate::config::{Config, TrustedProxies};
use crate::http::error::ApiError;

/// The client's address, resolved once per request by [`resolve_client`].
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

/// Resolves the client's address: the connection's peer, or, when the peer is one of the
/// configured trusted proxies, the nearest address in `X-Forwarded-For` that is not a proxy
/// (a chain with an entry that is no address is not believed: the peer is used).
pub async fn resolve_client(
    State(config): State<Arc<Config>>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(peer) = peer
        && config.trusted_proxies.contains(peer)
        && let Some(client) = forwarded_client(req.headers(), &config.trusted_proxies)
    {
        req.extensions_mut().insert(ClientAddr(client));
    }
    next.run(req).await
}

/// The address `X-Forwarded-For` names for the client, read from the nearest hop outwards.
fn forwarded_client(headers: &http::HeaderMap, proxies: &TrustedProxies) -> Option<IpAddr> {
    let mut hops = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        for hop in value.to_str().ok()?.split(',') {
            hops.push(hop.trim().parse::<IpAddr>().ok()?);
        }
    }
    hops.iter()
        .rev()
        .find(|ip| !proxies.contains(**ip))
        .or_else(|| hops.first())
        .copied()
}

/// The client's address: resolved by [`resolve_client`], else the connection's peer.
pub fn peer_ip(extensions: &http::Extensions) -> IpAddr {
    if let Some(ClientAddr(ip)) = extensions.get::<ClientAddr>() {
        return *ip;
    }
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip())
}

/// Header that carries the session's CSRF token on cookie-authenticated API calls.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The signed-in caller of an API request. State-changing methods also need the CSRF header,
/// because a session cookie alone proves only that a browser sent the request.
#[derive(Debug, Clone)]
pub struct SignedIn(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let caller = parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or(ConsoleError::NotSignedIn)?;
        // A bearer token is sent deliberately by a script, never ambiently by a browser.
        if caller.token_id.is_none() && !matches!(parts.method, Method::GET | Method::HEAD) {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !caller.csrf_matches(sent) {
                return Err(ConsoleError::BadCsrf.into());
            }
        }
        Ok(SignedIn(caller))
    }
}

/// An administrator calling the API.
#[derive(Debug, Clone)]
pub struct AdminCaller(pub Admin);

impl<S: Send + Sync> FromRequestParts<S> for AdminCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let SignedIn(caller) = SignedIn::from_request_parts(parts, state).await?;
        caller
            .admin()
            .map(AdminCaller)
            .map_err(|_| ConsoleError::Forbidden.into())
    }
}

/// An administrator who may hand out access (create users, create and revoke tokens): a
/// console session, or a token made with the `admin` scope.
#[derive(Debug, Clone)]
pub struct AccessAdminCaller(pub AccessAdmin);

impl<S: Send + Sync> FromRequestParts<S> for AccessAdminCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let AdminCaller(admin) = AdminCaller::from_request_parts(parts, state).await?;
        admin.access().map(AccessAdminCaller).map_err(|_| {
            ApiError::new(
                http::StatusCode::FORBIDDEN,
                "forbidden",
                "creating users and creating or revoking tokens needs a console session or a \
                 token made with the `admin` scope",
            )
        })
    }
}

/// The version an `If-Match` header names (`"v3"`, `W/"v3"` or `v3`); `None` without the
/// header or with `*`. A header that names no version of ours is refused (412), since a
/// script that sent one meant "only if unchanged".
#[derive(Debug, Clone, Copy)]
pub struct IfMatch(pub Option<i32>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(http::header::IF_MATCH) else {
            return Ok(IfMatch(None));
        };
        let text = value.to_str().unwrap_or("").trim();
        if text == "*" {
            return Ok(IfMatch(None));
        }
        text.trim_start_matches("W/")
            .trim_matches('"')
            .strip_prefix('v')
            .and_then(|n| n.parse::<i32>().ok())
            .map(|n| IfMatch(Some(n)))
            .ok_or_else(|| {
                ApiError::new(
                    http::StatusCode::PRECONDITION_FAILED,
                    "precondition_failed",
                    "If-Match must be an ETag this API sent (\"v<version>\") or *",
                )
            })
    }
}

/// The `ETag` of an object at `version`.
#[must_use]
pub fn etag(version: i32) -> http::HeaderValue {
    http::HeaderValue::from_str(&format!("\"v{version}\""))
        .unwrap_or_else(|_| http::HeaderValue::from_static("\"v0\""))
}

/// A query string read into `T`, refused as a 422 problem (`invalid_query`) that says what is
/// wrong, instead of axum's plain-text 400.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(q)| ApiQuery(q))
            .map_err(|e| {
                ApiError::new(
                    http::StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_query",
                    e.body_text(),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_nearest_hop_that_is_not_a_proxy() {
        let proxies: TrustedProxies = "10.0.0.0/8, 192.0.2.1".parse().expect("proxies");
        let client = |values: &[&str]| {
            let mut headers = http::HeaderMap::new();
            for v in values {
                headers.append("x-forwarded-for", v.parse().expect("a header value"));
            }
            forwarded_client(&headers, &proxies)
        };
        // A client may write anything at the left; the proxies append on the right.
        assert_eq!(
            client(&["6.6.6.6, 198.51.100.7, 10.1.2.3"]),
            Some("198.51.100.7".parse().expect("ip"))
        );
        assert_eq!(
            client(&["198.51.100.7", "192.0.2.1"]),
            Some("198.51.100.7".parse().expect("ip"))
        );
        // Only proxies: the leftmost. A hop that is no address: not believed at all.
        assert_eq!(
            client(&["10.0.0.1, 10.0.0.2"]),
            Some("10.0.0.1".parse().expect("ip"))
        );
        assert_eq!(client(&["198.51.100.7, not-an-address"]), None);
        assert_eq!(client(&[]), None);
    }
}
