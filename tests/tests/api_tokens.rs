//! API tokens on the real server: created once with their value, used as `Authorization:
//! Bearer` without cookies or CSRF, scoped (read = GET only), refused when bad, expired or
//! revoked, stored only as digests, audited.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::api::Api;
use tests::server::TestServer;

async fn bearer(
    server: &TestServer,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    // A client without a cookie jar: the token is the only credential.
    let client = reqwest::Client::new();
    let mut req = client
        .request(method, server.url(path))
        .header("authorization", format!("Bearer {token}"));
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn tokens_are_shown_once_scoped_refused_when_bad_and_revocable() {
    let server = TestServer::start().unwrap();
    let api = Api::sign_in(&server).await;
    let writer = api
        .create(
            "/api/v1/tokens",
            json!({"name": "provisioning", "scope": "write", "expires_in_days": 30}),
        )
        .await;
    let write_token = writer["token"].as_str().unwrap().to_owned();
    assert!(write_token.starts_with("swt_"), "{writer}");
    assert!(write_token.len() >= 40);
    assert!(write_token.starts_with(writer["prefix"].as_str().unwrap()));
    let reader = api
        .create(
            "/api/v1/tokens",
            json!({"name": "monitoring", "scope": "read", "expires_in_days": 1}),
        )
        .await;
    let read_token = reader["token"].as_str().unwrap().to_owned();

    // Listed without their values.
    let (status, list) = api.call("GET", "/api/v1/tokens", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert!(!list.to_string().contains(&write_token));

    // A write token changes things without cookie or CSRF header.
    let (status, created) = bearer(
        &server,
        &write_token,
        reqwest::Method::POST,
        "/api/v1/endpoints",
        Some(json!({"extension": "1001", "display_name": "Alice"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    // A read token reads, and may not write (403).
    let (status, _) = bearer(
        &server,
        &read_token,
        reqwest::Method::GET,
        "/api/v1/endpoints",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, problem) = bearer(
        &server,
        &read_token,
        reqwest::Method::POST,
        "/api/v1/endpoints",
        Some(json!({"extension": "1002", "display_name": "Bob"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    // Tokens cannot manage tokens with read scope either.
    let (status, _) = bearer(
        &server,
        &read_token,
        reqwest::Method::GET,
        "/api/v1/tokens",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A write token changes the PBX but hands out no access: no tokens, no users (a leaked
    // one could otherwise mint its own successor before it is revoked).
    for (method, path, body) in [
        (
            reqwest::Method::POST,
            "/api/v1/tokens",
            Some(json!({"name": "successor", "scope": "admin", "expires_in_days": 366})),
        ),
        (
            reqwest::Method::POST,
            "/api/v1/users",
            Some(
                json!({"username": "mallory", "password": "a long enough password", "role": "admin"}),
            ),
        ),
        (reqwest::Method::DELETE, "/api/v1/tokens/1", None),
    ] {
        let (status, problem) = bearer(&server, &write_token, method, path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {problem}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("`admin` scope")
        );
    }
    // A token made with the `admin` scope may.
    let (status, made) = api
        .call(
            "POST",
            "/api/v1/tokens",
            Some(json!({"name": "provisioner", "scope": "admin", "expires_in_days": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let (status, minted) = bearer(
        &server,
        made["token"].as_str().unwrap(),
        reqwest::Method::POST,
        "/api/v1/tokens",
        Some(json!({"name": "minted", "scope": "read", "expires_in_days": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{minted}");
    assert_eq!(minted["scope"], "read");

    // Bad tokens: 401 problem+json with WWW-Authenticate, never a fallback to anonymous.
    for bad in [
        "swt_not-a-token",
        "",
        "Basic abc",
        &write_token[..write_token.len() - 1],
    ] {
        let res = reqwest::Client::new()
            .get(server.url("/api/v1/endpoints"))
            .header("authorization", format!("Bearer {bad}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{bad}");
        assert!(res.headers().contains_key("www-authenticate"));
        let problem: Value = res.json().await.unwrap();
        assert!(problem["type"].as_str().unwrap().ends_with("invalid_token"));
    }

    // Bad requests for tokens.
    for body in [
        json!({"name": "", "scope": "write", "expires_in_days": 1}),
        json!({"name": "x", "scope": "root", "expires_in_days": 1}),
        json!({"name": "x", "scope": "read", "expires_in_days": 0}),
        json!({"name": "x", "scope": "read", "expires_in_days": 400}),
        json!({"name": "x", "scope": "read", "expires_in_days": 1, "admin": true}),
    ] {
        let (status, problem) = api.call("POST", "/api/v1/tokens", Some(body.clone())).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {problem}"
        );
    }

    // Revoked: refused at once. Last use recorded.
    let id = writer["id"].as_i64().unwrap();
    let (status, revoked) = api
        .call("DELETE", &format!("/api/v1/tokens/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert_eq!(revoked["active"], false);
    assert!(revoked["last_used_at"].is_string(), "{revoked}");
    let (status, _) = bearer(
        &server,
        &write_token,
        reqwest::Method::GET,
        "/api/v1/endpoints",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = api.call("DELETE", "/api/v1/tokens/nonsense", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Expired (the clock moved past it): refused.
    let db = server.data.path().join("sipwarden.sqlite3");
    tests::server::sqlite(
        &db,
        "UPDATE api_tokens SET expires_at = '2020-01-01 00:00:00+00:00' WHERE name = 'monitoring';",
    );
    let (status, _) = bearer(
        &server,
        &read_token,
        reqwest::Method::GET,
        "/api/v1/endpoints",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Only digests at rest; never a token in the log; creation and revocation audited.
    let bytes = std::fs::read(&db).unwrap();
    let wal = std::fs::read(server.data.path().join("sipwarden.sqlite3-wal")).unwrap_or_default();
    for token in [&write_token, &read_token] {
        let needle = token.as_bytes();
        assert!(!bytes.windows(needle.len()).any(|w| w == needle));
        assert!(!wal.windows(needle.len()).any(|w| w == needle));
        assert!(!server.log().contains(token.as_str()));
    }
    let (_, audit) = api.call("GET", "/api/v1/audit", None).await;
    let text = audit.to_string();
    assert!(
        text.contains("token_create") && text.contains("token_revoke"),
        "{text}"
    );
}

#[tokio::test]
async fn a_revoked_token_loses_its_open_stream() {
    let server = TestServer::start().unwrap();
    let api = Api::sign_in(&server).await;
    let reader = api
        .create(
            "/api/v1/tokens",
            json!({"name": "wallboard", "scope": "read", "expires_in_days": 1}),
        )
        .await;
    let token = reader["token"].as_str().unwrap().to_owned();
    let id = reader["id"].as_i64().unwrap();
    // A client without a cookie jar: the token is the only credential.
    let streams = tests::streams::open(&server, &reqwest::Client::new(), Some(&token)).await;
    // A leaked token, revoked: what it had open ends too, within the streams' recheck (5 s).
    let revoked_at = std::time::Instant::now();
    let (status, _) = api
        .call("DELETE", &format!("/api/v1/tokens/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    tests::streams::assert_end(streams, std::time::Duration::from_secs(15)).await;
    eprintln!(
        "api_tokens: both streams ended {:?} after the revocation",
        revoked_at.elapsed()
    );
}
