//! The server's two endless responses (Server-Sent Events), opened as a console tab or a
//! script holds them, for tests of when they end.

use std::time::Duration;

use reqwest::StatusCode;

use crate::server::TestServer;

/// The live streams: the guard's events and the dashboard's change feed.
pub const PATHS: [&str; 2] = ["/api/v1/events/stream", "/api/v1/dashboard/stream"];

/// Both streams, open, as `client` (with its cookie) or as the bearer of `token`.
///
/// # Panics
/// When a stream does not open with 200 (a test precondition).
pub async fn open(
    server: &TestServer,
    client: &reqwest::Client,
    token: Option<&str>,
) -> Vec<(&'static str, reqwest::Response)> {
    let mut streams = Vec::new();
    for path in PATHS {
        let mut request = client.get(server.url(path));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let res = request.send().await.expect("the stream request");
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        streams.push((path, res));
    }
    streams
}

/// Reads each stream to its end, which must come within `within`, cleanly.
///
/// # Panics
/// When a stream is still open after `within` or ends with an error.
pub async fn assert_end(streams: Vec<(&'static str, reqwest::Response)>, within: Duration) {
    for (path, res) in streams {
        let body = tokio::time::timeout(within, res.bytes())
            .await
            .unwrap_or_else(|_| panic!("{path} still open after {within:?}"));
        assert!(body.is_ok(), "{path}: {body:?}");
    }
}
