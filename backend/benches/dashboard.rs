//! The dashboard with 1,000,000 guard events stored: how long `dashboard/summary` (each
//! period) and `dashboard/timeseries` (each range) take, p50/p99 over repeated calls. The
//! events go through the server's own writer into a real SQLite file, spread over the last
//! week from 5,000 sources against 500 accounts (a busy week of scanning and guessing).
//!
//! `cargo bench -p backend --bench dashboard`

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use backend::config::{Config, GuardMode};
use backend::services::dashboard::{self, Range};
use policy::guard::{Event, EventKind, Outcome, Timestamp, Transport};

const EVENTS: u64 = 1_000_000;
const SOURCES: u64 = 5_000;
const ACCOUNTS: u64 = 500;
const WEEK_MS: u64 = 7 * 86_400_000;
const RUNS: usize = 100;

fn event(i: u64, now_ms: u64) -> Event {
    let s = i % SOURCES;
    let source = SocketAddr::from(([198, 18, (s >> 8) as u8, (s & 0xff) as u8], 5060));
    let kinds = [
        EventKind::Guessing,
        EventKind::Scanner,
        EventKind::Enumeration,
        EventKind::Flood,
    ];
    Event {
        // Newest first, evenly over the week.
        time: Timestamp(now_ms - i * (WEEK_MS / EVENTS)),
        kind: kinds[(i % 4) as usize],
        source,
        transport: Transport::Udp,
        account: Some(format!("{}", 1000 + i % ACCOUNTS)),
        method: Some("REGISTER".to_owned()),
        user_agent: Some("friendly-scanner".to_owned()),
        detector: "bench",
        evidence: "benchmark event with an evidence line of typical length".to_owned(),
        outcome: Outcome::Reported,
        proven: false,
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    runtime.block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let config = Config {
        data_dir: dir.path().to_owned(),
        guard_mode: GuardMode::Off,
        event_max_rows: 2 * EVENTS,
        ..Config::default()
    };
    let state = backend::server::build_state(config)
        .await
        .unwrap_or_else(|e| panic!("state: {e}"));
    let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
    let queue = state.events.queue();
    let t = Instant::now();
    let events: u64 = std::env::var("SIPWARDEN_BENCH_EVENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(EVENTS);
    for i in 0..events {
        if i % 100_000 == 0 {
            println!(
                "dashboard: {i} queued after {:.1} s",
                t.elapsed().as_secs_f64()
            );
        }
        if queue.send(event(i, now_ms)).await.is_err() {
            panic!("writer stopped");
        }
    }
    assert!(
        state
            .events
            .wait_stored(events, Duration::from_secs(1_800))
            .await,
        "writer too slow"
    );
    println!(
        "dashboard: {events} events stored in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    for period in ["hour", "day", "week"] {
        let times = measure(|| async {
            dashboard::summary(&state, period)
                .await
                .unwrap_or_else(|e| panic!("summary: {e}"))
        })
        .await;
        report(&format!("summary period={period}"), times);
    }
    for (name, range) in [("hour", Range::Hour), ("week", Range::Week)] {
        let times = measure(|| async {
            dashboard::timeseries(&state, range)
                .await
                .unwrap_or_else(|e| panic!("timeseries: {e}"))
        })
        .await;
        report(&format!("timeseries range={name}"), times);
    }
}

async fn measure<F, Fut, T>(call: F) -> Vec<Duration>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    // One warm-up call, then the measured ones.
    let _ = call().await;
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        std::hint::black_box(call().await);
        times.push(t.elapsed());
    }
    times.sort();
    times
}

fn report(what: &str, times: Vec<Duration>) {
    let pick = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    println!(
        "dashboard: {what}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} calls)",
        pick(0.50).as_secs_f64() * 1e3,
        pick(0.99).as_secs_f64() * 1e3,
        times.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        times.len()
    );
}
