//! How fast the pre-call fraud decision answers Asterisk (#15): the FastAGI listener and
//! the ledger as the appliance runs them, over real TCP on loopback, asked the way
//! `AGI(agi://…/decide,…)` asks (a new connection per call, the whole environment, the
//! `200 result=1` answer), each let-through call ending a second later through `end`.
//!
//! 1. 200 call attempts per second for 10 s from 200 endpoints (the load), paced;
//!    the time from connecting to reading the verdict, p50/p99/max;
//! 2. saturation: 16 askers back to back for 3 s; decisions per second.
//!
//! `cargo bench -p tests --bench fraud_decision`

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backend::fraud::CallDecisions;
use backend::fraud::agi_server;
use policy::fraud::policy::{FraudPolicy, FraudSettings, Limit, RuleMode};
use tests::agi::{self, Question};

const RATE: u32 = 200;
const SECONDS: u32 = 10;
const ENDPOINTS: u32 = 200;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    runtime.block_on(run());
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn ask(addr: SocketAddr, n: u32) -> (Duration, String) {
    let endpoint = format!("ep{}", n % ENDPOINTS);
    let number = format!("0044207946{:04}", n % 10_000);
    let id = format!("{n}.1");
    let started = Instant::now();
    let verdict = agi::decide(
        addr,
        &Question {
            endpoint: &endpoint,
            class: "international",
            trunk: "itsp",
            number: &number,
            uniqueid: &id,
            source: Some("198.51.100.7:5060"),
        },
    )
    .await
    .unwrap_or_else(|e| panic!("decide: {e}"))
    .unwrap_or_default();
    let took = started.elapsed();
    if verdict == "allow" {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let _ = agi::end(addr, &id, "ANSWER", 1).await;
        });
    }
    (took, verdict)
}

async fn run() {
    let decisions = Arc::new(CallDecisions::default());
    // Limits the load stays under: every rule is still evaluated on every call.
    let settings = FraudSettings {
        concurrent_global: Limit {
            max: 10_000,
            mode: RuleMode::Block,
        },
        concurrent_per_trunk: Limit {
            max: 10_000,
            mode: RuleMode::Block,
        },
        calls_per_minute: Limit {
            max: 1_000,
            mode: RuleMode::Lock,
        },
        calls_to_one_number: Limit {
            max: 1_000,
            mode: RuleMode::Block,
        },
        ..FraudSettings::default()
    };
    decisions.set_policy(FraudPolicy::new(settings).unwrap_or_else(|e| panic!("{e}")));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let stopping = tokio_util::sync::CancellationToken::new();
    tokio::spawn(agi_server::serve(
        listener,
        decisions.clone(),
        stopping.clone(),
    ));

    // 1. Paced load.
    let mut every = tokio::time::interval(Duration::from_secs(1) / RATE);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut asks = Vec::new();
    for n in 0..RATE * SECONDS {
        every.tick().await;
        asks.push(tokio::spawn(ask(addr, n)));
    }
    let mut took = Vec::new();
    let mut allowed = 0;
    for a in asks {
        let (t, verdict) = a.await.unwrap_or_else(|e| panic!("{e}"));
        took.push(t);
        allowed += usize::from(verdict == "allow");
    }
    took.sort();
    println!(
        "fraud decision at {RATE} attempts/s for {SECONDS} s ({} attempts, {allowed} allowed): \
         p50 {:?}, p99 {:?}, max {:?}",
        took.len(),
        percentile(&took, 0.50),
        percentile(&took, 0.99),
        took[took.len() - 1]
    );

    // 2. Saturation.
    let started = Instant::now();
    let until = started + Duration::from_secs(3);
    let mut askers = Vec::new();
    for a in 0..16u32 {
        askers.push(tokio::spawn(async move {
            let mut n = 1_000_000 + a * 100_000;
            let mut done = 0u32;
            while Instant::now() < until {
                ask(addr, n).await;
                n += 1;
                done += 1;
            }
            done
        }));
    }
    let mut total = 0u32;
    for a in askers {
        total += a.await.unwrap_or_else(|e| panic!("{e}"));
    }
    println!(
        "fraud decision saturated by 16 askers: {:.0} decisions/s",
        f64::from(total) / started.elapsed().as_secs_f64()
    );
    stopping.cancel();
}
