//! Arbitrary bytes through everything the guard reads from the network: the capture's frame
//! decoder (every link type), the UDP extractor, the TCP framer (cut at fuzzer-chosen points),
//! the AMI event parser, and the engine on whatever came out. Invariant 5: no panic, whatever
//! the bytes.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use libfuzzer_sys::fuzz_target;
use policy::guard::packet::{Link, decode};
use policy::guard::stream::{Frame, StreamFramer};
use policy::guard::{
    Direction, Engine, GuardPolicy, Observation, Timestamp, Transport, parse_message,
    parse_security_event,
};

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let mut policy = GuardPolicy::default();
    // Tiny tables and thresholds so eviction and every detector are reached quickly.
    policy.guessing.max_failures = 1 + u32::from(control & 3);
    policy.limits.max_sources = 4;
    policy.limits.max_accounts = 2;
    policy.limits.max_offenders = 2;
    policy.limits.pending_slots = 2;
    let Ok(mut engine) = Engine::new(policy) else {
        return;
    };
    let source = |i: u8| SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, i % 8)), 5060);
    let mut observe = |bytes: &[u8], i: u8, direction: Direction, transport: Transport| {
        let now = Timestamp(1_750_000_000_000 + u64::from(i) * 997);
        let obs = match parse_message(bytes) {
            Ok(m) => Observation::from_sip(&m, now, source(i), transport, direction),
            Err(_) => Observation::malformed(now, source(i), transport),
        };
        let _ = engine.observe(&obs, now);
    };

    // A captured frame of every link type the tap reads; what decodes goes on as a datagram.
    for link in Link::ALL {
        if let Ok(segment) = decode(link, rest) {
            observe(segment.payload, 7, Direction::ToAsterisk, Transport::Udp);
        }
    }

    // UDP: the whole input is one datagram, in both directions.
    observe(rest, 0, Direction::ToAsterisk, Transport::Udp);
    observe(rest, 1, Direction::FromAsterisk, Transport::Udp);

    // TCP: the same bytes as a stream, pushed in chunks of a size the control byte picks.
    let chunk = usize::from(control >> 2).max(1);
    let mut framer = StreamFramer::new(512);
    let mut i = 2u8;
    for piece in rest.chunks(chunk) {
        let _ = framer.push(piece);
        while let Some(frame) = framer.next_frame() {
            if let Ok(Frame::Message(m)) = frame {
                let m = m.to_vec();
                i = i.wrapping_add(1);
                observe(&m, i, Direction::ToAsterisk, Transport::Tcp);
            }
        }
    }

    // AMI: the same bytes as a security event block.
    if let Ok(event) = parse_security_event(rest) {
        let now = Timestamp(1_750_000_000_000);
        if let Some(obs) = event.observation(now) {
            let _ = engine.observe(&obs, now);
        }
    }
    let _ = engine.export_offences();
});
