//! The appliance's own front door (#18), on the real server: HTTPS by default beyond
//! loopback with a certificate people can check by its fingerprint, the administrator's
//! certificate reloaded when it changes, and the limits that keep slow or greedy clients
//! from holding the server (header and body deadlines, connection slots, live streams).

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tests::api::Api;
use tests::process;
use tests::server::{ADMIN_PASSWORD, Options, TestServer};

fn options(env: &[(&str, &str)]) -> Options {
    Options {
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..Options::default()
    }
}

/// The port of a server's base URL.
fn port(server: &TestServer) -> u16 {
    server.base.rsplit(':').next().unwrap().parse().unwrap()
}

/// The fingerprint the server announced in its log (the last one: a reload adds lines).
fn logged_fingerprint(server: &TestServer) -> String {
    let log = server.log();
    let line = log
        .lines()
        .rfind(|l| l.contains("SHA-256 fingerprint: "))
        .unwrap_or_else(|| panic!("no fingerprint in the log:\n{log}"));
    line.split("SHA-256 fingerprint: ")
        .nth(1)
        .unwrap()
        .split(|c: char| c.is_whitespace() || c == '"')
        .next()
        .unwrap()
        .to_owned()
}

/// The SHA-256 fingerprint of the certificate the server presents, as openssl reads it
/// off a real handshake.
fn served_fingerprint(port: u16) -> String {
    let script = format!(
        "openssl s_client -connect 127.0.0.1:{port} -servername localhost </dev/null 2>/dev/null \
         | openssl x509 -noout -fingerprint -sha256"
    );
    let out = process::run(
        Command::new("sh").args(["-c", &script]),
        Duration::from_secs(20),
    )
    .unwrap();
    fingerprint_field(&out)
}

/// The fingerprint of a PEM certificate file.
fn file_fingerprint(cert: &Path) -> String {
    let out = process::run(
        Command::new("openssl")
            .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
            .arg(cert),
        Duration::from_secs(20),
    )
    .unwrap();
    fingerprint_field(&out)
}

/// `sha256 Fingerprint=AB:CD:…` → `AB:CD:…`.
fn fingerprint_field(openssl: &str) -> String {
    openssl
        .trim()
        .split('=')
        .nth(1)
        .unwrap_or_else(|| panic!("no fingerprint in `{openssl}`"))
        .to_owned()
}

/// curl's exit code and output for `args`.
fn curl(args: &[&str]) -> (i32, String) {
    let out = process::output(
        Command::new("curl")
            .args(["-sS", "--max-time", "10"])
            .args(args),
        Duration::from_secs(20),
    )
    .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn beyond_loopback_the_console_is_https_only_with_a_certificate_people_can_check() {
    let server = TestServer::start_with(options(&[("SIPWARDEN_LISTEN", "0.0.0.0:0")])).unwrap();
    assert!(server.base.starts_with("https://"), "{}", server.base);
    let port = port(&server);
    let print = logged_fingerprint(&server);
    assert_eq!(print.len(), 95, "{print}");

    // The certificate a client is shown is the one the log names, and the one on disk.
    assert_eq!(served_fingerprint(port), print);
    let cert = server.data.path().join("tls/self-signed.crt");
    assert_eq!(file_fingerprint(&cert), print);
    let key = server.data.path().join("tls/self-signed.key");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions());
    assert_eq!(mode & 0o077, 0, "the key is readable by others: {mode:o}");

    // curl without the certificate refuses it (60: cannot verify); with it, it connects.
    let url = format!("https://localhost:{port}/healthz");
    let (code, out) = curl(&[&url]);
    assert_eq!(code, 60, "{out}");
    let (code, out) = curl(&["--cacert", cert.to_str().unwrap(), &url]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ok"), "{out}");
    // No plain HTTP on that port.
    let (code, out) = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("http://127.0.0.1:{port}/healthz"),
    ]);
    assert_ne!(code, 0, "plain HTTP was answered: {out}");

    // The setup page shows the fingerprint, so the first password goes to the right server.
    let client = server.client();
    let setup = client.get(server.url("/setup")).send().await.unwrap();
    assert_eq!(
        setup.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let page = setup.text().await.unwrap();
    assert!(
        page.contains(&print),
        "the setup page lacks the fingerprint:\n{page}"
    );

    // Session cookies are Secure.
    let out = server
        .cli(
            &["admin", "create", "--username", "admin"],
            Some(ADMIN_PASSWORD),
        )
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let res = client
        .post(server.url("/api/v1/session"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("; Secure"), "{cookie}");

    // The image's HEALTHCHECK speaks HTTPS to it.
    let listen = format!("0.0.0.0:{port}");
    let out = tests::server::run_cli(
        server.data.path(),
        &["healthcheck"],
        None,
        &[("SIPWARDEN_LISTEN", &listen)],
    )
    .unwrap();
    assert!(out.status.success(), "{out:?}");

    // A restart keeps the certificate people compared.
    let again = TestServer::start_with(Options {
        data_from: Some(server.data.path().to_path_buf()),
        ..options(&[("SIPWARDEN_LISTEN", "0.0.0.0:0")])
    })
    .unwrap();
    assert_eq!(logged_fingerprint(&again), print);
}

/// A certificate and key made by openssl, as an administrator's CA or ACME client would.
fn make_certificate(dir: &Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    process::run(
        Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .args(["-nodes", "-days", "30", "-subj", &format!("/CN={name}")])
            .args([
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-keyout",
            ])
            .arg(&key)
            .arg("-out")
            .arg(&cert),
        Duration::from_secs(30),
    )
    .unwrap();
    (cert, key)
}

#[tokio::test]
async fn the_administrators_certificate_is_served_and_reloaded_when_it_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (first_cert, first_key) = make_certificate(dir.path(), "first");
    let (second_cert, second_key) = make_certificate(dir.path(), "second");
    let (cert, key) = (dir.path().join("live.crt"), dir.path().join("live.key"));
    std::fs::copy(&first_cert, &cert).unwrap();
    std::fs::copy(&first_key, &key).unwrap();
    // On loopback too: a certificate given is a certificate used.
    let server = TestServer::start_with(Options {
        admin: Some(("admin".to_owned(), ADMIN_PASSWORD.to_owned())),
        ..options(&[
            ("SIPWARDEN_TLS_CERT_FILE", cert.to_str().unwrap()),
            ("SIPWARDEN_TLS_KEY_FILE", key.to_str().unwrap()),
        ])
    })
    .unwrap();
    assert!(
        server.base.starts_with("https://127.0.0.1:"),
        "{}",
        server.base
    );
    let port = port(&server);
    assert_eq!(served_fingerprint(port), file_fingerprint(&first_cert));
    assert_eq!(logged_fingerprint(&server), file_fingerprint(&first_cert));
    // Trusted as an administrator's certificate would be: by its CA (here, itself).
    let (code, out) = curl(&[
        "--cacert",
        first_cert.to_str().unwrap(),
        &format!("https://localhost:{port}/healthz"),
    ]);
    assert_eq!(code, 0, "{out}");

    // Renewed in place, as an ACME client does: served within seconds, no restart.
    let renewed = Instant::now();
    std::fs::copy(&second_key, &key).unwrap();
    std::fs::copy(&second_cert, &cert).unwrap();
    server
        .wait_log("HTTPS certificate reloaded", Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(served_fingerprint(port), file_fingerprint(&second_cert));
    eprintln!("renewed certificate served after {:?}", renewed.elapsed());

    // A broken renewal leaves the working certificate in service.
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nnot base64\n").unwrap();
    server
        .wait_log(
            "cannot be used; the previous one stays in service",
            Duration::from_secs(20),
        )
        .await
        .unwrap();
    assert_eq!(served_fingerprint(port), file_fingerprint(&second_cert));
    let api = Api::sign_in(&server).await;
    assert_eq!(
        api.call("GET", "/api/v1/bans", None).await.0,
        StatusCode::OK
    );
}

/// Reads from `stream` until the server closes it or `within` passes; what it sent.
fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, Duration) {
    let started = Instant::now();
    stream.set_read_timeout(Some(within)).unwrap();
    let mut got = Vec::new();
    let _ = stream.read_to_end(&mut got);
    (
        String::from_utf8_lossy(&got).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn slow_clients_lose_their_connection_and_greedy_ones_their_extra_streams() {
    let server = TestServer::start_with(Options {
        admin: Some(("admin".to_owned(), ADMIN_PASSWORD.to_owned())),
        ..options(&[
            ("SIPWARDEN_HEADER_TIMEOUT_SECS", "1"),
            ("SIPWARDEN_BODY_TIMEOUT_SECS", "1"),
            ("SIPWARDEN_MAX_STREAMS_PER_CLIENT", "2"),
        ])
    })
    .unwrap();
    let addr = server.base.trim_start_matches("http://").to_owned();

    // A client that connects and says nothing: closed after the header deadline.
    let mut idle = TcpStream::connect(&addr).unwrap();
    let (_, took) = read_until_closed(&mut idle, Duration::from_secs(10));
    assert!(
        took < Duration::from_secs(5),
        "silence held the connection {took:?}"
    );

    // Headers that never end: the connection is closed after the header deadline.
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let (_, took) = read_until_closed(&mut slow, Duration::from_secs(10));
    assert!(
        took < Duration::from_secs(5),
        "headers held the connection {took:?}"
    );

    // A body that never arrives whole: 408 after the body deadline.
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.write_all(
        b"POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"user",
    )
    .unwrap();
    let (answer, took) = read_until_closed(&mut slow, Duration::from_secs(10));
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        took < Duration::from_secs(5),
        "the body held the connection {took:?}"
    );

    // Live streams: two per user; the third is 429 and says why, from a second session
    // too; closing one frees it; another user has their own.
    let (client, _) = server.api_sign_in("admin", ADMIN_PASSWORD).await.unwrap();
    let open = |path: &'static str| {
        let client = client.clone();
        let url = server.url(path);
        async move { client.get(url).send().await.unwrap() }
    };
    let first = open("/api/v1/events/stream").await;
    let second = open("/api/v1/dashboard/stream").await;
    assert_eq!(
        (first.status(), second.status()),
        (StatusCode::OK, StatusCode::OK)
    );
    let third = open("/api/v1/events/stream").await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(third.headers().contains_key("retry-after"));
    let problem: serde_json::Value = third.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("2 live streams"),
        "{problem}"
    );
    let (again, _) = server.api_sign_in("admin", ADMIN_PASSWORD).await.unwrap();
    let second_session = again
        .get(server.url("/api/v1/events/stream"))
        .send()
        .await
        .unwrap();
    assert_eq!(second_session.status(), StatusCode::TOO_MANY_REQUESTS);
    let out = server
        .cli(
            &["admin", "create", "--username", "vera", "--role", "viewer"],
            Some("Copper-Lantern-2026"),
        )
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let (other, _) = server
        .api_sign_in("vera", "Copper-Lantern-2026")
        .await
        .unwrap();
    let theirs = other
        .get(server.url("/api/v1/events/stream"))
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), StatusCode::OK);
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(30);
    let freed = Instant::now();
    loop {
        let again = open("/api/v1/events/stream").await;
        if again.status() == StatusCode::OK {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a closed stream's slot was not freed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "a closed stream's slot was free again after {:?}",
        freed.elapsed()
    );
    drop(second);
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_until_a_slot_frees() {
    let server = TestServer::start_with(options(&[
        ("SIPWARDEN_MAX_CONNECTIONS", "2"),
        ("SIPWARDEN_HEADER_TIMEOUT_SECS", "60"),
    ]))
    .unwrap();
    let addr = server.base.trim_start_matches("http://").to_owned();
    // Two clients that connect and say nothing hold both slots.
    let idle: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    let ask = || {
        let mut c = TcpStream::connect(&addr).unwrap();
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        read_until_closed(&mut c, Duration::from_secs(2)).0
    };
    let waited = ask();
    assert!(waited.is_empty(), "answered beyond the limit: {waited}");
    drop(idle);
    std::thread::sleep(Duration::from_millis(300));
    let answered = ask();
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
}

/// Audit lines in a server's database, read with the sqlite3 command.
fn audit_rows(data: &Path) -> u64 {
    let out = process::run(
        Command::new("sqlite3")
            .arg(data.join("sipwarden.sqlite3"))
            .arg("SELECT count(*) FROM audit_log;"),
        Duration::from_secs(20),
    )
    .unwrap();
    out.trim().parse().unwrap()
}

#[tokio::test]
async fn a_flood_of_anonymous_sign_ins_cannot_grow_the_audit_log_without_bound() {
    if !tests::root::require_commands("front_door audit flood", &["sqlite3"]) {
        return;
    }
    // The smallest audit log allowed, and a rate limit out of the way: the bound must hold
    // by itself, not only because the rate limit slows the flood.
    let env = [
        ("SIPWARDEN_AUDIT_MAX_ROWS", "1000"),
        ("SIPWARDEN_API_RATE_PER_SOURCE", "100000"),
    ];
    let server = TestServer::start_with(Options {
        admin: Some(("admin".to_owned(), ADMIN_PASSWORD.to_owned())),
        ..options(&env)
    })
    .unwrap();
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut flood = tokio::task::JoinSet::new();
    for i in 0..1500 {
        let request = client
            .post(server.url("/api/v1/session"))
            .json(&json!({"username": format!("guess{}", i % 7), "password": "wrong password!"}));
        flood.spawn(async move { request.send().await.map(|r| r.status()) });
        if flood.len() >= 32 {
            flood.join_next().await;
        }
    }
    while flood.join_next().await.is_some() {}
    let written = audit_rows(server.data.path());
    eprintln!(
        "1500 anonymous sign-ins in {:?} wrote {written} audit lines",
        started.elapsed()
    );
    assert!(
        written > 1000,
        "the flood should overflow the bound first: {written}"
    );
    // The retention runs at start-up and every ten minutes: a restart shows it at once.
    let data = server.data.path().to_path_buf();
    let again = TestServer::start_with(Options {
        data_from: Some(data),
        ..options(&env)
    })
    .unwrap();
    again
        .wait_log("old audit lines removed", Duration::from_secs(20))
        .await
        .unwrap();
    let kept = audit_rows(again.data.path());
    assert!(
        kept <= 1000,
        "{kept} audit lines kept with audit_max_rows 1000"
    );
}
