//! The lockout preview: which current peers the new rules would block, and why.

use std::net::IpAddr;

use policy::firewall::CheckPolicy;
use policy::firewall::{
    BlockReason, CheckedFirewallPolicy, DynamicState, FirewallPolicy, Peer, PeerKind, TimedAddress,
    preview_lockout,
};

fn ip(text: &str) -> IpAddr {
    text.parse().expect("test address")
}

fn peer(kind: PeerKind, name: &str, address: &str) -> Peer {
    Peer {
        kind,
        name: name.to_owned(),
        address: ip(address),
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn restricted() -> CheckedFirewallPolicy {
    FirewallPolicy {
        restrict_console: true,
        trusted_networks: strings(&["192.168.10.0/24"]),
        admin_networks: strings(&["198.51.100.7"]),
        ami_networks: strings(&["10.20.0.0/16", "2001:db8:20::/64"]),
        blocklist: strings(&["203.0.113.0/24"]),
        ..FirewallPolicy::default()
    }
    .check()
    .expect("valid")
}

fn reasons(
    policy: &CheckedFirewallPolicy,
    state: &DynamicState,
    peers: &[Peer],
) -> Vec<(String, BlockReason)> {
    preview_lockout(policy, state, peers)
        .into_iter()
        .map(|l| (l.peer.name, l.reason))
        .collect()
}

#[test]
fn an_admin_outside_the_admin_networks_is_locked_out_of_a_restricted_console() {
    let peers = [peer(PeerKind::Admin, "alice", "198.51.100.8")];
    assert_eq!(
        reasons(&restricted(), &DynamicState::default(), &peers),
        [("alice".to_owned(), BlockReason::ConsoleRestricted)]
    );
}

#[test]
fn an_admin_at_a_pinned_address_on_loopback_or_in_a_trusted_network_is_not() {
    let peers = [
        peer(PeerKind::Admin, "pinned", "198.51.100.7"),
        peer(PeerKind::Admin, "local", "127.0.0.1"),
        peer(PeerKind::Admin, "local6", "::1"),
        peer(PeerKind::Admin, "office", "192.168.10.44"),
    ];
    assert!(reasons(&restricted(), &DynamicState::default(), &peers).is_empty());
}

#[test]
fn an_admin_anywhere_is_fine_while_the_console_is_not_restricted() {
    let policy = FirewallPolicy::default().check().expect("valid");
    let peers = [peer(PeerKind::Admin, "alice", "198.51.100.8")];
    assert!(reasons(&policy, &DynamicState::default(), &peers).is_empty());
}

#[test]
fn an_admin_with_a_temporary_allow_is_not_locked_out() {
    let state = DynamicState {
        temporary_allows: vec![TimedAddress::expiring(ip("198.51.100.8"), 3600)],
        ..DynamicState::default()
    };
    let peers = [peer(PeerKind::Admin, "alice", "198.51.100.8")];
    assert!(reasons(&restricted(), &state, &peers).is_empty());
}

#[test]
fn an_ami_client_outside_the_ami_networks_is_blocked() {
    let peers = [
        peer(PeerKind::AmiClient, "crm", "10.99.0.1"),
        peer(PeerKind::AmiClient, "dialer", "10.20.5.5"),
        peer(PeerKind::AmiClient, "dialer6", "2001:db8:20::9"),
        peer(PeerKind::AmiClient, "local", "127.0.0.1"),
        peer(PeerKind::AmiClient, "office", "192.168.10.9"),
    ];
    assert_eq!(
        reasons(&restricted(), &DynamicState::default(), &peers),
        [("crm".to_owned(), BlockReason::AmiClosed)]
    );
}

#[test]
fn a_banned_registered_endpoint_is_blocked_with_its_remaining_time() {
    let state = DynamicState {
        bans: vec![TimedAddress::expiring(ip("192.0.2.66"), 600)],
        ..DynamicState::default()
    };
    let peers = [
        peer(PeerKind::Endpoint, "phone-1", "192.0.2.66"),
        peer(PeerKind::Endpoint, "phone-2", "192.0.2.67"),
    ];
    let found = preview_lockout(&restricted(), &state, &peers);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].reason,
        BlockReason::Banned {
            timeout_secs: Some(600)
        }
    );
    assert_eq!(
        found[0].to_string(),
        "Endpoint phone-1 (192.0.2.66): banned for another 600 s"
    );
}

#[test]
fn a_ban_recorded_as_ipv4_mapped_still_finds_the_ipv4_peer() {
    let state = DynamicState {
        bans: vec![TimedAddress::permanent(ip("::ffff:192.0.2.66"))],
        ..DynamicState::default()
    };
    let peers = [peer(PeerKind::Trunk, "provider", "192.0.2.66")];
    assert_eq!(
        reasons(&restricted(), &state, &peers),
        [(
            "provider".to_owned(),
            BlockReason::Banned { timeout_secs: None }
        )]
    );
}

#[test]
fn a_blocklisted_trunk_is_blocked_with_the_network() {
    let peers = [peer(PeerKind::Trunk, "cheap-provider", "203.0.113.50")];
    assert_eq!(
        reasons(&restricted(), &DynamicState::default(), &peers),
        [(
            "cheap-provider".to_owned(),
            BlockReason::Blocklisted {
                network: "203.0.113.0/24".parse().expect("net")
            }
        )]
    );
}

#[test]
fn an_allowlisted_peer_is_never_blocked_even_when_banned() {
    let state = DynamicState {
        bans: vec![TimedAddress::expiring(ip("192.168.10.5"), 600)],
        ..DynamicState::default()
    };
    let peers = [peer(PeerKind::Endpoint, "desk", "192.168.10.5")];
    assert!(reasons(&restricted(), &state, &peers).is_empty());
}

#[test]
fn a_ban_takes_precedence_over_the_ami_reason_like_in_the_chain() {
    let state = DynamicState {
        bans: vec![TimedAddress::expiring(ip("10.99.0.1"), 60)],
        ..DynamicState::default()
    };
    let peers = [peer(PeerKind::AmiClient, "crm", "10.99.0.1")];
    assert_eq!(
        reasons(&restricted(), &state, &peers),
        [(
            "crm".to_owned(),
            BlockReason::Banned {
                timeout_secs: Some(60)
            }
        )]
    );
}

#[test]
fn a_disabled_firewall_blocks_nobody() {
    let policy = FirewallPolicy {
        enabled: false,
        ..FirewallPolicy::default()
    }
    .check()
    .expect("valid");
    let state = DynamicState {
        bans: vec![TimedAddress::permanent(ip("192.0.2.66"))],
        ..DynamicState::default()
    };
    let peers = [peer(PeerKind::Endpoint, "phone", "192.0.2.66")];
    assert!(reasons(&policy, &state, &peers).is_empty());
}
