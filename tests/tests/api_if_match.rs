//! `ETag` and `If-Match` on updates: two scripts cannot silently overwrite each other.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::server::{ADMIN_PASSWORD, TestServer};

async fn put(
    client: &reqwest::Client,
    csrf: &str,
    url: String,
    if_match: Option<&str>,
    body: &Value,
) -> (StatusCode, Option<String>, Value) {
    let mut req = client.put(url).header("x-csrf-token", csrf).json(body);
    if let Some(tag) = if_match {
        req = req.header("if-match", tag);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let tag = res
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, tag, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_update_against_an_old_etag_is_refused_with_412() {
    let server = TestServer::start().unwrap();
    let (client, csrf) = server.api_sign_in("admin", ADMIN_PASSWORD).await.unwrap();
    let created: Value = client
        .post(server.url("/api/v1/endpoints"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"extension": "1001", "display_name": "Alice"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = server.url(&format!(
        "/api/v1/endpoints/{}",
        created["id"].as_str().unwrap()
    ));
    let res = client.get(&url).send().await.unwrap();
    let tag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(tag, "\"v1\"");

    // Script A updates with the tag it read: fine, and gets the new tag.
    let (status, new_tag, body) = put(
        &client,
        &csrf,
        url.clone(),
        Some(&tag),
        &json!({"extension": "1001", "display_name": "Alice A"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(new_tag.as_deref(), Some("\"v2\""));
    // Script B still holds v1: refused, nothing changed.
    let (status, _, problem) = put(
        &client,
        &csrf,
        url.clone(),
        Some(&tag),
        &json!({"extension": "1001", "display_name": "Alice B"}),
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{problem}");
    assert_eq!(problem["current_version"], 2);
    let shown: Value = client.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(shown["display_name"], "Alice A");
    // A tag that is not ours is refused too; `*` and no header mean "whatever is there".
    let body = json!({"extension": "1001", "display_name": "Alice C"});
    let (status, _, _) = put(&client, &csrf, url.clone(), Some("\"abc\""), &body).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    let (status, _, _) = put(&client, &csrf, url.clone(), Some("*"), &body).await;
    assert_eq!(status, StatusCode::OK);

    // The firewall policy and the PBX policy behave the same.
    for path in ["/api/v1/firewall", "/api/v1/policy"] {
        let res = client.get(server.url(path)).send().await.unwrap();
        let tag = res.headers()["etag"].to_str().unwrap().to_owned();
        let mut doc: Value = res.json().await.unwrap();
        let body = if path == "/api/v1/firewall" {
            doc["policy"].take()
        } else {
            doc.as_object_mut().unwrap().remove("version");
            doc
        };
        let (status, _, b) = put(&client, &csrf, server.url(path), Some(&tag), &body).await;
        assert_eq!(status, StatusCode::OK, "{path}: {b}");
        let (status, _, b) = put(&client, &csrf, server.url(path), Some(&tag), &body).await;
        assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{path}: {b}");
    }
}
