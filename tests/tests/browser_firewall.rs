//! The firewall pages in headless Debian Chromium: ban an attacker from the Bans page, see the
//! refusal for loopback, lift the ban; trust the current address on the Allowlist page; the
//! Firewall page shows the lockout preview and the rendered ruleset.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use std::time::Duration;

use fantoccini::Locator;
use tests::browser::Browser;
use tests::server::{ADMIN_PASSWORD, TestServer};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn ban_unban_and_trust_from_the_console_in_a_real_browser() {
    let test = "ban_unban_and_trust_from_the_console_in_a_real_browser";
    let Some(browser) = Browser::start(test).await.unwrap() else {
        return;
    };
    let server = TestServer::start().unwrap();
    let c = &browser.client;

    browser
        .sign_in(&server, "admin", ADMIN_PASSWORD)
        .await
        .unwrap();

    // Bans: ban an attacker.
    c.goto(&server.url("/bans")).await.unwrap();
    browser.wait_hydrated(WAIT).await.unwrap();
    browser
        .wait_for("document.querySelector('#no-bans') !== null", WAIT)
        .await
        .unwrap();
    browser
        .fill("#ban-form input[name=address]", "203.0.113.7")
        .await
        .unwrap();
    browser
        .fill("#ban-form input[name=duration_minutes]", "10")
        .await
        .unwrap();
    browser
        .fill("#ban-form input[name=reason]", "svcrack seen in the log")
        .await
        .unwrap();
    browser.click("#ban").await.unwrap();
    browser
        .wait_for(
            "document.querySelector('#bans-table') && document.querySelector('#bans-table').textContent.includes('203.0.113.7') && document.querySelector('#bans-table').textContent.includes('svcrack seen in the log')",
            WAIT,
        )
        .await
        .unwrap();
    let row = c
        .find(Locator::Css("#bans-table tbody tr"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(row.contains("admin"), "who banned it: {row}");
    assert!(row.contains("min"), "time left: {row}");
    browser.screenshot("bans").await.unwrap();

    // Loopback cannot be banned: the page says why, and the ban list is unchanged.
    browser
        .fill("#ban-form input[name=address]", "127.0.0.1")
        .await
        .unwrap();
    browser
        .fill("#ban-form input[name=reason]", "oops")
        .await
        .unwrap();
    browser.click("#ban").await.unwrap();
    browser
        .wait_for(
            "[...document.querySelectorAll('p.error')].some(p => p.textContent.includes('cannot be banned'))",
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(
        c.find_all(Locator::Css("#bans-table tbody tr"))
            .await
            .unwrap()
            .len(),
        1
    );

    // Unban.
    browser.click("#bans-table button.unban").await.unwrap();
    browser
        .wait_for("document.querySelector('#no-bans') !== null", WAIT)
        .await
        .unwrap();

    // Allowlist: trust my current address (empty field = the address the browser comes from).
    c.goto(&server.url("/allowlist")).await.unwrap();
    browser.wait_hydrated(WAIT).await.unwrap();
    browser
        .wait_for("document.querySelector('#your-address') !== null", WAIT)
        .await
        .unwrap();
    let yours = c
        .find(Locator::Css("#your-address"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(yours, "127.0.0.1");
    browser
        .fill("#allow-form input[name=note]", "on call tonight")
        .await
        .unwrap();
    browser.click("#trust").await.unwrap();
    browser
        .wait_for(
            "document.querySelector('#allow-table') && document.querySelector('#allow-table').textContent.includes('127.0.0.1') && document.querySelector('#allow-table').textContent.includes('on call tonight')",
            WAIT,
        )
        .await
        .unwrap();
    browser.screenshot("allowlist").await.unwrap();

    // Firewall: nothing applied yet, nobody locked out, the ruleset shown.
    c.goto(&server.url("/firewall")).await.unwrap();
    browser
        .wait_for("document.querySelector('#lockout-none') !== null && document.querySelector('#ruleset') !== null", WAIT)
        .await
        .unwrap();
    let state = c
        .find(Locator::Css("#table-state"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(state.starts_with("not applied"), "{state}");
    let ruleset = c
        .find(Locator::Css("#ruleset"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(ruleset.contains("5060"), "{ruleset}");
    browser.screenshot("firewall").await.unwrap();

    // The audit log has all of it.
    c.goto(&server.url("/audit")).await.unwrap();
    browser
        .wait_for("document.querySelector('#audit-table') !== null", WAIT)
        .await
        .unwrap();
    let audit = c
        .find(Locator::Css("#audit-table"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for action in ["ban_add", "ban_remove", "allow_add"] {
        assert!(audit.contains(action), "{action} missing:\n{audit}");
    }
    browser.close().await;
}
