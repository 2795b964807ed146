//! The alerts page over real HTTP, as a browser without JavaScript uses it (plain form posts
//! to the server functions, redirects, full pages) and as the hydrated app calls it (typed
//! answers): create with the secret shown once, refusals with the field, test with its
//! result, disable, edit, delete; administrators only, CSRF checked.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::console::ConsoleSession;
use tests::server::{ADMIN_PASSWORD, TestServer};
use tests::webhook::Receiver;

const VIEWER_PASSWORD: &str = "Copper-Lantern-2026";

type Session<'s> = ConsoleSession<'s>;

/// The alerts, as the API lists them to this session.
async fn listed(session: &Session<'_>) -> Vec<Value> {
    let res = session
        .client
        .get(session.server.url("/api/v1/alerts"))
        .send()
        .await
        .unwrap();
    let list: Value = res.json().await.unwrap();
    list["items"].as_array().unwrap().clone()
}

/// The text of the first element whose opening tag contains `marker`, Leptos markers removed.
fn text_of(html: &str, marker: &str) -> Option<String> {
    let start = html.find(marker)?;
    let rest = &html[start..];
    let rest = &rest[rest.find('>')? + 1..];
    let end = rest.find("</p>").or_else(|| rest.find("</"))?;
    Some(
        rest[..end]
            .replace("<!>", "")
            .replace("<!---->", "")
            .replace("<code>", "")
            .replace("</code>", ""),
    )
}

fn alert_fields<'a>(name: &'a str, url: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("url", url),
        ("ban", "on"),
        ("guard_blind", "on"),
        ("rate_per_minute", ""),
        ("enabled", "on"),
        // The test receivers listen on loopback.
        ("allow_internal_targets", "on"),
    ]
}

#[tokio::test]
async fn the_alerts_page_works_without_javascript_and_for_the_hydrated_app() {
    let server = TestServer::start().unwrap();
    let admin = Session::sign_in(&server, "admin", ADMIN_PASSWORD).await;
    let receiver = Receiver::start(&[]).await;

    let html = admin.page("/alerts").await;
    assert!(html.contains("href=\"/alerts\""), "no nav link");
    assert!(html.contains("id=\"no-alerts\""));
    assert!(html.contains("id=\"alert-create\""));

    // Created: the secret is on the page the redirect leads to, once.
    let to = admin
        .post_form(
            "/alerts",
            "create_alert",
            &alert_fields("pager", &receiver.url),
        )
        .await;
    assert!(to.starts_with("/alerts?flash="), "{to}");
    let html = admin.page(&to).await;
    let shown = text_of(&html, "class=\"secret-value\"").expect("the secret is shown");
    assert!(shown.starts_with("whsec_"), "{shown}");
    let secret = shown.trim().to_owned();
    assert!(admin.page(&to).await.find(&secret).is_none(), "shown twice");
    assert!(!admin.page("/alerts").await.contains(&secret));
    let alerts = listed(&admin).await;
    assert_eq!(alerts.len(), 1);
    let id = alerts[0]["id"].as_i64().unwrap().to_string();
    assert_eq!(alerts[0]["triggers"], json!(["ban", "guard-blind"]));

    // Refused: the field and the rule on the page, nothing stored.
    let to = admin
        .post_form(
            "/alerts",
            "create_alert",
            &alert_fields("bad", "ftp://example.com/"),
        )
        .await;
    assert!(to.starts_with("/alerts?flash="), "{to}");
    let html = admin.page(&to).await;
    assert!(html.contains("data-field=\"url\""), "{html}");
    assert!(html.contains("http:// or https://"));
    let mut no_threshold = alert_fields("spiky", &receiver.url);
    no_threshold.push(("rate_spike", "on"));
    let to = admin
        .post_form("/alerts", "create_alert", &no_threshold)
        .await;
    let html = admin.page(&to).await;
    assert!(html.contains("rate_per_minute"), "{html}");
    assert_eq!(listed(&admin).await.len(), 1);

    // Test: the page shows what the receiver answered.
    let to = admin
        .post_form("/alerts", "test_alert", &[("id", &id)])
        .await;
    assert!(to.starts_with("/alerts?tested="), "{to}");
    let html = admin.page(&to).await;
    let result = text_of(&html, "id=\"test-result\"").expect("a test result");
    assert!(result.contains("delivered (HTTP 200)"), "{result}");
    let hits = receiver.hits();
    assert_eq!(hits.len(), 1);
    assert!(hits[0].signed_by(&secret));
    assert!(html.contains("id=\"delivery-table\""));

    // Disabled, then edited.
    let to = admin
        .post_form(
            "/alerts",
            "set_alert_enabled",
            &[("id", &id), ("enabled", "false")],
        )
        .await;
    assert_eq!(to, "/alerts?saved=1");
    assert_eq!(listed(&admin).await[0]["enabled"], false);
    assert!(admin.page("/alerts").await.contains(">disabled<"));
    let mut edited = alert_fields("pager 2", &receiver.url);
    edited.push(("id", &id));
    edited.push(("rate_spike", "on"));
    edited.push(("rate_per_minute", "250"));
    edited.retain(|(k, v)| !(*k == "rate_per_minute" && v.is_empty()));
    let to = admin.post_form("/alerts", "update_alert", &edited).await;
    assert_eq!(to, "/alerts?saved=1");
    let now = &listed(&admin).await[0];
    assert_eq!(now["name"], "pager 2");
    assert_eq!(now["rate_per_minute"], 250);
    assert_eq!(now["enabled"], true);

    // The hydrated app gets typed answers.
    let (status, delivery) = admin.call("test_alert", &[("id", &id)]).await;
    assert_eq!(status, StatusCode::OK, "{delivery}");
    assert_eq!(delivery["outcome"], "delivered");
    let (status, refused) = admin
        .call("create_alert", &alert_fields("x", "javascript:alert(1)"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["Invalid"]["field"], "url", "{refused}");
    let (status, created) = admin
        .call("create_alert", &alert_fields("second", &receiver.url))
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));

    // A form without the session's CSRF token changes nothing.
    let (status, _) = admin
        .call("delete_alert", &[("csrf", "forged"), ("id", &id)])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(listed(&admin).await.len(), 2);

    // Viewers: neither the page's data nor changes.
    let res = admin
        .client
        .post(server.url("/api/v1/users"))
        .header("x-csrf-token", &admin.csrf)
        .json(&json!({"username": "vera", "password": VIEWER_PASSWORD, "role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let viewer = Session::sign_in(&server, "vera", VIEWER_PASSWORD).await;
    let html = viewer.page("/alerts").await;
    assert!(html.contains("Your role does not allow this."), "{html}");
    assert!(!html.contains(&receiver.url), "a viewer saw a webhook URL");
    assert!(!html.contains("id=\"alert-create\""));
    let (status, _) = viewer.call("delete_alert", &[("id", &id)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Deleted.
    let to = admin
        .post_form("/alerts", "delete_alert", &[("id", &id)])
        .await;
    assert_eq!(to, "/alerts?deleted=1");
    let html = admin.page(&to).await;
    assert!(html.contains("Alert deleted."));
    assert_eq!(listed(&admin).await.len(), 1);
}
