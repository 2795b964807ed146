//! The event store's writer: how many guard events per second it stores, and whether a
//! steady 10,000 events/s (the target) loses any. A real SQLite file in a temporary
//! directory, the same writer the server runs. Prints its figures; no criterion statistics
//! (one long run says more than many short ones here).
//!
//! `cargo bench -p backend --bench events`

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use backend::services::events;
use policy::guard::{Event, EventKind, Outcome, Timestamp, Transport};

fn event(i: u64) -> Event {
    let source: SocketAddr = format!("203.0.{}.{}:5060", (i >> 8) % 256, i % 256)
        .parse()
        .unwrap_or_else(|_| SocketAddr::from(([203, 0, 113, 1], 5060)));
    Event {
        time: Timestamp(1_790_000_000_000 + i),
        kind: if i.is_multiple_of(3) {
            EventKind::Scanner
        } else {
            EventKind::Guessing
        },
        source,
        transport: Transport::Udp,
        account: Some(format!("user{}", i % 50)),
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
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let db = backend::db::open_and_migrate(&dir.path().join("bench.sqlite3"))
            .await
            .unwrap_or_else(|e| panic!("database: {e}"));
        let store = events::spawn(db);
        let queue = store.queue();

        // 1. Throughput: 200,000 events as fast as the queue takes them.
        let n: u64 = 200_000;
        let t = Instant::now();
        for i in 0..n {
            if queue.send(event(i)).await.is_err() {
                panic!("writer stopped");
            }
        }
        assert!(store.wait_stored(n, Duration::from_secs(120)).await, "writer too slow");
        let secs = t.elapsed().as_secs_f64();
        println!(
            "events: stored {n} in {secs:.2} s = {:.0} events/s (batched, one writer)",
            n as f64 / secs
        );

        // 2. A steady 10,000 events/s for 5 s, offered the way the guard offers them
        //    (try_send, never waiting): none may be dropped.
        let before = store.stored();
        let mut dropped = 0u64;
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        let mut sent = 0u64;
        let t = Instant::now();
        for _ in 0..500 {
            tick.tick().await;
            for _ in 0..100 {
                if queue.try_send(event(n + sent)).is_err() {
                    dropped += 1;
                }
                sent += 1;
            }
        }
        let ok = store
            .wait_stored(before + sent - dropped, Duration::from_secs(30))
            .await;
        println!(
            "events: steady 10,000/s for {:.1} s: offered {sent}, dropped {dropped}, all stored: {ok}",
            t.elapsed().as_secs_f64()
        );
    });
}
