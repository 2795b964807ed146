//! The Toll fraud page in headless Debian Chromium, hydrated: a burst (played over the real
//! FastAGI listener, as Asterisk asks) has locked an account and another call is running;
//! the page shows both, the account is unlocked with a click, a bad rate table is refused
//! naming its line and a good one stored, the policy is changed (and a bad value refused
//! naming its field), and the findings are searched by endpoint.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use std::time::Duration;

use serde_json::json;
use tests::agi::{self, Question};
use tests::api::Api;
use tests::browser::Browser;
use tests::server::{ADMIN_PASSWORD, Options, TestServer};

const WAIT: Duration = Duration::from_secs(20);

fn question<'a>(endpoint: &'a str, number: &'a str, id: &'a str) -> Question<'a> {
    Question {
        endpoint,
        class: "international",
        trunk: "itsp",
        number,
        uniqueid: id,
        source: Some("198.51.100.7:5060"),
    }
}

#[tokio::test]
async fn the_fraud_page_unlocks_prices_and_edits_the_policy() {
    let test = "the_fraud_page_unlocks_prices_and_edits_the_policy";
    let Some(browser) = Browser::start(test).await.unwrap() else {
        return;
    };
    let addr = agi::own_address(78);
    let server = TestServer::start_with(Options {
        env: vec![("SIPWARDEN_FRAUD_AGI_LISTEN".to_owned(), addr.to_string())],
        admin: Some(("admin".to_owned(), ADMIN_PASSWORD.to_owned())),
        ..Options::default()
    })
    .unwrap();
    let api = Api::sign_in(&server).await;
    // ep-thief: six attempts in a minute (limit 5) lock it; ep-desk has a call running.
    for i in 0..6 {
        let id = format!("t.{i}");
        agi::decide(
            addr,
            &question("ep-thief", &format!("004420794600{i:02}"), &id),
        )
        .await
        .unwrap();
        agi::end(addr, &id, "ANSWER", 0).await.unwrap();
    }
    let verdict = agi::decide(addr, &question("ep-desk", "0033140000000", "d.1"))
        .await
        .unwrap();
    assert_eq!(verdict.as_deref(), Some("allow"));

    let c = &browser.client;
    browser
        .sign_in(&server, "admin", ADMIN_PASSWORD)
        .await
        .unwrap();
    c.goto(&server.url("/fraud")).await.unwrap();
    browser.wait_hydrated(WAIT).await.unwrap();
    let table_has = |table: &str, text: &str| {
        format!(
            "document.querySelector('{table}') !== null && document.querySelector('{table}').textContent.includes('{text}')"
        )
    };
    browser
        .wait_for(&table_has("#fraud-locks", "ep-thief"), WAIT)
        .await
        .unwrap();
    assert!(
        browser
            .text("#fraud-calls")
            .await
            .unwrap()
            .contains("ep-desk")
    );
    assert!(
        browser
            .text("#fraud-status")
            .await
            .unwrap()
            .contains("Serving the decision")
    );
    assert!(
        browser
            .text("#fraud-findings")
            .await
            .unwrap()
            .contains("call_rate"),
        "the locking rule is listed"
    );

    // Unlock, without a page load.
    browser.click("#fraud-locks button.unlock").await.unwrap();
    browser
        .wait_for("document.querySelector('#no-locks') !== null", WAIT)
        .await
        .unwrap();
    let (_, locks) = api.call("GET", "/api/v1/fraud/locks", None).await;
    assert_eq!(locks, json!([]));

    // The rate table: a bad line is named; a good table is stored.
    browser
        .fill("#fraud-rates", "44,0.02\n33,cheap\n")
        .await
        .unwrap();
    browser
        .click("#fraud-rates-form button[type=submit]")
        .await
        .unwrap();
    browser
        .wait_for(
            "Array.from(document.querySelectorAll('p.error')).some(p => p.textContent.includes('line 2'))",
            WAIT,
        )
        .await
        .unwrap();
    browser
        .fill("#fraud-rates", "prefix,per_minute\n44,0.02\n33,0.03\n")
        .await
        .unwrap();
    browser
        .click("#fraud-rates-form button[type=submit]")
        .await
        .unwrap();
    browser
        .wait_for(
            &table_has("#fraud-status", "rate table of 2 prefixes"),
            WAIT,
        )
        .await
        .unwrap();

    // The policy: a bad time is refused by name, a good change is stored.
    browser
        .fill("#f-office_hours-start", "25:00")
        .await
        .unwrap();
    browser
        .click("#fraud-policy-form button[type=submit]")
        .await
        .unwrap();
    browser
        .wait_for(
            "Array.from(document.querySelectorAll('p.error')).some(p => p.textContent.includes('Opens'))",
            WAIT,
        )
        .await
        .unwrap();
    browser
        .fill("#f-office_hours-start", "07:30")
        .await
        .unwrap();
    browser.fill("#f-calls_per_minute-max", "7").await.unwrap();
    c.execute(
        "document.querySelector('#f-new_network_mode').value = 'block'; return null;",
        vec![],
    )
    .await
    .unwrap();
    browser
        .click("#fraud-policy-form button[type=submit]")
        .await
        .unwrap();
    browser
        .wait_for(&table_has("#fraud-notice", "Fraud policy saved"), WAIT)
        .await
        .unwrap();
    let (_, policy) = api.call("GET", "/api/v1/fraud/policy", None).await;
    assert_eq!(policy["calls_per_minute"]["max"], 7, "{policy}");
    assert_eq!(policy["office_hours"]["start"], "07:30");
    assert_eq!(policy["new_network_mode"], "block");

    // Search the findings by endpoint: the desk's call fired nothing but the new-country
    // report; the thief's rules are not listed.
    c.goto(&server.url("/fraud?endpoint=ep-desk"))
        .await
        .unwrap();
    browser.wait_hydrated(WAIT).await.unwrap();
    browser
        .wait_for(&table_has("#fraud-findings", "new_country"), WAIT)
        .await
        .unwrap();
    assert!(
        !browser
            .text("#fraud-findings")
            .await
            .unwrap()
            .contains("ep-thief")
    );
    assert_eq!(
        browser
            .value("#fraud-search input[name=endpoint]")
            .await
            .unwrap(),
        "ep-desk"
    );

    browser.screenshot("fraud").await.unwrap();

    // The dashboard charts the last day's external calls: the thief's five that ended and
    // the one refused.
    c.goto(&server.url("/")).await.unwrap();
    browser.wait_hydrated(WAIT).await.unwrap();
    browser
        .wait_for(
            "document.querySelector('#calls-chart rect') !== null && document.querySelector('#calls-chart-total').textContent.startsWith('6 calls')",
            WAIT,
        )
        .await
        .unwrap();
    assert!(
        browser
            .text("#spend-chart-total")
            .await
            .unwrap()
            .starts_with("0 cents")
    );
    // The two refusals above are 422 answers, which Chromium logs; nothing else may be.
    let errors = browser.console_errors().await.unwrap();
    assert!(
        errors.iter().all(|e| e.contains(" 422 ")
            && (e.contains("/fn/upload_fraud_rates") || e.contains("/fn/update_fraud_settings"))),
        "console errors: {errors:?}"
    );
    browser.close().await;
}
