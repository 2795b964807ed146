//! The firewall through the real server, on the real kernel: the server runs inside the `pbx`
//! namespace of a lab, applies its policy there over the REST API, bans and trusts addresses,
//! puts everything back after a simulated reboot (our table gone, the server restarted), and
//! reverts an unconfirmed change by itself. A foreign table beside ours is never touched.
//! Root only; without root the test says it skipped.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::api::Api;
use tests::netns::{Lab, Net};
use tests::root;
use tests::server::{ADMIN_PASSWORD, Options, TestServer};

const TEST: &str = "firewall_server";

const FOREIGN: &str = "table inet foreign {\n\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n\t\tudp dport 9999 counter accept\n\t}\n}\n";

/// `nft ARGS` in the namespace `ns` (by name, so it works from any thread).
fn nft(ns: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", ns, "nft"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "nft {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn set_elements(ns: &str, set: &str) -> String {
    nft(ns, &["list", "set", "inet", "sipwarden", set])
}

fn foreign_listing(ns: &str) -> String {
    // Counters change with traffic; the rules must not.
    nft(ns, &["list", "table", "inet", "foreign"])
        .lines()
        .map(|l| l.split(" counter").next().unwrap_or(l).to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

fn start_server(data_from: Option<std::path::PathBuf>) -> TestServer {
    let admin = data_from
        .is_none()
        .then(|| ("admin".to_owned(), ADMIN_PASSWORD.to_owned()));
    TestServer::start_with(Options {
        admin,
        data_from,
        ..Options::default()
    })
    .unwrap()
}

#[test]
fn the_server_applies_bans_and_trust_restores_them_after_a_reboot_and_reverts_unconfirmed_changes()
{
    if !root::require_root(TEST) || !root::require_commands(TEST, &["ip", "nft", "conntrack"]) {
        return;
    }
    let lab = Lab::builder()
        .host("pbx", Net::Pbx)
        .host("client", Net::Office)
        .host("attacker", Net::Internet)
        .build()
        .unwrap();
    let ns = lab.ns("pbx").name().to_owned();
    let attacker = lab.host("attacker").ipv4.to_string();
    let script = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(script.path(), FOREIGN).unwrap();
    nft(&ns, &["-f", script.path().to_str().unwrap()]);
    let foreign_before = foreign_listing(&ns);

    lab.ns("pbx")
        .block_on(scenario(ns.clone(), attacker))
        .unwrap();
    assert_eq!(
        foreign_listing(&ns),
        foreign_before,
        "the foreign table was touched"
    );
}

/// The whole scenario, on a thread inside the pbx namespace (the server started from it
/// lives there too, so its firewall is the namespace's).
async fn scenario(ns: String, attacker: String) {
    // 1. Policy, apply (provisional), ban, trust, confirm.
    let mut server = start_server(None);
    let api = Api::sign_in(&server).await;
    let (status, doc) = api.call("GET", "/api/v1/firewall", None).await;
    assert_eq!(status, StatusCode::OK);
    let mut policy = doc["policy"].clone();
    policy["trusted_networks"] = json!([Net::Office.cidr_v4()]);
    policy["confirm_window_secs"] = json!(10);
    let (status, doc) = api
        .call("PUT", "/api/v1/firewall", Some(policy.clone()))
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let (status, applied) = api.call("POST", "/api/v1/firewall/apply", None).await;
    assert_eq!(status, StatusCode::OK, "{applied}\n{}", server.log());
    assert_eq!(applied["applied"], true);
    assert!(applied["revert_in_secs"].as_u64().unwrap() <= 10);
    assert!(nft(&ns, &["list", "tables"]).contains("table inet sipwarden"));
    let (_, doc) = api.call("GET", "/api/v1/firewall", None).await;
    assert_eq!(doc["status"]["table"], "awaiting_confirmation", "{doc}");
    assert_eq!(doc["status"]["stored_is_live"], true);

    let ban = json!({"address": attacker, "duration_secs": 600, "reason": "svcrack"});
    let added = api.create("/api/v1/bans", ban).await;
    assert_eq!(added["in_kernel"], true, "{added}");
    assert!(set_elements(&ns, "ban_v4").contains(&attacker));

    let trust = json!({"address": "203.0.113.99", "hours": 1, "note": "engineer"});
    api.create("/api/v1/allowlist", trust).await;
    assert!(set_elements(&ns, "allow_v4").contains("203.0.113.99"));

    let (status, _) = api.call("POST", "/api/v1/firewall/confirm", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // 2. A reboot: the kernel forgets our table; the restarted server puts it all back.
    server.terminate().unwrap();
    nft(&ns, &["delete", "table", "inet", "sipwarden"]);
    let mut server = start_server(Some(server.data.path().to_owned()));
    let api = Api::sign_in(&server).await;
    server
        .wait_log("firewall restored into the kernel", Duration::from_secs(10))
        .await
        .unwrap();
    let bans = set_elements(&ns, "ban_v4");
    assert!(bans.contains(&attacker), "{bans}");
    assert!(
        bans.contains("expires"),
        "restored with its time left: {bans}"
    );
    assert!(set_elements(&ns, "allow_v4").contains("203.0.113.99"));
    let (_, doc) = api.call("GET", "/api/v1/firewall", None).await;
    assert_eq!(doc["status"]["table"], "confirmed", "{doc}");

    // 3. An unconfirmed change goes away by itself; the ban made before stays.
    policy["blocklist"] = json!(["192.0.2.128/25"]);
    let (status, _) = api.call("PUT", "/api/v1/firewall", Some(policy)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, applied) = api.call("POST", "/api/v1/firewall/apply", None).await;
    assert_eq!(status, StatusCode::OK, "{applied}");
    assert!(set_elements(&ns, "blocklist_v4").contains("192.0.2.128/25"));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, doc) = api.call("GET", "/api/v1/firewall", None).await;
        if doc["status"]["table"] == "confirmed" {
            assert_eq!(doc["status"]["stored_is_live"], false, "{doc}");
            break;
        }
        assert!(Instant::now() < deadline, "no revert within 30 s: {doc}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(!set_elements(&ns, "blocklist_v4").contains("192.0.2.128"));
    assert!(set_elements(&ns, "ban_v4").contains(&attacker));

    // 4. Lifting the ban reaches the kernel.
    let (status, _): (StatusCode, Value) = api
        .call("DELETE", &format!("/api/v1/bans/{attacker}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(!set_elements(&ns, "ban_v4").contains(&attacker));
    server.terminate().unwrap();
}
