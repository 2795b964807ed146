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

#[tokio::test]
async fn every_answer_carries_a_request_id_that_its_problem_and_log_lines_share() {
    let server = TestServer::start().unwrap();
    let client = reqwest::Client::new();
    let id_of =
        |res: &reqwest::Response| res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let fresh = |id: &str| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit());

    // A problem answer names the request it answers.
    let res = client
        .get(server.url("/api/v1/endpoints"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let id = id_of(&res);
    assert!(fresh(&id), "{id}");
    let problem: serde_json::Value = res.json().await.unwrap();
    assert_eq!(problem["request_id"], id.as_str(), "{problem}");
    // Each request its own; pages and health checks too.
    let again = id_of(&client.get(server.url("/healthz")).send().await.unwrap());
    assert!(fresh(&again) && again != id, "{again}");

    // A proxy's plain id is kept; anything else is replaced, never echoed.
    for (sent, kept) in [
        ("lb-42.a_b", true),
        ("two words", false),
        ("a\"b", false),
        (&"x".repeat(65), false),
    ] {
        let res = client
            .get(server.url("/login"))
            .header("x-request-id", sent)
            .send()
            .await
            .unwrap();
        let got = id_of(&res);
        if kept {
            assert_eq!(got, sent);
        } else {
            assert!(fresh(&got), "{sent:?} gave {got:?}");
        }
    }

    // The log lines written while a request was answered name it, its route template and
    // its caller.
    let api = Api::sign_in(&server).await;
    let res = api
        .request(reqwest::Method::POST, "/api/v1/config/apply")
        .header("x-request-id", "apply-7")
        .send()
        .await
        .unwrap();
    assert_eq!(id_of(&res), "apply-7");
    let log = server.log();
    let line = log
        .lines()
        .find(|l| l.contains("apply: revision"))
        .unwrap_or_else(|| panic!("no apply line:\n{log}"));
    for part in [
        "id=apply-7",
        "method=POST",
        "route=/api/v1/config/apply",
        "caller=admin",
        "config_apply",
    ] {
        assert!(line.contains(part), "{part} not in {line}");
    }
    assert!(
        !log.contains('\u{1b}'),
        "escape codes in a log that is no terminal"
    );
}

#[tokio::test]
async fn the_consoles_sign_in_is_rate_limited_like_the_api() {
    let server = TestServer::start_with(Options {
        admin: Some(("admin".to_owned(), ADMIN_PASSWORD.to_owned())),
        env: vec![("SIPWARDEN_API_RATE_PER_SOURCE".to_owned(), "5".to_owned())],
        ..Options::default()
    })
    .unwrap();
    let client = reqwest::Client::new();
    let mut limited = 0usize;
    let mut answered = 0usize;
    for i in 0..30 {
        // Anonymous, refused or not, each attempt that gets through is an audit line.
        let res = client
            .post(server.url("/fn/sign_in"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(format!("username=nobody{i}&password=wrong+password"))
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body = res.text().await.unwrap();
        if body.contains("rate_limited") {
            assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
            limited += 1;
        } else {
            answered += 1;
        }
    }
    assert_eq!(limited + answered, 30);
    assert!(limited >= 10, "{limited} of 30 limited");
    // Wait for the bucket, then count what reached the audit log: the answered ones only.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let admin = Api::sign_in_as(&server, "admin", ADMIN_PASSWORD).await;
    let (_, audit) = admin.call("GET", "/api/v1/audit?limit=100", None).await;
    let refused = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "sign_in" && e["success"] == false)
        .count();
    assert_eq!(refused, answered, "{audit}");
}

#[tokio::test]
async fn metrics_beyond_loopback_need_a_token() {
    // The client is resolved through a trusted proxy on loopback, as behind nginx: the proxy
    // being local opens nothing for the clients it forwards.
    let server = TestServer::start_with(Options {
        admin: Some(("admin".to_owned(), ADMIN_PASSWORD.to_owned())),
        env: vec![(
            "SIPWARDEN_TRUSTED_PROXIES".to_owned(),
            "127.0.0.1".to_owned(),
        )],
        ..Options::default()
    })
    .unwrap();
    let client = reqwest::Client::new();
    let from = |ip: &'static str| {
        client
            .get(server.url("/metrics"))
            .header("x-forwarded-for", ip)
    };
    let res = from("203.0.113.9").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    // A Prometheus beside it reads without one.
    assert_eq!(
        reqwest::get(server.url("/metrics")).await.unwrap().status(),
        StatusCode::OK
    );
    let api = Api::sign_in(&server).await;
    let created = api
        .create(
            "/api/v1/tokens",
            json!({"name": "prometheus", "scope": "read", "expires_in_days": 30}),
        )
        .await;
    let res = from("203.0.113.9")
        .bearer_auth(created["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}
