//! The PBX pages over real HTTP, as a browser without JavaScript uses them (plain form posts
//! to the server functions, redirects, full pages) and as the hydrated app calls them (the
//! server function's typed answer): pages for admins and viewers, roles and CSRF, the secret
//! shown exactly once, refusals with the reason and what was typed; and the firewall settings
//! form, which ends the same way.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, LOCATION};
use serde_json::{Value, json};
use tests::server::{ADMIN_PASSWORD, TestServer};

const VIEWER_PASSWORD: &str = "Copper-Lantern-2026";

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A signed-in browser session: its cookie jar and CSRF token.
struct Session<'s> {
    server: &'s TestServer,
    client: reqwest::Client,
    csrf: String,
}

impl<'s> Session<'s> {
    async fn sign_in(server: &'s TestServer, user: &str, password: &str) -> Session<'s> {
        let (client, csrf) = server.api_sign_in(user, password).await.unwrap();
        Session {
            server,
            client,
            csrf,
        }
    }

    /// A plain HTML form post from `page`, as a browser without JavaScript sends it. The
    /// session's CSRF token goes first unless the fields carry their own.
    async fn post_form(
        &self,
        function: &str,
        page: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut all: Vec<(&str, &str)> = Vec::new();
        if !fields.iter().any(|(k, _)| *k == "csrf") {
            all.push(("csrf", &self.csrf));
        }
        all.extend_from_slice(fields);
        self.client
            .post(self.server.url(&format!("/fn/{function}")))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "text/html,application/xhtml+xml")
            .header("referer", self.server.url(page))
            .header("origin", self.server.base.clone())
            .body(form(&all))
            .send()
            .await
            .unwrap()
    }

    /// The same call as the hydrated app makes it: the typed answer comes back as JSON.
    async fn call(&self, function: &str, fields: &[(&str, &str)]) -> (StatusCode, Value) {
        let mut all: Vec<(&str, &str)> = Vec::new();
        if !fields.iter().any(|(k, _)| *k == "csrf") {
            all.push(("csrf", &self.csrf));
        }
        all.extend_from_slice(fields);
        let res = self
            .client
            .post(self.server.url(&format!("/fn/{function}")))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(form(&all))
            .send()
            .await
            .unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn page(&self, path: &str) -> (StatusCode, String) {
        let res = self.client.get(self.server.url(path)).send().await.unwrap();
        (res.status(), res.text().await.unwrap())
    }

    async fn api(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .client
            .request(method, self.server.url(path))
            .header("x-csrf-token", &self.csrf);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

/// Where a redirect goes.
fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// The text inside the first element whose opening tag contains `marker`, without the
/// markers Leptos puts between text nodes.
fn text_after(html: &str, marker: &str) -> Option<String> {
    let start = html.find(marker)?;
    let rest = &html[start..];
    let open_end = rest.find('>')? + 1;
    let rest = &rest[open_end..];
    let end = rest.find("</")?;
    Some(rest[..end].replace("<!>", "").replace("<!---->", ""))
}

async fn with_viewer(admin: &Session<'_>) {
    let (status, _) = admin
        .api(
            "POST",
            "/api/v1/users",
            Some(json!({"username": "vera", "password": VIEWER_PASSWORD, "role": "viewer"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

fn endpoint_fields<'a>(extension: &'a str, name: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("extension", extension),
        ("display_name", name),
        ("calling_class", "national"),
        ("transport", "udp"),
        ("permit", "192.168.10.0/24"),
        ("deny", ""),
        ("max_calls", "3"),
        ("max_contacts", "1"),
        ("codecs", "g722, ulaw"),
        ("mac", ""),
        ("enabled", "on"),
        ("secret", ""),
    ]
}

#[tokio::test]
async fn pbx_pages_render_for_admins_and_read_only_for_viewers() {
    let server = TestServer::start().unwrap();
    let admin = Session::sign_in(&server, "admin", ADMIN_PASSWORD).await;
    with_viewer(&admin).await;
    let (status, created) = admin
        .api(
            "POST",
            "/api/v1/endpoints",
            Some(json!({"extension": "1001", "display_name": "Alice"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_str().unwrap().to_owned();
    let viewer = Session::sign_in(&server, "vera", VIEWER_PASSWORD).await;

    let pages = [
        (
            "/endpoints",
            "id=\"endpoint-table\"",
            Some("id=\"endpoint-create\""),
        ),
        (
            &format!("/endpoints/{id}") as &str,
            "id=\"endpoint-id\"",
            Some("id=\"endpoint-edit\""),
        ),
        ("/trunks", "Trunks", Some("id=\"trunk-create\"")),
        ("/ami-users", "AMI users", Some("id=\"ami-create\"")),
        ("/policy", "id=\"policy-form\"", Some("Save policy")),
        ("/config", "Revisions", Some("id=\"apply-form\"")),
    ];
    for (path, always, admin_only) in pages {
        let (status, html) = admin.page(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(html.contains(always), "admin {path}: {html}");
        if let Some(marker) = admin_only {
            assert!(html.contains(marker), "admin {path} lacks {marker}");
        }
        let (status, html) = viewer.page(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(html.contains(always), "viewer {path}: {html}");
        if let Some(marker) = admin_only {
            assert!(!html.contains(marker), "viewer {path} has {marker}");
        }
    }
    // The list shows the endpoint and links its page; the nav lists the PBX pages.
    let (_, html) = admin.page("/endpoints").await;
    assert!(
        html.contains(&format!("href=\"/endpoints/{id}\"")),
        "{html}"
    );
    for link in ["/endpoints", "/trunks", "/ami-users", "/policy", "/config"] {
        assert!(
            html.contains(&format!("href=\"{link}\"")),
            "nav lacks {link}"
        );
    }
    // The policy form shows the stored values, never sipwarden's own AMI secrets.
    let (_, html) = admin.page("/policy").await;
    assert!(html.contains("value=\"sipwarden-guard\""), "{html}");
    assert!(!html.contains("guard_ami_secret"));
    // The preview (manager.conf holds secrets) is for administrators only.
    let (_, html) = viewer.page("/config").await;
    assert!(html.contains("Only administrators see the preview"));
    assert!(!html.contains("id=\"preview\""));
    // Signed out: sent to sign in.
    let anonymous = server
        .client()
        .get(server.url("/endpoints"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&anonymous), "/login?next=%2Fendpoints");
}

#[tokio::test]
async fn a_plain_form_post_creates_an_endpoint_and_shows_its_secret_exactly_once() {
    let server = TestServer::start().unwrap();
    let admin = Session::sign_in(&server, "admin", ADMIN_PASSWORD).await;
    let res = admin
        .post_form(
            "create_endpoint",
            "/endpoints",
            &endpoint_fields("2001", "Front desk"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let to = location(&res);
    assert!(to.starts_with("/endpoints?flash="), "{to}");

    let page = admin.client.get(server.url(&to)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()[CACHE_CONTROL], "no-store");
    let html = page.text().await.unwrap();
    let secret = tests::console::shown_secret(&html).expect("the secret is shown");
    assert!(secret.len() >= 20, "{secret}");
    let key = text_after(&html, "class=\"secret-key\"").unwrap();

    // The endpoint is stored as typed, under a generated id.
    let (_, list) = admin.api("GET", "/api/v1/endpoints", None).await;
    let stored = &list["items"][0];
    assert_eq!(stored["id"], key.as_str());
    assert_eq!(stored["extension"], "2001");
    assert_eq!(stored["calling_class"], "national");
    assert_eq!(stored["codecs"], json!(["g722", "ulaw"]));
    assert_eq!(stored["permit"], json!(["192.168.10.0/24"]));
    assert_eq!(stored["max_calls"], 3);

    // Once: the same link, the list and the endpoint's page no longer have it.
    for path in [to.as_str(), "/endpoints", &format!("/endpoints/{key}")] {
        let (status, html) = admin.page(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(!html.contains(&secret), "{path} shows the secret again");
        assert!(!html.contains("secret-value"), "{path}");
    }

    // The hydrated app's call gets the secret in its answer, marked never to be cached.
    let res = admin
        .client
        .post(server.url("/fn/rotate_endpoint_secret"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("csrf", &admin.csrf), ("id", &key)]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
    let rotated: Value = res.json().await.unwrap();
    let new_secret = rotated["secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    let (_, html) = admin.page("/endpoints").await;
    assert!(!html.contains(new_secret));

    // Rotation without JavaScript: the new secret once, on the list page.
    let res = admin
        .post_form("rotate_endpoint_secret", "/endpoints", &[("id", &key)])
        .await;
    let to = location(&res);
    assert!(to.starts_with("/endpoints?flash="), "{to}");
    let (_, html) = admin.page(&to).await;
    let third = tests::console::shown_secret(&html).unwrap();
    assert!(third.len() >= 20 && third != new_secret);
    let (_, again) = admin.page(&to).await;
    assert!(!again.contains(&third));
}

#[tokio::test]
async fn bad_input_comes_back_with_the_reason_and_what_was_typed() {
    let server = TestServer::start().unwrap();
    let admin = Session::sign_in(&server, "admin", ADMIN_PASSWORD).await;

    // Without JavaScript: a redirect to the page, which shows the reason beside the form
    // with what was typed still in it.
    let mut fields = endpoint_fields("12a", "Reception desk");
    fields.retain(|(k, _)| *k != "permit");
    fields.push(("permit", "10.1.2.0/24"));
    let res = admin
        .post_form("create_endpoint", "/endpoints", &fields)
        .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let to = location(&res);
    assert!(to.starts_with("/endpoints?flash="), "{to}");
    let (status, html) = admin.page(&to).await;
    assert_eq!(status, StatusCode::OK);
    let alert = text_after(&html, "class=\"field\"").expect("the refused field is named");
    assert_eq!(alert, "Extension", "the field in the form's words");
    assert!(html.contains("data-field=\"extension\""), "{html}");
    assert!(html.contains("role=\"alert\""), "{html}");
    assert!(html.contains("value=\"Reception desk\""), "{html}");
    assert!(html.contains("value=\"10.1.2.0/24\""), "{html}");
    assert!(html.contains("value=\"12a\""), "{html}");
    // Taken once.
    let (_, html) = admin.page(&to).await;
    assert!(!html.contains("Reception desk"));

    // With JavaScript: the typed error, 422, naming the field.
    let mut fields = endpoint_fields("2002", "Bob");
    fields.retain(|(k, _)| *k != "max_calls");
    fields.push(("max_calls", "lots"));
    let (status, error) = admin.call("create_endpoint", &fields).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["Invalid"]["field"], "max_calls", "{error}");
    let (status, error) = admin
        .call("create_endpoint", &endpoint_fields("2003", "Bad\u{7}bell"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["Invalid"]["field"], "display_name", "{error}");
    assert!(
        !error.to_string().contains('\u{7}'),
        "the refused value is not echoed"
    );

    // A duplicate extension is a conflict with the reason.
    let (status, _) = admin
        .call("create_endpoint", &endpoint_fields("2004", "Carol"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, error) = admin
        .call("create_endpoint", &endpoint_fields("2004", "Dave"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
    assert!(
        error["Conflict"][0].as_str().unwrap().contains("2004"),
        "{error}"
    );

    // A flash is bound to the session that made it, and tokens are looked up, never shown.
    let res = admin
        .post_form(
            "create_endpoint",
            "/endpoints",
            &endpoint_fields("2004", "Eve"),
        )
        .await;
    let to = location(&res);
    let other = Session::sign_in(&server, "admin", ADMIN_PASSWORD).await;
    let (_, html) = other.page(&to).await;
    assert!(
        !html.contains("value=\"Eve\""),
        "another session took the flash"
    );
    let (_, html) = admin.page(&to).await;
    assert!(
        html.contains("value=\"Eve\"") && html.contains("2004"),
        "{html}"
    );
    let (status, html) = admin
        .page("/endpoints?flash=%3Cscript%3Ealert(1)%3C%2Fscript%3E&error=%3Cb%3Elocked%3C%2Fb%3E")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!html.contains("<script>alert(1)") && !html.contains("locked"));

    // Nothing bad was stored, and nothing went wrong on the server.
    let (_, list) = admin.api("GET", "/api/v1/endpoints", None).await;
    assert_eq!(list["total"], 1, "{list}");
    assert!(!server.log().contains("panicked"));
}

#[tokio::test]
async fn viewers_cannot_change_the_pbx_and_every_change_needs_the_csrf_token() {
    let server = TestServer::start().unwrap();
    let admin = Session::sign_in(&server, "admin", ADMIN_PASSWORD).await;
    with_viewer(&admin).await;
    let viewer = Session::sign_in(&server, "vera", VIEWER_PASSWORD).await;
    let (_, created) = admin
        .api(
            "POST",
            "/api/v1/endpoints",
            Some(json!({"extension": "1001", "display_name": "Alice"})),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();

    let changes: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("create_endpoint", endpoint_fields("3001", "Mallory")),
        ("delete_endpoint", vec![("id", &id)]),
        ("rotate_endpoint_secret", vec![("id", &id)]),
        (
            "create_trunk",
            vec![("name", "evil"), ("peer", "203.0.113.9")],
        ),
        (
            "create_ami_user",
            vec![
                ("name", "evil"),
                ("write", "all"),
                ("allow_dangerous", "on"),
            ],
        ),
        ("apply_config", vec![]),
        ("rollback_config", vec![("number", "1")]),
        ("update_policy", vec![("realm", "evil")]),
        (
            "update_endpoint",
            vec![
                ("id", &id),
                ("extension", "1001"),
                ("display_name", "Mallory"),
            ],
        ),
        (
            "update_trunk",
            vec![("key", "provider-a"), ("peer", "203.0.113.9")],
        ),
        (
            "delete_trunk",
            vec![("name", "provider-a"), ("confirm", "provider-a")],
        ),
        (
            "update_ami_user",
            vec![("key", "crm"), ("write", "all"), ("allow_dangerous", "on")],
        ),
        ("rotate_ami_secret", vec![("name", "crm")]),
        ("delete_ami_user", vec![("name", "crm")]),
    ];
    for (function, fields) in &changes {
        let (status, error) = viewer.call(function, fields).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "viewer {function}: {error}");
        assert_eq!(error, json!({"Console": "Forbidden"}), "{function}");

        let mut forged = vec![("csrf", "not-the-token")];
        forged.extend_from_slice(fields);
        let (status, error) = admin.call(function, &forged).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "admin without csrf {function}: {error}"
        );
        assert_eq!(error, json!({"Console": "BadCsrf"}), "{function}");
    }
    // Without JavaScript the viewer gets the page back with the fixed message.
    let res = viewer
        .post_form("delete_endpoint", "/endpoints", &[("id", &id)])
        .await;
    let to = location(&res);
    assert!(to.starts_with("/endpoints?flash="), "{to}");
    let (_, html) = viewer.page(&to).await;
    assert!(html.contains("Your role does not allow this."), "{html}");
    // Signed out: the fixed code, nothing to bind a flash to.
    let anonymous = server.client();
    let res = anonymous
        .post(server.url("/fn/delete_endpoint"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html")
        .body(form(&[("csrf", "x"), ("id", &id)]))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&res), "/endpoints?error=not_signed_in");

    // Nothing changed.
    let (_, list) = admin.api("GET", "/api/v1/endpoints", None).await;
    assert_eq!(list["total"], 1);
    let (_, trunks) = admin.api("GET", "/api/v1/trunks", None).await;
    assert_eq!(trunks, json!({"items": [], "next_cursor": null}));
    let (_, users) = admin.api("GET", "/api/v1/ami-users", None).await;
    assert_eq!(users, json!({"items": [], "next_cursor": null}));
    let (_, revisions) = admin.api("GET", "/api/v1/config/revisions", None).await;
    assert_eq!(revisions, json!({"items": [], "next_cursor": null}));
    let (_, policy) = admin.api("GET", "/api/v1/policy", None).await;
    assert_eq!(policy["realm"], "sipwarden");
}

#[tokio::test]
async fn endpoints_are_searched_paged_edited_and_deleted() {
    let server = TestServer::start().unwrap();
    let admin = Session::sign_in(&server, "admin", ADMIN_PASSWORD).await;
    for n in 0..55 {
        let (status, _) = admin
            .api(
                "POST",
                "/api/v1/endpoints",
                Some(json!({"extension": format!("{}", 1000 + n), "display_name": format!("Phone {n}")})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (_, html) = admin.page("/endpoints").await;
    assert_eq!(html.matches("data-extension=").count(), 50);
    assert!(html.contains("href=\"/endpoints?cursor=041049\""), "{html}");
    let (_, html) = admin.page("/endpoints?cursor=041049").await;
    assert_eq!(html.matches("data-extension=").count(), 5);
    assert!(html.contains("data-extension=\"1054\""));
    assert!(!html.contains("id=\"next-page\""));
    let (_, html) = admin.page("/endpoints?q=Phone+42").await;
    assert_eq!(html.matches("data-extension=").count(), 1, "{html}");
    assert!(html.contains("data-extension=\"1042\""));
    let (_, html) = admin.page("/endpoints?q=nobody").await;
    assert!(html.contains("No endpoint matches the search."), "{html}");
    // A bad cursor is a message, not a 500.
    let (status, html) = admin.page("/endpoints?cursor=abc").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("not a cursor of this list"), "{html}");

    // Edit without JavaScript: saved, and the page shows the new values.
    let (_, list) = admin.api("GET", "/api/v1/endpoints?q=1042", None).await;
    let id = list["items"][0]["id"].as_str().unwrap().to_owned();
    let mut fields = endpoint_fields("1042", "Lobby phone");
    fields.retain(|(k, _)| !matches!(*k, "mac" | "secret" | "enabled"));
    fields.push(("id", &id));
    let res = admin
        .post_form("update_endpoint", &format!("/endpoints/{id}"), &fields)
        .await;
    assert_eq!(location(&res), format!("/endpoints/{id}?saved=1"));
    let (_, html) = admin.page(&format!("/endpoints/{id}?saved=1")).await;
    assert!(html.contains("id=\"saved\""));
    assert!(html.contains("value=\"Lobby phone\""), "{html}");
    let (_, shown) = admin
        .api("GET", &format!("/api/v1/endpoints/{id}"), None)
        .await;
    assert_eq!(shown["display_name"], "Lobby phone");
    assert_eq!(shown["enabled"], false, "an unticked box disables it");
    // A refused edit stays on the endpoint's page with what was typed.
    fields.retain(|(k, _)| *k != "extension");
    fields.push(("extension", "1043"));
    let res = admin
        .post_form("update_endpoint", &format!("/endpoints/{id}"), &fields)
        .await;
    let to = location(&res);
    assert!(to.starts_with(&format!("/endpoints/{id}?flash=")), "{to}");
    let (_, html) = admin.page(&to).await;
    assert!(html.contains("extension 1043 already exists"), "{html}");
    assert!(html.contains("value=\"1043\""));

    // Delete.
    let res = admin
        .post_form("delete_endpoint", "/endpoints", &[("id", &id)])
        .await;
    assert_eq!(location(&res), "/endpoints?deleted=1");
    let (_, html) = admin.page("/endpoints?deleted=1").await;
    assert!(html.contains("Endpoint deleted."));
    assert!(!html.contains("data-extension=\"1042\""));
    assert_eq!(html.matches("data-extension=").count(), 50);
    let (status, html) = admin.page(&format!("/endpoints/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("does not exist"), "{html}");
}

#[tokio::test]
async fn trunks_and_ami_users_are_created_with_dangerous_classes_only_by_consent() {
    let server = TestServer::start().unwrap();
    let admin = Session::sign_in(&server, "admin", ADMIN_PASSWORD).await;
    admin
        .api(
            "POST",
            "/api/v1/endpoints",
            Some(json!({"extension": "1001", "display_name": "Alice"})),
        )
        .await;

    let res = admin
        .post_form(
            "create_trunk",
            "/trunks",
            &[
                ("name", "provider-a"),
                ("peer", "203.0.113.10"),
                ("port", "5060"),
                ("sources", "203.0.113.0/28"),
                ("dids", "4930123456=1001\n4930123457 = 1001"),
                ("transport", "udp"),
                ("codecs", "alaw"),
                ("outbound", "on"),
            ],
        )
        .await;
    assert_eq!(location(&res), "/trunks?saved=1");
    let (_, html) = admin.page("/trunks").await;
    assert!(html.contains("4930123456 → 1001"), "{html}");
    assert!(html.contains("203.0.113.10:5060"));
    // A DID to an extension nobody has: refused with the reason, the form kept.
    let res = admin
        .post_form(
            "create_trunk",
            "/trunks",
            &[
                ("name", "provider-b"),
                ("peer", "198.51.100.7"),
                ("dids", "4940111=1999"),
            ],
        )
        .await;
    let (_, html) = admin.page(&location(&res)).await;
    assert!(html.contains("1999"), "{html}");
    assert!(html.contains("role=\"alert\""));
    assert!(html.contains("value=\"provider-b\""));

    // Root-equivalent classes need the explicit tick.
    let fields = [
        ("name", "crm"),
        ("permit", "127.0.0.1/32"),
        ("read", "call"),
        ("write", "originate, call"),
    ];
    let (status, error) = admin.call("create_ami_user", &fields).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert!(error.to_string().contains("originate"), "{error}");
    let res = admin
        .post_form("create_ami_user", "/ami-users", &fields)
        .await;
    let (_, html) = admin.page(&location(&res)).await;
    assert!(
        html.contains("role=\"alert\"") && html.contains("value=\"crm\""),
        "{html}"
    );

    let mut consented = fields.to_vec();
    consented.push(("allow_dangerous", "on"));
    let res = admin
        .post_form("create_ami_user", "/ami-users", &consented)
        .await;
    let to = location(&res);
    assert!(to.starts_with("/ami-users?flash="), "{to}");
    let (_, html) = admin.page(&to).await;
    let secret = tests::console::shown_secret(&html).unwrap();
    assert!(secret.len() >= 20);
    assert!(html.contains("class=\"class danger\""), "{html}");
    assert!(html.contains("allowed: originate"), "{html}");
    let (_, html) = admin.page("/ami-users").await;
    assert!(!html.contains(&secret));
    assert!(html.contains("href=\"/ami-users/crm\""));

    // Editing an AMI user keeps its name and secret; dangerous classes still need the tick.
    let (status, html) = admin.page("/ami-users/crm").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("id=\"ami-edit\"") && html.contains("value=\"originate, call\""),
        "{html}"
    );
    let res = admin
        .post_form(
            "update_ami_user",
            "/ami-users/crm",
            &[
                ("key", "crm"),
                ("permit", "127.0.0.1/32, 10.9.0.0/16"),
                ("read", "call"),
                ("write", "system"),
            ],
        )
        .await;
    let to = location(&res);
    assert!(to.starts_with("/ami-users/crm?flash="), "{to}");
    let (_, html) = admin.page(&to).await;
    assert!(
        html.contains("role=\"alert\"") && html.contains("value=\"system\""),
        "{html}"
    );
    let res = admin
        .post_form(
            "update_ami_user",
            "/ami-users/crm",
            &[
                ("key", "crm"),
                ("permit", "127.0.0.1/32, 10.9.0.0/16"),
                ("read", "call, security"),
                ("write", "call"),
            ],
        )
        .await;
    assert_eq!(location(&res), "/ami-users/crm?saved=1");
    let (_, user) = admin.api("GET", "/api/v1/ami-users/crm", None).await;
    assert_eq!(user["permit"], json!(["127.0.0.1/32", "10.9.0.0/16"]));
    assert_eq!(user["dangerous"], json!([]));

    // Editing a trunk: its name stays, the rest changes.
    let res = admin
        .post_form(
            "update_trunk",
            "/trunks/provider-a",
            &[
                ("key", "provider-a"),
                ("peer", "203.0.113.11"),
                ("port", "5080"),
                ("dids", "4930123456=1001"),
                ("codecs", "alaw"),
            ],
        )
        .await;
    assert_eq!(location(&res), "/trunks/provider-a?saved=1");
    let (_, html) = admin.page("/trunks/provider-a?saved=1").await;
    assert!(
        html.contains("value=\"203.0.113.11\"") && html.contains("id=\"saved\""),
        "{html}"
    );
    let (_, trunk) = admin.api("GET", "/api/v1/trunks/provider-a", None).await;
    assert_eq!(trunk["port"], 5080);
    assert_eq!(trunk["outbound"], false);
    assert_eq!(trunk["dids"].as_array().unwrap().len(), 1);
    let (status, html) = admin.page("/trunks/nobody-here").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("That trunk does not exist"), "{html}");
}

#[tokio::test]
async fn the_policy_form_saves_and_refuses_with_the_field() {
    let server = TestServer::start().unwrap();
    let admin = Session::sign_in(&server, "admin", ADMIN_PASSWORD).await;
    let (_, policy) = admin.api("GET", "/api/v1/policy", None).await;
    let join = |v: &Value| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let text = |k: &str| match &policy[k] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Array(_) => join(&policy[k]),
        _ => String::new(),
    };
    let keys = [
        "realm",
        "unidentified_request_count",
        "unidentified_request_period",
        "unidentified_request_prune_interval",
        "sip_bind_v4",
        "sip_port",
        "tls_port",
        "default_endpoint_networks",
        "national_patterns",
        "international_patterns",
        "emergency_numbers",
        "ami_port",
        "ami_auth_timeout",
        "ami_auth_limit",
        "guard_ami_user",
        "guard_ami_permit",
        "apply_ami_user",
    ];
    let values: Vec<(String, String)> = keys.iter().map(|k| ((*k).to_owned(), text(k))).collect();
    let mut fields: Vec<(&str, &str)> = values
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    fields.push(("user_agent", "Office PBX"));
    fields.push(("ami_bind", "127.0.0.1"));
    let res = admin.post_form("update_policy", "/policy", &fields).await;
    assert_eq!(location(&res), "/policy?saved=1");
    let (_, after) = admin.api("GET", "/api/v1/policy", None).await;
    assert_eq!(after["user_agent"], "Office PBX");
    assert_eq!(
        after["default_endpoint_networks"],
        policy["default_endpoint_networks"]
    );
    let (_, html) = admin.page("/policy?saved=1").await;
    assert!(html.contains("value=\"Office PBX\"") && html.contains("id=\"saved\""));

    fields.retain(|(k, _)| *k != "ami_bind");
    fields.push(("ami_bind", "localhost-ish"));
    let res = admin.post_form("update_policy", "/policy", &fields).await;
    let (_, html) = admin.page(&location(&res)).await;
    assert_eq!(
        text_after(&html, "class=\"field\"").unwrap(),
        "Address AMI listens on"
    );
    assert!(html.contains("value=\"localhost-ish\""));

    // A dialplan of one's own, typed into the textarea (a browser sends CRLF line ends).
    fields.retain(|(k, _)| *k != "ami_bind");
    fields.push(("ami_bind", "127.0.0.1"));
    let menu = "; reception\r\n[custom-internal]\r\nexten => 800,1,Playback(hello-world)\r\n";
    let mut with_menu = fields.clone();
    with_menu.push(("custom_dialplan", menu));
    let res = admin
        .post_form("update_policy", "/policy", &with_menu)
        .await;
    assert_eq!(location(&res), "/policy?saved=1");
    let (_, after) = admin.api("GET", "/api/v1/policy", None).await;
    assert_eq!(after["custom_dialplan"], menu.replace("\r\n", "\n"));
    let mut with_dial = fields.clone();
    with_dial.push((
        "custom_dialplan",
        "[custom-internal]\nexten => _0.,1,Dial(PJSIP/${EXTEN}@provider)\n",
    ));
    let res = admin
        .post_form("update_policy", "/policy", &with_dial)
        .await;
    let (_, html) = admin.page(&location(&res)).await;
    assert_eq!(
        text_after(&html, "class=\"field\"").unwrap(),
        "Your own dialplan"
    );
    assert!(html.contains("line 2: application `Dial`"), "{html}");
    assert!(
        html.contains("@provider)"),
        "what was typed is kept: {html}"
    );
}

#[tokio::test]
async fn the_config_page_previews_the_diff_and_records_a_failed_apply() {
    let server = TestServer::start().unwrap();
    let admin = Session::sign_in(&server, "admin", ADMIN_PASSWORD).await;
    let (_, created) = admin
        .api(
            "POST",
            "/api/v1/endpoints",
            Some(json!({"extension": "1001", "display_name": "Alice"})),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();

    let (status, html) = admin.page("/config").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"preview\""), "{html}");
    assert!(html.contains("pjsip.conf") && html.contains("manager.conf"));
    assert!(html.contains("class=\"diff\""), "{html}");
    assert!(
        html.contains(&format!("+[{id}]")),
        "the diff adds the endpoint's section"
    );
    assert!(html.contains("id=\"no-revisions\""));

    // No Asterisk here: the apply fails, says why, and the revision is listed as failed.
    let res = admin.post_form("apply_config", "/config", &[]).await;
    let to = location(&res);
    assert!(to.starts_with("/config?flash="), "{to}");
    let (_, html) = admin.page(&to).await;
    assert!(
        html.contains("Revision 1 was not applied (failed)"),
        "{html}"
    );
    assert!(html.contains("AMI"), "the reason names AMI: {html}");
    assert!(html.contains("id=\"revision-table\""));
    assert!(html.contains("class=\"status-failed\""), "{html}");
    // A failed revision cannot be rolled back to; a bad number is refused, not a 500.
    assert!(!html.contains("Roll back to this"));
    let (status, error) = admin.call("rollback_config", &[("number", "x")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    let (status, error) = admin.call("rollback_config", &[("number", "99")]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");

    // The hydrated app's apply gets the report itself.
    let (status, report) = admin.call("apply_config", &[]).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["applied"], false);
    assert_eq!(report["revision"]["status"], "failed");
    assert_eq!(report["revision"]["number"], 2);
}

/// The guard policy's JSON as the Guard page's form sends it: `values[a.b]=…` per setting,
/// lists one entry per line, a switch only when on (an unticked checkbox sends nothing).
fn guard_form(policy: &Value) -> Vec<(String, String)> {
    fn walk(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&path, v, out);
                }
            }
            Value::Bool(false) => {}
            Value::Bool(true) => out.push((format!("values[{prefix}]"), "true".to_owned())),
            Value::Array(items) => out.push((
                format!("values[{prefix}]"),
                items
                    .iter()
                    .map(|i| i.as_str().unwrap().to_owned())
                    .collect::<Vec<_>>()
                    .join("\n"),
            )),
            other => out.push((format!("values[{prefix}]"), other.to_string())),
        }
    }
    let mut out = Vec::new();
    walk("", policy, &mut out);
    out
}

#[tokio::test]
async fn the_guard_page_edits_the_guard_policy_and_refuses_with_the_field() {
    let server = TestServer::start().unwrap();
    let admin = Session::sign_in(&server, "admin", ADMIN_PASSWORD).await;
    let (status, html) = admin.page("/guard").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"guard-policy-form\""), "{html}");
    let (_, policy) = admin.api("GET", "/api/v1/guard/policy", None).await;
    let mut values = guard_form(&policy);
    // Every setting of the policy is on the page, as the input the form posts.
    for (name, _) in &values {
        assert!(html.contains(&format!("name=\"{name}\"")), "{name} missing");
    }
    assert!(html.contains("name=\"values[scanner.ban]\""));

    // Saved from a plain form post: a new threshold, and a detector switched to report only.
    let set = |values: &mut Vec<(String, String)>, name: &str, value: Option<&str>| {
        values.retain(|(k, _)| k != name);
        if let Some(v) = value {
            values.push((name.to_owned(), v.to_owned()));
        }
    };
    set(&mut values, "values[guessing.max_failures]", Some("7"));
    set(&mut values, "values[scanner.ban]", None);
    let mut fields: Vec<(&str, &str)> = vec![("version", "0")];
    fields.extend(values.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let res = admin
        .post_form("update_guard_settings", "/guard", &fields)
        .await;
    assert_eq!(location(&res), "/guard?saved=1");
    let (_, after) = admin.api("GET", "/api/v1/guard/policy", None).await;
    assert_eq!(after["guessing"]["max_failures"], 7);
    assert_eq!(after["scanner"]["ban"], false);
    assert_eq!(
        after["scanner"]["user_agents"],
        policy["scanner"]["user_agents"]
    );
    let (_, html) = admin.page("/guard?saved=1").await;
    assert!(html.contains("id=\"saved\""));

    // The same form again (version 0): somebody changed it meanwhile.
    let res = admin
        .post_form("update_guard_settings", "/guard", &fields)
        .await;
    let (_, html) = admin.page(&location(&res)).await;
    assert!(html.contains("changed meanwhile"), "{html}");

    // A value beyond its rule: refused naming the field, the typed value kept.
    set(&mut values, "values[bans.unproven_secs]", Some("99999"));
    let mut fields: Vec<(&str, &str)> = vec![("version", "1")];
    fields.extend(values.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let res = admin
        .post_form("update_guard_settings", "/guard", &fields)
        .await;
    let (_, html) = admin.page(&location(&res)).await;
    assert_eq!(
        text_after(&html, "class=\"field\"").unwrap(),
        guard_label("bans.unproven_secs")
    );
    assert!(html.contains("value=\"99999\""), "the typed value is kept");
    let (_, unchanged) = admin.api("GET", "/api/v1/guard/policy", None).await;
    assert_eq!(unchanged["bans"]["unproven_secs"], 300);

    // The hydrated app's call gets the new version back.
    set(&mut values, "values[bans.unproven_secs]", Some("120"));
    let mut fields: Vec<(&str, &str)> = vec![("version", "1")];
    fields.extend(values.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let (status, version) = admin.call("update_guard_settings", &fields).await;
    assert_eq!(status, StatusCode::OK, "{version}");
    assert_eq!(version, 2);

    // A viewer reads it and changes nothing.
    with_viewer(&admin).await;
    let viewer = Session::sign_in(&server, "vera", VIEWER_PASSWORD).await;
    let (status, html) = viewer.page("/guard").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(
            "name=\"values[guessing.max_failures]\" min=\"0\" step=\"1\" value=\"7\" disabled"
        ),
        "{html}"
    );
    let (status, _) = viewer.call("update_guard_settings", &fields).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, policy) = viewer.api("GET", "/api/v1/guard/policy", None).await;
    assert_eq!(
        policy["bans"]["unproven_secs"], 120,
        "viewers may read over the API"
    );
}

#[tokio::test]
async fn the_firewall_form_saves_and_refuses_with_the_field_and_what_was_typed() {
    let server = TestServer::start().unwrap();
    let admin = Session::sign_in(&server, "admin", ADMIN_PASSWORD).await;
    let (_, before) = admin.api("GET", "/api/v1/firewall", None).await;
    let fields = |trusted: &'static str| {
        vec![
            ("enabled", "on"),
            ("sip_udp_port", "5060"),
            ("sip_tcp_port", "5060"),
            ("sip_tls_port", "5061"),
            ("ami_port", "5038"),
            ("console_port", "8080"),
            ("trusted_networks", trusted),
            ("admin_networks", ""),
            ("ami_networks", ""),
            ("blocklist", "203.0.113.0/24"),
            ("confirm_window_secs", "90"),
        ]
    };

    let res = admin
        .post_form("save_firewall", "/firewall", &fields("192.0.2.7/24"))
        .await;
    let to = location(&res);
    assert!(to.starts_with("/firewall?flash="), "{to}");
    let (_, html) = admin.page(&to).await;
    assert_eq!(
        text_after(&html, "class=\"field\"").unwrap(),
        "Trusted networks"
    );
    assert!(html.contains("host bits set"), "the rule is said");
    // What was typed is back in the form, not the stored policy.
    assert!(html.contains(">192.0.2.7/24</textarea>"));
    assert!(html.contains("value=\"90\""));
    let (_, stored) = admin.api("GET", "/api/v1/firewall", None).await;
    assert_eq!(stored["policy"], before["policy"], "nothing stored");
    // The flash is shown once.
    let (_, again) = admin.page(&to).await;
    assert!(!again.contains("class=\"field\""));

    let res = admin
        .post_form("save_firewall", "/firewall", &fields("192.0.2.0/24"))
        .await;
    assert_eq!(location(&res), "/firewall?saved=1");
    let (_, stored) = admin.api("GET", "/api/v1/firewall", None).await;
    assert_eq!(stored["policy"]["trusted_networks"][0], "192.0.2.0/24");
    assert_eq!(stored["policy"]["confirm_window_secs"], 90);
    // The form does not carry the rate tiers: the stored ones stay.
    assert_eq!(
        stored["policy"]["rate_limits"],
        before["policy"]["rate_limits"]
    );

    // With JavaScript the typed refusal comes back as JSON, naming the field.
    let (status, body) = admin.call("save_firewall", &fields("0.0.0.0/0")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["Invalid"]["field"], "trusted_networks", "{body}");
}

#[tokio::test]
async fn deleting_a_trunk_from_the_console_needs_its_name_typed_again() {
    let server = TestServer::start().unwrap();
    let api = tests::api::Api::sign_in(&server).await;
    api.create(
        "/api/v1/trunks",
        json!({"name": "provider-a", "peer": "203.0.113.9"}),
    )
    .await;
    let admin = tests::console::ConsoleSession::sign_in(&server, "admin", ADMIN_PASSWORD).await;
    for confirm in [None, Some("provider-b"), Some("")] {
        let mut fields = vec![("name", "provider-a")];
        if let Some(typed) = confirm {
            fields.push(("confirm", typed));
        }
        let (status, error) = admin.call("delete_trunk", &fields).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{confirm:?}: {error}"
        );
        assert_eq!(error["Invalid"]["field"], "confirm", "{error}");
    }
    let (status, _) = api.call("GET", "/api/v1/trunks/provider-a", None).await;
    assert_eq!(status, StatusCode::OK, "a refused delete deleted");
    let (status, error) = admin
        .call(
            "delete_trunk",
            &[("name", "provider-a"), ("confirm", "provider-a")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{error}");
    let (status, _) = api.call("GET", "/api/v1/trunks/provider-a", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The label the guard's settings form shows for a policy path.
fn guard_label(path: &str) -> &'static str {
    policy::guard::POLICY_FIELDS
        .iter()
        .find(|f| f.path == path)
        .expect("a policy field")
        .label
}

#[tokio::test]
async fn a_registering_trunk_is_made_in_the_console_and_its_password_is_never_shown_again() {
    const PASS: &str = "Pr0vider+Pass=first";
    const NEW: &str = "Pr0vider+Pass=second";
    let server = TestServer::start().unwrap();
    let admin = Session::sign_in(&server, "admin", ADMIN_PASSWORD).await;
    let fields = |secret: &'static str| {
        vec![
            ("name", "provider-r"),
            ("peer", "203.0.113.10"),
            ("registers", "on"),
            ("reg_username", "4930123400"),
            ("reg_retry_interval", "60"),
            ("reg_forbidden_retry_interval", "0"),
            ("reg_expiration", "600"),
            ("reg_outbound_auth", "on"),
            ("secret", secret),
        ]
    };
    // A password that could break pjsip.conf: refused naming the field by its label, and
    // the form comes back without it.
    let res = admin
        .post_form("create_trunk", "/trunks", &fields("Bad;Pass-XYZ"))
        .await;
    let (_, html) = admin.page(&location(&res)).await;
    assert!(html.contains("role=\"alert\""), "{html}");
    assert!(html.contains("Provider password"), "{html}");
    assert!(!html.contains("Bad;Pass-XYZ") && !html.contains("Pass-XYZ"));
    assert!(
        html.contains("value=\"4930123400\""),
        "what was typed comes back"
    );

    let res = admin
        .post_form("create_trunk", "/trunks", &fields(PASS))
        .await;
    assert_eq!(location(&res), "/trunks?saved=1");
    let (_, html) = admin.page("/trunks").await;
    assert!(
        html.contains("4930123400") && !html.contains(PASS),
        "{html}"
    );
    let (_, html) = admin.page("/trunks/provider-r").await;
    assert!(html.contains("id=\"registration-status\""), "{html}");
    assert!(html.contains(">unknown<"), "no Asterisk here: {html}");
    assert!(
        html.contains("id=\"trunk-secret\""),
        "the replace form: {html}"
    );
    assert!(!html.contains(PASS));
    assert!(
        !html.contains("type=\"password\" name=\"secret\" value=\"P"),
        "a password input is never filled: {html}"
    );
    let stored = || {
        tests::server::sqlite(
            &server.database(),
            "SELECT registration_secret FROM trunks WHERE name = 'provider-r';",
        )
    };

    // An edit with the password left empty keeps it.
    let edit: Vec<(&str, &str)> = fields("")
        .into_iter()
        .map(|(k, v)| match k {
            "name" => ("key", "provider-r"),
            "reg_expiration" => (k, "900"),
            _ => (k, v),
        })
        .collect();
    let res = admin
        .post_form("update_trunk", "/trunks/provider-r", &edit)
        .await;
    assert_eq!(location(&res), "/trunks/provider-r?saved=1");
    assert_eq!(stored(), PASS);
    let (_, trunk) = admin.api("GET", "/api/v1/trunks/provider-r", None).await;
    assert_eq!(trunk["registration"]["expiration"], 900, "{trunk}");

    // The explicit path replaces the password alone.
    let res = admin
        .post_form(
            "replace_trunk_secret",
            "/trunks/provider-r",
            &[("key", "provider-r"), ("secret", NEW)],
        )
        .await;
    assert_eq!(location(&res), "/trunks/provider-r?replaced=1");
    assert_eq!(stored(), NEW);
    let (_, html) = admin.page("/trunks/provider-r?replaced=1").await;
    assert!(
        html.contains("id=\"replaced\"") && !html.contains(NEW),
        "{html}"
    );
}
