//! Every console page in headless Chromium at a desktop (1440×1000) and a phone (390×844)
//! size (#20): the page never scrolls sideways, the console prints no error (Content-Security-
//! Policy violations included), each tab has its own title, destructive actions ask first,
//! and on the phone the navigation is a drawer. Screenshots of every page at both sizes are
//! kept under `target/browser/layout/`.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use std::time::Duration;

use serde_json::json;
use tests::api::Api;
use tests::browser::Browser;
use tests::server::{ADMIN_PASSWORD, TestServer};

const WAIT: Duration = Duration::from_secs(20);
const SIZES: [(u32, u32); 2] = [(1440, 1000), (390, 844)];

/// Gives every page something to show: an endpoint, a trunk, an AMI user, an alert.
async fn furnish(server: &TestServer) -> (String, String, String) {
    let api = Api::sign_in(server).await;
    let endpoint = api
        .create(
            "/api/v1/endpoints",
            json!({"extension": "1001", "display_name": "Front desk"}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.create(
        "/api/v1/trunks",
        json!({"name": "provider-a", "peer": "203.0.113.9", "dids": [{"did": "4930123456", "extension": "1001"}]}),
    )
    .await;
    api.create(
        "/api/v1/ami-users",
        json!({"name": "crm", "read": ["call"], "write": []}),
    )
    .await;
    api.create(
        "/api/v1/alerts",
        json!({"name": "pager", "url": "https://hooks.example.com/sipwarden", "triggers": ["ban"]}),
    )
    .await;
    (endpoint, "provider-a".to_owned(), "crm".to_owned())
}

#[tokio::test]
async fn every_page_fits_a_desktop_and_a_phone_without_errors() {
    let test = "every_page_fits_a_desktop_and_a_phone_without_errors";
    let Some(browser) = Browser::start(test).await.unwrap() else {
        return;
    };
    let server = TestServer::start().unwrap();
    let (endpoint, trunk, ami) = furnish(&server).await;
    let pages = [
        ("dashboard", "/".to_owned()),
        ("events", "/events".to_owned()),
        ("firewall", "/firewall".to_owned()),
        ("bans", "/bans".to_owned()),
        ("allowlist", "/allowlist".to_owned()),
        ("guard", "/guard".to_owned()),
        ("alerts", "/alerts".to_owned()),
        ("endpoints", "/endpoints".to_owned()),
        ("endpoint", format!("/endpoints/{endpoint}")),
        ("trunks", "/trunks".to_owned()),
        ("trunk", format!("/trunks/{trunk}")),
        ("ami-users", "/ami-users".to_owned()),
        ("ami-user", format!("/ami-users/{ami}")),
        ("policy", "/policy".to_owned()),
        ("config", "/config".to_owned()),
        ("users", "/users".to_owned()),
        ("audit", "/audit".to_owned()),
        ("account", "/account".to_owned()),
    ];
    let c = &browser.client;
    browser
        .sign_in(&server, "admin", ADMIN_PASSWORD)
        .await
        .unwrap();
    // The console log is really read: a probe error shows up, and only once.
    c.execute("console.error('sipwarden-probe');", vec![])
        .await
        .unwrap();
    let probe = browser.console_errors().await.unwrap();
    assert!(
        probe.iter().any(|e| e.contains("sipwarden-probe")),
        "{probe:?}"
    );
    assert!(browser.console_errors().await.unwrap().is_empty());
    let mut problems = Vec::new();
    let mut titles = std::collections::BTreeSet::new();
    for (width, height) in SIZES {
        c.set_window_size(width, height).await.unwrap();
        for (name, path) in &pages {
            c.goto(&server.url(path)).await.unwrap();
            browser.wait_hydrated(WAIT).await.unwrap();
            // Let the page's own requests (resources, live streams) finish or fail.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let fits = c
                .execute(
                    "return [document.documentElement.scrollWidth, window.innerWidth];",
                    vec![],
                )
                .await
                .unwrap();
            if *name == "dashboard" {
                eprintln!("{width}x{height}: the page is {} px wide inside", fits[1]);
            }
            let (scroll, inner) = (fits[0].as_u64().unwrap(), fits[1].as_u64().unwrap());
            if scroll > inner {
                problems.push(format!(
                    "{width}px {path}: the page scrolls sideways ({scroll} > {inner})"
                ));
            }
            for error in browser.console_errors().await.unwrap() {
                problems.push(format!("{width}px {path}: console: {error}"));
            }
            let title = c.title().await.unwrap();
            if !title.ends_with(" · sipwarden") {
                problems.push(format!("{path}: the tab is titled `{title}`"));
            }
            titles.insert(title);
            // A destructive action asks first: its button is inside a closed question.
            let unasked = c
                .execute(
                    "return [...document.querySelectorAll('button.danger, form.rotate button, form.rollback button')]
                        .filter(b => !(b.closest('details.confirm') && !b.closest('details.confirm').open))
                        .map(b => b.textContent).join(', ');",
                    vec![],
                )
                .await
                .unwrap();
            let unasked = unasked.as_str().unwrap_or_default().to_owned();
            // The account page's own removal asks for the password instead.
            if !unasked.is_empty() && *name != "account" {
                problems.push(format!("{path}: acts without asking: {unasked}"));
            }
            let shot = browser
                .screenshot(&format!("layout/{width}x{height}-{name}"))
                .await
                .unwrap();
            assert!(shot.is_file());
        }
    }
    // Fourteen kinds of page, each its own title (object pages share their kind's).
    assert!(titles.len() >= 14, "{titles:?}");

    // On the phone the navigation is a drawer behind "Menu".
    c.set_window_size(390, 844).await.unwrap();
    c.goto(&server.url("/")).await.unwrap();
    browser.wait_hydrated(WAIT).await.unwrap();
    let nav_shown = "getComputedStyle(document.querySelector('header nav')).display !== 'none'";
    let shown = c
        .execute(&format!("return {nav_shown};"), vec![])
        .await
        .unwrap();
    assert_eq!(shown, json!(false), "the phone shows the whole navigation");
    browser.click("label.nav-open").await.unwrap();
    browser.wait_for(nav_shown, WAIT).await.unwrap();
    browser
        .screenshot("layout/390x844-menu-open")
        .await
        .unwrap();
    browser.follow("Trunks").await.unwrap();
    browser
        .wait_for("location.pathname === '/trunks'", WAIT)
        .await
        .unwrap();

    // A destructive action asks, naming its object, and the trunk wants its name typed.
    c.set_window_size(1440, 1000).await.unwrap();
    browser
        .click("details.confirm.delete > summary")
        .await
        .unwrap();
    let question = browser
        .text("details.confirm.delete .question p")
        .await
        .unwrap();
    assert!(question.contains("provider-a"), "{question}");
    browser
        .screenshot("layout/1440x1000-trunk-delete-question")
        .await
        .unwrap();

    // Signed out: the two pages of the door.
    browser.click("#sign-out").await.unwrap();
    browser
        .wait_for("location.pathname === '/login'", WAIT)
        .await
        .unwrap();
    for (width, height) in SIZES {
        c.set_window_size(width, height).await.unwrap();
        for (name, path) in [("login", "/login"), ("setup", "/setup")] {
            c.goto(&server.url(path)).await.unwrap();
            browser.wait_hydrated(WAIT).await.unwrap();
            for error in browser.console_errors().await.unwrap() {
                problems.push(format!("{width}px {path}: console: {error}"));
            }
            let title = c.title().await.unwrap();
            if !title.ends_with(" · sipwarden") {
                problems.push(format!("{path}: the tab is titled `{title}`"));
            }
            browser
                .screenshot(&format!("layout/{width}x{height}-{name}"))
                .await
                .unwrap();
        }
    }
    browser.close().await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
