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
        ("fraud", "/fraud".to_owned()),
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

/// What a person meets beyond the layout: a new secret takes the focus with its copy buttons
/// and the phone's provisioning block; a refused field is named in words, marked and focused;
/// the preview starts with a summary and holds no secret or digest; notices belong to the
/// last action; a session that ended signs in again and comes back to the page.
#[tokio::test]
async fn secrets_refusals_preview_and_ended_sessions_read_right() {
    let test = "secrets_refusals_preview_and_ended_sessions_read_right";
    let Some(browser) = Browser::start(test).await.unwrap() else {
        return;
    };
    let server = TestServer::start().unwrap();
    furnish(&server).await;
    let c = &browser.client;
    c.set_window_size(1440, 1000).await.unwrap();
    browser
        .sign_in(&server, "admin", ADMIN_PASSWORD)
        .await
        .unwrap();
    let js = |script: &str| {
        let script = format!("return {script};");
        async move { c.execute(&script, vec![]).await.unwrap() }
    };

    // A refused field: named as the form names it, marked, and the cursor is in it.
    c.goto(&server.url("/endpoints")).await.unwrap();
    browser.wait_hydrated(WAIT).await.unwrap();
    browser
        .fill("#endpoint-create input[name=extension]", "12a")
        .await
        .unwrap();
    browser
        .fill("#endpoint-create input[name=display_name]", "Lobby")
        .await
        .unwrap();
    browser
        .click("#endpoint-create button[type=submit]")
        .await
        .unwrap();
    browser
        .wait_for(
            "document.querySelector('[aria-invalid=true]') !== null",
            WAIT,
        )
        .await
        .unwrap();
    let refusal = browser.text("p.error[data-field=extension]").await.unwrap();
    assert!(refusal.starts_with("Check Extension:"), "{refusal}");
    assert_eq!(
        js("document.activeElement.name").await,
        json!("extension"),
        "the cursor is in the refused field"
    );
    browser
        .screenshot("layout/1440x1000-refused-field")
        .await
        .unwrap();
    // The browser logs the refusal's 422 as a failed load; nothing else went wrong.
    let logged = browser.console_errors().await.unwrap();
    assert!(
        logged
            .iter()
            .all(|e| e.contains("/fn/create_endpoint") && e.contains("422")),
        "{logged:?}"
    );

    // The secret of a new endpoint: focused wherever the user was, with copy buttons and
    // what the phone needs.
    browser
        .fill("#endpoint-create input[name=extension]", "1002")
        .await
        .unwrap();
    browser
        .click("#endpoint-create button[type=submit]")
        .await
        .unwrap();
    browser
        .wait_for(
            "document.activeElement?.classList.contains('secret-value')",
            WAIT,
        )
        .await
        .unwrap();
    let secret = js("document.activeElement.value").await;
    let secret = secret.as_str().unwrap().to_owned();
    assert!(secret.len() >= 20, "{secret}");
    assert_eq!(
        js("[...document.querySelectorAll('section.secret button.copy')].map(b => b.textContent).join('|')").await,
        json!("Copy secret|Copy all")
    );
    let block = browser
        .text("section.secret dl.provisioning")
        .await
        .unwrap();
    for words in [
        "SIP server",
        "Port",
        "5060",
        "Transport",
        "UDP",
        "Realm (domain)",
        "sipwarden",
        "1002",
    ] {
        assert!(block.contains(words), "{words}: {block}");
    }
    assert_eq!(
        js("document.querySelector('[aria-invalid=true]')").await,
        json!(null),
        "the earlier refusal is gone with its mark"
    );
    browser.screenshot("layout/1440x1000-secret").await.unwrap();

    // A secret shown once is not taken away by a later action (here deleting its endpoint),
    // but notices belong to the last action: a new secret for 1001 replaces it and the
    // "deleted" notice.
    browser
        .click("tr[data-extension='1002'] details.confirm.delete > summary")
        .await
        .unwrap();
    browser
        .click("tr[data-extension='1002'] form.delete button")
        .await
        .unwrap();
    browser
        .wait_for(
            "[...document.querySelectorAll('main p.notice')].some(p => p.textContent.includes('Endpoint deleted'))",
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(
        browser.value("section.secret .secret-value").await.unwrap(),
        secret,
        "the secret stays until the user leaves or a newer one replaces it"
    );
    browser
        .click("tr[data-extension='1001'] details.confirm.rotate > summary")
        .await
        .unwrap();
    browser
        .click("tr[data-extension='1001'] form.rotate button")
        .await
        .unwrap();
    let replaced = format!(
        "document.querySelector('.secret-value') && document.querySelector('.secret-value').value !== '{secret}'"
    );
    browser.wait_for(&replaced, WAIT).await.unwrap();
    assert_eq!(
        js("document.querySelectorAll('section.secret').length").await,
        json!(1)
    );
    assert_eq!(
        js("[...document.querySelectorAll('main p.notice')].some(p => p.textContent.includes('Endpoint deleted'))").await,
        json!(false),
        "the delete's notice went with the next action"
    );

    // Changes are pending; the preview sums them up and shows no secret or digest.
    assert!(js("document.getElementById('pending-badge') !== null").await == json!(true));
    c.goto(&server.url("/config")).await.unwrap();
    browser.wait_hydrated(WAIT).await.unwrap();
    let summary = browser.text("#preview-summary").await.unwrap();
    assert!(summary.contains("+1 endpoint"), "{summary}");
    assert!(summary.contains("+1 trunk"), "{summary}");
    let preview = js("document.getElementById('preview').textContent").await;
    let preview = preview.as_str().unwrap();
    for line in preview.lines() {
        let key = line.trim_start_matches(['+', '-', ' ']).trim_start();
        if key.starts_with("md5_cred") || key.starts_with("secret") || key.starts_with("password") {
            assert!(
                line.ends_with("(hidden)"),
                "a secret in the preview: {line}"
            );
        }
    }
    assert!(!preview.contains(&secret));
    assert!(
        js("document.querySelectorAll('#preview pre.diff span.add').length > 0").await
            == json!(true),
        "the diff is coloured line by line"
    );
    browser
        .screenshot("layout/1440x1000-preview")
        .await
        .unwrap();

    // The session ends elsewhere: the next page signs in again and comes back.
    let api = Api::sign_in(&server).await;
    let (status, _) = api
        .call("DELETE", "/api/v1/users/admin/sessions", None)
        .await;
    assert!(status.is_success(), "{status}");
    c.goto(&server.url("/bans?from=test")).await.unwrap();
    browser
        .wait_for("location.pathname === '/login'", WAIT)
        .await
        .unwrap();
    assert_eq!(
        js("new URLSearchParams(location.search).get('next')").await,
        json!("/bans?from=test")
    );
    browser.wait_hydrated(WAIT).await.unwrap();
    assert!(browser.text("#signed-out-notice").await.is_ok());
    browser.fill("input[name=username]", "admin").await.unwrap();
    browser
        .fill("input[name=password]", ADMIN_PASSWORD)
        .await
        .unwrap();
    browser
        .click("#login-form button[type=submit]")
        .await
        .unwrap();
    browser
        .wait_for(
            "location.pathname + location.search === '/bans?from=test'",
            WAIT,
        )
        .await
        .unwrap();
    // The dashboard of an appliance whose guard is off says so first, in red.
    let off = TestServer::start_with(tests::server::Options {
        admin: Some(("admin".to_owned(), ADMIN_PASSWORD.to_owned())),
        env: vec![("SIPWARDEN_GUARD_MODE".to_owned(), "off".to_owned())],
        ..tests::server::Options::default()
    })
    .unwrap();
    browser
        .sign_in(&off, "admin", ADMIN_PASSWORD)
        .await
        .unwrap();
    // The tiles come with the summary, which the page fetches after signing in.
    browser
        .wait_for(
            "document.querySelector('#tile-protection strong') !== null",
            WAIT,
        )
        .await
        .unwrap();
    let tile = browser.text("#tile-protection strong").await.unwrap();
    assert_eq!(tile, "Protection off");
    assert_eq!(
        js("document.getElementById('tile-protection').classList.contains('bad')").await,
        json!(true)
    );
    browser
        .screenshot("layout/1440x1000-protection-off")
        .await
        .unwrap();
    let errors = browser.console_errors().await.unwrap();
    browser.close().await;
    assert!(errors.is_empty(), "{errors:?}");
}
