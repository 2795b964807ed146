//! The foundation over real HTTP: the real `sipwarden` process on port 0 with a fresh SQLite
//! file per test.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use reqwest::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};
use tests::api::Api;
use tests::server::{ADMIN_PASSWORD, Options, TestServer, run_cli};

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A plain HTML form post, as a browser without JavaScript sends it.
async fn post_form(
    server: &TestServer,
    client: &reqwest::Client,
    action: &str,
    from_page: &str,
    body: String,
) -> reqwest::Response {
    client
        .post(server.url(action))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html,application/xhtml+xml")
        .header("referer", server.url(from_page))
        .header("origin", server.base.clone())
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn healthz_reports_version_and_database() {
    let server = TestServer::start().unwrap();
    let res = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert!(server.data.path().join("sipwarden.sqlite3").is_file());
}

#[tokio::test]
async fn the_login_page_is_served_and_unknown_pages_are_404() {
    let server = TestServer::start().unwrap();
    let login = reqwest::get(server.url("/login")).await.unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let html = login.text().await.unwrap();
    assert!(html.contains("id=\"login-form\""), "{html}");
    assert!(
        html.contains("/pkg/sipwarden.js"),
        "the page links the hydration bundle"
    );

    let (signed_in, _) = server.api_sign_in("admin", ADMIN_PASSWORD).await.unwrap();
    let missing = signed_in
        .get(server.url("/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(missing.text().await.unwrap().contains("Not found"));

    let api_missing = reqwest::get(server.url("/api/v1/nothing-here"))
        .await
        .unwrap();
    assert_eq!(api_missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        api_missing.headers()["content-type"],
        "application/problem+json"
    );
}

#[tokio::test]
async fn signed_out_visitors_are_sent_to_login() {
    let server = TestServer::start().unwrap();
    // Told where to come back to after signing in (the dashboard is where it goes anyway; a
    // flash token is taken once and not carried).
    for (page, to) in [
        ("/", "/login"),
        ("/audit", "/login?next=%2Faudit"),
        ("/account", "/login?next=%2Faccount"),
        ("/no/such/page", "/login?next=%2Fno%2Fsuch%2Fpage"),
        (
            "/events?source=203.0.113.7&flash=abc",
            "/login?next=%2Fevents%3Fsource%3D203.0.113.7",
        ),
    ] {
        let res = server.client().get(server.url(page)).send().await.unwrap();
        assert!(res.status().is_redirection(), "{page}: {}", res.status());
        assert_eq!(res.headers()[LOCATION], to, "{page}");
    }
    // A wrong password (without JavaScript) keeps where to go back to.
    let client = server.client();
    let wrong = post_form(
        &server,
        &client,
        "/fn/sign_in",
        "/login?next=%2Faudit",
        form(&[
            ("username", "admin"),
            ("password", "not it"),
            ("next", "/audit"),
        ]),
    )
    .await;
    assert_eq!(
        wrong.headers()[LOCATION],
        "/login?error=bad_credentials&next=%2Faudit"
    );
    // Signing in with `next` goes back there; a `next` elsewhere goes to the dashboard.
    for (next, to) in [
        ("/audit", "/audit"),
        ("https://evil.example/", "/"),
        ("//evil.example", "/"),
    ] {
        let client = server.client();
        let res = post_form(
            &server,
            &client,
            "/fn/sign_in",
            "/login",
            form(&[
                ("username", "admin"),
                ("password", tests::server::ADMIN_PASSWORD),
                ("next", next),
            ]),
        )
        .await;
        assert_eq!(res.status(), StatusCode::FOUND, "{next}");
        assert_eq!(res.headers()[LOCATION], to, "{next}");
    }
}

#[tokio::test]
async fn setup_needs_the_token_from_the_log_and_happens_once() {
    let server = TestServer::start_fresh().unwrap();
    let token = server
        .setup_token
        .clone()
        .expect("a fresh server prints a setup token");
    assert!(token.len() >= 32);
    let client = server.client();
    let fields = |token: &str| {
        form(&[
            ("token", token),
            ("username", "ops"),
            ("password", "a long passphrase"),
            ("confirm", "a long passphrase"),
        ])
    };

    let wrong = post_form(
        &server,
        &client,
        "/fn/complete_setup",
        "/setup",
        fields("guessed"),
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::FOUND);
    assert_eq!(wrong.headers()[LOCATION], "/setup?error=bad_setup_token");
    let page = client
        .get(server.url("/setup?error=bad_setup_token"))
        .send()
        .await
        .unwrap();
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("That setup token is not valid")
    );

    let right = post_form(
        &server,
        &client,
        "/fn/complete_setup",
        "/setup",
        fields(&token),
    )
    .await;
    assert_eq!(right.status(), StatusCode::FOUND);
    assert_eq!(right.headers()[LOCATION], "/");
    let dashboard = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(dashboard.status(), StatusCode::OK);
    assert!(
        dashboard
            .text()
            .await
            .unwrap()
            .contains("id=\"dashboard-facts\"")
    );

    // The token is spent, and setup is closed even to someone who has it.
    let again = post_form(
        &server,
        &server.client(),
        "/fn/complete_setup",
        "/setup",
        fields(&token),
    )
    .await;
    assert_eq!(again.headers()[LOCATION], "/setup?error=setup_done");
}

#[tokio::test]
async fn admin_create_reads_the_password_from_stdin_or_the_environment() {
    let data = tempfile::tempdir().unwrap();
    let out = run_cli(
        data.path(),
        &["admin", "create", "--username", "ann"],
        Some("Tulip-Harbour-2026"),
        &[],
    )
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_cli(
        data.path(),
        &["admin", "create", "--username", "bob", "--role", "viewer"],
        None,
        &[("SIPWARDEN_ADMIN_PASSWORD", "Granite-Meadow-2026")],
    )
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let weak = run_cli(
        data.path(),
        &["admin", "create", "--username", "cat"],
        Some("short"),
        &[],
    )
    .unwrap();
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("at least 12"));
    let taken = run_cli(
        data.path(),
        &["admin", "create", "--username", "ANN"],
        Some("another long password"),
        &[],
    )
    .unwrap();
    assert!(!taken.status.success(), "usernames are case-insensitive");

    let server = TestServer::start_with(Options {
        data_from: Some(data.path().to_path_buf()),
        ..Options::default()
    })
    .unwrap();
    assert!(
        server.setup_token.is_none(),
        "an administrator exists: no setup token"
    );
    let (_, _) = server
        .api_sign_in("ann", "Tulip-Harbour-2026")
        .await
        .unwrap();
    let (bob, _) = server
        .api_sign_in("bob", "Granite-Meadow-2026")
        .await
        .unwrap();
    let me: serde_json::Value = bob
        .get(server.url("/api/v1/session"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "viewer");
}

#[tokio::test]
async fn api_sign_in_sets_a_strict_httponly_cookie_and_sign_out_ends_the_session() {
    let server = TestServer::start().unwrap();
    let client = server.client();
    let res = client
        .post(server.url("/api/v1/session"))
        .json(&serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let cookie = res.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "not configured for TLS");
    let token = cookie.split(';').next().unwrap().to_owned();
    let body: serde_json::Value = res.json().await.unwrap();
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();
    assert_eq!(body["role"], "admin");

    let me = client
        .get(server.url("/api/v1/session"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);

    // A cookie alone does not change state: the CSRF header is required.
    let no_csrf = client
        .delete(server.url("/api/v1/session"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_csrf.status(), StatusCode::FORBIDDEN);
    let out = client
        .delete(server.url("/api/v1/session"))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);

    // Replaying the old cookie after sign-out gets nothing: the session is gone server-side.
    let replay = reqwest::Client::new()
        .get(server.url("/api/v1/session"))
        .header("cookie", token)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn secure_cookies_are_marked_secure_when_configured() {
    let server = TestServer::start_with(Options {
        admin: Some(("admin".into(), ADMIN_PASSWORD.into())),
        env: vec![("SIPWARDEN_SECURE_COOKIES".into(), "true".into())],
        ..Options::default()
    })
    .unwrap();
    let res = server
        .client()
        .post(server.url("/api/v1/session"))
        .json(&serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert!(
        res.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Secure")
    );
}

#[tokio::test]
async fn a_burst_of_guesses_is_throttled_too() {
    let server = TestServer::start().unwrap();
    let client = server.client();
    // Twenty wrong passwords at once: without a queue they would all pass the throttle
    // before any of them had failed.
    let mut burst = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let request = client
            .post(server.url("/api/v1/session"))
            .json(&serde_json::json!({"username": "admin", "password": "wrong password!"}));
        burst.spawn(async move { request.send().await.unwrap().status() });
    }
    let statuses = burst.join_all().await;
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let throttled = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(checked + throttled, 20, "{statuses:?}");
    assert!(
        checked <= 8,
        "{checked} of 20 guesses were checked: {statuses:?}"
    );
}

#[tokio::test]
async fn wrong_passwords_are_throttled_and_audited() {
    let server = TestServer::start().unwrap();
    let client = server.client();
    let attempt = |password: &'static str| {
        client
            .post(server.url("/api/v1/session"))
            .json(&serde_json::json!({"username": "admin", "password": password}))
            .send()
    };
    for _ in 0..4 {
        let res = attempt("wrong password!").await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(res.headers()["content-type"], "application/problem+json");
    }
    // The 4th failure imposed a wait: even the right password is refused without a check.
    let throttled = attempt(ADMIN_PASSWORD).await.unwrap();
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(throttled.headers().contains_key("retry-after"));

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (admin, _) = server.api_sign_in("admin", ADMIN_PASSWORD).await.unwrap();
    let audit: serde_json::Value = admin
        .get(server.url("/api/v1/audit"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries = audit["items"].as_array().unwrap();
    let failures = entries
        .iter()
        .filter(|e| e["action"] == "sign_in" && e["success"] == false)
        .count();
    let successes = entries
        .iter()
        .filter(|e| e["action"] == "sign_in" && e["success"] == true)
        .count();
    assert_eq!(
        failures, 5,
        "4 wrong passwords + 1 throttled attempt: {audit}"
    );
    assert_eq!(successes, 1);
    assert!(
        !audit.to_string().contains("wrong password!"),
        "a password never reaches the audit log"
    );
}

#[tokio::test]
async fn forms_work_without_javascript() {
    let server = TestServer::start().unwrap();
    let client = server.client();
    let wrong = post_form(
        &server,
        &client,
        "/fn/sign_in",
        "/login",
        form(&[("username", "admin"), ("password", "nope")]),
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::FOUND);
    assert_eq!(wrong.headers()[LOCATION], "/login?error=bad_credentials");
    let shown = client
        .get(server.url("/login?error=bad_credentials"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(shown.contains("Wrong username or password."));
    // Codes are looked up, never echoed.
    let forged = client
        .get(server.url("/login?error=%3Cb%3Eyour+account+is+locked%3C%2Fb%3E"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!forged.contains("your account is locked"));

    let right = post_form(
        &server,
        &client,
        "/fn/sign_in",
        "/login",
        form(&[("username", "admin"), ("password", ADMIN_PASSWORD)]),
    )
    .await;
    assert_eq!(right.status(), StatusCode::FOUND);
    assert_eq!(right.headers()[LOCATION], "/");
    let dashboard = client
        .get(server.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        dashboard.contains(&format!(
            "<dd id=\"version\">{}</dd>",
            env!("CARGO_PKG_VERSION")
        )),
        "{dashboard}"
    );
    assert!(dashboard.contains("id=\"database\">ok"), "{dashboard}");
}

#[tokio::test]
async fn changing_the_password_ends_other_sessions() {
    let server = TestServer::start().unwrap();
    let (other, _) = server.api_sign_in("admin", ADMIN_PASSWORD).await.unwrap();
    let client = server.client();
    post_form(
        &server,
        &client,
        "/fn/sign_in",
        "/login",
        form(&[("username", "admin"), ("password", ADMIN_PASSWORD)]),
    )
    .await;
    let (_, csrf) = {
        let me: serde_json::Value = client
            .get(server.url("/api/v1/session"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ((), me["csrf_token"].as_str().unwrap().to_owned())
    };
    let new_password = "an even longer passphrase";

    let bad_csrf = post_form(
        &server,
        &client,
        "/fn/change_password",
        "/account",
        form(&[
            ("csrf", "forged"),
            ("current", ADMIN_PASSWORD),
            ("new", new_password),
            ("confirm", new_password),
        ]),
    )
    .await;
    assert_eq!(bad_csrf.headers()[LOCATION], "/account?error=bad_csrf");
    let mismatch = post_form(
        &server,
        &client,
        "/fn/change_password",
        "/account",
        form(&[
            ("csrf", &csrf),
            ("current", ADMIN_PASSWORD),
            ("new", new_password),
            ("confirm", "something else entirely"),
        ]),
    )
    .await;
    assert_eq!(
        mismatch.headers()[LOCATION],
        "/account?error=password_mismatch"
    );

    let ok = post_form(
        &server,
        &client,
        "/fn/change_password",
        "/account",
        form(&[
            ("csrf", &csrf),
            ("current", ADMIN_PASSWORD),
            ("new", new_password),
            ("confirm", new_password),
        ]),
    )
    .await;
    assert_eq!(ok.headers()[LOCATION], "/account?changed=1");

    assert_eq!(
        client
            .get(server.url("/api/v1/session"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK,
        "this session stays"
    );
    assert_eq!(
        other
            .get(server.url("/api/v1/session"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED,
        "others end"
    );
    assert!(server.api_sign_in("admin", ADMIN_PASSWORD).await.is_err());
    assert!(server.api_sign_in("admin", new_password).await.is_ok());
}

#[tokio::test]
async fn viewers_read_but_only_admins_manage_users() {
    let server = TestServer::start().unwrap();
    let (admin, admin_csrf) = server.api_sign_in("admin", ADMIN_PASSWORD).await.unwrap();
    let created = admin
        .post(server.url("/api/v1/users"))
        .header("x-csrf-token", &admin_csrf)
        .json(&serde_json::json!({"username": "vera", "password": "Copper-Lantern-2026", "role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);

    let (viewer, viewer_csrf) = server
        .api_sign_in("vera", "Copper-Lantern-2026")
        .await
        .unwrap();
    assert_eq!(
        viewer
            .get(server.url("/api/v1/audit"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let forbidden = viewer
        .get(server.url("/api/v1/users"))
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    let forbidden = viewer
        .post(server.url("/api/v1/users"))
        .header("x-csrf-token", &viewer_csrf)
        .json(&serde_json::json!({"username": "mallory", "password": "Silver-Orchard-2026", "role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    let users: serde_json::Value = admin
        .get(server.url("/api/v1/users"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(users["items"].as_array().unwrap().len(), 2, "{users}");
}

#[tokio::test]
async fn bad_input_gets_a_4xx_with_a_message_never_a_500() {
    let server = TestServer::start().unwrap();
    let client = server.client();
    let cases: Vec<(&str, &str, &str)> = vec![
        ("application/json", "{\"username\":", "invalid_json"),
        // Well-formed JSON of the wrong shape: 422, naming what is wrong.
        ("application/json", "[]", "invalid_field"),
        (
            "application/json",
            "{\"username\":\"a\",\"password\":\"b\",\"extra\":1}",
            "invalid_field",
        ),
        ("text/plain", "username=a", "unsupported_media_type"),
    ];
    for (content_type, body, kind) in cases {
        let res = client
            .post(server.url("/api/v1/session"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_client_error(), "{body}: {}", res.status());
        let problem: serde_json::Value = res.json().await.unwrap();
        assert!(
            problem["type"].as_str().unwrap().ends_with(kind),
            "{problem}"
        );
        assert!(!problem["detail"].as_str().unwrap().is_empty());
        if body.contains("extra") {
            assert!(
                problem["detail"].as_str().unwrap().contains("extra"),
                "the unknown field is named: {problem}"
            );
        }
    }
    let huge = client
        .post(server.url("/api/v1/session"))
        .header("content-type", "application/json")
        .body(vec![b' '; 300 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // Server functions: missing fields and garbage are the client's fault too.
    for body in [
        "",
        "username=only",
        "%%%",
        "password=x&username=y&username=z",
    ] {
        let res = client
            .post(server.url("/fn/sign_in"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(
            res.status().is_client_error()
                || res.status() == StatusCode::UNAUTHORIZED
                || res.status().is_redirection(),
            "{body}: {}",
            res.status()
        );
        assert_ne!(res.status(), StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    }
    assert!(!server.log().contains("panicked"), "{}", server.log());
}

#[tokio::test]
async fn cross_site_posts_are_refused() {
    let server = TestServer::start().unwrap();
    let res = server
        .client()
        .post(server.url("/fn/sign_in"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "https://evil.example")
        .body(form(&[("username", "admin"), ("password", ADMIN_PASSWORD)]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.headers().get(SET_COOKIE).is_none());
}

#[tokio::test]
async fn sigterm_stops_the_server_cleanly_even_with_streams_open() {
    let mut server = TestServer::start().unwrap();
    // A console tab left open holds both endless streams; stopping must not wait for them.
    let (client, _) = server.api_sign_in("admin", ADMIN_PASSWORD).await.unwrap();
    let streams = tests::streams::open(&server, &client, None).await;
    let asked = std::time::Instant::now();
    let status = server.terminate().unwrap();
    let took = asked.elapsed();
    eprintln!("sigterm: stopped in {took:?} with both streams open");
    assert!(status.success(), "{status}");
    assert!(
        took < std::time::Duration::from_secs(5),
        "stopping took {took:?}"
    );
    assert!(
        server.log().contains("sipwarden stopped"),
        "{}",
        server.log()
    );
    // Each stream ended cleanly: its body reads to the end.
    tests::streams::assert_end(streams, std::time::Duration::from_secs(5)).await;
}

#[tokio::test]
async fn healthcheck_exits_zero_only_when_the_server_answers() {
    let server = TestServer::start().unwrap();
    let addr = server.base.trim_start_matches("http://").to_owned();
    let ok = run_cli(
        server.data.path(),
        &["healthcheck"],
        None,
        &[("SIPWARDEN_LISTEN", &addr)],
    )
    .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // Port 1 (tcpmux) is closed: binding it needs root, and tests' servers take ports the
    // kernel hands out from the ephemeral range. A port freed just before use could be taken
    // by another test's server in between.
    let closed = "127.0.0.1:1".to_owned();
    let down = run_cli(
        server.data.path(),
        &["healthcheck", "--timeout", "2"],
        None,
        &[("SIPWARDEN_LISTEN", &closed)],
    )
    .unwrap();
    assert!(!down.status.success());
}

#[tokio::test]
async fn unknown_sipwarden_variables_are_warned_about() {
    let server = TestServer::start_with(Options {
        admin: Some(("admin".into(), ADMIN_PASSWORD.into())),
        env: vec![("SIPWARDEN_LISTNE".into(), "0.0.0.0:80".into())],
        ..Options::default()
    })
    .unwrap();
    assert!(
        server
            .log()
            .contains("unknown environment variable SIPWARDEN_LISTNE"),
        "{}",
        server.log()
    );
}

#[tokio::test]
async fn pages_allow_only_their_own_nonced_scripts() {
    let server = TestServer::start().unwrap();
    let res = reqwest::get(server.url("/login")).await.unwrap();
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let html = res.text().await.unwrap();
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    assert!(nonce.len() >= 16);
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "the inline scripts carry the header's nonce"
    );
    let again = reqwest::get(server.url("/login")).await.unwrap();
    assert!(
        !again.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains(nonce),
        "a fresh nonce per response"
    );
}

#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let server = TestServer::start_with(Options {
        env: vec![("SIPWARDEN_LOG_FORMAT".into(), "json".into())],
        ..Options::default()
    })
    .unwrap();
    assert!(server.setup_token.is_some());
    let log = server.log();
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for line in lines {
        let parsed: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(parsed.get("level").is_some(), "{line}");
    }
}

#[tokio::test]
async fn the_audit_log_is_paginated_newest_first() {
    let server = TestServer::start().unwrap();
    let client = server.client();
    // Signed in first: the failures below lock this address out of signing in.
    let (admin, _) = server.api_sign_in("admin", ADMIN_PASSWORD).await.unwrap();
    // 60 failed sign-ins under different names (each one is audited, throttled or not).
    for i in 0..60 {
        client
            .post(server.url("/api/v1/session"))
            .json(&serde_json::json!({"username": format!("nobody{i}"), "password": "x"}))
            .send()
            .await
            .unwrap();
    }
    let first: serde_json::Value = admin
        .get(server.url("/api/v1/audit?limit=50"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let second: serde_json::Value = admin
        .get(server.url(&format!("/api/v1/audit?limit=50&cursor={cursor}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // 60 failures + the sign-in + the CLI's creation of the admin.
    assert_eq!(first["items"].as_array().unwrap().len(), 50, "{first}");
    assert_eq!(second["items"].as_array().unwrap().len(), 12);
    assert!(second["next_cursor"].is_null(), "{second}");
    assert_eq!(first["items"][0]["actor"], "nobody59", "newest first");
    assert_eq!(second["items"][10]["detail"], "signed in");
    assert_eq!(second["items"][11]["action"], "user_create", "oldest last");
    let refused = admin
        .get(server.url("/api/v1/audit?cursor=nonsense"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let problem: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(problem["field"], "cursor", "{problem}");
    let html = admin
        .get(server.url("/audit?page=1"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Page <!>2") || html.contains("Page 2"),
        "{html}"
    );
}

/// Four wrong passwords, then the right one from another client, all through `X-Forwarded-For`.
async fn guesses_then_owner(server: &TestServer) -> StatusCode {
    let client = reqwest::Client::new();
    let attempt = |password: &'static str, from: &'static str| {
        client
            .post(server.url("/api/v1/session"))
            .header("x-forwarded-for", from)
            .json(&serde_json::json!({"username": "admin", "password": password}))
            .send()
    };
    for _ in 0..4 {
        attempt("wrong password!", "203.0.113.5").await.unwrap();
    }
    // The guesser's own address is refused now.
    let again = attempt("wrong password!", "203.0.113.5").await.unwrap();
    assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
    attempt(ADMIN_PASSWORD, "198.51.100.6")
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_throttle() {
    let behind = TestServer::start_with(Options {
        admin: Some(("admin".to_owned(), ADMIN_PASSWORD.to_owned())),
        env: vec![(
            "SIPWARDEN_TRUSTED_PROXIES".to_owned(),
            "127.0.0.1, ::1".to_owned(),
        )],
        ..Options::default()
    })
    .unwrap();
    // The proxy's clients are told apart: the guesser is refused, the owner signs in.
    assert_eq!(guesses_then_owner(&behind).await, StatusCode::CREATED);
    let admin = Api::sign_in_as(&behind, "admin", ADMIN_PASSWORD).await;
    let (_, audit) = admin.call("GET", "/api/v1/audit?limit=100", None).await;
    let sources: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "sign_in")
        .filter_map(|e| e["source_ip"].as_str())
        .collect();
    assert!(sources.contains(&"203.0.113.5"), "{sources:?}");
    assert!(sources.contains(&"198.51.100.6"), "{sources:?}");

    // Without a trusted proxy the header is nobody's word: all of it is one client.
    let direct = TestServer::start_with(Options {
        admin: Some(("admin".to_owned(), ADMIN_PASSWORD.to_owned())),
        ..Options::default()
    })
    .unwrap();
    assert_eq!(
        guesses_then_owner(&direct).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// The console's 15-second "changes pending" poll checks the session but is no sign of a
/// person: an unattended tab does not hold its session past the idle timeout.
#[tokio::test]
async fn the_pending_poll_does_not_keep_an_idle_session_alive() {
    if !tests::root::require_commands("console_http", &["sqlite3"]) {
        return;
    }
    let server = TestServer::start().unwrap();
    let session =
        tests::console::ConsoleSession::sign_in(&server, "admin", tests::server::ADMIN_PASSWORD)
            .await;
    let db = server.database();
    let sql = |statement: &str| tests::server::sqlite(&db, statement);
    // An hour idle: still within the idle timeout, so the session is valid.
    sql(
        "UPDATE sessions SET last_seen_at = strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now', '-1 hour');",
    );
    let an_hour_ago = sql("SELECT last_seen_at FROM sessions;");
    let (status, pending) = session.call("pending_changes", &[]).await;
    assert_eq!(status, StatusCode::OK, "{pending}");
    assert_eq!(
        pending,
        serde_json::json!(true),
        "a fresh appliance has applied nothing"
    );
    let seen = sql("SELECT last_seen_at FROM sessions;");
    assert_eq!(seen, an_hour_ago, "the poll touched the session");
    // A page a person opens does.
    let _ = session.page("/audit").await;
    let seen = sql("SELECT last_seen_at FROM sessions;");
    assert_ne!(seen, an_hour_ago, "a page view is activity");
}
