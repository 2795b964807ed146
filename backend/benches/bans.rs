//! How fast bans reach the kernel: one at a time through the long-lived `nft -j -i` session,
//! one at a time with a fresh `nft -j -f -` each (the alternative the session replaces), and
//! batches of 1,000 and 10,000; plus p50/p99 of a single ban, printed before criterion runs.
//!
//! Runs against the ban set of a throw-away network namespace, so the host's firewall is
//! never touched. Needs root (namespaces, nftables); without it, says so and does nothing.
//!
//! `cargo bench -p backend --bench bans`

use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use backend::firewall::{Firewall, Nft, Target};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use policy::firewall::CheckPolicy;
use policy::firewall::{FirewallPolicy, TimedAddress, add_ban_elements};

/// A fresh address per ban, so every ban adds an element instead of refreshing one (the sets
/// hold 2^20, more than a run adds).
static NEXT: AtomicU32 = AtomicU32::new(0);

fn next_address() -> IpAddr {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (n & 0x00ff_ffff)))
}

fn next_batch(size: usize) -> Vec<TimedAddress> {
    (0..size)
        .map(|_| TimedAddress::expiring(next_address(), 3600))
        .collect()
}

/// A namespace removed on drop.
struct Namespace(String);

impl Namespace {
    fn new() -> Option<Namespace> {
        let name = format!("swbench-{}", std::process::id());
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Namespace(name))
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(2))
            == Some("0")
    })
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

fn bans(c: &mut Criterion) {
    if !is_root() {
        eprintln!("SKIPPED bans benchmark: needs root (network namespaces and nftables)");
        return;
    }
    let Some(ns) = Namespace::new() else {
        eprintln!("SKIPPED bans benchmark: could not create a network namespace");
        return;
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("SKIPPED bans benchmark: no tokio runtime: {e}");
            return;
        }
    };
    let Ok(state) = tempfile::tempdir() else {
        eprintln!("SKIPPED bans benchmark: no temporary directory");
        return;
    };
    let target = Target::netns(&ns.0);
    let firewall = Firewall::new(target.clone(), state.path());
    let Ok(policy) = FirewallPolicy::default().check() else {
        return;
    };
    if let Err(e) = rt.block_on(firewall.apply(&policy)) {
        eprintln!("SKIPPED bans benchmark: could not load the ruleset: {e}");
        return;
    }

    // Latency distribution of a single ban's kernel half, and of a whole ban with conntrack.
    for (what, with_conntrack) in [("kernel element", false), ("ban incl. conntrack", true)] {
        let mut took: Vec<Duration> = (0..1000)
            .map(|_| {
                let entry = [TimedAddress::expiring(next_address(), 3600)];
                let started = Instant::now();
                let result = if with_conntrack {
                    rt.block_on(firewall.ban_many(&entry)).map(drop)
                } else {
                    rt.block_on(firewall.ban_in_kernel(&entry)).map(drop)
                };
                if let Err(e) = result {
                    eprintln!("ban failed: {e}");
                }
                started.elapsed()
            })
            .collect();
        took.sort();
        eprintln!(
            "single ban ({what}), 1000 samples: p50 {:?}, p99 {:?}, max {:?}",
            percentile(&took, 50),
            percentile(&took, 99),
            percentile(&took, 100)
        );
    }

    let mut group = c.benchmark_group("bans");
    group.throughput(Throughput::Elements(1));
    group.bench_function("one at a time, session", |b| {
        b.iter_batched(
            || [TimedAddress::expiring(next_address(), 3600)],
            |entry| rt.block_on(firewall.ban_in_kernel(&entry)),
            BatchSize::SmallInput,
        );
    });
    let one_shot = Nft::new(target);
    group.bench_function("one at a time, nft process each", |b| {
        b.iter_batched(
            || add_ban_elements(&[TimedAddress::expiring(next_address(), 3600)]).to_json(),
            |json| rt.block_on(one_shot.apply_json(&json)),
            BatchSize::SmallInput,
        );
    });
    for size in [1_000usize, 10_000] {
        group.throughput(Throughput::Elements(size as u64));
        group.sample_size(10);
        group.bench_function(format!("batch of {size}"), |b| {
            b.iter_batched(
                || next_batch(size),
                |entries| rt.block_on(firewall.ban_in_kernel(&entries)),
                BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, bans);
criterion_main!(benches);
