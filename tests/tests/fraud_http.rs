//! Toll-fraud protection over the real server (#15), with the test playing Asterisk's side
//! of the FastAGI exchange: the stored fraud policy (validated, versioned, audited), the
//! pre-call decision's verdicts, a burst that locks the account, the findings and running
//! calls it records, unlocking, and the dialplan the decision point is rendered into.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::agi::{self, Question};
use tests::api::Api;
use tests::server::{ADMIN_PASSWORD, Options, TestServer};

fn question<'a>(endpoint: &'a str, class: &'a str, number: &'a str, id: &'a str) -> Question<'a> {
    Question {
        endpoint,
        class,
        trunk: "itsp",
        number,
        uniqueid: id,
        source: Some("198.51.100.7:5060"),
    }
}

async fn verdict(addr: SocketAddr, q: Question<'_>) -> String {
    agi::decide(addr, &q)
        .await
        .unwrap()
        .unwrap_or_else(|| "no answer".to_owned())
}

#[tokio::test]
async fn the_fraud_policy_is_validated_versioned_and_decides_calls() {
    let addr = agi::own_address(77);
    let server = TestServer::start_with(Options {
        env: vec![("SIPWARDEN_FRAUD_AGI_LISTEN".to_owned(), addr.to_string())],
        admin: Some(("admin".to_owned(), ADMIN_PASSWORD.to_owned())),
        ..Options::default()
    })
    .unwrap();
    let api = Api::sign_in(&server).await;

    // ---- The stored policy: defaults, validation by field, If-Match.
    let (status, policy) = api.call("GET", "/api/v1/fraud/policy", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(policy["fail_international"], "closed");
    assert_eq!(
        policy["calls_per_minute"],
        json!({"max": 5, "mode": "lock"})
    );
    let mut bad = policy.clone();
    bad["country_code"] = json!("4x");
    let (status, body) = api.call("PUT", "/api/v1/fraud/policy", Some(bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "country_code");
    let mut bad = policy.clone();
    bad["allowed_regions"] = json!(["GB", "XX"]);
    let (status, body) = api.call("PUT", "/api/v1/fraud/policy", Some(bad)).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("allowed_regions[1]"))
    );
    let (status, body) = api
        .call("PUT", "/api/v1/fraud/policy", Some(json!({"surprise": 1})))
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown fields are refused: {body}"
    );
    let stale = api
        .request(reqwest::Method::PUT, "/api/v1/fraud/policy")
        .header("if-match", "\"v7\"")
        .json(&policy)
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);

    let mut mine = policy.clone();
    mine["concurrent_per_endpoint"] = json!({"max": 2, "mode": "block"});
    mine["calls_per_minute"] = json!({"max": 5, "mode": "lock"});
    // The first-call-to-a-country signal is checked on its own below.
    mine["new_country_mode"] = json!("off");
    let stored = api
        .request(reqwest::Method::PUT, "/api/v1/fraud/policy")
        .header("if-match", "\"v0\"")
        .json(&mine)
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status(), StatusCode::OK);
    assert_eq!(stored.headers()["etag"], "\"v1\"");

    // ---- The decision: the status says it listens; verdicts per class and range.
    let (_, status) = api.call("GET", "/api/v1/fraud/status", None).await;
    assert_eq!(status["listening"], true, "{status}");
    assert_eq!(status["address"], addr.to_string());
    assert_eq!(
        verdict(
            addr,
            question("ep1", "international", "0033140000000", "1.1")
        )
        .await,
        "allow"
    );
    assert_eq!(
        verdict(addr, question("ep1", "international", "00881123456", "1.2")).await,
        "block",
        "a satellite (IRSF) range"
    );
    assert_eq!(
        verdict(
            addr,
            question("ep1", "international", "+19005550100", "1.3")
        )
        .await,
        "block",
        "NANP 900 is premium"
    );
    assert_eq!(
        verdict(addr, question("ep2", "internal", "030123456", "2.1")).await,
        "block",
        "internal class, national number"
    );
    assert_eq!(
        verdict(addr, question("ep2", "national", "030123456", "2.2")).await,
        "allow"
    );
    assert_eq!(
        verdict(addr, question("ep2", "national", "0044207946000", "2.3")).await,
        "block",
        "national class, abroad"
    );
    // Malformed questions are refused, never let through.
    assert_eq!(
        verdict(
            addr,
            question("ep 1", "international", "0033140000000", "3.1")
        )
        .await,
        "block"
    );
    assert_eq!(
        verdict(addr, question("ep3", "galactic", "0033140000000", "3.2")).await,
        "block"
    );
    assert_eq!(
        verdict(addr, question("ep3", "international", "00331;Dial", "3.3")).await,
        "block"
    );
    assert_eq!(
        agi::send(addr, "agi_channel PJSIP/x\n\n")
            .await
            .unwrap()
            .as_deref(),
        Some("block"),
        "a broken environment is refused, never left unanswered"
    );
    let mut not_utf8 =
        b"agi_network_script: decide\nagi_channel: PJSIP/ep1-1\nagi_calleridname: ".to_vec();
    not_utf8.extend_from_slice(&[0xff, 0xfe, b'\n', b'\n']);
    assert_eq!(
        agi::send_bytes(addr, &not_utf8).await.unwrap().as_deref(),
        Some("block"),
        "bytes that are not UTF-8 (a caller's display name) are refused too"
    );

    // ---- Concurrency: ep1 has one call running (1.1); a second fits, a third does not.
    assert_eq!(
        verdict(
            addr,
            question("ep1", "international", "0033140000001", "1.4")
        )
        .await,
        "allow"
    );
    assert_eq!(
        verdict(
            addr,
            question("ep1", "international", "0033140000002", "1.5")
        )
        .await,
        "block"
    );
    let (_, calls) = api.call("GET", "/api/v1/fraud/calls", None).await;
    let ids: Vec<&str> = calls
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["uniqueid"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["1.1", "2.2", "1.4"], "{calls}");
    agi::end(addr, "1.1", "ANSWER", 61).await.unwrap();
    agi::end(addr, "1.4", "NOANSWER", 0).await.unwrap();
    let (_, calls) = api.call("GET", "/api/v1/fraud/calls", None).await;
    assert_eq!(
        calls.as_array().unwrap().len(),
        1,
        "ended calls are gone: {calls}"
    );

    // ---- A burst: this is ep1's sixth external attempt within the minute (limit 5): it
    // locks the account.
    assert_eq!(
        verdict(
            addr,
            question("ep1", "international", "0033140000003", "1.6")
        )
        .await,
        "block"
    );
    let locks = wait_for(&api, "/api/v1/fraud/locks", |v| {
        !v.as_array().unwrap().is_empty()
    })
    .await;
    assert_eq!(locks[0]["endpoint_id"], "ep1");
    assert_eq!(locks[0]["rule"], "call_rate");
    assert_eq!(
        verdict(addr, question("ep1", "national", "030123456", "1.7")).await,
        "block",
        "locked"
    );
    assert_eq!(
        verdict(addr, question("ep4", "national", "030123456", "4.1")).await,
        "allow",
        "others are not"
    );

    // ---- Findings: every fired rule with its outcome; filtered by endpoint.
    let findings = wait_for(&api, "/api/v1/fraud/findings?endpoint_id=ep1", |v| {
        v.as_array().unwrap().iter().len() == 4
    })
    .await;
    let mut rules: Vec<(&str, &str)> = findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["rule"].as_str().unwrap(), f["outcome"].as_str().unwrap()))
        .collect();
    // Locks are recorded ahead of other findings: compare without order.
    rules.sort_unstable();
    assert_eq!(
        rules,
        [
            ("call_rate", "lock"),
            ("concurrent_endpoint", "block"),
            ("high_risk_destination", "block"),
            ("high_risk_destination", "block"),
        ],
        "a locked account's refused attempts are counted, not recorded one by one: {findings}"
    );
    assert!(
        findings
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "call_rate" && f["region"] == "FR"),
        "{findings}"
    );
    let (status, _) = api
        .call("GET", "/api/v1/fraud/findings?limit=0", None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // ---- Unlock: the next call is decided afresh; a second unlock finds nothing.
    let (status, _) = api.call("DELETE", "/api/v1/fraud/locks/ep1", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        verdict(
            addr,
            question("ep1", "international", "0033140000004", "1.8")
        )
        .await,
        "allow"
    );
    let (status, body) = api.call("DELETE", "/api/v1/fraud/locks/ep1", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _) = api
        .call("DELETE", "/api/v1/fraud/calls/nothing", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // ---- Call records: each ended call with its source, status, answered time and cost
    // at the unknown rate (no table yet: 0.50 a minute); searchable.
    let records = wait_for(&api, "/api/v1/fraud/call-records?endpoint_id=ep1", |v| {
        v.as_array().unwrap().len() == 2
    })
    .await;
    assert_eq!(records[1]["uniqueid"], "1.1", "{records}");
    assert_eq!(records[1]["source"], "198.51.100.7");
    assert_eq!(records[1]["region"], "FR");
    assert_eq!(records[1]["dial_status"], "ANSWER");
    assert_eq!(
        records[1]["answered_secs"], 1,
        "never more than the call has run: {records}"
    );
    assert_eq!(records[0]["dial_status"], "NOANSWER");
    assert_eq!(records[0]["cost"], "0.00");
    let (_, none) = api
        .call("GET", "/api/v1/fraud/call-records?number=44", None)
        .await;
    assert_eq!(none, json!([]));
    let (_, by_number) = api
        .call("GET", "/api/v1/fraud/call-records?number=3314", None)
        .await;
    assert_eq!(by_number.as_array().unwrap().len(), 2);
    let (status, _) = api
        .call("GET", "/api/v1/fraud/call-records?number=%2B33", None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // ---- The rate table: a bad line refuses it whole, naming the line; a good one is in
    // force and reads back as uploaded.
    let put_rates = |csv: &'static str| {
        api.request(reqwest::Method::PUT, "/api/v1/fraud/rates")
            .header("content-type", "text/csv")
            .body(csv)
            .send()
    };
    let refused = put_rates("prefix,per_minute\n33,0.05\n33,0.06\n")
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["line"], 3, "{body}");
    let stored = put_rates("prefix,per_minute\n33,0.05\n331,0.10\n")
        .await
        .unwrap();
    assert_eq!(stored.status(), StatusCode::OK);
    let (_, rates) = api.call("GET", "/api/v1/fraud/rates", None).await;
    assert_eq!(rates["prefixes"], 2, "{rates}");
    let csv = api
        .request(reqwest::Method::GET, "/api/v1/fraud/rates/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv, "prefix,per_minute\n33,0.05\n331,0.10\n");

    // ---- Audited; the counts add up.
    let (_, audit) = api.call("GET", "/api/v1/audit?limit=50", None).await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["action"].as_str().unwrap())
        .collect();
    for action in [
        "fraud_policy_update",
        "fraud_lock",
        "fraud_unlock",
        "fraud_rates_update",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    let (_, status) = api.call("GET", "/api/v1/fraud/status", None).await;
    assert_eq!(status["allowed"], 5, "{status}");
    assert_eq!(status["blocked"], 6, "{status}");
    assert_eq!(status["locked"], 1, "{status}");
    assert_eq!(status["malformed"], 5, "{status}");
    assert_eq!(status["locked_accounts"], 0, "{status}");
    let metrics = api
        .request(reqwest::Method::GET, "/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "sipwarden_fraud_decision_listening 1",
        "sipwarden_fraud_decisions_total{outcome=\"lock\"} 1",
        "sipwarden_fraud_decisions_total{outcome=\"allow\"} 5",
        "sipwarden_fraud_locked_accounts 0",
    ] {
        assert!(metrics.contains(line), "no `{line}` in /metrics");
    }

    // ---- The decision point is rendered at the configured address.
    let (status, preview) = api.call("GET", "/api/v1/config/preview", None).await;
    assert_eq!(status, StatusCode::OK);
    let text = preview.to_string();
    let decide = format!(
        "AGI(agi://{addr}/decide,${{SW_EP}},${{SW_CLASS}},${{ARG1}},${{ARG2}},${{CHANNEL(pjsip,remote_addr)}})"
    );
    let end = format!("AGI(agi://{addr}/end,${{DIALSTATUS}},${{ANSWEREDTIME}})");
    assert!(text.contains(&decide), "no {decide} in the preview");
    assert!(text.contains(&end), "no {end} in the preview");
}

/// GETs `path` until `ready` holds (the worker stores findings and locks just after the
/// verdict is sent).
async fn wait_for(api: &Api, path: &str, ready: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        let (_, body) = api.call("GET", path, None).await;
        if ready(&body) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{path} never became ready");
}
