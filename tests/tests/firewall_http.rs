//! The firewall's REST API on the real server, without touching any kernel: policy edits and
//! their refusals, bans and the allowlist stored in SQLite, the lockout preview refusing an
//! apply before `nft` is ever run. The kernel side is in `firewall_server.rs`.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::api::Api;
use tests::server::TestServer;

async fn start() -> (TestServer, Api) {
    let server = TestServer::start().unwrap();
    let api = Api::sign_in(&server).await;
    (server, api)
}

#[tokio::test]
async fn the_default_policy_is_shown_unapplied_with_its_ruleset_and_no_lockout() {
    let (_server, api) = start().await;
    let (status, doc) = api.call("GET", "/api/v1/firewall", None).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["policy"]["enabled"], true);
    assert_eq!(doc["policy"]["confirm_window_secs"], 60);
    assert_eq!(doc["status"]["table"], "not_applied");
    assert_eq!(doc["status"]["stored_is_live"], false);
    assert_eq!(doc["status"]["lockout"], json!([]));
    let ruleset = doc["status"]["ruleset"].as_str().unwrap();
    assert!(ruleset.contains("5060"), "{ruleset}");

    let (status, json_ruleset) = api.call("GET", "/api/v1/firewall/ruleset", None).await;
    assert_eq!(status, StatusCode::OK);
    // Every command names our table and no other.
    let commands = json_ruleset["nftables"].as_array().unwrap();
    assert!(commands.len() > 20, "{json_ruleset}");
    for command in commands {
        let (_, object) = command.as_object().unwrap().iter().next().unwrap();
        let (kind, body) = object.as_object().unwrap().iter().next().unwrap();
        let table = if kind == "table" {
            &body["name"]
        } else {
            &body["table"]
        };
        assert_eq!(table, "sipwarden", "{command}");
    }
}

#[tokio::test]
async fn a_bad_policy_is_refused_naming_the_field_and_the_stored_one_is_kept() {
    let (server, api) = start().await;
    let mut policy = api.call("GET", "/api/v1/firewall", None).await.1["policy"].clone();

    policy["trusted_networks"] = json!(["10.9.1.7/16"]);
    let (status, problem) = api
        .call("PUT", "/api/v1/firewall", Some(policy.clone()))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["field"], "trusted_networks");
    assert!(
        problem["detail"].as_str().unwrap().contains("host bits"),
        "{problem}"
    );
    policy["trusted_networks"] = json!([]);

    for (field, value, expected) in [
        ("blocklist", json!(["0.0.0.0/0"]), "blocklist"),
        ("confirm_window_secs", json!(5), "confirm_window_secs"),
        ("ami_port", json!(70000), "ami_port"),
        ("restrict_console", json!(true), "admin_networks"),
    ] {
        let mut bad = policy.clone();
        bad[field] = value;
        let (status, problem) = api.call("PUT", "/api/v1/firewall", Some(bad)).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {problem}"
        );
        assert_eq!(problem["field"], expected, "{problem}");
    }
    let mut unknown = policy.clone();
    unknown["allow_everything"] = json!(true);
    let (status, problem) = api.call("PUT", "/api/v1/firewall", Some(unknown)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");

    let (_, doc) = api.call("GET", "/api/v1/firewall", None).await;
    assert_eq!(doc["status"]["version"], 0, "nothing was stored");
    assert_eq!(doc["policy"]["trusted_networks"], json!([]));

    policy["trusted_networks"] = json!(["10.9.0.0/16"]);
    let (status, doc) = api.call("PUT", "/api/v1/firewall", Some(policy)).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["status"]["version"], 1);
    assert_eq!(doc["policy"]["trusted_networks"], json!(["10.9.0.0/16"]));

    let audit = server.log();
    assert!(!audit.contains("panicked"), "{audit}");
}

#[tokio::test]
async fn bans_are_stored_listed_refused_for_trusted_addresses_and_lifted() {
    let (_server, api) = start().await;
    let mut policy = api.call("GET", "/api/v1/firewall", None).await.1["policy"].clone();
    policy["trusted_networks"] = json!(["10.9.0.0/16"]);
    assert_eq!(
        api.call("PUT", "/api/v1/firewall", Some(policy)).await.0,
        StatusCode::OK
    );

    let added = api
        .create(
            "/api/v1/bans",
            json!({"address": "203.0.113.7", "duration_secs": 600, "reason": "guessing 1001"}),
        )
        .await;
    assert_eq!(added["ban"]["address"], "203.0.113.7");
    assert_eq!(added["ban"]["offences"], 1);
    // Nothing applied yet: stored, and the answer says it is not in the kernel.
    assert_eq!(added["in_kernel"], false);
    assert!(added["note"].as_str().unwrap().contains("next apply"));

    // IPv4-mapped IPv6 is the same source; banning it again counts a second offence.
    let again = api
        .create(
            "/api/v1/bans",
            json!({"address": "::ffff:203.0.113.7", "reason": "again"}),
        )
        .await;
    assert_eq!(again["ban"]["address"], "203.0.113.7");
    assert_eq!(again["ban"]["offences"], 2);
    assert!(again["ban"]["remaining_secs"].as_u64().unwrap() > 3500);

    let (status, list) = api.call("GET", "/api/v1/bans", None).await;
    assert_eq!(status, StatusCode::OK);
    let list = list["items"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["reason"], "again");
    assert_eq!(list[0]["actor"], "admin");

    for (body, status, kind) in [
        (
            json!({"address": "10.9.4.4", "reason": "x"}),
            StatusCode::CONFLICT,
            "not_bannable",
        ),
        (
            json!({"address": "127.0.0.1", "reason": "x"}),
            StatusCode::CONFLICT,
            "not_bannable",
        ),
        (
            json!({"address": "example.org", "reason": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            json!({"address": "203.0.113.9", "reason": "two\nlines"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            json!({"address": "203.0.113.9", "reason": " "}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            json!({"address": "203.0.113.9", "reason": "x", "duration_secs": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            json!({"address": "203.0.113.9", "reason": "x", "forever": true}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
    ] {
        let (got, problem) = api.call("POST", "/api/v1/bans", Some(body.clone())).await;
        assert_eq!(got, status, "{body}: {problem}");
        assert!(
            problem["type"].as_str().unwrap_or("").ends_with(kind),
            "{body}: {problem}"
        );
    }
    let (_, problem) = api
        .call(
            "POST",
            "/api/v1/bans",
            Some(json!({"address": "10.9.4.4", "reason": "x"})),
        )
        .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("10.9.0.0/16"),
        "the refusal says which trusted network: {problem}"
    );

    let (status, _) = api.call("DELETE", "/api/v1/bans/203.0.113.7", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, problem) = api.call("DELETE", "/api/v1/bans/203.0.113.7", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    let (_, list) = api.call("GET", "/api/v1/bans", None).await;
    assert_eq!(list, json!({"items": [], "next_cursor": null}));

    // The row keeps its history: the next ban of the source is its third offence.
    let third = api
        .create(
            "/api/v1/bans",
            json!({"address": "203.0.113.7", "reason": "back"}),
        )
        .await;
    assert_eq!(third["ban"]["offences"], 3);

    let (_, audit) = api.call("GET", "/api/v1/audit", None).await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"ban_add"), "{actions:?}");
    assert!(actions.contains(&"ban_remove"), "{actions:?}");
}

#[tokio::test]
async fn trust_my_address_adds_the_callers_address_and_wins_over_bans() {
    let (_server, api) = start().await;
    let entry = api
        .create("/api/v1/allowlist", json!({"hours": 2, "note": "on call"}))
        .await;
    // The caller's own address (the test talks over loopback).
    assert_eq!(entry["address"], "127.0.0.1");
    let left = entry["remaining_secs"].as_u64().unwrap();
    assert!((7100..=7200).contains(&left), "{entry}");

    let other = api
        .create(
            "/api/v1/allowlist",
            json!({"address": "198.51.100.20", "hours": 1}),
        )
        .await;
    assert_eq!(other["address"], "198.51.100.20");
    let (status, problem) = api
        .call(
            "POST",
            "/api/v1/bans",
            Some(json!({"address": "198.51.100.20", "reason": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("temporary allowlist"),
        "{problem}"
    );

    for body in [
        json!({"hours": 0}),
        json!({"hours": 169}),
        json!({"address": "not an address", "hours": 1}),
        json!({"hours": 1, "note": "a\u{0}b"}),
    ] {
        let (status, problem) = api
            .call("POST", "/api/v1/allowlist", Some(body.clone()))
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {problem}"
        );
    }

    let (status, list) = api.call("GET", "/api/v1/allowlist", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["your_address"], "127.0.0.1");
    let addresses: Vec<&str> = list["temporary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["address"].as_str().unwrap())
        .collect();
    assert_eq!(
        addresses,
        ["198.51.100.20", "127.0.0.1"],
        "soonest expiry first"
    );

    let (status, _) = api
        .call("DELETE", "/api/v1/allowlist/198.51.100.20", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // No longer trusted: it can be banned now.
    api.create(
        "/api/v1/bans",
        json!({"address": "198.51.100.20", "reason": "now"}),
    )
    .await;
}

#[tokio::test]
async fn an_apply_that_would_cut_off_a_trunk_is_refused_with_the_peer_before_the_kernel_is_touched()
{
    let (server, api) = start().await;
    api.create(
        "/api/v1/endpoints",
        json!({"extension": "1001", "display_name": "Alice"}),
    )
    .await;
    api.create(
        "/api/v1/trunks",
        json!({"name": "carrier", "peer": "198.51.100.10", "outbound": true,
               "dids": [{"did": "4930123456", "extension": "1001"}]}),
    )
    .await;
    let mut policy = api.call("GET", "/api/v1/firewall", None).await.1["policy"].clone();
    policy["blocklist"] = json!(["198.51.100.0/24"]);
    let (status, doc) = api.call("PUT", "/api/v1/firewall", Some(policy)).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let lockout = doc["status"]["lockout"].as_array().unwrap();
    assert_eq!(lockout.len(), 1, "{doc}");
    assert_eq!(lockout[0]["kind"], "trunk");
    assert_eq!(lockout[0]["name"], "carrier");
    assert_eq!(lockout[0]["address"], "198.51.100.10");
    assert!(
        lockout[0]["reason"]
            .as_str()
            .unwrap()
            .contains("198.51.100.0/24")
    );
    // The signed-in administrator (loopback) is counted but never blocked.
    assert!(
        doc["status"]["peers_checked"].as_u64().unwrap() >= 2,
        "{doc}"
    );

    let (status, problem) = api.call("POST", "/api/v1/firewall/apply", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(problem["type"].as_str().unwrap().ends_with("lockout"));
    assert_eq!(
        problem["lockout"][0]["peer"]["name"], "carrier",
        "{problem}"
    );
    assert!(
        !server.data.path().join("firewall").exists(),
        "a refused apply leaves no pending state"
    );
    let (_, doc) = api.call("GET", "/api/v1/firewall", None).await;
    assert_eq!(doc["status"]["table"], "not_applied");

    let (status, problem) = api.call("POST", "/api/v1/firewall/confirm", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let (status, _) = api.call("POST", "/api/v1/firewall/revert", None).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_disabled_firewall_applies_nothing_and_says_so() {
    let (server, api) = start().await;
    let mut policy = api.call("GET", "/api/v1/firewall", None).await.1["policy"].clone();
    policy["enabled"] = json!(false);
    assert_eq!(
        api.call("PUT", "/api/v1/firewall", Some(policy)).await.0,
        StatusCode::OK
    );
    let (status, applied) = api.call("POST", "/api/v1/firewall/apply", None).await;
    assert_eq!(status, StatusCode::OK, "{applied}");
    assert_eq!(applied["applied"], false);
    assert!(
        applied["message"]
            .as_str()
            .unwrap()
            .contains("nothing was applied"),
        "{applied}"
    );
    assert!(!server.data.path().join("firewall").exists());
}

#[tokio::test]
async fn viewers_read_the_firewall_but_cannot_change_it() {
    let (server, api) = start().await;
    api.create(
        "/api/v1/users",
        json!({"username": "val", "password": "a long viewer password", "role": "viewer"}),
    )
    .await;
    let viewer = Api::sign_in_as(&server, "val", "a long viewer password").await;
    for path in ["/api/v1/firewall", "/api/v1/bans", "/api/v1/allowlist"] {
        assert_eq!(
            viewer.call("GET", path, None).await.0,
            StatusCode::OK,
            "{path}"
        );
    }
    let ban = json!({"address": "203.0.113.7", "reason": "x"});
    for (method, path, body) in [
        ("PUT", "/api/v1/firewall", Some(json!({}))),
        ("POST", "/api/v1/firewall/apply", None),
        ("POST", "/api/v1/firewall/confirm", None),
        ("POST", "/api/v1/bans", Some(ban)),
        ("DELETE", "/api/v1/bans/203.0.113.7", None),
        ("POST", "/api/v1/allowlist", Some(json!({"hours": 1}))),
        ("GET", "/api/v1/firewall/ruleset", None),
    ] {
        let (status, _): (StatusCode, Value) = viewer.call(method, path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}");
    }
}

#[tokio::test]
async fn bans_page_by_cursor_newest_first_without_repeats() {
    let (_server, api) = start().await;
    let mut banned = Vec::new();
    for n in 1..=5 {
        let address = format!("198.51.100.{n}");
        api.create(
            "/api/v1/bans",
            json!({"address": address, "reason": "paging"}),
        )
        .await;
        banned.push(address);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..5 {
        let path = match &cursor {
            Some(c) => format!("/api/v1/bans?limit=2&cursor={}", urlencode(c)),
            None => "/api/v1/bans?limit=2".to_owned(),
        };
        let (status, page) = api.call("GET", &path, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2, "{page}");
        seen.extend(
            items
                .iter()
                .map(|b| b["address"].as_str().unwrap().to_owned()),
        );
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    banned.reverse();
    assert_eq!(seen, banned, "every ban once, newest first");

    let (status, problem) = api
        .call("GET", "/api/v1/bans?cursor=17_nowhere", None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["field"], "cursor", "{problem}");
}

fn urlencode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'.' | b'_' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
