//! `sipwarden audit DIR` (#16, first part) on a configuration directory of the corpus: the
//! real binary, as an administrator runs it on their `/etc/asterisk`, for people and as JSON.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use std::path::PathBuf;
use std::process::Command;

fn corpus(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../policy/tests/fixtures/audit")
        .join(name)
}

#[test]
fn the_audit_reports_a_weak_office_with_file_and_line() {
    let bin = tests::server::binary().unwrap();
    let out = Command::new(&bin)
        .args(["audit", "--json"])
        .arg(corpus("weak-chan-sip"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["score"], 0);
    let findings = report["findings"].as_array().unwrap();
    assert!(findings.iter().any(|f| f["rule"] == "sip.auth_reject"
        && f["file"] == "sip_custom.conf"
        && f["line"] == 2
        && f["severity"] == "high"));
    assert!(
        findings
            .iter()
            .any(|f| f["rule"] == "ami.broad_write" && f["object"] == "admin")
    );

    let text = Command::new(&bin)
        .arg("audit")
        .arg(corpus("hardened-pjsip"))
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("score 100 / 100, 0 findings"), "{text}");

    let missing = Command::new(&bin)
        .args(["audit", "/nonexistent/asterisk"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/asterisk"));
}
