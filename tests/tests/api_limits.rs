//! `/metrics` and the REST API's rate limits on the real server.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use reqwest::StatusCode;
use serde_json::json;
use tests::api::Api;
use tests::server::{ADMIN_PASSWORD, Options, TestServer};

#[tokio::test]
async fn metrics_count_requests_by_route_and_show_the_guard_and_firewall() {
    let server = TestServer::start().unwrap();
    let api = Api::sign_in(&server).await;
    for _ in 0..3 {
        assert_eq!(
            api.call("GET", "/api/v1/bans", None).await.0,
            StatusCode::OK
        );
    }
    let res = reqwest::get(server.url("/metrics")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = res.text().await.unwrap();
    assert!(
        text.contains(
            "sipwarden_http_requests_total{route=\"/api/v1/bans\",method=\"GET\",status=\"200\"} 3"
        ),
        "{text}"
    );
    assert!(
        text.contains("sipwarden_http_request_duration_seconds_count{route=\"/api/v1/bans\"} 3")
    );
    // No Asterisk here: the guard runs, blind.
    assert!(text.contains("sipwarden_guard_running 1"), "{text}");
    assert!(text.contains("sipwarden_tap_up{tap=\"ami\"} 0"), "{text}");
    assert!(text.contains("sipwarden_firewall_state 0"), "{text}");
    // Unknown paths are counted as one label, not one per path.
    let _ = reqwest::get(server.url("/api/v1/no-such-thing-1"))
        .await
        .unwrap();
    let _ = reqwest::get(server.url("/api/v1/no-such-thing-2"))
        .await
        .unwrap();
    let text = reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("no-such-thing"), "{text}");
}

#[tokio::test]
async fn metrics_can_require_a_token() {
    let server = TestServer::start_with(Options {
        admin: Some(("admin".to_owned(), ADMIN_PASSWORD.to_owned())),
        env: vec![(
            "SIPWARDEN_METRICS_REQUIRE_TOKEN".to_owned(),
            "true".to_owned(),
        )],
        ..Options::default()
    })
    .unwrap();
    let res = reqwest::get(server.url("/metrics")).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let api = Api::sign_in(&server).await;
    let created = api
        .create(
            "/api/v1/tokens",
            json!({"name": "prometheus", "scope": "read", "expires_in_days": 30}),
        )
        .await;
    let res = reqwest::Client::new()
        .get(server.url("/metrics"))
        .bearer_auth(created["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_source_over_its_rate_gets_429_with_retry_after() {
    let server = TestServer::start_with(Options {
        admin: Some(("admin".to_owned(), ADMIN_PASSWORD.to_owned())),
        env: vec![("SIPWARDEN_API_RATE_PER_SOURCE".to_owned(), "5".to_owned())],
        ..Options::default()
    })
    .unwrap();
    let client = reqwest::Client::new();
    let mut limited = 0u64;
    let mut ok = 0u64;
    let started = std::time::Instant::now();
    for _ in 0..40 {
        let res = client
            .get(server.url("/api/v1/session"))
            .send()
            .await
            .unwrap();
        match res.status() {
            StatusCode::TOO_MANY_REQUESTS => {
                limited += 1;
                let wait: u64 = res.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!(wait >= 1);
                let problem: serde_json::Value = res.json().await.unwrap();
                assert!(problem["type"].as_str().unwrap().ends_with("rate_limited"));
            }
            // Not signed in: the request got through the limiter.
            StatusCode::UNAUTHORIZED => ok += 1,
            other => panic!("unexpected {other}"),
        }
    }
    // Burst of 10 (twice the rate), then 5 per second for as long as the loop took: rounded
    // up, and one more for a token that was almost whole when the loop began.
    let took = started.elapsed();
    let refilled = u64::try_from(took.as_millis() * 5 / 1000).unwrap() + 2;
    assert!(
        (10..=10 + refilled).contains(&ok),
        "{ok} passed in {took:?}"
    );
    assert_eq!(limited + ok, 40);
    assert!(limited > 0, "nothing limited in {took:?}");
    // Pages and health are not limited.
    assert_eq!(
        client
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}
