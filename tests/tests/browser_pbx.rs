//! The PBX pages in headless Debian Chromium, hydrated: create an endpoint and read its
//! generated secret on the page, see a refusal beside the form with what was typed kept,
//! edit the endpoint, preview the configuration diff and apply it (no Asterisk here: the
//! report says it was not applied and why, and the history lists the failed revision).
//! Screenshots go to `target/screenshots/`.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use std::time::Duration;

use fantoccini::Locator;
use tests::browser::Browser;
use tests::server::{ADMIN_PASSWORD, TestServer, workspace_root};

const WAIT: Duration = Duration::from_secs(20);

async fn screenshot(browser: &Browser, name: &str) {
    let png = browser.client.screenshot().await.unwrap();
    let dir = workspace_root().join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, &png).unwrap();
    assert!(png.len() > 10_000, "a real screenshot: {}", path.display());
}

#[tokio::test]
async fn an_endpoint_is_created_edited_and_previewed_in_a_real_browser() {
    let test = "an_endpoint_is_created_edited_and_previewed_in_a_real_browser";
    let Some(browser) = Browser::start(test).await.unwrap() else {
        return;
    };
    let server = TestServer::start().unwrap();
    let c = &browser.client;

    // Sign in through the hydrated login form.
    browser
        .sign_in(&server, "admin", ADMIN_PASSWORD)
        .await
        .unwrap();

    // Through the navigation (client-side: the app is hydrated from here on).
    browser.follow("Endpoints").await.unwrap();
    browser
        .wait_for("document.querySelector('#endpoint-create') !== null", WAIT)
        .await
        .unwrap();

    // Bad input: the reason beside the form, and what was typed is still there.
    browser
        .fill("#endpoint-create input[name=extension]", "12a")
        .await
        .unwrap();
    browser
        .fill("#endpoint-create input[name=display_name]", "Alice")
        .await
        .unwrap();
    browser
        .fill("#endpoint-create input[name=permit]", "192.168.1.0/24")
        .await
        .unwrap();
    browser
        .click("#endpoint-create button[type=submit]")
        .await
        .unwrap();
    browser
        .wait_for("[...document.querySelectorAll('[role=alert] .field')].some(e => e.closest('[data-field]')?.dataset.field === 'extension')", WAIT)
        .await
        .unwrap();
    let kept = c
        .find(Locator::Css("#endpoint-create input[name=display_name]"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some("Alice"));
    let url = c.current_url().await.unwrap();
    assert_eq!(url.path(), "/endpoints");
    assert_eq!(
        url.query(),
        None,
        "the refusal came through the hydrated app, not a reload"
    );
    screenshot(&browser, "endpoint-refused").await;

    // Corrected: created, and the generated secret is shown on the page.
    browser
        .fill("#endpoint-create input[name=extension]", "1001")
        .await
        .unwrap();
    browser
        .click("#endpoint-create button[type=submit]")
        .await
        .unwrap();
    browser
        .wait_for("document.querySelector('.secret-value') !== null", WAIT)
        .await
        .unwrap();
    let secret = browser.value(".secret-value").await.unwrap();
    let id = browser.text(".secret-key").await.unwrap();
    assert!(secret.len() >= 20, "{secret}");
    assert!(id.chars().any(|ch| ch.is_ascii_alphabetic()), "{id}");
    browser
        .wait_for(
            "document.querySelector('tr[data-extension=\"1001\"]') !== null",
            WAIT,
        )
        .await
        .unwrap();
    screenshot(&browser, "endpoint-created").await;
    // The form went back to its defaults, so a second press does not send the same again.
    let extension = c
        .find(Locator::Css("#endpoint-create input[name=extension]"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(extension.as_deref(), Some(""));

    // The REST API agrees, and never shows the secret.
    let (api, _) = server.api_sign_in("admin", ADMIN_PASSWORD).await.unwrap();
    let stored: serde_json::Value = api
        .get(server.url(&format!("/api/v1/endpoints/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["extension"], "1001");
    assert_eq!(stored["permit"], serde_json::json!(["192.168.1.0/24"]));
    assert!(!stored.to_string().contains(&secret));

    // Edit it on its own page.
    browser.follow("Alice").await.unwrap();
    browser
        .wait_for("document.querySelector('#endpoint-edit') !== null", WAIT)
        .await
        .unwrap();
    assert_eq!(browser.text("#endpoint-id").await.unwrap(), id);
    assert!(
        !c.source().await.unwrap().contains(&secret),
        "the secret is not shown again"
    );
    browser
        .fill("#endpoint-edit input[name=display_name]", "Alice Smith")
        .await
        .unwrap();
    browser
        .fill("#endpoint-edit input[name=max_calls]", "4")
        .await
        .unwrap();
    browser
        .click("#endpoint-edit button[type=submit]")
        .await
        .unwrap();
    browser
        .wait_for("document.querySelector('#saved') !== null", WAIT)
        .await
        .unwrap();
    let stored: serde_json::Value = api
        .get(server.url(&format!("/api/v1/endpoints/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["display_name"], "Alice Smith");
    assert_eq!(stored["max_calls"], 4);
    screenshot(&browser, "endpoint-edited").await;

    // The configuration page: a diff per file that adds this endpoint.
    browser.follow("Configuration").await.unwrap();
    browser
        .wait_for("document.querySelector('#preview') !== null", WAIT)
        .await
        .unwrap();
    // A long file is folded under its summary line: its diff is in the page all the same.
    let preview = c
        .execute(
            "return document.getElementById('preview').textContent;",
            vec![],
        )
        .await
        .unwrap();
    let preview = preview.as_str().unwrap().to_owned();
    assert!(preview.contains("pjsip.conf"), "{preview}");
    assert!(preview.contains("+1 endpoint"), "the summary: {preview}");
    assert!(preview.contains(&format!("+[{id}]")), "{preview}");
    assert!(preview.contains("Alice Smith"), "{preview}");
    assert!(c.find(Locator::Css("#no-revisions")).await.is_ok());
    screenshot(&browser, "config-preview").await;

    // Apply: nothing answers on AMI here, so it is not applied, says why, and the history
    // lists the failed revision.
    browser
        .click("#apply-form button[type=submit]")
        .await
        .unwrap();
    browser
        .wait_for("document.querySelector('#apply-report') !== null", WAIT)
        .await
        .unwrap();
    let report = browser.text("#apply-report").await.unwrap();
    assert!(report.contains("Revision 1 was not applied"), "{report}");
    assert!(report.contains("AMI"), "{report}");
    browser
        .wait_for(
            "document.querySelector('#revision-table tr.status-failed') !== null",
            WAIT,
        )
        .await
        .unwrap();
    screenshot(&browser, "config-apply-failed").await;

    // A PBX page loaded directly (not through the app's navigation) hydrates too: a new
    // secret comes back through the app, not a page reload.
    c.goto(&server.url("/endpoints")).await.unwrap();
    browser.wait_hydrated(WAIT).await.unwrap();
    browser
        .click("tr[data-extension=\"1001\"] details.rotate > summary")
        .await
        .unwrap();
    browser
        .click("tr[data-extension=\"1001\"] form.rotate button")
        .await
        .unwrap();
    browser
        .wait_for("document.querySelector('.secret-value') !== null", WAIT)
        .await
        .unwrap();
    let rotated = browser.value(".secret-value").await.unwrap();
    assert!(rotated.len() >= 20 && rotated != secret, "{rotated}");
    let url = c.current_url().await.unwrap();
    assert_eq!(url.query(), None, "hydrated: no reload through a flash");
    browser.close().await;
}

#[tokio::test]
async fn an_existing_pbx_is_audited_and_imported_from_an_archive_chosen_in_the_browser() {
    let test = "an_existing_pbx_is_audited_and_imported_from_an_archive_chosen_in_the_browser";
    let Some(browser) = Browser::start(test).await.unwrap() else {
        return;
    };
    let server = TestServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("office.tgz");
    let corpus = workspace_root().join("policy/tests/fixtures/audit/weak-chan-sip");
    let packed = std::process::Command::new("tar")
        .arg("czf")
        .arg(&archive)
        .arg("-C")
        .arg(&corpus)
        .arg(".")
        .status()
        .unwrap();
    assert!(packed.success());
    let not_an_archive = dir.path().join("notes.zip");
    std::fs::write(&not_an_archive, b"PK\x03\x04 not a tar").unwrap();

    browser
        .sign_in(&server, "admin", ADMIN_PASSWORD)
        .await
        .unwrap();
    browser.follow("Audit a PBX").await.unwrap();
    browser
        .wait_for("document.querySelector('#audit-start') !== null", WAIT)
        .await
        .unwrap();
    browser.wait_hydrated(WAIT).await.unwrap();
    let choose = |path: std::path::PathBuf| {
        let c = browser.client.clone();
        async move {
            let input = c.find(Locator::Css("#audit-file")).await.unwrap();
            input.send_keys(path.to_str().unwrap()).await.unwrap();
        }
    };
    choose(archive).await;
    browser.click("#audit-start").await.unwrap();
    browser
        .wait_for("document.querySelector('#audit-findings') !== null", WAIT)
        .await
        .unwrap();
    let score = browser.text("#audit-score").await.unwrap();
    // The tile label is shown in capitals (CSS), which WebDriver reports as shown.
    let score = score.to_lowercase();
    assert!(
        score.contains("office.tgz") && score.contains("0 / 100"),
        "{score}"
    );
    let row = browser
        .text("#audit-findings tr[data-rule='sip.auth_reject']")
        .await
        .unwrap();
    assert!(
        row.contains("sip_custom.conf:2") && row.contains("high"),
        "{row}"
    );
    screenshot(&browser, "pbx-audit").await;

    // The same archive, taken over: a preview first, then the import.
    browser.click("#import-preview").await.unwrap();
    browser
        .wait_for("document.querySelector('#import-result') !== null", WAIT)
        .await
        .unwrap();
    let preview = browser.text("#import-result").await.unwrap();
    assert!(
        preview.starts_with("Preview: 2 endpoints, 1 trunks and 1 AMI users"),
        "{preview}"
    );
    let row = browser
        .text("#import-endpoints tr[data-id='1001']")
        .await
        .unwrap();
    assert!(
        row.contains("international") && row.contains("sip.conf:7") && row.contains("weak"),
        "{row}"
    );
    let contexts = browser.text("#import-contexts").await.unwrap();
    assert!(contexts.contains("_X. dials trunk provider"), "{contexts}");
    browser.click("#import-start").await.unwrap();
    browser
        .wait_for(
            "(document.querySelector('#import-result')?.textContent ?? '').startsWith('Imported')",
            WAIT,
        )
        .await
        .unwrap();
    let secret = browser.text("#import-ami-users code.secret").await.unwrap();
    assert!(
        secret.len() >= 20,
        "the new AMI secret is shown once: {secret}"
    );
    browser
        .client
        .execute(
            "document.querySelector('#import-result').scrollIntoView()",
            vec![],
        )
        .await
        .unwrap();
    screenshot(&browser, "pbx-import").await;
    browser.follow("Endpoints").await.unwrap();
    browser
        .wait_for(
            "document.querySelector('tr[data-extension=\"1002\"]') !== null",
            WAIT,
        )
        .await
        .unwrap();
    // (Before the refused upload: Chromium logs every 4xx answer to `fetch` as an error.)
    assert_eq!(
        browser.console_errors().await.unwrap(),
        Vec::<String>::new()
    );
    browser.follow("Audit a PBX").await.unwrap();
    browser
        .wait_for("document.querySelector('#audit-start') !== null", WAIT)
        .await
        .unwrap();
    browser.wait_hydrated(WAIT).await.unwrap();

    choose(not_an_archive).await;
    browser.click("#audit-start").await.unwrap();
    browser
        .wait_for("document.querySelector('#audit-error') !== null", WAIT)
        .await
        .unwrap();
    let error = browser.text("#audit-error").await.unwrap();
    assert!(error.contains("tar czf"), "{error}");
    browser.close().await;
}
