//! The second factor (#18 point 2) on the real server: an authenticator app (TOTP, RFC 6238)
//! set up on the account page and confirmed by its first code, then needed at every sign-in
//! (each code once); ten recovery codes that each work once; removal by the user (with their
//! password) or by an administrator (a lost phone); the setting that makes it required for
//! administrators; API tokens unaffected. The enrolment and sign-in are also driven in
//! headless Chromium, as a person does them.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use std::time::Duration;

use backend::auth::totp;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::api::Api;
use tests::browser::Browser;
use tests::console::ConsoleSession;
use tests::server::{ADMIN_PASSWORD, Options, TestServer};

const WAIT: Duration = Duration::from_secs(20);

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

/// A code of `key` that has not been used: the next step's when `used` is this step's.
fn fresh_code(key: &str, used: Option<i64>) -> String {
    let mut at = now();
    if used.is_some_and(|step| step >= totp::step_at(at)) {
        at += totp::STEP_SECS;
    }
    totp::code_at(key, at).unwrap()
}

/// `POST /api/v1/session` with an optional code, from the client address `from` (through
/// the trusted proxy on loopback): the status and the answer. Each refused attempt comes
/// from an address of its own, so that the sign-in throttle (tested elsewhere) answers
/// none of them in place of the second-factor check.
async fn api_sign_in(
    server: &TestServer,
    password: &str,
    code: Option<&str>,
    from: &str,
) -> (StatusCode, Value) {
    let res = reqwest::Client::new()
        .post(server.url("/api/v1/session"))
        .header("x-forwarded-for", from)
        .json(&json!({"username": "admin", "password": password, "code": code}))
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap_or(Value::Null))
}

/// Sets up an authenticator app for the session's user over the console's server functions
/// (as the hydrated page calls them); returns the key and the recovery codes.
async fn enrol(session: &ConsoleSession<'_>) -> (String, Vec<String>) {
    let (status, view) = session.call("begin_second_factor", &[]).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let key = view["pending"]["key"].as_str().unwrap().replace(' ', "");
    assert!(
        view["pending"]["qr"]
            .as_str()
            .unwrap()
            .starts_with("data:image/svg+xml;base64,")
    );
    // A wrong first code confirms nothing.
    let (status, _) = session
        .call("confirm_second_factor", &[("code", "000000")])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let code = totp::code_at(&key, now()).unwrap();
    let (status, codes) = session
        .call("confirm_second_factor", &[("code", &code)])
        .await;
    assert_eq!(status, StatusCode::OK, "{codes}");
    let codes: Vec<String> = codes
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    (key, codes)
}

#[tokio::test]
async fn an_authenticator_app_guards_sign_in_and_recovery_codes_work_once() {
    let server = TestServer::start_with(Options {
        admin: Some(("admin".to_owned(), ADMIN_PASSWORD.to_owned())),
        env: vec![(
            "SIPWARDEN_TRUSTED_PROXIES".to_owned(),
            "127.0.0.1".to_owned(),
        )],
        ..Options::default()
    })
    .unwrap();
    let session = ConsoleSession::sign_in(&server, "admin", ADMIN_PASSWORD).await;
    let token = Api::sign_in(&server).await.token("script", "read").await;
    let (key, codes) = enrol(&session).await;
    let confirmed_step = totp::step_at(now());

    // The password alone is no longer enough, and says what is missing.
    let (status, problem) = api_sign_in(&server, ADMIN_PASSWORD, None, "203.0.113.1").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("second_factor_required"),
        "{problem}"
    );
    // A wrong code, or a right code with a wrong password, is refused.
    let (status, problem) =
        api_sign_in(&server, ADMIN_PASSWORD, Some("123456"), "203.0.113.2").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("bad_second_factor"),
        "{problem}"
    );
    let code = fresh_code(&key, Some(confirmed_step));
    let (status, _) = api_sign_in(&server, "not the password", Some(&code), "203.0.113.3").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The password and a fresh code sign in; the same code a second time does not.
    let (status, body) = api_sign_in(&server, ADMIN_PASSWORD, Some(&code), "203.0.113.4").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = api_sign_in(&server, ADMIN_PASSWORD, Some(&code), "203.0.113.5").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a code worked twice");

    // A recovery code works once, typed loosely.
    let loose = codes[0].to_uppercase().replace('-', " ");
    let (status, body) = api_sign_in(&server, ADMIN_PASSWORD, Some(&loose), "203.0.113.6").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = api_sign_in(&server, ADMIN_PASSWORD, Some(&codes[0]), "203.0.113.7").await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a recovery code worked twice"
    );
    let (_, view) = session.call("second_factor", &[]).await;
    assert_eq!(view["enabled"], true);
    assert_eq!(view["recovery_codes_left"], 9);

    // Replacing the app in use needs the password again (a session alone could install its
    // own and lock the owner out).
    let (status, _) = session.call("begin_second_factor", &[]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // API tokens are their own credential.
    let res = reqwest::Client::new()
        .get(server.url("/api/v1/bans"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // The user removes it with their password (a wrong one removes nothing).
    let (status, _) = session
        .call("remove_second_factor", &[("password", "not the password")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(session.call("second_factor", &[]).await.1["enabled"], true);
    let (status, _) = session
        .call("remove_second_factor", &[("password", ADMIN_PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api_sign_in(&server, ADMIN_PASSWORD, None, "203.0.113.8").await;
    assert_eq!(status, StatusCode::CREATED);

    // An administrator removes another user's (a lost phone); their sessions end.
    let admin = Api::sign_in(&server).await;
    let (status, body) = admin
        .call(
            "POST",
            "/api/v1/users",
            Some(json!({"username": "olga", "password": "Switchboard-Operator-1947", "role": "admin"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let olga = ConsoleSession::sign_in(&server, "olga", "Switchboard-Operator-1947").await;
    let (olga_key, _) = enrol(&olga).await;
    // Wrong codes count against the account from every address: after a few, even the
    // right code from a fresh address waits. (Only someone with the password gets here.)
    let olga_sign_in = |code: String, from: String| {
        let url = server.url("/api/v1/session");
        async move {
            reqwest::Client::new()
                .post(url)
                .header("x-forwarded-for", from)
                .json(&json!({"username": "olga", "password": "Switchboard-Operator-1947", "code": code}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    for i in 0..4 {
        let status = olga_sign_in("000000".to_owned(), format!("198.51.100.{i}")).await;
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::TOO_MANY_REQUESTS,
            "{status}"
        );
    }
    let status = olga_sign_in(fresh_code(&olga_key, None), "198.51.100.99".to_owned()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let (_, list) = admin.call("GET", "/api/v1/users", None).await;
    let listed = list["items"].as_array().unwrap();
    assert!(
        listed
            .iter()
            .any(|u| u["username"] == "olga" && u["second_factor"] == true)
    );
    let (status, _) = admin
        .call("DELETE", "/api/v1/users/olga/second-factor", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, who) = olga.call("second_factor", &[]).await;
    assert_ne!(
        who["enabled"], true,
        "olga's session outlived the reset: {who}"
    );
    server
        .api_sign_in("olga", "Switchboard-Operator-1947")
        .await
        .unwrap();

    let (_, audit) = admin.call("GET", "/api/v1/audit?limit=200", None).await;
    let details: Vec<String> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{} {}", e["action"], e["detail"]))
        .collect();
    for needle in [
        "second_factor_enrol",
        "second_factor_remove",
        "wrong second factor",
        "second factor needed",
    ] {
        assert!(
            details.iter().any(|d| d.contains(needle)),
            "{needle}: {details:?}"
        );
    }
}

#[tokio::test]
async fn when_required_an_administrator_reaches_nothing_but_the_enrolment() {
    let server = TestServer::start_with(Options {
        admin: Some(("admin".to_owned(), ADMIN_PASSWORD.to_owned())),
        env: vec![(
            "SIPWARDEN_REQUIRE_SECOND_FACTOR_FOR_ADMINS".to_owned(),
            "true".to_owned(),
        )],
        ..Options::default()
    })
    .unwrap();
    let session = ConsoleSession::sign_in(&server, "admin", ADMIN_PASSWORD).await;
    // Pages lead to the account page; other calls are refused saying why.
    let res = session
        .client
        .get(server.url("/endpoints"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/account#second-factor");
    let res = session
        .client
        .get(server.url("/api/v1/endpoints"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let problem: Value = res.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("second factor"),
        "{problem}"
    );
    // A dot in the path is no way around it (only static files are let through).
    let res = session
        .client
        .delete(server.url("/api/v1/bans/192.0.2.7"))
        .header("x-csrf-token", &session.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let page = session.page("/account").await;
    assert!(page.contains("required for administrators"), "{page}");
    // Once enrolled, everything opens.
    enrol(&session).await;
    let res = session
        .client
        .get(server.url("/api/v1/endpoints"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn enrolment_and_sign_in_with_an_authenticator_app_in_a_real_browser() {
    let test = "enrolment_and_sign_in_with_an_authenticator_app_in_a_real_browser";
    let Some(browser) = Browser::start(test).await.unwrap() else {
        return;
    };
    let server = TestServer::start().unwrap();
    let c = &browser.client;
    browser
        .sign_in(&server, "admin", ADMIN_PASSWORD)
        .await
        .unwrap();
    c.goto(&server.url("/account")).await.unwrap();
    browser.wait_hydrated(WAIT).await.unwrap();
    browser.click("#begin-second-factor button").await.unwrap();
    browser
        .wait_for("document.querySelector('#totp-key') !== null", WAIT)
        .await
        .unwrap();
    // The QR code is a picture the page's own policy lets the browser draw.
    browser
        .wait_for(
            "(() => { const i = document.querySelector('#enrolment img'); return i && i.complete && i.naturalWidth > 0; })()",
            WAIT,
        )
        .await
        .unwrap();
    browser.screenshot("second-factor-enrolment").await.unwrap();
    let key = browser.text("#totp-key").await.unwrap().replace(' ', "");
    let code = totp::code_at(&key, now()).unwrap();
    browser
        .fill("#confirm-second-factor input[name=code]", &code)
        .await
        .unwrap();
    browser
        .click("#confirm-second-factor button[type=submit]")
        .await
        .unwrap();
    browser
        .wait_for(
            "document.querySelectorAll('#recovery-codes li').length === 10",
            WAIT,
        )
        .await
        .unwrap();
    let confirmed_step = totp::step_at(now());
    browser
        .wait_for(
            "document.querySelector('#second-factor-status').textContent.startsWith('On')",
            WAIT,
        )
        .await
        .unwrap();

    // Signed out, the password alone asks for the code; the code signs in.
    browser.click("#sign-out").await.unwrap();
    browser
        .wait_for("location.pathname === '/login'", WAIT)
        .await
        .unwrap();
    browser.wait_hydrated(WAIT).await.unwrap();
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
            "document.querySelector('p.error') && document.querySelector('p.error').textContent.includes('authenticator app')",
            WAIT,
        )
        .await
        .unwrap();
    let code = fresh_code(&key, Some(confirmed_step));
    browser.fill("input[name=code]", &code).await.unwrap();
    browser
        .click("#login-form button[type=submit]")
        .await
        .unwrap();
    browser
        .wait_for("location.pathname === '/'", WAIT)
        .await
        .unwrap();
    browser.screenshot("second-factor-signed-in").await.unwrap();
    browser.close().await;
}
