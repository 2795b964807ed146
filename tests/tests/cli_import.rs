//! `sipwarden import DIR` and `POST /api/v1/import/config` (#16, third part) with the real
//! binary and server: a preview stores nothing, an import stores the objects with digests
//! only, a second import of the same configuration lists every clash and stores nothing
//! twice, and bad input gets a clear refusal. (The round trip through a real Asterisk is
//! `asterisk_import.rs`.)

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use reqwest::StatusCode;
use serde_json::Value;
use tests::api::Api;
use tests::corpus;
use tests::server::{TestServer, run_cli};

fn import_json(data: &std::path::Path, args: &[&str]) -> Value {
    let dir = corpus::dir("weak-chan-sip");
    let mut all = vec!["import", "--json"];
    all.extend_from_slice(args);
    all.push(dir.to_str().unwrap());
    let out = run_cli(data, &all, None, &[]).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|o| {
            o.get("id")
                .or_else(|| o.get("name"))
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[test]
fn the_command_line_previews_imports_and_refuses_a_second_time() {
    let data = tempfile::tempdir().unwrap();
    let preview = import_json(data.path(), &["--dry-run"]);
    assert_eq!(preview["dry_run"], true);
    assert_eq!(names(&preview["endpoints"]), ["1001", "1002"]);
    assert!(
        preview["ami_users"][0]["secret"].is_null(),
        "a preview stores no secret, so it shows none"
    );

    let imported = import_json(data.path(), &["--class", "default=national"]);
    assert_eq!(imported["dry_run"], false);
    assert_eq!(names(&imported["endpoints"]), ["1001", "1002"]);
    assert_eq!(
        imported["endpoints"][0]["calling_class"], "national",
        "--class won"
    );
    assert_eq!(names(&imported["trunks"]), ["provider"]);
    let ami_secret = imported["ami_users"][0]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(ami_secret.len() >= 20, "a generated secret replaces amp111");

    // Only digests: the phones' old secrets are nowhere in the database file.
    let mut db = std::fs::read(data.path().join("sipwarden.sqlite3")).unwrap();
    db.extend(std::fs::read(data.path().join("sipwarden.sqlite3-wal")).unwrap_or_default());
    for secret in ["1002pass", "amp111"] {
        assert!(
            !db.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} is stored in plain text"
        );
    }

    let again = import_json(data.path(), &[]);
    assert!(again["endpoints"].as_array().unwrap().is_empty());
    let reasons: Vec<&str> = again["not_imported"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] != "setting")
        .map(|n| n["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(reasons.iter().all(|r| r.contains("already")), "{reasons:?}");

    let out = run_cli(
        data.path(),
        &["import", "--class", "default=gold", "/nonexistent"],
        None,
        &[],
    )
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("must be one of: internal, national"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_api_imports_an_uploaded_archive_for_administrators_only() {
    let server = TestServer::start().unwrap();
    let archive = corpus::packed(&corpus::dir("freepbx"), "etc/asterisk").unwrap();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let api = Api::sign_in(&server).await;
        let upload = |query: &str, bytes: Vec<u8>| {
            api.request(
                reqwest::Method::POST,
                &format!("/api/v1/import/config{query}"),
            )
            .header("content-type", "application/octet-stream")
            .body(bytes)
            .send()
        };
        let res = upload("?dry_run=true", archive.clone()).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let preview: Value = res.json().await.unwrap();
        assert_eq!(names(&preview["endpoints"]), ["1001", "1002"]);
        let (_, listed) = api.call("GET", "/api/v1/endpoints", None).await;
        assert_eq!(listed["total"], 0, "a preview stores nothing");

        let res = upload("", archive.clone()).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers()["cache-control"],
            "no-store",
            "it may hold a new AMI secret"
        );
        let report: Value = res.json().await.unwrap();
        assert_eq!(report["dry_run"], false);
        assert_eq!(report["endpoints"][0]["display_name"], "Front desk");
        let (_, listed) = api.call("GET", "/api/v1/endpoints", None).await;
        assert_eq!(listed["total"], 2);
        let (_, e) = api.call("GET", "/api/v1/endpoints/1001", None).await;
        assert_eq!(e["extension"], "1001");
        assert_eq!(e["realm"], "sipwarden");
        // The posture reports what the import kept: the numeric name, the weak secret.
        let (_, posture) = api.call("GET", "/api/v1/posture", None).await;
        let rules: Vec<(&str, &str)> = posture["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["rule"].as_str().unwrap(), f["object"].as_str().unwrap()))
            .collect();
        assert!(
            rules.contains(&("endpoint.auth_name_is_extension", "1001")),
            "{rules:?}"
        );
        assert!(
            rules.contains(&("endpoint.weak_imported_secret", "1001")),
            "{rules:?}"
        );
        // Rotating the secret clears the second; the name stays until re-provisioned.
        let (status, _) = api
            .call(
                "POST",
                "/api/v1/endpoints/1001/secret",
                Some(serde_json::json!({})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (_, posture) = api.call("GET", "/api/v1/posture", None).await;
        let weak = posture["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "endpoint.weak_imported_secret" && f["object"] == "1001");
        assert!(!weak, "{posture}");

        let (_, audit) = api.call("GET", "/api/v1/audit?limit=5", None).await;
        assert!(audit.to_string().contains("config_import"), "{audit}");

        let res = upload("?classes=from-internal", archive.clone())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.text().await.unwrap().contains("CONTEXT=CLASS"));
        let res = upload("", b"not an archive".to_vec()).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

        let read_token = api.token("reader", "read").await;
        let res = server
            .client()
            .post(server.url("/api/v1/import/config"))
            .bearer_auth(&read_token)
            .body(archive)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    });
}
