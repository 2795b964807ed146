//! The console in headless Debian Chromium: it hydrates, a wrong password shows an error, the
//! right one shows the dashboard (live: it follows its change feed), signing out returns to
//! `/login`, and a dashboard whose server went away says it is no longer live.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use std::time::Duration;

use fantoccini::Locator;
use tests::browser::Browser;
use tests::server::{ADMIN_PASSWORD, TestServer};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn sign_in_dashboard_and_sign_out_in_a_real_browser() {
    let test = "sign_in_dashboard_and_sign_out_in_a_real_browser";
    let Some(browser) = Browser::start(test).await.unwrap() else {
        return;
    };
    let mut server = TestServer::start().unwrap();
    let c = &browser.client;

    c.goto(&server.url("/login")).await.unwrap();
    // Hydration replaces the server-rendered form's behaviour.
    browser.wait_hydrated(WAIT).await.unwrap();

    // Wrong password: the error appears on the same page.
    c.find(Locator::Css("input[name=username]"))
        .await
        .unwrap()
        .send_keys("admin")
        .await
        .unwrap();
    c.find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys("not the password")
        .await
        .unwrap();
    c.find(Locator::Css("#login-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_for("document.querySelector('p.error') && document.querySelector('p.error').textContent.includes('Wrong username or password')", WAIT)
        .await
        .unwrap();
    let url = c.current_url().await.unwrap();
    assert_eq!(url.path(), "/login");
    // With JavaScript the form was sent by the hydrated app (fetch), not as a page post, so
    // the URL carries no `?error=` code: this is what proves hydration worked.
    assert_eq!(
        url.query(),
        None,
        "the error came back through a page reload, not hydration"
    );
    browser.screenshot("login-wrong-password").await.unwrap();

    // Right password: the dashboard.
    let password = c.find(Locator::Css("input[name=password]")).await.unwrap();
    password.clear().await.unwrap();
    password.send_keys(ADMIN_PASSWORD).await.unwrap();
    c.find(Locator::Css("#login-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_for("document.querySelector('#version') !== null", WAIT)
        .await
        .unwrap();
    let version = c
        .find(Locator::Css("#version"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    let database = c
        .find(Locator::Css("#database"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(database.starts_with("ok"), "{database}");
    // The dashboard follows its change feed, and says so.
    browser.wait_live("open", WAIT).await.unwrap();
    let shot = browser.screenshot("dashboard").await.unwrap();
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "a real screenshot"
    );

    // The navigation lists the pages that work, and the audit log shows this sign-in.
    c.find(Locator::LinkText("Audit log"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_for("document.querySelector('#audit-table') && document.querySelector('#audit-table').textContent.includes('signed in')", WAIT)
        .await
        .unwrap();
    browser.screenshot("audit-log").await.unwrap();

    // Sign out: back to /login, and the dashboard is no longer reachable.
    c.find(Locator::Css("#sign-out"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_for(
            "location.pathname === '/login' && document.querySelector('#login-form') !== null",
            WAIT,
        )
        .await
        .unwrap();
    c.goto(&server.url("/")).await.unwrap();
    browser
        .wait_for("location.pathname === '/login'", WAIT)
        .await
        .unwrap();
    browser.screenshot("signed-out").await.unwrap();

    // The server goes away under an open dashboard: the page says it is no longer live, and
    // the browser keeps retrying.
    browser
        .sign_in(&server, "admin", ADMIN_PASSWORD)
        .await
        .unwrap();
    browser.wait_live("open", WAIT).await.unwrap();
    server.terminate().unwrap();
    browser.wait_live("connecting", WAIT).await.unwrap();
    assert!(
        browser
            .text("[data-live]")
            .await
            .unwrap()
            .contains("reconnecting")
    );
    browser.close().await;
}
