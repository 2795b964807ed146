//! `sipwarden backup FILE` copies the database while the server runs, and the copy is a
//! database a server starts from (the README's restore).

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use std::os::unix::fs::PermissionsExt;

use reqwest::StatusCode;
use serde_json::json;
use tests::api::Api;
use tests::server::{Options, TestServer};

#[tokio::test]
async fn a_backup_taken_while_running_restores_into_a_working_server() {
    let server = TestServer::start().unwrap();
    let api = Api::sign_in(&server).await;
    api.create(
        "/api/v1/endpoints",
        json!({"extension": "1001", "display_name": "Front desk"}),
    )
    .await;

    let out_dir = tempfile::tempdir().unwrap();
    let copy = out_dir.path().join("backup.sqlite3");
    let out = server
        .cli(&["backup", copy.to_str().unwrap()], None)
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the copy holds AMI secrets");

    // Never over an existing file.
    let again = server
        .cli(&["backup", copy.to_str().unwrap()], None)
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));

    // Restore: the copy as the database of a new server.
    let restored = tempfile::tempdir().unwrap();
    std::fs::copy(&copy, restored.path().join("sipwarden.sqlite3")).unwrap();
    let second = TestServer::start_with(Options {
        data_from: Some(restored.path().to_owned()),
        ..Options::default()
    })
    .unwrap();
    let api = Api::sign_in(&second).await;
    let (status, list) = api.call("GET", "/api/v1/endpoints", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(list.to_string().contains("Front desk"), "{list}");
}
