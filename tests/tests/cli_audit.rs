//! `sipwarden audit DIR` (#16, first part) on a configuration directory of the corpus: the
//! real binary, as an administrator runs it on their `/etc/asterisk`, for people and as JSON.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use std::process::Command;

use tests::corpus::dir as corpus;

/// `sipwarden audit --json` of a corpus directory.
fn audit_json(name: &str) -> serde_json::Value {
    let out = Command::new(tests::server::binary().unwrap())
        .args(["audit", "--json"])
        .arg(corpus(name))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_audit_reports_a_weak_office_with_file_and_line() {
    let bin = tests::server::binary().unwrap();
    let report = audit_json("weak-chan-sip");
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

fn packed(name: &str, prefix: &str) -> Vec<u8> {
    tests::corpus::packed(&corpus(name), prefix).unwrap()
}

#[test]
fn an_uploaded_archive_is_audited_as_the_directory_is() {
    let from_cli = audit_json("freepbx");
    let server = tests::server::TestServer::start().unwrap();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let api = tests::api::Api::sign_in(&server).await;
        let upload = |bytes: Vec<u8>| {
            api.request(reqwest::Method::POST, "/api/v1/audit/config")
                .header("content-type", "application/gzip")
                .body(bytes)
                .send()
        };
        // Packed under `etc/asterisk/`, as `tar czf x.tgz /etc/asterisk` does.
        let res = upload(packed("freepbx", "etc/asterisk")).await.unwrap();
        assert_eq!(res.status(), 200);
        let from_api: serde_json::Value = res.json().await.unwrap();
        assert_eq!(
            from_api, from_cli,
            "the upload is audited exactly as the directory"
        );
        assert!(
            from_api["findings"].as_array().unwrap().len() > 3,
            "{from_api}"
        );

        // Larger than the console's forms may be (256 KiB): a plain tar with a 1 MiB file.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sip.conf"), "[general]\nallowguest=yes\n").unwrap();
        std::fs::write(dir.path().join("big.txt"), "x".repeat(1 << 20)).unwrap();
        let tar = Command::new("tar")
            .arg("cf")
            .arg("-")
            .arg("-C")
            .arg(dir.path())
            .arg(".")
            .output()
            .unwrap()
            .stdout;
        assert!(tar.len() > 1 << 20);
        let res = upload(tar).await.unwrap();
        assert_eq!(res.status(), 200);
        let report: serde_json::Value = res.json().await.unwrap();
        assert!(
            report["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["rule"] == "sip.guest_calls" && f["file"] == "sip.conf"),
            "{report}"
        );

        let res = upload(b"PK\x03\x04 a zip".to_vec()).await.unwrap();
        assert_eq!(res.status(), 422);
        assert!(res.text().await.unwrap().contains("tar czf"));
        // Over 8 MiB: refused once 8 MiB were read (the server then closes the connection
        // while the client still writes, so the request is written by hand).
        let base = server.url("");
        let addr = base.trim_start_matches("http://").trim_end_matches('/');
        let token = api.token("uploads", "write").await;
        let raw = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut read, mut write) = raw.into_split();
        let head = format!(
            "POST /api/v1/audit/config HTTP/1.1\r\nhost: {addr}\r\n\
             authorization: Bearer {token}\r\ncontent-type: application/gzip\r\n\
             content-length: {}\r\n\r\n",
            9 << 20
        );
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let _ = write.write_all(head.as_bytes()).await;
            let _ = write.write_all(&vec![0x1f; 9 << 20]).await;
        });
        let mut answer = vec![0u8; 512];
        let n = tokio::io::AsyncReadExt::read(&mut read, &mut answer)
            .await
            .unwrap();
        let answer = String::from_utf8_lossy(&answer[..n]);
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        let anonymous = reqwest::Client::new()
            .post(server.url("/api/v1/audit/config"))
            .body(packed("hardened-pjsip", "."))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 401);
    });
}
