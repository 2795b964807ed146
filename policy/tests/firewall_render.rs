//! Golden files of the rendered nftables ruleset, and the properties every rendering keeps.

use std::net::IpAddr;

use policy::firewall::CheckPolicy;
use policy::firewall::{
    CheckedFirewallPolicy, DynamicState, FirewallPolicy, TimedAddress, TimedPort, render_ruleset,
};

fn ip(text: &str) -> IpAddr {
    text.parse().expect("test address")
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn representative_policy() -> CheckedFirewallPolicy {
    FirewallPolicy {
        restrict_console: true,
        sip_tls_port: 5071,
        trusted_networks: strings(&["192.168.10.0/24", "2001:db8:10::/48"]),
        admin_networks: strings(&["198.51.100.7", "192.168.10.20", "2001:db8:aa::/64"]),
        ami_networks: strings(&["10.20.0.0/16", "10.30.0.5", "2001:db8:20::/64"]),
        blocklist: strings(&["203.0.113.0/24", "2001:db8:bad::/48"]),
        ..FirewallPolicy::default()
    }
    .check()
    .expect("representative policy is valid")
}

fn representative_state() -> DynamicState {
    DynamicState {
        bans: vec![
            TimedAddress::expiring(ip("192.0.2.66"), 600),
            TimedAddress::expiring(ip("::ffff:192.0.2.77"), 3600),
            TimedAddress::expiring(ip("2001:db8:666::1"), 86_400),
            TimedAddress::permanent(ip("192.0.2.99")),
            TimedAddress::expiring(ip("192.0.2.55"), 0),
        ],
        temporary_allows: vec![
            TimedAddress::expiring(ip("198.51.100.200"), 7200),
            // inside the trusted LAN: redundant, must be left out
            TimedAddress::expiring(ip("192.168.10.99"), 7200),
        ],
        known_good: vec![TimedAddress::expiring(ip("198.51.100.50"), 3600)],
        port_bans: vec![
            TimedPort::expiring("198.51.100.50:5062".parse().expect("test source"), 900),
            TimedPort::expiring("[2001:db8:10::9]:5070".parse().expect("test source"), 900),
        ],
    }
}

#[test]
fn representative_policy_renders_the_golden_ruleset() {
    let ruleset = render_ruleset(&representative_policy(), &representative_state());
    insta::assert_snapshot!("representative_ruleset_json", ruleset.to_json());
    insta::assert_snapshot!("representative_ruleset_summary", ruleset.summary());
}

#[test]
fn default_policy_renders_the_golden_ruleset() {
    let policy = FirewallPolicy::default().check().expect("default is valid");
    let ruleset = render_ruleset(&policy, &DynamicState::default());
    insta::assert_snapshot!("default_ruleset_json", ruleset.to_json());
}

#[test]
fn disabled_policy_only_removes_our_table() {
    let policy = FirewallPolicy {
        enabled: false,
        ..FirewallPolicy::default()
    }
    .check()
    .expect("valid");
    let ruleset = render_ruleset(&policy, &representative_state());
    insta::assert_snapshot!("disabled_ruleset_json", ruleset.to_json());
}

fn commands(json: &str) -> Vec<serde_json::Value> {
    let doc: serde_json::Value = serde_json::from_str(json).expect("valid json");
    doc["nftables"].as_array().expect("array").clone()
}

fn verb_and_body(cmd: &serde_json::Value) -> (&str, &serde_json::Value) {
    let (verb, body) = cmd
        .as_object()
        .and_then(|o| o.iter().next())
        .expect("one verb");
    (verb.as_str(), body)
}

#[test]
fn rendering_is_byte_stable_although_the_crate_keeps_flags_in_a_hash_set() {
    let (policy, state) = (representative_policy(), representative_state());
    let first = render_ruleset(&policy, &state).to_json();
    for _ in 0..50 {
        assert_eq!(render_ruleset(&policy, &state).to_json(), first);
    }
}

#[test]
fn the_batch_replaces_our_table_with_add_delete_add() {
    let json = render_ruleset(&representative_policy(), &DynamicState::default()).to_json();
    let cmds = commands(&json);
    let head: Vec<(&str, String)> = cmds[..3]
        .iter()
        .map(|c| {
            let (verb, body) = verb_and_body(c);
            (
                verb,
                body["table"]["name"].as_str().expect("table").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        head,
        [
            ("add", "sipwarden".to_owned()),
            ("delete", "sipwarden".to_owned()),
            ("add", "sipwarden".to_owned())
        ]
    );
}

#[test]
fn every_command_names_only_table_inet_sipwarden() {
    let json = render_ruleset(&representative_policy(), &representative_state()).to_json();
    for cmd in commands(&json) {
        let (verb, body) = verb_and_body(&cmd);
        assert!(verb == "add" || verb == "delete", "unexpected verb {verb}");
        assert!(!json.contains("\"flush\""));
        let (kind, object) = body
            .as_object()
            .and_then(|o| o.iter().next())
            .expect("object");
        let table = if kind == "table" {
            &object["name"]
        } else {
            &object["table"]
        };
        assert_eq!(table, "sipwarden", "{kind} names another table");
        assert_eq!(object["family"], "inet", "{kind} in another family");
    }
}

#[test]
fn base_chains_hook_input_and_forward_with_policy_accept() {
    let json = render_ruleset(&representative_policy(), &DynamicState::default()).to_json();
    let hooks: Vec<(String, String)> = commands(&json)
        .iter()
        .filter_map(|c| {
            let chain = &verb_and_body(c).1["chain"];
            chain["hook"].as_str().map(|hook| {
                (
                    hook.to_owned(),
                    chain["policy"].as_str().expect("policy").to_owned(),
                )
            })
        })
        .collect();
    assert_eq!(
        hooks,
        [
            ("input".to_owned(), "accept".to_owned()),
            ("forward".to_owned(), "accept".to_owned())
        ]
    );
}

#[test]
fn no_established_flow_is_accepted_before_the_ban_blocklist_meter_ami_and_console_rules() {
    let summary = render_ruleset(&representative_policy(), &DynamicState::default()).summary();
    let lines: Vec<&str> = summary.lines().collect();
    let position = |needle: &str| {
        lines
            .iter()
            .rposition(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no rule {needle}"))
    };
    let fast_path = position("established flows");
    for must_come_first in [
        "banned",
        "blocklisted",
        "OPTIONS over",
        "AMI closed",
        "console only",
    ] {
        assert!(
            position(must_come_first) < fast_path,
            "{must_come_first} after the fast path"
        );
    }
    let first = |needle: &str| lines.iter().position(|l| l.contains(needle)).expect("rule");
    assert!(first("allowlisted") < first("banned"));
    assert!(first("banned") < first("blocklisted"));
    assert!(first("blocklisted") < first("REGISTER over"));
}

#[test]
fn an_unrestricted_console_gets_no_console_rule() {
    let policy = FirewallPolicy::default().check().expect("valid");
    let summary = render_ruleset(&policy, &DynamicState::default()).summary();
    assert!(!summary.contains("console"), "{summary}");
    assert!(summary.contains("AMI closed to everyone else"), "{summary}");
}

#[test]
fn configured_ports_reach_the_rules() {
    let policy = FirewallPolicy {
        sip_udp_port: 5080,
        sip_tcp_port: 5080,
        sip_tls_port: 5081,
        ami_port: 15038,
        ..FirewallPolicy::default()
    }
    .check()
    .expect("valid");
    let summary = render_ruleset(&policy, &DynamicState::default()).summary();
    assert!(summary.contains("udp 5080 INVITE"), "{summary}");
    assert!(
        summary.contains("new tcp connections to 5080/5081"),
        "{summary}"
    );
    let json = render_ruleset(&policy, &DynamicState::default()).to_json();
    assert!(
        json.contains("15038") && !json.contains("5038,"),
        "AMI port not rendered"
    );
}

#[test]
fn bans_from_the_state_are_carried_over_into_the_set_of_their_family() {
    let json = render_ruleset(&representative_policy(), &representative_state()).to_json();
    let elements: Vec<(String, String)> = commands(&json)
        .iter()
        .filter_map(|c| {
            let element = &verb_and_body(c).1["element"];
            element["name"]
                .as_str()
                .map(|n| (n.to_owned(), element["elem"].to_string()))
        })
        .collect();
    let of = |set: &str| {
        elements
            .iter()
            .find(|(name, _)| name == set)
            .map(|(_, elems)| elems.clone())
            .unwrap_or_default()
    };
    assert!(of("ban_v4").contains("\"192.0.2.66\""));
    assert!(
        of("ban_v4").contains("\"192.0.2.77\""),
        "mapped address goes to v4"
    );
    assert!(
        of("ban_v4").contains("\"192.0.2.99\""),
        "permanent ban kept"
    );
    assert!(!of("ban_v4").contains("192.0.2.55"), "expired ban dropped");
    assert!(of("ban_v6").contains("\"2001:db8:666::1\""));
    assert!(of("allow_v4").contains("198.51.100.200"));
    assert!(
        !of("allow_v4").contains("192.168.10.99"),
        "redundant temporary allow"
    );
    assert!(of("known_v4").contains("198.51.100.50"));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn v4_network() -> impl Strategy<Value = String> {
        (any::<[u8; 4]>(), 8u8..=32).prop_map(|(octets, len)| {
            let net = ipnet::Ipv4Net::new(octets.into(), len).expect("len <= 32");
            net.trunc().to_string()
        })
    }

    fn v6_network() -> impl Strategy<Value = String> {
        (any::<[u16; 8]>(), 16u8..=128).prop_map(|(segments, len)| {
            let net = ipnet::Ipv6Net::new(segments.into(), len).expect("len <= 128");
            net.trunc().to_string()
        })
    }

    fn networks() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec(prop_oneof![v4_network(), v6_network()], 0..4)
    }

    proptest! {
        #[test]
        fn any_text_in_the_network_lists_is_refused_or_renders_our_table_only(
            trusted in prop::collection::vec(".{0,20}", 0..3),
            blocklist in prop::collection::vec("[0-9a-f:./]{0,20}", 0..3),
        ) {
            let candidate = FirewallPolicy { trusted_networks: trusted, blocklist, ..FirewallPolicy::default() };
            if let Ok(policy) = candidate.check() {
                let json = render_ruleset(&policy, &DynamicState::default()).to_json();
                for cmd in commands(&json) {
                    let (_, body) = verb_and_body(&cmd);
                    let (kind, object) = body.as_object().and_then(|o| o.iter().next()).expect("object");
                    let table = if kind == "table" { &object["name"] } else { &object["table"] };
                    prop_assert_eq!(table, "sipwarden");
                }
            }
        }

        #[test]
        fn a_valid_policy_keeps_allowed_and_blocklisted_networks_apart(
            trusted in networks(), admin in networks(), ami in networks(), blocklist in networks(),
        ) {
            let candidate = FirewallPolicy {
                trusted_networks: trusted,
                admin_networks: admin,
                ami_networks: ami,
                blocklist,
                ..FirewallPolicy::default()
            };
            if let Ok(policy) = candidate.check() {
                let allowed = policy.trusted_networks().iter()
                    .chain(policy.admin_networks())
                    .chain(policy.ami_networks());
                for a in allowed {
                    for b in policy.blocklist() {
                        prop_assert!(!a.contains(b) && !b.contains(a), "{} vs {}", a, b);
                    }
                }
                // the allow set never holds overlapping intervals, which nft would refuse
                let pinned = policy.pinned_allow();
                for (i, a) in pinned.iter().enumerate() {
                    for b in &pinned[i + 1..] {
                        prop_assert!(!a.contains(b) && !b.contains(a), "{} vs {}", a, b);
                    }
                }
            }
        }

        #[test]
        fn every_ban_lands_in_the_set_of_its_family(
            octets in prop::collection::vec(any::<[u8; 4]>(), 0..8),
            segments in prop::collection::vec(any::<[u16; 8]>(), 0..8),
            secs in 1u32..1_000_000,
        ) {
            let mut bans: Vec<TimedAddress> = octets.iter()
                .map(|o| TimedAddress::expiring(IpAddr::from(*o), secs)).collect();
            bans.extend(segments.iter().map(|s| TimedAddress::expiring(IpAddr::from(*s), secs)));
            let state = DynamicState { bans: bans.clone(), ..DynamicState::default() };
            let policy = FirewallPolicy::default().check().expect("valid");
            let json = render_ruleset(&policy, &state).to_json();
            for ban in bans {
                let address = ban.address.to_canonical();
                let set = if address.is_ipv4() { "ban_v4" } else { "ban_v6" };
                let found = commands(&json).iter().any(|c| {
                    let element = &verb_and_body(c).1["element"];
                    element["name"] == set && element["elem"].to_string().contains(&format!("\"{address}\""))
                });
                prop_assert!(found, "{} not in {}", address, set);
            }
        }
    }
}
