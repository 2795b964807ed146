//! Validate + render benchmark: N stored endpoints (as the database hands them over, in JSON)
//! are checked by their constructors, assembled into a `PbxModel` and rendered to every file
//! of the Asterisk 22 target. The goal is under 100 ms for 10,000 endpoints.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use policy::asterisk::{
    CallingClass, Endpoint, GlobalPolicy, NewDidRoute, NewEndpoint, NewTrunk, PbxModel,
    PolicySettings, Revision, Target, Trunk, render,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Deserialize;
use std::hint::black_box;

struct Stored {
    policy: GlobalPolicy,
    endpoints: Vec<serde_json::Value>,
    trunk: NewTrunk,
}

fn stored(count: usize) -> Stored {
    let mut rng = StdRng::seed_from_u64(42);
    let policy = GlobalPolicy::new(PolicySettings::default(), &mut rng).expect("default policy");
    let endpoints = (0..count)
        .map(|n| {
            let new = NewEndpoint {
                extension: format!("{}", 100_000 + n),
                display_name: format!("Phone {n}"),
                permit: vec![format!("10.{}.{}.0/24", (n / 256) % 256, n % 256)],
                calling_class: CallingClass::ALL[n % 3],
                ..NewEndpoint::default()
            };
            let p = Endpoint::provision(new, &policy, &mut rng).expect("valid endpoint");
            serde_json::to_value(&p.endpoint).expect("serialisable")
        })
        .collect();
    let trunk = NewTrunk {
        name: "itsp".into(),
        peer: "192.0.2.10".into(),
        dids: (0..count.min(1000))
            .map(|n| NewDidRoute {
                did: format!("49301{:05}", n),
                extension: format!("{}", 100_000 + n),
            })
            .collect(),
        outbound: true,
        ..NewTrunk::default()
    };
    Stored {
        policy,
        endpoints,
        trunk,
    }
}

fn validate_and_render(s: &Stored) -> usize {
    let endpoints: Vec<Endpoint> = s
        .endpoints
        .iter()
        .map(|v| Endpoint::deserialize(v).expect("stored endpoint is valid"))
        .collect();
    let trunk = Trunk::new(s.trunk.clone()).expect("valid trunk");
    let model =
        PbxModel::new(s.policy.clone(), endpoints, vec![trunk], vec![]).expect("consistent");
    let bundle = render(&model, Target::Asterisk22Pjsip, Revision::new(1));
    bundle.files.iter().map(|f| f.contents.len()).sum()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("validate_and_render_pjsip");
    group.sample_size(10);
    for count in [1_000usize, 5_000, 10_000] {
        let s = stored(count);
        group.throughput(Throughput::Elements(count as u64));
        group.bench_with_input(BenchmarkId::from_parameter(count), &s, |b, s| {
            b.iter(|| black_box(validate_and_render(black_box(s))));
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
