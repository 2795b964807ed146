//! The PBX model over the REST API of the real server: endpoints, trunks, AMI users, the
//! policy, previews and applies (without an Asterisk: the apply must fail cleanly and put
//! everything back). The real-Asterisk side is in `asterisk_apply.rs`.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::server::{ADMIN_PASSWORD, TestServer};

struct Api {
    server: TestServer,
    client: reqwest::Client,
    csrf: String,
}

impl Api {
    async fn start() -> Api {
        let server = TestServer::start().unwrap();
        let (client, csrf) = server.api_sign_in("admin", ADMIN_PASSWORD).await.unwrap();
        Api {
            server,
            client,
            csrf,
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
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

#[tokio::test]
async fn an_endpoint_is_created_with_generated_id_and_secret_shown_once() {
    let api = Api::start().await;
    let res = api
        .client
        .post(api.server.url("/api/v1/endpoints"))
        .header("x-csrf-token", &api.csrf)
        .json(&json!({"extension": "1001", "display_name": "Alice"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = res.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/v1/endpoints/{id}"));
    assert_ne!(id, "1001");
    assert!(id.chars().any(|c| c.is_ascii_alphabetic()), "{id}");
    assert!(secret.len() >= 20, "{secret}");
    // Deny by default: the policy's private ranges, nothing else.
    assert!(
        created["permit"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n != "0.0.0.0/0")
    );

    let (status, shown) = api.call("GET", &location, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(shown.get("secret").is_none());
    assert_eq!(shown["extension"], "1001");

    // The database (sipwarden's own AMI secrets live there) is readable by its owner only.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(api.server.data.path().join("sipwarden.sqlite3"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "database mode {mode:o}");

    // At rest: the digest only. The database file never holds the plain secret.
    let db = std::fs::read(api.server.data.path().join("sipwarden.sqlite3")).unwrap();
    let wal =
        std::fs::read(api.server.data.path().join("sipwarden.sqlite3-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the plain secret is in the database"
        );
    }
    assert!(!api.server.log().contains(&secret), "the secret was logged");

    let (_, audit) = api.call("GET", "/api/v1/audit", None).await;
    let text = audit.to_string();
    assert!(text.contains("endpoint_create"), "{text}");
    assert!(!text.contains(&secret));
}

#[tokio::test]
async fn bad_endpoint_input_gets_a_precise_4xx_and_nothing_is_stored() {
    let api = Api::start().await;
    let cases: &[(Value, &str)] = &[
        (
            json!({"extension": "12a", "display_name": "X"}),
            "extension",
        ),
        (
            json!({"extension": "1001", "display_name": "Eve\n[evil]"}),
            "display_name",
        ),
        (
            json!({"extension": "1001", "display_name": "Eve;--"}),
            "display_name",
        ),
        (
            json!({"extension": "1001", "display_name": "Eve", "permit": ["0.0.0.0/0"]}),
            "permit[0]",
        ),
        (
            json!({"extension": "1001", "display_name": "Eve", "secret": "password123"}),
            "secret",
        ),
        (
            json!({"extension": "1001", "display_name": "Eve", "max_calls": 0}),
            "max_calls",
        ),
        (
            json!({"extension": "1001", "display_name": "Eve", "calling_class": "galactic"}),
            "calling_class",
        ),
        (
            json!({"extension": "1001", "display_name": "Eve", "colour": "red"}),
            "",
        ),
    ];
    for (body, field) in cases {
        let (status, problem) = api
            .call("POST", "/api/v1/endpoints", Some(body.clone()))
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} -> {problem}"
        );
        assert!(
            problem["type"]
                .as_str()
                .unwrap()
                .ends_with("/invalid_field"),
            "{problem}"
        );
        if !field.is_empty() {
            assert_eq!(problem["field"], *field, "{body} -> {problem}");
        }
        assert!(!problem["detail"].as_str().unwrap().is_empty());
    }
    // Not JSON at all, or not declared as JSON.
    let res = api
        .client
        .post(api.server.url("/api/v1/endpoints"))
        .header("x-csrf-token", &api.csrf)
        .header("content-type", "text/plain")
        .body("extension=1001")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (_, list) = api.call("GET", "/api/v1/endpoints", None).await;
    assert_eq!(list["total"], 0, "{list}");

    let ok = json!({"extension": "1001", "display_name": "Alice"});
    assert_eq!(
        api.call("POST", "/api/v1/endpoints", Some(ok.clone()))
            .await
            .0,
        StatusCode::CREATED
    );
    let (status, problem) = api.call("POST", "/api/v1/endpoints", Some(ok)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("1001"));
    let (_, list) = api.call("GET", "/api/v1/endpoints", None).await;
    assert_eq!(list["total"], 1);
}

#[tokio::test]
async fn endpoints_are_listed_by_extension_searched_paged_edited_rotated_and_deleted() {
    let api = Api::start().await;
    for (ext, name) in [
        ("1010", "Zed"),
        ("200", "Bob"),
        ("1001", "Alice"),
        ("30", "Carol"),
    ] {
        let body = json!({"extension": ext, "display_name": name});
        assert_eq!(
            api.call("POST", "/api/v1/endpoints", Some(body)).await.0,
            StatusCode::CREATED
        );
    }
    let (_, page) = api.call("GET", "/api/v1/endpoints?limit=2", None).await;
    let exts: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["extension"].as_str().unwrap())
        .collect();
    assert_eq!(exts, ["30", "200"]);
    assert_eq!(page["total"], 4);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, page2) = api
        .call(
            "GET",
            &format!("/api/v1/endpoints?limit=2&cursor={cursor}"),
            None,
        )
        .await;
    let exts: Vec<&str> = page2["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["extension"].as_str().unwrap())
        .collect();
    assert_eq!(exts, ["1001", "1010"]);
    assert!(page2["next_cursor"].is_null());
    let (status, problem) = api
        .call("GET", "/api/v1/endpoints?cursor=1001'--", None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["field"], "cursor", "{problem}");
    let (_, found) = api.call("GET", "/api/v1/endpoints?q=ali", None).await;
    assert_eq!(found["total"], 1);
    assert_eq!(found["items"][0]["display_name"], "Alice");
    // LIKE wildcards are literal.
    let (_, none) = api.call("GET", "/api/v1/endpoints?q=%25", None).await;
    assert_eq!(none["total"], 0);
    let (status, _) = api.call("GET", "/api/v1/endpoints?limit=many", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let id = found["items"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/endpoints/{id}");
    let (status, edited) = api
        .call("PUT", &path, Some(json!({"extension": "1002", "display_name": "Alice B", "max_calls": 3, "calling_class": "national"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["id"], id.as_str());
    assert_eq!(edited["max_calls"], 3);
    assert_eq!(edited["version"], 2);
    let (status, problem) = api
        .call(
            "PUT",
            &path,
            Some(json!({"extension": "200", "display_name": "Alice"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");

    let (status, first) = api.call("POST", &format!("{path}/secret"), None).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (_, second) = api
        .call("POST", &format!("{path}/secret"), Some(json!({})))
        .await;
    assert_ne!(first["secret"], second["secret"]);
    let (status, weak) = api
        .call(
            "POST",
            &format!("{path}/secret"),
            Some(json!({"secret": "qwertyuiopasdfgh"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{weak}");
    assert_eq!(weak["field"], "secret");

    assert_eq!(
        api.call("DELETE", &path, None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(api.call("GET", &path, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        api.call("DELETE", &path, None).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn trunks_reach_only_existing_extensions_and_ami_users_need_consent_for_dangerous_classes() {
    let api = Api::start().await;
    let (_, alice) = api
        .call(
            "POST",
            "/api/v1/endpoints",
            Some(json!({"extension": "1001", "display_name": "Alice"})),
        )
        .await;
    let trunk = json!({"name": "carrier", "peer": "203.0.113.5", "dids": [{"did": "4930123456", "extension": "1999"}]});
    let (status, problem) = api.call("POST", "/api/v1/trunks", Some(trunk)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("1999"),
        "{problem}"
    );
    let trunk = json!({"name": "carrier", "peer": "203.0.113.5", "outbound": true, "dids": [{"did": "4930123456", "extension": "1001"}]});
    let (status, created) = api.call("POST", "/api/v1/trunks", Some(trunk)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["sources"], json!(["203.0.113.5/32"]));
    // The routed extension cannot disappear under the trunk.
    let path = format!("/api/v1/endpoints/{}", alice["id"].as_str().unwrap());
    let (status, problem) = api.call("DELETE", &path, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(api.call("GET", &path, None).await.0, StatusCode::OK);

    let (status, problem) = api
        .call(
            "POST",
            "/api/v1/ami-users",
            Some(json!({"name": "crm", "write": ["originate"]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["field"], "write[0]");
    let (status, user) = api
        .call("POST", "/api/v1/ami-users", Some(json!({"name": "crm", "write": ["originate"], "read": ["call"], "allow_dangerous": true})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(user["dangerous"], json!(["originate"]));
    assert!(user["secret"].as_str().unwrap().len() >= 20);
    let (_, shown) = api.call("GET", "/api/v1/ami-users/crm", None).await;
    assert!(shown.get("secret").is_none());
    let (status, _) = api
        .call(
            "POST",
            "/api/v1/ami-users",
            Some(json!({"name": "sipwarden-apply"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "sipwarden's own account name");
}

#[tokio::test]
async fn a_registration_trunk_never_answers_with_its_secret_and_an_edit_without_one_keeps_it() {
    const FIRST: &str = "Pr0vider+Pass=1st";
    const SECOND: &str = "Pr0vider+Pass=2nd";
    let api = Api::start().await;
    api.call(
        "POST",
        "/api/v1/endpoints",
        Some(json!({"extension": "1001", "display_name": "Alice"})),
    )
    .await;
    let trunk = |registration: Value| {
        json!({"name": "carrier", "peer": "203.0.113.5",
               "dids": [{"did": "4930123456", "extension": "1001"}],
               "registration": registration})
    };
    let registration = json!({"username": "4930123400", "secret": FIRST,
                              "auth_username": "auth.4930123400", "expiration": 600});

    // Refused values name the field, never echo the value, and store nothing.
    let bad: &[(Value, &str)] = &[
        (
            json!({"username": "49;30", "secret": FIRST}),
            "registration.username",
        ),
        (
            json!({"username": " 4930", "secret": FIRST}),
            "registration.username",
        ),
        (json!({"username": "4930"}), "registration.secret"),
        (
            json!({"username": "4930", "secret": "x\n[evil]"}),
            "registration.secret",
        ),
        (
            json!({"username": "4930", "secret": "Pass;--comment"}),
            "registration.secret",
        ),
        (
            json!({"username": "4930", "secret": "#include x"}),
            "registration.secret",
        ),
        (
            json!({"username": "4930", "secret": "x".repeat(129)}),
            "registration.secret",
        ),
        (
            json!({"username": "4930", "secret": FIRST, "contact_user": "a b"}),
            "registration.contact_user",
        ),
        (
            json!({"username": "4930", "secret": FIRST, "auth_username": "a;b"}),
            "registration.auth_username",
        ),
        (
            json!({"username": "4930", "secret": FIRST, "retry_interval": 1}),
            "registration.retry_interval",
        ),
        (
            json!({"username": "4930", "secret": FIRST, "expiration": 10}),
            "registration.expiration",
        ),
        (
            json!({"username": "4930", "secret": FIRST, "forbidden_retry_interval": 100000}),
            "registration.forbidden_retry_interval",
        ),
    ];
    for (registration, field) in bad {
        let (status, problem) = api
            .call("POST", "/api/v1/trunks", Some(trunk(registration.clone())))
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{registration} -> {problem}"
        );
        assert_eq!(problem["field"], *field, "{registration} -> {problem}");
        let secret = registration["secret"].as_str().unwrap_or("\u{0}");
        assert!(!problem.to_string().contains(secret), "{problem}");
    }
    let (status, _) = api
        .call(
            "POST",
            "/api/v1/trunks",
            Some(trunk(
                json!({"username": "4930", "secret": FIRST, "colour": "red"}),
            )),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        api.call("GET", "/api/v1/trunks", None).await.1["items"],
        json!([])
    );

    // Created: the answer shows the registration, never the secret.
    let (status, created) = api
        .call("POST", "/api/v1/trunks", Some(trunk(registration)))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(!created.to_string().contains(FIRST), "{created}");
    assert_eq!(created["registration"]["username"], "4930123400");
    assert_eq!(created["registration"]["auth_username"], "auth.4930123400");
    assert_eq!(created["registration"]["outbound_auth"], true);
    assert_eq!(created["registration"]["retry_interval"], 60);
    assert!(created["registration"].get("secret").is_none());

    // One trunk carries the registration's state; without an Asterisk it is unknown, and
    // says why, rather than failing.
    let (status, shown) = api.call("GET", "/api/v1/trunks/carrier", None).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(
        shown["registration"]["status"]["state"], "unknown",
        "{shown}"
    );
    assert!(
        shown["registration"]["status"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("not reachable")),
        "{shown}"
    );
    assert!(!shown.to_string().contains(FIRST));
    let (_, list) = api.call("GET", "/api/v1/trunks", None).await;
    assert!(!list.to_string().contains(FIRST));
    assert_eq!(list["items"][0]["registration"]["status"], Value::Null);

    // An edit without a secret keeps the stored one.
    let mut edit = trunk(json!({"username": "4930123400", "expiration": 900}));
    edit.as_object_mut().unwrap().remove("name");
    let (status, edited) = api
        .call("PUT", "/api/v1/trunks/carrier", Some(edit.clone()))
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["registration"]["expiration"], 900);
    assert_eq!(edited["registration"]["auth_username"], Value::Null);
    let db = api.server.database();
    let stored = || {
        tests::server::sqlite(
            &db,
            "SELECT registration_secret || '|' || body FROM trunks;",
        )
    };
    let row = stored();
    assert!(
        row.starts_with(&format!("{FIRST}|")),
        "the secret is kept apart"
    );
    assert_eq!(row.matches(FIRST).count(), 1, "the body never holds it");

    // The preview hides it.
    let (status, preview) = api.call("GET", "/api/v1/config/preview", None).await;
    assert_eq!(status, StatusCode::OK);
    let text = preview.to_string();
    assert!(
        text.contains("password=(hidden)") && !text.contains(FIRST),
        "{preview}"
    );

    // Replacing the secret changes nothing else and answers without it.
    let (status, replaced) = api
        .call(
            "POST",
            "/api/v1/trunks/carrier/secret",
            Some(json!({"secret": SECOND})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert!(!replaced.to_string().contains(SECOND));
    assert_eq!(replaced["registration"]["expiration"], 900);
    assert!(stored().starts_with(&format!("{SECOND}|")));
    let (status, problem) = api
        .call(
            "POST",
            "/api/v1/trunks/carrier/secret",
            Some(json!({"secret": "a b"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["field"], "registration.secret");

    // A trunk that does not register has no secret to replace; dropping the registration
    // drops the secret, and adding one back needs a new secret.
    let mut plain = edit.clone();
    plain.as_object_mut().unwrap().remove("registration");
    assert_eq!(
        api.call("PUT", "/api/v1/trunks/carrier", Some(plain))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        tests::server::sqlite(
            &db,
            "SELECT ifnull(registration_secret, 'none') FROM trunks;"
        )
        .trim(),
        "none"
    );
    let (status, problem) = api
        .call(
            "POST",
            "/api/v1/trunks/carrier/secret",
            Some(json!({"secret": SECOND})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["field"], "registration");
    let (status, problem) = api.call("PUT", "/api/v1/trunks/carrier", Some(edit)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["field"], "registration.secret");

    // Never in a log or the audit trail.
    let audit = tests::server::sqlite(&db, "SELECT group_concat(detail, ' ') FROM audit_log;");
    assert!(audit.contains("trunk carrier"), "{audit}");
    for secret in [FIRST, SECOND] {
        assert!(!audit.contains(secret));
        assert!(!api.server.log().contains(secret));
    }
}

#[tokio::test]
async fn the_policy_hides_own_secrets_and_refuses_a_realm_that_would_orphan_digests() {
    let api = Api::start().await;
    let (status, policy) = api.call("GET", "/api/v1/policy", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(policy["guard_ami_secret"].is_null() && policy["apply_ami_secret"].is_null());
    assert_eq!(policy["ami_bind"], "127.0.0.1");
    let mut changed = policy.clone();
    changed.as_object_mut().unwrap().remove("version");
    changed["user_agent"] = json!("Office PBX");
    let (status, after) = api
        .call("PUT", "/api/v1/policy", Some(changed.clone()))
        .await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(after["user_agent"], "Office PBX");
    assert_eq!(after["version"], policy["version"].as_i64().unwrap() + 1);

    let mut bad = changed.clone();
    bad["realm"] = json!("pbx\n[x]");
    let (status, problem) = api.call("PUT", "/api/v1/policy", Some(bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["field"], "realm");

    api.call(
        "POST",
        "/api/v1/endpoints",
        Some(json!({"extension": "1001", "display_name": "Alice"})),
    )
    .await;
    let mut realm = changed;
    realm["realm"] = json!("other.example");
    let (status, problem) = api.call("PUT", "/api/v1/policy", Some(realm)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let (_, still) = api.call("GET", "/api/v1/policy", None).await;
    assert_eq!(still["realm"], policy["realm"]);
}

#[tokio::test]
async fn viewers_read_but_cannot_change_or_preview() {
    let api = Api::start().await;
    let (status, _) = api
        .call(
            "POST",
            "/api/v1/users",
            Some(
                json!({"username": "val", "password": "a long viewer password", "role": "viewer"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (client, csrf) = api
        .server
        .api_sign_in("val", "a long viewer password")
        .await
        .unwrap();
    let res = client
        .get(api.server.url("/api/v1/endpoints"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    for (method, path) in [
        ("POST", "/api/v1/endpoints"),
        ("PUT", "/api/v1/policy"),
        ("POST", "/api/v1/config/apply"),
        ("GET", "/api/v1/config/preview"),
    ] {
        let res = client
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                api.server.url(path),
            )
            .header("x-csrf-token", &csrf)
            .json(&json!({"extension": "1001", "display_name": "X"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{method} {path}");
    }
    let anonymous = reqwest::get(api.server.url("/api/v1/endpoints"))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn render_writes_the_bundle_and_an_apply_without_asterisk_fails_and_restores() {
    let api = Api::start().await;
    let (_, alice) = api
        .call(
            "POST",
            "/api/v1/endpoints",
            Some(json!({"extension": "1001", "display_name": "Alice"})),
        )
        .await;
    let id = alice["id"].as_str().unwrap();

    let out = tempfile::tempdir().unwrap();
    api.server.render(out.path()).unwrap();
    let pjsip = std::fs::read_to_string(out.path().join("pjsip.conf")).unwrap();
    assert!(
        pjsip.starts_with("; pjsip.conf: generated by sipwarden"),
        "{pjsip}"
    );
    assert!(pjsip.contains(&format!("[{id}]")));
    let legacy = tempfile::tempdir().unwrap();
    let res = api
        .server
        .cli(
            &[
                "render",
                "--out",
                legacy.path().to_str().unwrap(),
                "--target",
                "chan-sip",
            ],
            None,
        )
        .unwrap();
    assert!(res.status.success());
    let sip = std::fs::read_to_string(legacy.path().join("sip.conf")).unwrap();
    assert!(sip.contains("alwaysauthreject=yes"));

    let (status, preview) = api.call("GET", "/api/v1/config/preview", None).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["changes"], true);
    assert!(
        preview["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["change"] == "added")
    );

    // Nothing listens for AMI here: the files go in, the reload cannot happen, the files
    // come out again and the revision is recorded as failed with the reason.
    let dir = api.server.data.path().join("asterisk");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("pjsip.conf"), "; hand-made\n").unwrap();
    let (status, problem) = api.call("POST", "/api/v1/config/apply", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(problem["type"].as_str().unwrap().ends_with("/apply_failed"));
    let report = &problem["report"];
    assert_eq!(report["applied"], false);
    assert_eq!(report["revision"]["status"], "failed");
    assert!(
        report["revision"]["message"]
            .as_str()
            .unwrap()
            .contains("AMI"),
        "{report}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("pjsip.conf")).unwrap(),
        "; hand-made\n"
    );
    assert!(!dir.join("manager.conf").exists());
    let (_, revisions) = api.call("GET", "/api/v1/config/revisions", None).await;
    assert_eq!(revisions["items"][0]["status"], "failed");
    let (status, _) = api
        .call("POST", "/api/v1/config/revisions/999/rollback", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api
        .call("POST", "/api/v1/config/revisions/x/rollback", None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn an_apply_cut_short_by_a_stop_is_recorded_as_interrupted_at_the_next_start() {
    let mut first = TestServer::start().unwrap();
    first.terminate().unwrap();
    let db = first.data.path().join("sipwarden.sqlite3");
    tests::server::sqlite(
        &db,
        "INSERT INTO config_revisions (created_at, author, target, files, hash, status, message) \
             VALUES ('2026-11-25T12:00:00Z', 'admin', 'asterisk22-pjsip', '[]', '', 'pending', 'being applied');",
    );
    let server = TestServer::start_with(tests::server::Options {
        data_from: Some(first.data.path().to_owned()),
        ..Default::default()
    })
    .unwrap();
    let (client, _) = server.api_sign_in("admin", ADMIN_PASSWORD).await.unwrap();
    let revisions: Value = client
        .get(server.url("/api/v1/config/revisions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        revisions["items"][0]["status"], "interrupted",
        "{revisions}"
    );
    assert!(
        revisions["items"][0]["message"]
            .as_str()
            .unwrap()
            .contains("stopped during this apply")
    );
}
