//! Resident memory of the guard engine tracking 1,000,000 sources.
//!
//! Reads `/proc/self/statm` (Linux), which is I/O and so lives here, not in the library.
//! `cargo run --release -p policy --example guard_memory`

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use policy::guard::{
    Direction, Engine, GuardPolicy, Observation, SecurityKind, Subject, Timestamp, Transport,
};

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn main() {
    const SOURCES: u32 = 1_000_000;
    let mut policy = GuardPolicy::default();
    policy.limits.max_sources = SOURCES;
    let before = resident_bytes();
    let mut engine = Engine::new(policy).expect("valid policy");
    let start = std::time::Instant::now();
    for i in 0..SOURCES {
        let source = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)), 5060);
        let now = Timestamp(1_750_000_000_000 + u64::from(i));
        let mut obs = Observation::new(
            now,
            source,
            Transport::Udp,
            Direction::ToAsterisk,
            Subject::Security(SecurityKind::ChallengeResponseFailed),
        );
        obs.account = Some(b"1001");
        let _ = engine.observe(&obs, now);
    }
    let elapsed = start.elapsed();
    let after = resident_bytes();
    let stats = engine.stats();
    println!("sources tracked:        {}", stats.tracked_sources);
    println!("evictions:              {}", stats.source_evictions);
    println!(
        "state bytes per source: {} (+ 16 index)",
        Engine::bytes_per_source()
    );
    println!(
        "engine tables (heap):   {:.1} MiB",
        stats.state_bytes as f64 / 1048576.0
    );
    println!(
        "resident growth:        {:.1} MiB ({} bytes/source)",
        (after - before) as f64 / 1048576.0,
        (after - before) / u64::from(SOURCES)
    );
    println!(
        "resident total:         {:.1} MiB",
        after as f64 / 1048576.0
    );
    println!(
        "fill rate:              {:.0} new sources/s",
        f64::from(SOURCES) / elapsed.as_secs_f64()
    );
}
