//! The alerts page in headless Debian Chromium, hydrated: create an alert (the secret appears
//! without a page load), press Test and see the receiver's answer, disable it.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use std::time::Duration;

use fantoccini::Locator;
use tests::browser::Browser;
use tests::server::{ADMIN_PASSWORD, TestServer};
use tests::webhook::Receiver;

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn an_alert_is_created_tested_and_disabled_in_the_hydrated_console() {
    let test = "an_alert_is_created_tested_and_disabled_in_the_hydrated_console";
    let Some(browser) = Browser::start(test).await.unwrap() else {
        return;
    };
    let server = TestServer::start().unwrap();
    let receiver = Receiver::start(&[]).await;
    let c = &browser.client;
    browser
        .sign_in(&server, "admin", ADMIN_PASSWORD)
        .await
        .unwrap();

    c.goto(&server.url("/alerts")).await.unwrap();
    browser.wait_hydrated(WAIT).await.unwrap();
    browser
        .wait_for("document.querySelector('#no-alerts') !== null", WAIT)
        .await
        .unwrap();
    browser
        .fill("#alert-create input[name=name]", "pager")
        .await
        .unwrap();
    browser
        .fill("#alert-create input[name=url]", &receiver.url)
        .await
        .unwrap();
    // The receiver listens on loopback: an internal target, allowed explicitly.
    c.find(Locator::Css(
        "#alert-create input[name=allow_internal_targets]",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    c.find(Locator::Css("#alert-create button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_for(
            "document.querySelector('#alert-secret .secret-value') && document.querySelector('#alert-secret .secret-value').textContent.startsWith('whsec_') && document.querySelector('#alert-table') !== null",
            WAIT,
        )
        .await
        .unwrap();
    let url = c.current_url().await.unwrap();
    assert!(
        url.query().is_none_or(|q| !q.contains("flash")),
        "the hydrated form went through a page load: {url}"
    );
    let secret = c
        .find(Locator::Css("#alert-secret .secret-value"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    c.find(Locator::Css("#alert-table form.test button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_for(
            "document.querySelector('#test-result') && document.querySelector('#test-result').textContent.includes('delivered (HTTP 200)')",
            WAIT,
        )
        .await
        .unwrap();
    let hits = receiver.hits();
    assert_eq!(hits.len(), 1);
    assert!(hits[0].signed_by(secret.trim()));
    browser
        .wait_for(
            "document.querySelector('#delivery-table') && document.querySelector('#delivery-table').textContent.includes('delivered')",
            WAIT,
        )
        .await
        .unwrap();

    c.find(Locator::Css("#alert-table form.toggle button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_for(
            "document.querySelector('#alert-table td.state') && document.querySelector('#alert-table td.state').textContent === 'disabled'",
            WAIT,
        )
        .await
        .unwrap();
    let shot = browser.screenshot("alerts").await.unwrap();
    eprintln!("alerts page screenshot: {}", shot.display());
    browser.close().await;
}
