//! Invariant 5 of the design: the guard never panics, and keeps bounded memory under a flood
//! from millions of source addresses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use policy::guard::sip::{CSeq, Method};
use policy::guard::{
    AccountRules, DialPattern, Direction, Engine, GuardModel, GuardPolicy, Observation,
    SecurityKind, Subject, Timestamp, Transport, TrunkRules,
};
use proptest::prelude::*;

#[test]
fn a_flood_from_a_million_sources_keeps_tracked_state_within_capacity() {
    let mut policy = GuardPolicy::default();
    policy.limits.max_sources = 65_536;
    policy.limits.max_accounts = 4_096;
    let bound = Engine::capacity_bytes(&policy.limits);
    let mut engine = Engine::new(policy).unwrap();
    for i in 0..1_000_000u32 {
        let source = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)), 5060);
        let now = Timestamp(1_750_000_000_000 + u64::from(i));
        let user = i.to_le_bytes();
        // Over TCP, so every failure is proven and reaches every table.
        let mut obs = Observation::new(
            now,
            source,
            Transport::Tcp,
            Direction::ToAsterisk,
            Subject::Security(SecurityKind::ChallengeResponseFailed),
        );
        // Every address also names a new account, so the account table floods too.
        obs.account = Some(&user);
        let _ = engine.observe(&obs, now);
        if i % 100_000 == 0 {
            let s = engine.stats();
            assert!(s.tracked_sources <= 65_536);
            assert!(s.tracked_accounts <= 4_096);
        }
    }
    let s = engine.stats();
    assert_eq!(s.messages, 1_000_000);
    assert_eq!(s.tracked_sources, 65_536);
    assert_eq!(s.source_evictions, 1_000_000 - 65_536);
    assert_eq!(s.tracked_accounts, 4_096);
    assert!(s.account_evictions > 0);
    // The tables are allocated up to capacity and no further.
    assert!(
        s.state_bytes <= bound,
        "{} bytes of state, bound {bound}",
        s.state_bytes
    );
}

#[test]
fn the_default_limits_hold_a_million_source_flood_under_256_mib() {
    let mut limits = GuardPolicy::default().limits;
    assert!(
        Engine::capacity_bytes(&limits) < 256 << 20,
        "{}",
        Engine::capacity_bytes(&limits)
    );
    // Even with a million sources tracked at once.
    limits.max_sources = 1_000_000;
    assert!(
        Engine::capacity_bytes(&limits) < 256 << 20,
        "{}",
        Engine::capacity_bytes(&limits)
    );
}

#[test]
fn a_slow_guesser_keeps_its_count_through_a_spoofed_flood_ten_times_the_capacity() {
    let mut policy = GuardPolicy::default();
    policy.limits.max_sources = 1_024;
    let mut engine = Engine::new(policy).unwrap();
    let attacker = SocketAddr::from(([203, 0, 113, 9], 5060));
    let failure = |source, now| {
        let mut o = Observation::new(
            now,
            source,
            Transport::Udp,
            Direction::ToAsterisk,
            Subject::Security(SecurityKind::ChallengeResponseFailed),
        );
        o.account = Some(b"1001");
        o
    };
    let mut banned = false;
    for i in 0..100_000u32 {
        let now = Timestamp(1_750_000_000_000 + u64::from(i) * 10);
        let spoofed = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)), 5060);
        let _ = engine.observe(&Observation::malformed(now, spoofed, Transport::Udp), now);
        // The attacker keeps guessing, slowly, in the middle of the flood.
        if i % 10_000 == 0 {
            banned |= !engine.observe(&failure(attacker, now), now).bans.is_empty();
        }
    }
    assert!(
        banned,
        "the guessing attacker's count was lost in the flood"
    );
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        (0u8..6).prop_map(|h| IpAddr::V4(Ipv4Addr::new(192, 0, 2, h))),
        any::<u128>().prop_map(|b| IpAddr::V6(Ipv6Addr::from(b))),
        (0u8..6).prop_map(|h| IpAddr::V6(Ipv4Addr::new(192, 0, 2, h).to_ipv6_mapped())),
    ]
}

fn name() -> impl Strategy<Value = Option<Vec<u8>>> {
    proptest::option::of(prop_oneof![
        Just(b"1001".to_vec()),
        Just(b"00972592345678".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..40),
    ])
}

const KINDS: [SecurityKind; 15] = [
    SecurityKind::FailedACL,
    SecurityKind::InvalidAccountID,
    SecurityKind::SessionLimit,
    SecurityKind::MemoryLimit,
    SecurityKind::LoadAverageLimit,
    SecurityKind::RequestNotSupported,
    SecurityKind::RequestNotAllowed,
    SecurityKind::AuthMethodNotAllowed,
    SecurityKind::RequestBadFormat,
    SecurityKind::SuccessfulAuth,
    SecurityKind::UnexpectedAddress,
    SecurityKind::ChallengeResponseFailed,
    SecurityKind::InvalidPassword,
    SecurityKind::ChallengeSent,
    SecurityKind::InvalidTransport,
];

#[derive(Debug, Clone)]
struct ArbitraryObservation {
    ip: IpAddr,
    port: u16,
    subject: u8,
    method: u8,
    status: u16,
    kind: usize,
    outbound: bool,
    names: [Option<Vec<u8>>; 5],
    call_id: Option<Vec<u8>>,
    cseq: u32,
    auth: bool,
    stale: bool,
    time: u64,
}

fn arbitrary_observation() -> impl Strategy<Value = ArbitraryObservation> {
    (
        (
            ip(),
            any::<u16>(),
            0u8..4,
            0u8..16,
            0u16..1000,
            0usize..15,
            any::<bool>(),
        ),
        (
            [name(), name(), name(), name(), name()],
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8)),
            0u32..4,
            any::<bool>(),
            any::<bool>(),
            // Times jump around, including backwards and across days.
            prop_oneof![0u64..10_000, 0u64..400_000_000, Just(u64::MAX / 2)],
        ),
    )
        .prop_map(
            |(
                (ip, port, subject, method, status, kind, outbound),
                (names, call_id, cseq, auth, stale, time),
            )| {
                ArbitraryObservation {
                    ip,
                    port,
                    subject,
                    method,
                    status,
                    kind,
                    outbound,
                    names,
                    call_id,
                    cseq,
                    auth,
                    stale,
                    time,
                }
            },
        )
}

const METHODS: [&[u8]; 16] = [
    b"REGISTER",
    b"INVITE",
    b"OPTIONS",
    b"ACK",
    b"BYE",
    b"CANCEL",
    b"SUBSCRIBE",
    b"NOTIFY",
    b"PUBLISH",
    b"MESSAGE",
    b"REFER",
    b"INFO",
    b"UPDATE",
    b"PRACK",
    b"FOO",
    b"",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn the_engine_never_panics_on_arbitrary_observations(
        observations in proptest::collection::vec(arbitrary_observation(), 1..60),
        tiny in any::<bool>(),
    ) {
        let mut policy = GuardPolicy::default();
        policy.guessing.max_failures = 2;
        policy.distributed.max_failures = 3;
        policy.distributed.min_sources = 2;
        if tiny {
            policy.limits.max_sources = 2;
            policy.limits.max_accounts = 1;
            policy.limits.max_offenders = 1;
            policy.limits.max_known = 1;
            policy.limits.max_ports = 1;
            policy.limits.pending_slots = 1;
        }
        let mut engine = Engine::new(policy).unwrap();
        // Every kind of standing: trusted, a trunk, the gateway; names the generator also
        // produces are real accounts.
        let accounts = ["1001", "a", ""]
            .iter()
            .map(|n| AccountRules {
                name: (*n).to_owned(),
                extension: None,
                permitted: vec!["192.0.2.0/28".parse().unwrap()],
                denied: vec![],
                may_dial: vec![],
            })
            .collect();
        let external = vec![DialPattern::parse("_0X.").unwrap()];
        engine.set_model(
            GuardModel::new(accounts, external)
                .with_trusted(vec!["192.0.2.3/32".parse().unwrap()])
                .with_infrastructure(vec!["192.0.2.4/32".parse().unwrap()])
                .with_trunks(vec![TrunkRules {
                    name: "t".into(),
                    networks: vec!["192.0.2.5/32".parse().unwrap()],
                    dids: vec!["1".into()],
                }]),
        );
        for o in &observations {
            let method = Method::parse(METHODS[usize::from(o.method)]);
            let subject = match o.subject {
                0 => Subject::Request(method),
                1 => Subject::Response(o.status),
                2 => Subject::Security(KINDS[o.kind]),
                _ => Subject::Malformed,
            };
            let now = Timestamp(o.time);
            let direction = if o.outbound { Direction::FromAsterisk } else { Direction::ToAsterisk };
            // Some over TCP, where every observation is proven evidence.
            let transport = if o.port % 3 == 0 { Transport::Tcp } else { Transport::Udp };
            let mut obs = Observation::new(now, SocketAddr::new(o.ip, o.port), transport, direction, subject);
            obs.from_user = o.names[0].as_deref();
            obs.to_user = o.names[1].as_deref();
            obs.request_user = o.names[2].as_deref();
            obs.auth_user = o.names[3].as_deref();
            obs.account = o.names[4].as_deref();
            obs.user_agent = o.names[0].as_deref();
            obs.call_id = o.call_id.as_deref();
            obs.cseq = Some(CSeq { number: o.cseq, method });
            obs.auth_present = o.auth;
            obs.stale_nonce = o.stale;
            obs.nonce = o.names[1].as_deref();
            let v = engine.observe(&obs, now);
            for ban in &v.bans {
                prop_assert!(ban.source != "192.0.2.3".parse::<IpAddr>().unwrap(), "trusted address banned");
                prop_assert!(ban.source != "192.0.2.5".parse::<IpAddr>().unwrap(), "trunk banned");
                prop_assert!(
                    ban.source != "192.0.2.4".parse::<IpAddr>().unwrap() || ban.port.is_some(),
                    "gateway banned whole"
                );
                prop_assert!(ban.proven || ban.port.is_none(), "an unproven port ban");
                prop_assert!(ban.duration.as_secs() >= 1);
            }
        }
        let s = engine.stats();
        if tiny {
            prop_assert!(s.tracked_sources <= 2 && s.tracked_accounts <= 1 && s.tracked_offenders <= 1);
        }
        let _ = engine.export_offences();
    }
}
