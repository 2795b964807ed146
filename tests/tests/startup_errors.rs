//! Start-up refuses bad environments with a clear message, a non-zero exit, and without
//! modifying anything.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use std::process::Command;

use tests::root::find_command;
use tests::server::run_cli;

#[test]
fn a_data_dir_that_cannot_be_created_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let data = file.join("data");
    let out = run_cli(
        &data,
        &["serve"],
        None,
        &[("SIPWARDEN_LISTEN", "127.0.0.1:0")],
    )
    .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("data directory") && stderr.contains("SIPWARDEN_DATA_DIR"),
        "{stderr}"
    );
}

#[test]
fn a_database_from_a_newer_sipwarden_is_refused_untouched() {
    let Some(sqlite3) = find_command("sqlite3") else {
        tests::root::skip(
            "a_database_from_a_newer_sipwarden_is_refused_untouched",
            "sqlite3 is not installed (Debian package `sqlite3`)",
        );
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let out = run_cli(data.path(), &["migrate"], None, &[]).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db = data.path().join("sipwarden.sqlite3");
    let status = Command::new(sqlite3)
        .arg(&db)
        .arg("PRAGMA wal_checkpoint(TRUNCATE); INSERT INTO seaql_migrations (version, applied_at) VALUES ('m29990101_000001_from_the_future', 0);")
        .status()
        .unwrap();
    assert!(status.success());
    let before = std::fs::read(&db).unwrap();

    let out = run_cli(
        data.path(),
        &["serve"],
        None,
        &[("SIPWARDEN_LISTEN", "127.0.0.1:0")],
    )
    .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("newer sipwarden") && stderr.contains("m29990101_000001_from_the_future"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "the database file was modified"
    );
}

#[test]
fn an_invalid_setting_is_refused_at_start() {
    let data = tempfile::tempdir().unwrap();
    let out = run_cli(
        data.path(),
        &["serve"],
        None,
        &[("SIPWARDEN_LISTEN", "everywhere")],
    )
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen"));
    assert!(
        std::fs::read_dir(data.path()).unwrap().next().is_none(),
        "nothing was created"
    );
}
