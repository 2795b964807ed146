//! The element batches of the backend's fast path: bans, temporary allows, known-good sources.

use std::net::IpAddr;

use policy::firewall::CheckPolicy;
use policy::firewall::{
    CheckedFirewallPolicy, FirewallPolicy, TimedAddress, add_allow_elements, add_ban_elements,
    add_known_good_elements, delete_allow_elements, delete_ban_elements,
};

fn ip(text: &str) -> IpAddr {
    text.parse().expect("test address")
}

fn policy_with_trusted_lan() -> CheckedFirewallPolicy {
    FirewallPolicy {
        trusted_networks: vec!["192.168.10.0/24".to_owned()],
        ..FirewallPolicy::default()
    }
    .check()
    .expect("valid")
}

#[test]
fn one_ban_renders_the_golden_element_batch() {
    let batch = add_ban_elements(&[TimedAddress::expiring(ip("192.0.2.1"), 600)]);
    insta::assert_snapshot!("ban_one_v4", batch.to_json());
}

#[test]
fn bans_are_routed_to_the_set_of_their_family() {
    let batch = add_ban_elements(&[
        TimedAddress::expiring(ip("2001:db8::66"), 3600),
        TimedAddress::expiring(ip("192.0.2.1"), 600),
        TimedAddress::expiring(ip("::ffff:192.0.2.2"), 60),
        TimedAddress::permanent(ip("198.51.100.9")),
    ]);
    insta::assert_snapshot!("ban_many_mixed", batch.to_json());
}

#[test]
fn adding_a_ban_replaces_any_earlier_timeout() {
    let json = add_ban_elements(&[TimedAddress::expiring(ip("192.0.2.1"), 600)]).to_json();
    let doc: serde_json::Value = serde_json::from_str(&json).expect("json");
    let verbs: Vec<&str> = doc["nftables"]
        .as_array()
        .expect("array")
        .iter()
        .map(|cmd| {
            cmd.as_object()
                .and_then(|o| o.keys().next())
                .expect("verb")
                .as_str()
        })
        .collect();
    assert_eq!(verbs, ["add", "delete", "add"]);
    assert_eq!(
        doc["nftables"][2]["add"]["element"]["elem"][0]["elem"]["timeout"],
        600
    );
}

#[test]
fn duplicate_bans_keep_the_longest_timeout_and_expired_ones_are_skipped() {
    let batch = add_ban_elements(&[
        TimedAddress::expiring(ip("192.0.2.1"), 60),
        TimedAddress::expiring(ip("192.0.2.1"), 600),
        TimedAddress::expiring(ip("192.0.2.2"), 0),
    ]);
    let json = batch.to_json();
    assert!(json.contains("\"timeout\": 600"), "{json}");
    assert!(!json.contains("\"timeout\": 60,"), "{json}");
    assert!(!json.contains("192.0.2.2"), "{json}");
}

#[test]
fn nothing_to_ban_is_an_empty_batch() {
    assert!(add_ban_elements(&[]).is_empty());
    assert!(add_ban_elements(&[TimedAddress::expiring(ip("192.0.2.1"), 0)]).is_empty());
}

#[test]
fn lifting_bans_adds_then_deletes_so_an_expired_ban_is_no_error() {
    let batch = delete_ban_elements(&[ip("192.0.2.1"), ip("2001:db8::66")]);
    insta::assert_snapshot!("unban_mixed", batch.to_json());
}

#[test]
fn a_temporary_allow_renders_into_the_allow_set_with_its_timeout() {
    let batch = add_allow_elements(
        &policy_with_trusted_lan(),
        &[TimedAddress::expiring(ip("198.51.100.200"), 4 * 3600)],
    );
    insta::assert_snapshot!("allow_temporary", batch.to_json());
}

#[test]
fn a_temporary_allow_inside_a_pinned_network_is_left_out() {
    let batch = add_allow_elements(
        &policy_with_trusted_lan(),
        &[TimedAddress::expiring(ip("192.168.10.5"), 3600)],
    );
    assert!(batch.is_empty());
}

#[test]
fn pinned_trust_cannot_be_deleted_through_the_element_helper() {
    let batch = delete_allow_elements(&policy_with_trusted_lan(), &[ip("192.168.10.5")]);
    assert!(batch.is_empty());
    let batch = delete_allow_elements(&policy_with_trusted_lan(), &[ip("198.51.100.200")]);
    assert!(batch.to_json().contains("\"allow_v4\""));
}

#[test]
fn known_good_sources_go_to_the_known_sets() {
    let json =
        add_known_good_elements(&[TimedAddress::expiring(ip("2001:db8::5"), 3600)]).to_json();
    assert!(json.contains("\"known_v6\""), "{json}");
    assert!(!json.contains("known_v4"), "{json}");
}

#[test]
fn element_batches_name_only_our_table() {
    let json = add_ban_elements(&[TimedAddress::expiring(ip("192.0.2.1"), 600)]).to_json();
    let doc: serde_json::Value = serde_json::from_str(&json).expect("json");
    for cmd in doc["nftables"].as_array().expect("array") {
        let body = cmd
            .as_object()
            .and_then(|o| o.values().next())
            .expect("body");
        assert_eq!(body["element"]["table"], "sipwarden");
        assert_eq!(body["element"]["family"], "inet");
    }
}

#[test]
fn a_port_ban_names_the_address_and_port_and_replaces_an_earlier_timeout() {
    let batch = policy::firewall::add_port_ban_elements(&[
        policy::firewall::TimedPort::expiring("198.51.100.20:5062".parse().expect("source"), 900),
        policy::firewall::TimedPort::expiring(
            "[::ffff:198.51.100.20]:5062".parse().expect("source"),
            60,
        ),
        policy::firewall::TimedPort::expiring("[2001:db8::5]:5060".parse().expect("source"), 900),
    ]);
    insta::assert_snapshot!("port_ban_mixed", batch.to_json());
    let lift = policy::firewall::delete_port_ban_elements(&["198.51.100.20:5062"
        .parse()
        .expect("source")]);
    insta::assert_snapshot!("port_unban", lift.to_json());
}
