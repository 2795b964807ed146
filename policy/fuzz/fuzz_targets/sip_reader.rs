//! Arbitrary captures through the reader the live tap and `sipwarden replay` share: raw
//! frames of every link type, TCP segments built around fuzzer bytes (ports, sequence
//! numbers, flags, gaps and retransmissions chosen by the fuzzer, in both directions) so
//! that flow tracking, framing and eviction are reached, and frames the capture cut short.
//! Invariant 5: no panic, whatever the bytes; the flow table and its buffers stay bounded.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use policy::guard::packet::Link;
use policy::guard::packet::build::{ip_packet, sll};
use policy::guard::reader::{
    CaptureCounters, MAX_FLOWS, MAX_TCP_MESSAGE, SipPorts, SipReader,
};
use policy::guard::{Observation, Timestamp};

fuzz_target!(|data: &[u8]| {
    let Some((&control, mut rest)) = data.split_first() else {
        return;
    };
    let counters = Arc::new(CaptureCounters::default());
    let mut reader = SipReader::new(SipPorts::with_defaults(5060, 5070), counters.clone());
    let asterisk = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 5));
    if control & 1 == 1 {
        reader.set_local_addresses(vec![asterisk]);
    }
    let mut time = 1_750_000_000_000u64;
    let mut seen = 0usize;
    // Each record: kind, peer, sequence offset, length (two bytes), then the body.
    while rest.len() >= 5 {
        let (head, tail) = rest.split_at(5);
        let len = usize::from(u16::from_le_bytes([head[3], head[4]])) % 2048;
        let (body, tail) = tail.split_at(len.min(tail.len()));
        rest = tail;
        time += u64::from(head[1]) * 37;
        let now = Timestamp(time);
        let mut sink = |_: &Observation<'_>| seen += 1;
        match head[0] % 5 {
            0 => {
                let link = Link::ALL[usize::from(head[1]) % Link::ALL.len()];
                reader.frame(link, now, body, &mut sink);
            }
            1..=3 => {
                let peer = SocketAddr::new(
                    IpAddr::V4(Ipv4Addr::new(203, 0, 113, head[1] % 4)),
                    40_000 + u16::from(head[1] >> 6),
                );
                let server = SocketAddr::new(asterisk, if head[0] & 8 == 0 { 5060 } else { 5070 });
                let (src, dst) = if head[0] & 16 == 0 {
                    (peer, server)
                } else {
                    (server, peer)
                };
                // Sequence numbers near the start, so in-order, gapped and repeated data all
                // happen; flags from the kind byte (SYN, FIN, plain data).
                let seq = u32::from(head[2]) * 64;
                let flags = match head[0] >> 5 {
                    0 => 0x02,
                    1 => 0x11,
                    _ => 0x18,
                };
                let frame = sll(&ip_packet(src, dst, Some((seq, flags)), body));
                reader.frame(Link::LinuxSll, now, &frame, &mut sink);
            }
            _ => reader.truncated_frame(Link::ALL[usize::from(head[1]) % Link::ALL.len()], body),
        }
        assert!(counters.snapshot().flows <= MAX_FLOWS as u64);
        assert!(reader.buffered_bytes() <= MAX_FLOWS * 2 * MAX_TCP_MESSAGE);
    }
    let _ = seen;
});
