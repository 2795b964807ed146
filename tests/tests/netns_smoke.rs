//! The lab network works: hosts in different namespaces reach each other over IPv4 and IPv6
//! through the router, and every namespace is gone once the lab is dropped.

use std::time::Instant;

use tests::netns::{self, Lab};
use tests::root;

const TEST: &str = "netns_smoke";

/// `ping -c 1` from `from` to `to` inside the lab; returns the error with ping's output.
fn ping(lab: &Lab, from: &str, to: &str) -> anyhow::Result<()> {
    // -W 2: a lost reply must fail fast instead of hanging the test.
    let out = lab.exec(from, "ping", ["-n", "-c", "1", "-W", "2", to])?;
    anyhow::ensure!(
        out.status.success(),
        "ping {from} -> {to} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

#[test]
fn hosts_of_a_lab_ping_each_other_over_v4_and_v6_and_vanish_after_drop() {
    if !root::require_root(TEST) || !root::require_commands(TEST, &["ip", "ping"]) {
        return;
    }
    let started = Instant::now();
    let lab = Lab::standard().expect("building the lab");
    let built = started.elapsed();
    let names = lab.namespace_names();
    assert!(names.iter().all(|n| netns::exists(n)), "{names:?}");

    let pbx = lab.host("pbx");
    let attacker = lab.host("attacker");
    let client = lab.host("client");
    for (from, to) in [
        ("attacker", pbx.ipv4.to_string()),
        ("attacker", pbx.ipv6.to_string()),
        ("pbx", attacker.ipv4.to_string()),
        ("pbx", attacker.ipv6.to_string()),
        ("client", pbx.ipv4.to_string()),
        ("pbx", client.ipv6.to_string()),
    ] {
        ping(&lab, from, &to).unwrap();
    }

    // The source address a host's packets carry is its own, not the router's: this is what
    // per-network permit/deny rules and bans rely on.
    let route = lab
        .ns("attacker")
        .ip(["route", "get", &pbx.ipv4.to_string()])
        .unwrap();
    assert!(route.contains(&format!("src {}", attacker.ipv4)), "{route}");

    drop(lab);
    for name in &names {
        assert!(
            !netns::exists(name),
            "namespace {name} still exists after drop"
        );
    }
    eprintln!(
        "{TEST}: lab built in {built:?}, whole test {:?}",
        started.elapsed()
    );
}

#[test]
fn a_namespace_and_the_processes_in_it_are_gone_after_drop() {
    if !root::require_root(TEST) || !root::require_commands(TEST, &["ip", "sleep"]) {
        return;
    }
    let ns = netns::NetNs::new("sleeper").expect("creating a namespace");
    let name = ns.name().to_owned();
    let mut child = ns.spawn("sleep", ["600"]).expect("spawning sleep");
    assert!(ns.pids().contains(&child.id()) || !ns.pids().is_empty());
    drop(ns);
    assert!(!netns::exists(&name));
    // Killed by the drop, so it has ended (reaped here) well before its 600 s.
    let status = tests::process::wait_with_deadline(&mut child, std::time::Duration::from_secs(5))
        .expect("waiting for sleep");
    assert!(
        status.is_some_and(|s| !s.success()),
        "sleep survived the namespace: {status:?}"
    );
}
