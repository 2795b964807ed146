//! Alerts on the real server: the REST resource (create with the secret once, If-Match,
//! refusals naming the field), and deliveries to a receiver this test runs: signed (checked by
//! recomputing the HMAC), retried after a 500, not retried after a 400, and each trigger
//! fired through the real paths — a ban by the API, a weak endpoint for posture, and the
//! guard fed by a stand-in AMI for a login after failures, a rate spike, a guard ban and the
//! guard going blind.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::api::Api;
use tests::server::{Options, TestServer};
use tests::webhook::{Hit, Receiver};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn trigger_is(trigger: &'static str) -> impl Fn(&Hit) -> bool {
    move |h: &Hit| h.header("x-sipwarden-trigger") == trigger
}

async fn create_alert(api: &Api, url: &str, triggers: Value, rate: Option<u32>) -> (i64, String) {
    let created = api
        .create(
            "/api/v1/alerts",
            // The receivers of these tests listen on loopback.
            json!({"name": "ops pager", "url": url, "triggers": triggers, "rate_per_minute": rate, "allow_internal_targets": true}),
        )
        .await;
    (
        created["id"].as_i64().unwrap(),
        created["secret"].as_str().unwrap().to_owned(),
    )
}

async fn deliveries(api: &Api, id: i64) -> Vec<Value> {
    let (status, list) = api
        .call("GET", &format!("/api/v1/alerts/{id}/deliveries"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["items"].as_array().unwrap().clone()
}

/// Waits until the alert's newest delivery is no longer pending.
async fn settled(api: &Api, id: i64, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let list = deliveries(api, id).await;
        if let Some(d) = list.first()
            && d["outcome"] != "pending"
        {
            return d.clone();
        }
        assert!(Instant::now() < deadline, "still pending: {list:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn alerts_are_created_with_their_secret_once_updated_with_if_match_and_refused_by_field() {
    let server = TestServer::start().unwrap();
    let api = Api::sign_in(&server).await;

    let created = api
        .create(
            "/api/v1/alerts",
            json!({"name": " ops ", "url": "https://hooks.example.com/x", "triggers": ["ban", "guard-blind", "ban"]}),
        )
        .await;
    let id = created["id"].as_i64().unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(
        secret.starts_with("whsec_") && secret.len() > 40,
        "{created}"
    );
    assert_eq!(created["name"], "ops");
    assert_eq!(created["triggers"], json!(["ban", "guard-blind"]));
    assert_eq!(created["enabled"], true);

    // Never again: not in the list, not in the object.
    let (status, list) = api.call("GET", "/api/v1/alerts", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(&secret));
    let one = server
        .client()
        .get(server.url(&format!("/api/v1/alerts/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), StatusCode::UNAUTHORIZED, "needs a session");

    // If-Match: the version read, or 412 naming the current one.
    let body = json!({"name": "ops", "url": "http://10.0.0.5:9000/hook", "triggers": ["rate-spike"], "rate_per_minute": 500, "enabled": false});
    let (status, stale) = api_if_match(&server, id, "\"v7\"", &body).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{stale}");
    assert_eq!(stale["current_version"], 1);
    let (status, updated) = api_if_match(&server, id, "\"v1\"", &body).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["enabled"], false);
    assert_eq!(updated["rate_per_minute"], 500);
    assert_eq!(updated["url"], "http://10.0.0.5:9000/hook");
    let (status, _) = api_if_match(&server, id, "\"v1\"", &body).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "v1 is gone");

    // Refusals name the field.
    for (body, field) in [
        (
            json!({"name": "x", "url": "ftp://example.com/", "triggers": ["ban"]}),
            "url",
        ),
        (
            json!({"name": "x", "url": "http://user:pw@example.com/", "triggers": ["ban"]}),
            "url",
        ),
        (
            json!({"name": "x", "url": "not a url", "triggers": ["ban"]}),
            "url",
        ),
        (
            json!({"name": "", "url": "https://example.com/", "triggers": ["ban"]}),
            "name",
        ),
        (
            json!({"name": "x", "url": "https://example.com/", "triggers": []}),
            "triggers",
        ),
        (
            json!({"name": "x", "url": "https://example.com/", "triggers": ["rate-spike"]}),
            "rate_per_minute",
        ),
        (
            json!({"name": "x", "url": "https://example.com/", "triggers": ["ban"], "rate_per_minute": 0}),
            "rate_per_minute",
        ),
        (
            json!({"name": "x", "url": "https://example.com/", "triggers": ["nonsense"]}),
            "triggers[0]",
        ),
        (
            json!({"name": "x", "url": "https://example.com/", "triggers": ["ban"], "secret": "mine"}),
            "",
        ),
    ] {
        let (status, problem) = api.call("POST", "/api/v1/alerts", Some(body.clone())).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} -> {problem}"
        );
        if !field.is_empty() {
            assert_eq!(problem["field"], field, "{body} -> {problem}");
        }
    }
    for path in [
        "/api/v1/alerts/999",
        "/api/v1/alerts/abc",
        "/api/v1/alerts/999/deliveries",
    ] {
        let (status, _) = api.call("GET", path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, problem) = api.call("GET", "/api/v1/alerts?cursor=x", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let (status, page) = api
        .call("GET", &format!("/api/v1/alerts?cursor={id}&limit=5"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["items"], json!([]), "nothing after the only alert");
    let (status, _) = api.call("POST", "/api/v1/alerts/999/test", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, _) = api
        .call("DELETE", &format!("/api/v1/alerts/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api.call("GET", &format!("/api/v1/alerts/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (_, audit) = api.call("GET", "/api/v1/audit", None).await;
    let text = audit.to_string();
    for action in ["alert_create", "alert_update", "alert_delete"] {
        assert!(text.contains(action), "{action} not audited: {text}");
    }
    assert!(!text.contains(&secret), "the secret reached the audit log");
    assert!(
        !server.log().contains(&secret),
        "the secret reached the log"
    );
}

async fn api_if_match(
    server: &TestServer,
    id: i64,
    version: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let (client, csrf) = server
        .api_sign_in("admin", tests::server::ADMIN_PASSWORD)
        .await
        .unwrap();
    let res = client
        .put(server.url(&format!("/api/v1/alerts/{id}")))
        .header("x-csrf-token", csrf)
        .header("if-match", version)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let etag = res
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned());
    let value: Value = serde_json::from_str(&res.text().await.unwrap()).unwrap_or(Value::Null);
    if status == StatusCode::OK {
        assert_eq!(etag.unwrap(), format!("\"v{}\"", value["version"]));
    }
    (status, value)
}

#[tokio::test]
async fn the_test_button_sends_a_signed_body_and_records_the_delivery() {
    let server = TestServer::start().unwrap();
    let api = Api::sign_in(&server).await;
    let receiver = Receiver::start(&[]).await;
    let (id, secret) = create_alert(&api, &receiver.url, json!(["ban"]), None).await;

    let started = Instant::now();
    let (status, delivery) = api
        .call("POST", &format!("/api/v1/alerts/{id}/test"), None)
        .await;
    let took = started.elapsed();
    assert_eq!(status, StatusCode::OK, "{delivery}");
    assert_eq!(delivery["outcome"], "delivered");
    assert_eq!(delivery["status_code"], 200);
    assert_eq!(delivery["attempts"], 1);
    assert_eq!(delivery["trigger"], "test");

    let hits = receiver.hits();
    assert_eq!(hits.len(), 1);
    let hit = &hits[0];
    assert!(hit.signed_by(&secret), "signature does not verify: {hit:?}");
    assert!(!hit.signed_by("whsec_someone-else"));
    assert_eq!(hit.header("content-type"), "application/json");
    assert_eq!(
        hit.header("x-sipwarden-delivery"),
        delivery["id"].to_string()
    );
    let body = hit.json();
    assert_eq!(body["trigger"], "test");
    assert_eq!(body["alert"]["id"], id);
    assert_eq!(body["delivery"], delivery["id"]);
    assert!(
        body["summary"].as_str().unwrap().contains("admin"),
        "{body}"
    );
    // A body changed in transit no longer verifies.
    let mut tampered = hit.clone();
    tampered.body.push(b' ');
    assert!(!tampered.signed_by(&secret));
    eprintln!("alerts: test delivery answered in {took:?}");

    // A receiver that does not answer: the test gives up after its short timeout.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}/", silent.local_addr().unwrap());
    let (slow, _) = create_alert(&api, &silent_url, json!(["ban"]), None).await;
    let started = Instant::now();
    let (status, delivery) = api
        .call("POST", &format!("/api/v1/alerts/{slow}/test"), None)
        .await;
    let took = started.elapsed();
    assert_eq!(status, StatusCode::OK, "{delivery}");
    assert_eq!(delivery["outcome"], "failed");
    assert!(delivery["status_code"].is_null());
    assert!(
        delivery["error"].as_str().unwrap().contains("no answer"),
        "{delivery}"
    );
    assert!(took < Duration::from_secs(6), "the test hung for {took:?}");
    eprintln!("alerts: test against a silent receiver gave up after {took:?}");
    drop(silent);
}

#[tokio::test]
async fn a_ban_is_delivered_again_after_a_500_and_not_after_a_400() {
    let server = TestServer::start().unwrap();
    let api = Api::sign_in(&server).await;
    let flaky = Receiver::start(&[500]).await;
    let refusing = Receiver::start(&[400]).await;
    let (flaky_id, flaky_secret) = create_alert(&api, &flaky.url, json!(["ban"]), None).await;
    let (refusing_id, _) = create_alert(&api, &refusing.url, json!(["ban"]), None).await;
    // Not chosen: hears nothing.
    let bystander = Receiver::start(&[]).await;
    create_alert(&api, &bystander.url, json!(["guard-blind"]), None).await;

    let banned_at = Instant::now();
    api.create(
        "/api/v1/bans",
        json!({"address": "198.51.100.77", "duration_secs": 600, "reason": "alert test"}),
    )
    .await;

    let hits = flaky.wait_count(2, Duration::from_secs(10)).await;
    assert_eq!(hits.len(), 2, "{hits:?}");
    let first_latency = hits[0].at - banned_at;
    let gap = hits[1].at - hits[0].at;
    assert!(
        gap >= Duration::from_millis(900) && gap < Duration::from_secs(5),
        "the retry came {gap:?} after the 500"
    );
    for hit in &hits {
        assert!(hit.signed_by(&flaky_secret));
        assert_eq!(hit.header("x-sipwarden-trigger"), "ban");
    }
    assert_eq!(
        hits[0].header("x-sipwarden-delivery"),
        hits[1].header("x-sipwarden-delivery"),
        "a retry is the same delivery"
    );
    let body = hits[0].json();
    assert_eq!(body["details"]["address"], "198.51.100.77");
    assert_eq!(body["details"]["origin"], "api");
    let delivered = settled(&api, flaky_id, Duration::from_secs(5)).await;
    assert_eq!(delivered["outcome"], "delivered");
    assert_eq!(delivered["attempts"], 2);
    assert_eq!(delivered["status_code"], 200);

    let refused = settled(&api, refusing_id, Duration::from_secs(5)).await;
    assert_eq!(refused["outcome"], "failed");
    assert_eq!(refused["attempts"], 1);
    assert_eq!(refused["status_code"], 400);
    // Past the first retry's time: still one request.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(refusing.hits().len(), 1, "a 400 was retried");
    assert!(
        bystander.hits().is_empty(),
        "an alert that did not choose `ban` heard of it"
    );
    let metrics = server
        .client()
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("sipwarden_alert_notices_dropped_total 0"),
        "{metrics}"
    );
    eprintln!("alerts: ban -> first delivery {first_latency:?}; retry after the 500 {gap:?} later");
}

#[tokio::test]
async fn a_new_high_posture_finding_is_delivered_once() {
    let server = TestServer::start().unwrap();
    let api = Api::sign_in(&server).await;
    let receiver = Receiver::start(&[]).await;
    let (_, secret) = create_alert(&api, &receiver.url, json!(["posture-high"]), None).await;

    let changed_at = Instant::now();
    // International calls from a public /8: a leaked secret becomes a toll bill.
    let (status, endpoint) = api
        .call(
            "POST",
            "/api/v1/endpoints",
            Some(json!({"extension": "201", "display_name": "Lobby", "calling_class": "international", "permit": ["81.0.0.0/8"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{endpoint}");
    let hit = receiver
        .wait_for(Duration::from_secs(10), trigger_is("posture-high"))
        .await
        .expect("a posture-high delivery");
    let latency = hit.at - changed_at;
    assert!(hit.signed_by(&secret));
    let body = hit.json();
    let findings = body["details"]["findings"].as_array().unwrap();
    let id = endpoint["id"].as_str().unwrap();
    assert!(findings.iter().any(|f| f["object"] == id), "{body}");
    // An unrelated change does not repeat it.
    api.create(
        "/api/v1/endpoints",
        json!({"extension": "202", "display_name": "Desk", "permit": ["10.1.0.0/16"]}),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        receiver
            .hits()
            .iter()
            .filter(|h| trigger_is("posture-high")(h))
            .count(),
        1,
        "the same finding was delivered twice"
    );
    eprintln!("alerts: weak endpoint -> posture-high delivery in {latency:?}");
}

/// Asterisk's manager interface as far as the guard's tap uses it: the banner, a login that
/// succeeds, then whatever event blocks the test writes.
async fn ami_login(listener: &TcpListener) -> TcpStream {
    let (mut socket, _) = tokio::time::timeout(Duration::from_secs(20), listener.accept())
        .await
        .expect("the guard's AMI tap connects")
        .unwrap();
    socket
        .write_all(b"Asterisk Call Manager/9.0.0\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the tap hung up before logging in");
        buf.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let id = text
        .lines()
        .find_map(|l| l.strip_prefix("ActionID: "))
        .unwrap_or("")
        .to_owned();
    socket
        .write_all(
            format!(
                "Response: Success\r\nActionID: {id}\r\nMessage: Authentication accepted\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    socket
}

async fn security_event(ami: &mut TcpStream, event: &str, account: &str, ip: &str) {
    let block = format!(
        "Event: {event}\r\nPrivilege: security,all\r\nService: PJSIP\r\nEventVersion: 1\r\n\
AccountID: {account}\r\nSessionID: s-{account}\r\nLocalAddress: IPV4/UDP/192.0.2.5/5060\r\n\
RemoteAddress: IPV4/UDP/{ip}/5060\r\n\r\n"
    );
    ami.write_all(block.as_bytes()).await.unwrap();
}

#[tokio::test]
async fn the_guard_raises_login_after_failures_rate_spike_ban_and_blind_alerts() {
    // A loopback address of this test's own, so parallel tests' servers do not meet its
    // stand-in AMI on the policy's default port 5038.
    let host = format!(
        "127.{}.{}.{}",
        100 + std::process::id() % 100,
        std::process::id() / 100 % 250 + 1,
        rand_byte()
    );
    let ami_listener = TcpListener::bind(format!("{host}:5038")).await.unwrap();
    let server = TestServer::start_with(Options {
        admin: Some(("admin".to_owned(), tests::server::ADMIN_PASSWORD.to_owned())),
        env: vec![("SIPWARDEN_ASTERISK_AMI_HOST".to_owned(), host.clone())],
        ..Options::default()
    })
    .unwrap();
    // The tap's login has its own timeout from the server's start: answer it meanwhile.
    let ami_listener = std::sync::Arc::new(ami_listener);
    let tap = tokio::spawn({
        let listener = ami_listener.clone();
        async move { ami_login(&listener).await }
    });
    let api = Api::sign_in(&server).await;
    let receiver = Receiver::start(&[]).await;
    let (_, secret) = create_alert(
        &api,
        &receiver.url,
        json!(["login-after-failures", "rate-spike", "ban", "guard-blind"]),
        Some(1),
    )
    .await;
    let mut ami = tap.await.unwrap();
    // The rate spike counts guard events per wall-clock minute, and the two below (the login
    // after failures, the ban) must fall into the same one: start early in a minute.
    let into_minute = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        % 60;
    if into_minute > 40 {
        tokio::time::sleep(Duration::from_secs(61 - into_minute)).await;
    }

    // Three wrong passwords, then the right one, from one address.
    for _ in 0..3 {
        security_event(&mut ami, "InvalidPassword", "alice", "203.0.113.7").await;
    }
    let login_at = Instant::now();
    security_event(&mut ami, "SuccessfulAuth", "alice", "203.0.113.7").await;
    let hit = receiver
        .wait_for(Duration::from_secs(10), trigger_is("login-after-failures"))
        .await
        .expect("a login-after-failures delivery");
    let login_latency = hit.at - login_at;
    assert!(hit.signed_by(&secret));
    let body = hit.json();
    assert_eq!(body["details"]["address"], "203.0.113.7", "{body}");
    assert_eq!(body["details"]["account"], "alice", "{body}");

    // A guesser: banned by the guard on the fifth failure; its event is the minute's second,
    // above the threshold of one.
    let guess_at = Instant::now();
    for _ in 0..5 {
        security_event(&mut ami, "ChallengeResponseFailed", "bob", "203.0.113.8").await;
    }
    let ban = receiver
        .wait_for(Duration::from_secs(10), |h| {
            trigger_is("ban")(h) && h.json()["details"]["address"] == "203.0.113.8"
        })
        .await
        .expect("a ban delivery for the guard's ban");
    let ban_latency = ban.at - guess_at;
    assert_eq!(ban.json()["details"]["origin"], "guard");
    let spike = receiver
        .wait_for(Duration::from_secs(10), trigger_is("rate-spike"))
        .await
        .expect("a rate-spike delivery");
    assert!(spike.signed_by(&secret));
    assert_eq!(spike.json()["details"]["threshold_per_minute"], 1);

    // Asterisk goes away: the guard is blind.
    let blind_at = Instant::now();
    drop(ami);
    drop(ami_listener);
    let blind = receiver
        .wait_for(Duration::from_secs(10), trigger_is("guard-blind"))
        .await
        .expect("a guard-blind delivery");
    let blind_latency = blind.at - blind_at;
    assert_eq!(blind.json()["details"]["tap"], "ami");
    // One notice per outage, however often the tap retries meanwhile.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let blind_count = receiver
        .hits()
        .iter()
        .filter(|h| trigger_is("guard-blind")(h) && h.json()["details"]["tap"] == "ami")
        .count();
    assert_eq!(blind_count, 1);
    eprintln!(
        "alerts: delivery after the event: login-after-failures {login_latency:?}, \
         guard ban {ban_latency:?} (from the first guess), guard blind {blind_latency:?}"
    );
}

fn rand_byte() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.subsec_nanos());
    nanos % 250 + 2
}

#[tokio::test]
async fn webhooks_to_internal_addresses_are_refused_unless_the_alert_allows_them() {
    let server = TestServer::start().unwrap();
    let api = Api::sign_in(&server).await;
    let receiver = Receiver::start(&[]).await;
    let port = receiver.url.rsplit(':').next().unwrap().to_owned();
    let port = port.split('/').next().unwrap().to_owned();

    // A literal loopback or metadata address is refused when the alert is made.
    for url in [
        receiver.url.clone(),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        format!("http://localhost:{port}/hook"),
    ] {
        let (status, problem) = api
            .call(
                "POST",
                "/api/v1/alerts",
                Some(json!({"name": "x", "url": url, "triggers": ["ban"]})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {problem}");
        assert_eq!(problem["field"], "url", "{problem}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("enable internal targets"),
            "{problem}"
        );
    }

    // A name is checked where it resolves, once, before connecting: this host's own name
    // resolves to loopback or to one of its own addresses.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned();
    let by_name = format!("http://{host}:{port}/hook");
    let resolves = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), 80)).is_ok();
    if resolves {
        let created = api
            .create(
                "/api/v1/alerts",
                json!({"name": "by name", "url": by_name, "triggers": ["ban"]}),
            )
            .await;
        let id = created["id"].as_i64().unwrap();
        let (status, delivery) = api
            .call("POST", &format!("/api/v1/alerts/{id}/test"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{delivery}");
        assert_eq!(delivery["outcome"], "failed", "{delivery}");
        assert_eq!(delivery["attempts"], 1, "a refusal is not retried");
        let error = delivery["error"].as_str().unwrap();
        assert!(error.contains("enable internal targets"), "{error}");
        assert!(error.contains(&host), "{error}");
    } else {
        eprintln!("this host's name ({host}) does not resolve: the resolver case is not checked");
    }
    assert!(
        receiver.hits().is_empty(),
        "a refused webhook reached its target"
    );

    // A write token changes the PBX but cannot open a way into the host.
    let write = api.token("provisioning", "write").await;
    let res = reqwest::Client::new()
        .post(server.url("/api/v1/alerts"))
        .bearer_auth(&write)
        .json(&json!({"name": "x", "url": receiver.url, "triggers": ["ban"], "allow_internal_targets": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // Allowed explicitly, the same loopback receiver gets its delivery.
    let (id, _) = create_alert(&api, &receiver.url, json!(["ban"]), None).await;
    let (status, delivery) = api
        .call("POST", &format!("/api/v1/alerts/{id}/test"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{delivery}");
    assert_eq!(delivery["outcome"], "delivered", "{delivery}");
    let (_, view) = api.call("GET", &format!("/api/v1/alerts/{id}"), None).await;
    assert_eq!(view["allow_internal_targets"], true);
    // Taking the permission away from an alert that points there is refused.
    let (status, problem) = api
        .call(
            "PUT",
            &format!("/api/v1/alerts/{id}"),
            Some(json!({"name": "ops pager", "url": receiver.url, "triggers": ["ban"]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
}
