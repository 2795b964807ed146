//! The REST API under load: `GET /api/v1/endpoints` (one page of 100) with 10,000 endpoints
//! stored, from 50 concurrent clients, against the real router over TCP on port 0 with a real
//! SQLite file. Prints throughput and p50/p99/max latency. The rate limits are raised for the
//! run (they would otherwise be what is measured).
//!
//! `cargo bench -p backend --bench api_load`

use std::sync::Arc;
use std::time::{Duration, Instant};

use backend::config::Config;
use backend::db::entities::{api_token, endpoint};
use policy::asterisk::{Endpoint, NewEndpoint};
use sea_orm::{ActiveValue::Set, EntityTrait};

const ENDPOINTS: u32 = 10_000;
const CLIENTS: usize = 50;
const REQUESTS_PER_CLIENT: usize = 200;
const TOKEN: &str = "swt_benchmark-token-0123456789abcdefghijklmnopqrstuv";

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
        listen: "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")),
        api_rate_per_source: 1_000_000,
        api_rate_per_token: 1_000_000,
        guard_mode: backend::config::GuardMode::Off,
        ..Config::default()
    };
    let state = backend::server::build_state(config)
        .await
        .unwrap_or_else(|e| panic!("state: {e}"));

    // 10,000 endpoints, provisioned by the checked constructors as the API would.
    let (policy, _) = backend::services::pbx::load_policy(&state.db)
        .await
        .unwrap_or_else(|e| panic!("policy: {e}"));
    let mut rng = rand::rngs::OsRng;
    let now = chrono::Utc::now();
    let t = Instant::now();
    let mut rows = Vec::new();
    for n in 0..ENDPOINTS {
        let new = NewEndpoint {
            extension: format!("{}", 100_000 + n),
            display_name: format!("Phone {n}"),
            ..NewEndpoint::default()
        };
        let e = Endpoint::provision(new, &policy, &mut rng)
            .unwrap_or_else(|e| panic!("endpoint: {e}"))
            .endpoint;
        rows.push(endpoint::ActiveModel {
            id: Set(e.id().to_string()),
            extension: Set(e.extension().to_string()),
            display_name: Set(e.display_name().to_string()),
            body: Set(serde_json::to_string(&e).unwrap_or_else(|e| panic!("json: {e}"))),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        });
        if rows.len() == 500 {
            endpoint::Entity::insert_many(std::mem::take(&mut rows))
                .exec(&state.db)
                .await
                .unwrap_or_else(|e| panic!("insert: {e}"));
        }
    }
    println!(
        "api_load: {ENDPOINTS} endpoints stored in {:?}",
        t.elapsed()
    );
    api_token::Entity::insert(api_token::ActiveModel {
        name: Set("bench".to_owned()),
        token_hash: Set(backend::auth::session::token_hash(TOKEN)),
        prefix: Set("swt_bench".to_owned()),
        scope: Set("read".to_owned()),
        created_by: Set("bench".to_owned()),
        created_at: Set(now),
        expires_at: Set(now + chrono::Duration::days(1)),
        last_used_at: Set(None),
        revoked_at: Set(None),
        ..Default::default()
    })
    .exec(&state.db)
    .await
    .unwrap_or_else(|e| panic!("token: {e}"));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("addr: {e}"));
    let app = backend::http::router(state);
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await;
    });
    // SIPWARDEN_BENCH_PATH measures another route the same way (e.g. `/api/v1/endpoints?limit=10`).
    let path = std::env::var("SIPWARDEN_BENCH_PATH")
        .unwrap_or_else(|_| "/api/v1/endpoints?limit=100".to_owned());
    let url = Arc::new(format!("http://{addr}{path}"));

    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut times = Vec::with_capacity(REQUESTS_PER_CLIENT);
            for _ in 0..REQUESTS_PER_CLIENT {
                let t = Instant::now();
                let res = client
                    .get(url.as_str())
                    .bearer_auth(TOKEN)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("request: {e}"));
                assert!(res.status().is_success(), "status {}", res.status());
                let _ = res.bytes().await;
                times.push(t.elapsed());
            }
            times
        }));
    }
    let mut all: Vec<Duration> = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap_or_else(|e| panic!("client: {e}")));
    }
    let wall = started.elapsed();
    all.sort();
    let pick = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    println!(
        "api_load: GET {path} with {ENDPOINTS} endpoints, {CLIENTS} clients: {} requests in {:.2} s = {:.0}/s; p50 {:?}, p99 {:?}, max {:?}",
        all.len(),
        wall.as_secs_f64(),
        all.len() as f64 / wall.as_secs_f64(),
        pick(0.50),
        pick(0.99),
        all.last().copied().unwrap_or_default()
    );
}
