//! Every validation rule of the firewall policy: refused, with the reason.

use policy::firewall::CheckPolicy;
use policy::firewall::{FirewallPolicy, FirewallPolicyError, NetworkList, Rate, RateTiers};

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn refused(policy: FirewallPolicy) -> FirewallPolicyError {
    policy.check().expect_err("policy must be refused")
}

#[test]
fn an_empty_document_is_the_valid_default_policy() {
    let policy: FirewallPolicy = serde_json::from_str("{}").expect("defaults");
    assert_eq!(policy, FirewallPolicy::default());
    let checked = policy.check().expect("default is valid");
    assert!(checked.enabled());
    assert!(!checked.restrict_console());
    assert_eq!(checked.confirm_window_secs(), 60);
    assert_eq!(checked.ports().sip_udp, 5060);
    assert_eq!(checked.ports().sip_tls, 5061);
    assert_eq!(checked.ports().ami, 5038);
}

#[test]
fn unknown_fields_are_refused_rather_than_ignored() {
    let err = serde_json::from_str::<FirewallPolicy>(r#"{"restrict_consol": true}"#)
        .expect_err("typo must not be ignored");
    assert!(err.to_string().contains("restrict_consol"), "{err}");
}

#[test]
fn a_policy_survives_a_serde_round_trip() {
    let policy = FirewallPolicy {
        trusted_networks: strings(&["192.0.2.0/24"]),
        ..FirewallPolicy::default()
    };
    let json = serde_json::to_string(&policy).expect("serialise");
    let back: FirewallPolicy = serde_json::from_str(&json).expect("deserialise");
    assert_eq!(back, policy);
}

#[test]
fn text_that_is_no_network_is_refused() {
    let err = refused(FirewallPolicy {
        trusted_networks: strings(&["office"]),
        ..FirewallPolicy::default()
    });
    assert_eq!(
        err,
        FirewallPolicyError::NotANetwork {
            list: NetworkList::Trusted,
            value: "office".to_owned()
        }
    );
    assert!(err.to_string().contains("`office` is not an IP address"));
}

#[test]
fn a_prefix_longer_than_the_address_is_refused() {
    let err = refused(FirewallPolicy {
        blocklist: strings(&["192.0.2.0/33"]),
        ..FirewallPolicy::default()
    });
    assert!(
        matches!(err, FirewallPolicyError::NotANetwork { .. }),
        "{err}"
    );
}

#[test]
fn host_bits_set_are_refused_with_both_readings_suggested() {
    let err = refused(FirewallPolicy {
        admin_networks: strings(&["192.0.2.7/24"]),
        ..FirewallPolicy::default()
    });
    assert_eq!(
        err.to_string(),
        "admin_networks: `192.0.2.7/24` has host bits set; write `192.0.2.0/24` for the whole network or `192.0.2.7/32` for the single host"
    );
}

#[test]
fn host_bits_set_in_ipv6_are_refused_too() {
    let err = refused(FirewallPolicy {
        ami_networks: strings(&["2001:db8::1/64"]),
        ..FirewallPolicy::default()
    });
    assert!(matches!(
        err,
        FirewallPolicyError::HostBitsSet {
            list: NetworkList::Ami,
            ..
        }
    ));
}

#[test]
fn bare_addresses_are_single_hosts() {
    let checked = FirewallPolicy {
        admin_networks: strings(&["192.0.2.7", " 2001:db8::7 "]),
        ..FirewallPolicy::default()
    }
    .check()
    .expect("bare addresses are fine");
    let shown: Vec<String> = checked
        .admin_networks()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(shown, ["192.0.2.7/32", "2001:db8::7/128"]);
}

#[test]
fn the_whole_internet_is_refused_in_every_list() {
    for (list, policy) in [
        (
            NetworkList::Trusted,
            FirewallPolicy {
                trusted_networks: strings(&["0.0.0.0/0"]),
                ..FirewallPolicy::default()
            },
        ),
        (
            NetworkList::Ami,
            FirewallPolicy {
                ami_networks: strings(&["::/0"]),
                ..FirewallPolicy::default()
            },
        ),
        (
            NetworkList::Blocklist,
            FirewallPolicy {
                blocklist: strings(&["0.0.0.0/0"]),
                ..FirewallPolicy::default()
            },
        ),
    ] {
        assert!(
            matches!(refused(policy), FirewallPolicyError::WholeInternet { list: l, .. } if l == list)
        );
    }
}

#[test]
fn ipv4_mapped_ipv6_networks_are_refused() {
    let err = refused(FirewallPolicy {
        trusted_networks: strings(&["::ffff:192.0.2.0/120"]),
        ..FirewallPolicy::default()
    });
    assert!(
        matches!(err, FirewallPolicyError::Ipv4Mapped { .. }),
        "{err}"
    );
}

#[test]
fn a_network_inside_another_of_the_same_list_is_refused() {
    let err = refused(FirewallPolicy {
        trusted_networks: strings(&["10.1.0.0/16", "10.0.0.0/8"]),
        ..FirewallPolicy::default()
    });
    assert_eq!(
        err.to_string(),
        "trusted_networks: `10.1.0.0/16` is already covered by `10.0.0.0/8`; remove one of them"
    );
}

#[test]
fn a_duplicate_network_is_refused() {
    let err = refused(FirewallPolicy {
        blocklist: strings(&["203.0.113.0/24", "203.0.113.0/24"]),
        ..FirewallPolicy::default()
    });
    assert!(matches!(
        err,
        FirewallPolicyError::Overlap {
            list: NetworkList::Blocklist,
            ..
        }
    ));
}

#[test]
fn an_admin_address_inside_a_trusted_network_is_fine() {
    let checked = FirewallPolicy {
        trusted_networks: strings(&["192.168.1.0/24"]),
        admin_networks: strings(&["192.168.1.10"]),
        ..FirewallPolicy::default()
    }
    .check()
    .expect("overlap across trusted and admin is normal");
    let pinned: Vec<String> = checked
        .pinned_allow()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(pinned, ["192.168.1.0/24"]);
}

#[test]
fn the_same_network_trusted_and_blocklisted_is_a_contradiction() {
    let err = refused(FirewallPolicy {
        trusted_networks: strings(&["198.51.100.0/24"]),
        blocklist: strings(&["198.51.100.0/25"]),
        ..FirewallPolicy::default()
    });
    assert_eq!(
        err.to_string(),
        "`198.51.100.0/24` in trusted_networks overlaps `198.51.100.0/25` in blocklist; a network cannot be both"
    );
}

#[test]
fn an_admin_address_inside_a_blocklisted_network_is_a_contradiction() {
    let err = refused(FirewallPolicy {
        admin_networks: strings(&["203.0.113.9"]),
        blocklist: strings(&["203.0.113.0/24"]),
        ..FirewallPolicy::default()
    });
    assert!(matches!(
        err,
        FirewallPolicyError::Contradiction {
            list: NetworkList::Admin,
            ..
        }
    ));
}

#[test]
fn an_ami_network_inside_a_blocklisted_network_is_a_contradiction() {
    let err = refused(FirewallPolicy {
        ami_networks: strings(&["2001:db8:1::/64"]),
        blocklist: strings(&["2001:db8::/32"]),
        ..FirewallPolicy::default()
    });
    assert!(matches!(
        err,
        FirewallPolicyError::Contradiction {
            list: NetworkList::Ami,
            ..
        }
    ));
}

#[test]
fn port_zero_is_refused() {
    let err = refused(FirewallPolicy {
        sip_udp_port: 0,
        ..FirewallPolicy::default()
    });
    assert_eq!(
        err.to_string(),
        "sip_udp_port: port 0 is out of range (1..=65535)"
    );
}

#[test]
fn a_port_above_65535_is_refused() {
    let err = refused(FirewallPolicy {
        console_port: 70_000,
        ..FirewallPolicy::default()
    });
    assert_eq!(
        err,
        FirewallPolicyError::PortOutOfRange {
            field: "console_port",
            value: 70_000
        }
    );
}

#[test]
fn the_ami_on_the_sip_port_is_a_collision() {
    let err = refused(FirewallPolicy {
        ami_port: 5060,
        ..FirewallPolicy::default()
    });
    assert_eq!(
        err.to_string(),
        "sip_udp_port and ami_port are both port 5060; each service needs its own port"
    );
}

#[test]
fn the_console_on_the_ami_port_is_a_collision() {
    let err = refused(FirewallPolicy {
        console_port: 5038,
        ..FirewallPolicy::default()
    });
    assert!(matches!(
        err,
        FirewallPolicyError::PortCollision {
            first: "ami_port",
            second: "console_port",
            port: 5038
        }
    ));
}

#[test]
fn sip_tcp_and_tls_on_one_port_is_a_collision() {
    let err = refused(FirewallPolicy {
        sip_tls_port: 5060,
        ..FirewallPolicy::default()
    });
    assert!(matches!(
        err,
        FirewallPolicyError::PortCollision { port: 5060, .. }
    ));
}

#[test]
fn sip_over_udp_and_tcp_may_share_a_port() {
    FirewallPolicy {
        sip_udp_port: 5080,
        sip_tcp_port: 5080,
        ..FirewallPolicy::default()
    }
    .check()
    .expect("udp and tcp on one port is the convention");
}

#[test]
fn a_restricted_console_without_admin_networks_is_refused() {
    let err = refused(FirewallPolicy {
        restrict_console: true,
        trusted_networks: strings(&["192.168.1.0/24"]),
        ..FirewallPolicy::default()
    });
    assert_eq!(err, FirewallPolicyError::NoAdminNetwork);
    assert!(err.to_string().contains("locked out"));
}

#[test]
fn a_restricted_console_with_an_admin_network_is_fine() {
    FirewallPolicy {
        restrict_console: true,
        admin_networks: strings(&["198.51.100.7"]),
        ..FirewallPolicy::default()
    }
    .check()
    .expect("valid");
}

#[test]
fn a_zero_rate_is_refused() {
    let mut policy = FirewallPolicy::default();
    policy.rate_limits.invite.unknown = Rate::new(0, 10);
    assert_eq!(
        refused(policy).to_string(),
        "rate_limits.invite.unknown.per_minute is 0; a zero rate would drop every request"
    );
}

#[test]
fn a_zero_burst_is_refused() {
    let mut policy = FirewallPolicy::default();
    policy.rate_limits.tcp_connections.known = Rate::new(100, 0);
    assert_eq!(
        refused(policy),
        FirewallPolicyError::ZeroRate {
            meter: "tcp_connections",
            tier: "known",
            field: "burst"
        }
    );
}

#[test]
fn a_known_tier_tighter_than_the_unknown_tier_is_refused() {
    let mut policy = FirewallPolicy::default();
    policy.rate_limits.register = RateTiers::new(Rate::new(10, 5), Rate::new(20, 5));
    assert_eq!(
        refused(policy),
        FirewallPolicyError::TiersInverted {
            meter: "register",
            known: 10,
            unknown: 20
        }
    );
}

#[test]
fn a_confirm_window_outside_ten_seconds_to_an_hour_is_refused() {
    for value in [0, 9, 3601] {
        let err = refused(FirewallPolicy {
            confirm_window_secs: value,
            ..FirewallPolicy::default()
        });
        assert_eq!(err, FirewallPolicyError::ConfirmWindowOutOfRange { value });
    }
}

#[test]
fn try_from_refuses_like_check() {
    use policy::firewall::CheckedFirewallPolicy;
    let result = CheckedFirewallPolicy::try_from(FirewallPolicy {
        ami_port: 0,
        ..FirewallPolicy::default()
    });
    assert!(matches!(
        result,
        Err(FirewallPolicyError::PortOutOfRange {
            field: "ami_port",
            ..
        })
    ));
}
