//! Golden files of the rendered nftables ruleset, and the properties every rendering keeps.

use std::net::IpAddr;

use policy::firewall::{
    CheckedFirewallPolicy, DynamicState, FirewallPolicy, TimedAddress, render_ruleset,
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
