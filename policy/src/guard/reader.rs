//! Captured frames into observations: decoding ([`super::packet`]), TCP framing per flow
//! ([`StreamFramer`], a bounded number of flows evicted by age), SIP extraction and who the
//! remote party is. Requests are observed from their sender; Asterisk's answers (the 401/403
//! that say a password was wrong) from their receiver, the remote party, as [`Observation`]
//! expects. Packet timestamps are the engine's time, so a capture file replays exactly as it
//! happened: the live tap and `sipwarden replay` share this reader. Pure (no I/O), so it is
//! fuzzed and bounded like the rest of the guard.
//!
//! Which side is Asterisk: a packet to one of this host's addresses goes to Asterisk, one
//! from them comes from it; where both or neither end is local (loopback, a mirrored port),
//! the SIP port decides, and between two SIP ports the message kind (requests go to
//! Asterisk, responses come from it).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::Serialize;

use super::packet::{self, Link, Proto, Segment, Skip};
use super::{
    Direction, Observation, StreamFramer, Timestamp, Transport, is_keepalive, parse_message,
};

/// Which ports carry SIP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipPorts {
    /// UDP ports.
    pub udp: Vec<u16>,
    /// TCP ports (cleartext; TLS cannot be read on the wire, AMI covers it).
    pub tcp: Vec<u16>,
}

impl SipPorts {
    /// 5060 over UDP and TCP, plus the configured ones.
    #[must_use]
    pub fn with_defaults(udp: u16, tcp: u16) -> Self {
        let mut ports = Self {
            udp: vec![5060, udp],
            tcp: vec![5060, tcp],
        };
        for list in [&mut ports.udp, &mut ports.tcp] {
            list.sort_unstable();
            list.dedup();
        }
        ports
    }

    /// The kernel filter: only these ports (either end), IPv4 and IPv6.
    #[must_use]
    pub fn bpf_filter(&self) -> String {
        let list = |ports: &[u16]| {
            ports
                .iter()
                .map(|p| format!("port {p}"))
                .collect::<Vec<_>>()
                .join(" or ")
        };
        match (self.udp.is_empty(), self.tcp.is_empty()) {
            (false, false) => format!(
                "(udp and ({})) or (tcp and ({}))",
                list(&self.udp),
                list(&self.tcp)
            ),
            (false, true) => format!("udp and ({})", list(&self.udp)),
            (true, false) => format!("tcp and ({})", list(&self.tcp)),
            // Nothing to watch: a filter that matches nothing rather than everything.
            (true, true) => "udp and port 0 and tcp".to_owned(),
        }
    }
}

/// What the capture path has seen, for `guard/status` and the benchmark. Updated with
/// relaxed atomics from the capture thread.
#[derive(Debug, Default)]
pub struct CaptureCounters {
    packets: AtomicU64,
    messages: AtomicU64,
    keepalives: AtomicU64,
    parse_failures: AtomicU64,
    fragments: AtomicU64,
    undecodable: AtomicU64,
    duplicates: AtomicU64,
    truncated: AtomicU64,
    flows: AtomicU64,
    flow_evictions: AtomicU64,
    kernel_received: AtomicU64,
    kernel_dropped: AtomicU64,
    interface_dropped: AtomicU64,
}

/// A snapshot of [`CaptureCounters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CaptureStats {
    /// Frames read from the capture.
    pub packets: u64,
    /// SIP messages extracted and judged.
    pub messages: u64,
    /// CRLF keep-alives.
    pub keepalives: u64,
    /// Payloads (or TCP frames) that were no readable SIP.
    pub parse_failures: u64,
    /// IP fragments skipped (not reassembled; Asterisk's answer to the datagram is still
    /// seen, and so are its AMI events).
    pub fragments: u64,
    /// Frames that were not IP/UDP/TCP.
    pub undecodable: u64,
    /// The same packet seen twice within a moment (a bridge and its port on `any`).
    pub duplicates: u64,
    /// Frames longer than the snap length (cut by the capture, not read).
    pub truncated: u64,
    /// TCP flows followed now.
    pub flows: u64,
    /// TCP flows dropped to stay within the bound.
    pub flow_evictions: u64,
    /// Packets the kernel passed the filter (libpcap's `ps_recv`).
    pub kernel_received: u64,
    /// Packets dropped because the capture buffer was full (`ps_drop`).
    pub kernel_dropped: u64,
    /// Packets dropped by the interface (`ps_ifdrop`).
    pub interface_dropped: u64,
}

impl CaptureCounters {
    /// The current values.
    pub fn snapshot(&self) -> CaptureStats {
        CaptureStats {
            packets: self.packets.load(Relaxed),
            messages: self.messages.load(Relaxed),
            keepalives: self.keepalives.load(Relaxed),
            parse_failures: self.parse_failures.load(Relaxed),
            fragments: self.fragments.load(Relaxed),
            undecodable: self.undecodable.load(Relaxed),
            duplicates: self.duplicates.load(Relaxed),
            truncated: self.truncated.load(Relaxed),
            flows: self.flows.load(Relaxed),
            flow_evictions: self.flow_evictions.load(Relaxed),
            kernel_received: self.kernel_received.load(Relaxed),
            kernel_dropped: self.kernel_dropped.load(Relaxed),
            interface_dropped: self.interface_dropped.load(Relaxed),
        }
    }

    /// The capture's own counts (libpcap's `ps_recv`, `ps_drop`, `ps_ifdrop`), which only
    /// the tap knows.
    pub fn set_kernel_stats(&self, received: u64, dropped: u64, interface_dropped: u64) {
        self.kernel_received.store(received, Relaxed);
        self.kernel_dropped.store(dropped, Relaxed);
        self.interface_dropped.store(interface_dropped, Relaxed);
    }

    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }
}

/// TCP flows (one direction of a connection each) followed at once; more are evicted oldest
/// first. With [`MAX_TCP_MESSAGE`] this bounds the framers' buffers to 2,048 × 64 KiB =
/// 128 MiB in the worst case (every flow holding two unfinished maximal messages); in
/// practice a flow holds at most one partial message, usually nothing.
pub const MAX_FLOWS: usize = 2048;
/// The longest SIP message framed on TCP: pjsip's own limit in Asterisk builds is 32 KiB.
pub const MAX_TCP_MESSAGE: usize = 32 * 1024;
/// A flow silent this long is forgotten (SIP over TCP keeps alive far more often).
const FLOW_IDLE_MS: u64 = 300_000;
/// An identical packet within this many milliseconds is the same packet seen twice.
const DUPLICATE_MS: u64 = 5;

/// One direction of a TCP connection.
#[derive(Debug)]
struct Flow {
    framer: StreamFramer,
    /// Sequence number of the next byte expected.
    next_seq: Option<u32>,
    /// Whether framing is known to start at a message boundary. A flow first met mid-stream,
    /// or after a gap (a dropped segment), is read without complaint until a frame parses:
    /// the capture's loss must not be blamed on the peer as malformed traffic.
    synced: bool,
    last_seen: u64,
}

/// Where a message went, seen from Asterisk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Orientation {
    ToAsterisk,
    FromAsterisk,
    /// Both ends look alike (two SIP ports): requests go to Asterisk.
    ByKind,
}

/// Turns captured frames into observations: decoding, TCP framing, SIP extraction and who
/// is the remote party. Used by the live tap and by `sipwarden replay`.
#[derive(Debug)]
pub struct SipReader {
    ports: SipPorts,
    local: Vec<IpAddr>,
    flows: HashMap<(SocketAddr, SocketAddr), Flow>,
    recent: [(u64, u64); 16],
    recent_next: usize,
    last_sweep: u64,
    counters: Arc<CaptureCounters>,
}

impl SipReader {
    /// A reader for `ports`, counting into `counters`.
    #[must_use]
    pub fn new(ports: SipPorts, counters: Arc<CaptureCounters>) -> Self {
        Self {
            ports,
            local: Vec::new(),
            flows: HashMap::new(),
            recent: [(0, 0); 16],
            recent_next: 0,
            last_sweep: 0,
            counters,
        }
    }

    /// This host's addresses (Asterisk's side). Empty: decide by ports alone.
    pub fn set_local_addresses(&mut self, mut local: Vec<IpAddr>) {
        local.iter_mut().for_each(|ip| *ip = ip.to_canonical());
        local.sort_unstable();
        local.dedup();
        self.local = local;
    }

    /// Bytes the TCP flows hold in unfinished messages now (bounded by [`MAX_FLOWS`] flows
    /// of at most two [`MAX_TCP_MESSAGE`]s each).
    #[must_use]
    pub fn buffered_bytes(&self) -> usize {
        self.flows.values().map(|f| f.framer.buffered()).sum()
    }

    /// A frame the capture cut short (longer than the snap length): its message cannot be
    /// read, and is not the sender's fault. A TCP flow loses its place (read on from the
    /// next message); a datagram is only counted.
    pub fn truncated_frame(&mut self, link: Link, frame: &[u8]) {
        CaptureCounters::bump(&self.counters.packets);
        CaptureCounters::bump(&self.counters.truncated);
        if let Ok(seg) = packet::decode(link, frame)
            && let Proto::Tcp { .. } = seg.proto
            && let Some(flow) = self.flows.get_mut(&(seg.src, seg.dst))
        {
            flow.framer.reset();
            flow.synced = false;
            flow.next_seq = None;
        }
    }

    /// Reads one captured frame and hands each SIP message in it to `sink`.
    pub fn frame(
        &mut self,
        link: Link,
        time: Timestamp,
        frame: &[u8],
        sink: &mut dyn FnMut(&Observation<'_>),
    ) {
        CaptureCounters::bump(&self.counters.packets);
        let seg = match packet::decode(link, frame) {
            Ok(seg) => seg,
            Err(Skip::Fragment) => return CaptureCounters::bump(&self.counters.fragments),
            Err(Skip::Undecodable) => return CaptureCounters::bump(&self.counters.undecodable),
        };
        if self.is_duplicate(&seg, time.0) {
            return CaptureCounters::bump(&self.counters.duplicates);
        }
        match seg.proto {
            Proto::Udp => self.datagram(&seg, time, sink),
            Proto::Tcp { seq, syn, fin } => self.segment(&seg, seq, syn, fin, time, sink),
        }
        if time.0.saturating_sub(self.last_sweep) > 10_000 {
            self.last_sweep = time.0;
            self.flows
                .retain(|_, f| time.0.saturating_sub(f.last_seen) <= FLOW_IDLE_MS);
            self.counters.flows.store(self.flows.len() as u64, Relaxed);
        }
    }

    fn is_duplicate(&mut self, seg: &Segment<'_>, now_ms: u64) -> bool {
        let mut h = std::hash::DefaultHasher::new();
        seg.src.hash(&mut h);
        seg.dst.hash(&mut h);
        if let Proto::Tcp { seq, .. } = seg.proto {
            seq.hash(&mut h);
        }
        seg.payload.hash(&mut h);
        let hash = h.finish() | 1;
        if self
            .recent
            .iter()
            .any(|&(x, at)| x == hash && now_ms.saturating_sub(at) <= DUPLICATE_MS)
        {
            return true;
        }
        self.recent[self.recent_next] = (hash, now_ms);
        self.recent_next = (self.recent_next + 1) % self.recent.len();
        false
    }

    fn orientation(&self, seg: &Segment<'_>, ports: &[u16]) -> Orientation {
        let src_local = self.local.contains(&seg.src.ip().to_canonical());
        let dst_local = self.local.contains(&seg.dst.ip().to_canonical());
        match (src_local, dst_local) {
            (false, true) => Orientation::ToAsterisk,
            (true, false) => Orientation::FromAsterisk,
            _ => match (
                ports.contains(&seg.dst.port()),
                ports.contains(&seg.src.port()),
            ) {
                (true, false) => Orientation::ToAsterisk,
                (false, true) => Orientation::FromAsterisk,
                _ => Orientation::ByKind,
            },
        }
    }

    fn datagram(
        &mut self,
        seg: &Segment<'_>,
        time: Timestamp,
        sink: &mut dyn FnMut(&Observation<'_>),
    ) {
        if is_keepalive(seg.payload) {
            return CaptureCounters::bump(&self.counters.keepalives);
        }
        let orientation = self.orientation(seg, &self.ports.udp);
        self.message(
            seg,
            orientation,
            Transport::Udp,
            seg.payload,
            true,
            time,
            sink,
        );
    }

    fn segment(
        &mut self,
        seg: &Segment<'_>,
        seq: u32,
        syn: bool,
        fin: bool,
        time: Timestamp,
        sink: &mut dyn FnMut(&Observation<'_>),
    ) {
        let key = (seg.src, seg.dst);
        let mut seq = seq;
        if syn {
            // A new connection: framing starts with its first byte, which follows the SYN
            // (data on a SYN, TCP Fast Open, is numbered after it too).
            self.flows.remove(&key);
            seq = seq.wrapping_add(1);
            self.insert_flow(key, seq, true, time.0);
        }
        if seg.payload.is_empty() {
            if fin {
                self.flows.remove(&key);
            }
            return;
        }
        if !self.flows.contains_key(&key) {
            self.insert_flow(key, seq, false, time.0);
        }
        let orientation = self.orientation(seg, &self.ports.tcp);
        let Some(flow) = self.flows.get_mut(&key) else {
            return;
        };
        flow.last_seen = time.0;
        let expected = flow.next_seq.unwrap_or(seq);
        // Signed distance in sequence space (which wraps at 2^32).
        let ahead = seq.wrapping_sub(expected) as i32;
        let data = if ahead > 0 {
            // A gap: bytes were lost and the message being framed is broken.
            flow.framer.reset();
            flow.synced = false;
            seg.payload
        } else {
            let already = ahead.unsigned_abs() as usize;
            if already >= seg.payload.len() {
                // A retransmission of bytes already read.
                return;
            }
            &seg.payload[already..]
        };
        flow.next_seq =
            Some(seq.wrapping_add(u32::try_from(seg.payload.len()).unwrap_or(u32::MAX)));
        if flow.framer.push(data).is_err() {
            flow.synced = false;
            CaptureCounters::bump(&self.counters.parse_failures);
        }
        // Frames are copied out so the flow table is free while they are judged; this is the
        // TCP path only, and SIP messages are small. Each carries whether the flow was in
        // step when it was cut (only then is an unreadable frame the peer's doing).
        let mut frames: Vec<(Vec<u8>, bool)> = Vec::new();
        while let Some(frame) = flow.framer.next_frame() {
            match frame {
                Ok(super::Frame::Message(m)) => {
                    let blame = flow.synced;
                    if parse_message(m).is_ok() {
                        flow.synced = true;
                    }
                    frames.push((m.to_vec(), blame));
                }
                Ok(super::Frame::KeepAlive) => {
                    CaptureCounters::bump(&self.counters.keepalives);
                }
                Err(_) => {
                    frames.push((Vec::new(), flow.synced));
                    flow.synced = false;
                }
            }
        }
        if fin {
            self.flows.remove(&key);
        }
        for (bytes, synced) in frames {
            self.message(seg, orientation, Transport::Tcp, &bytes, synced, time, sink);
        }
    }

    fn insert_flow(&mut self, key: (SocketAddr, SocketAddr), next: u32, synced: bool, now: u64) {
        if self.flows.len() >= MAX_FLOWS {
            // Evict the oldest eighth in one pass, so a stream of new flows costs amortised
            // constant work each.
            let mut ages: Vec<u64> = self.flows.values().map(|f| f.last_seen).collect();
            let cut = ages.len() / 8;
            ages.select_nth_unstable(cut);
            let limit = ages[cut];
            let before = self.flows.len();
            self.flows.retain(|_, f| f.last_seen > limit);
            let evicted = (before - self.flows.len()) as u64;
            self.counters.flow_evictions.fetch_add(evicted, Relaxed);
        }
        self.flows.insert(
            key,
            Flow {
                framer: StreamFramer::new(MAX_TCP_MESSAGE),
                next_seq: Some(next),
                synced,
                last_seen: now,
            },
        );
        self.counters.flows.store(self.flows.len() as u64, Relaxed);
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "one message with where it came from; a struct would only rename them"
    )]
    fn message(
        &self,
        seg: &Segment<'_>,
        orientation: Orientation,
        transport: Transport,
        bytes: &[u8],
        blame: bool,
        time: Timestamp,
        sink: &mut dyn FnMut(&Observation<'_>),
    ) {
        match parse_message(bytes) {
            Ok(msg) => {
                CaptureCounters::bump(&self.counters.messages);
                let to_asterisk = match orientation {
                    Orientation::ToAsterisk => true,
                    Orientation::FromAsterisk => false,
                    Orientation::ByKind => msg.method().is_some(),
                };
                let (direction, remote) = if to_asterisk {
                    (Direction::ToAsterisk, seg.src)
                } else {
                    (Direction::FromAsterisk, seg.dst)
                };
                let obs = Observation::from_sip(&msg, time, remote, transport, direction);
                sink(&obs);
            }
            Err(_) => {
                CaptureCounters::bump(&self.counters.parse_failures);
                // Only what is sent to Asterisk is the sender's doing.
                if blame && orientation != Orientation::FromAsterisk {
                    sink(&Observation::malformed(time, seg.src, transport));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::packet::build::{ip_packet, sll};
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn reader() -> SipReader {
        let mut r = SipReader::new(
            SipPorts::with_defaults(5060, 5060),
            Arc::new(CaptureCounters::default()),
        );
        r.set_local_addresses(vec!["192.0.2.5".parse().unwrap()]);
        r
    }

    /// (direction, remote, subject text) of everything read from `frames`.
    fn read(r: &mut SipReader, frames: &[Vec<u8>]) -> Vec<(Direction, SocketAddr, String)> {
        let mut out = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            r.frame(
                Link::LinuxSll,
                Timestamp(1_000_000 + i as u64 * 100),
                f,
                &mut |o| out.push((o.direction, o.source, format!("{:?}", o.subject))),
            );
        }
        out
    }

    const REGISTER: &[u8] = b"REGISTER sip:192.0.2.5 SIP/2.0\r\nVia: SIP/2.0/UDP 203.0.113.9:5060\r\n\
From: <sip:1001@x>;tag=a\r\nTo: <sip:1001@x>\r\nCall-ID: c1\r\nCSeq: 2 REGISTER\r\n\
Authorization: Digest username=\"1001\", realm=\"asterisk\", nonce=\"n\", uri=\"sip:x\", response=\"0\"\r\n\
Content-Length: 0\r\n\r\n";
    const UNAUTHORIZED: &[u8] =
        b"SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP 203.0.113.9:5060\r\n\
From: <sip:1001@x>;tag=a\r\nTo: <sip:1001@x>;tag=b\r\nCall-ID: c1\r\nCSeq: 2 REGISTER\r\n\
WWW-Authenticate: Digest realm=\"asterisk\", nonce=\"m\"\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn a_request_is_seen_from_its_sender_and_the_answer_from_its_receiver() {
        let mut r = reader();
        // Both ends on 5060, as SIPVicious and phones do: the local address decides.
        let req = sll(&ip_packet(
            sa("203.0.113.9:5060"),
            sa("192.0.2.5:5060"),
            None,
            REGISTER,
        ));
        let ans = sll(&ip_packet(
            sa("192.0.2.5:5060"),
            sa("203.0.113.9:5060"),
            None,
            UNAUTHORIZED,
        ));
        let seen = read(&mut r, &[req, ans]);
        assert_eq!(
            seen,
            vec![
                (
                    Direction::ToAsterisk,
                    sa("203.0.113.9:5060"),
                    "Request(Register)".to_owned()
                ),
                (
                    Direction::FromAsterisk,
                    sa("203.0.113.9:5060"),
                    "Response(401)".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn without_local_addresses_ports_and_then_the_message_kind_decide() {
        let mut r = reader();
        r.set_local_addresses(Vec::new());
        let req = sll(&ip_packet(
            sa("203.0.113.9:5060"),
            sa("192.0.2.5:5060"),
            None,
            REGISTER,
        ));
        let ans = sll(&ip_packet(
            sa("192.0.2.5:5060"),
            sa("203.0.113.9:40000"),
            None,
            UNAUTHORIZED,
        ));
        let seen = read(&mut r, &[req, ans]);
        assert_eq!(seen[0].0, Direction::ToAsterisk);
        assert_eq!(
            seen[1],
            (
                Direction::FromAsterisk,
                sa("203.0.113.9:40000"),
                "Response(401)".to_owned()
            )
        );
    }

    #[test]
    fn a_tcp_stream_is_framed_across_segments_and_retransmissions_are_read_once() {
        let mut r = reader();
        let (c, s) = (sa("[2001:db8::9]:40000"), sa("[2001:db8::5]:5060"));
        r.set_local_addresses(vec!["2001:db8::5".parse().unwrap()]);
        let mut two = REGISTER.to_vec();
        two.extend_from_slice(REGISTER);
        let (a, b) = two.split_at(100);
        let frames = vec![
            sll(&ip_packet(c, s, Some((999, 0x02)), b"")),
            sll(&ip_packet(c, s, Some((1000, 0x18)), a)),
            sll(&ip_packet(c, s, Some((1000, 0x18)), a)), // retransmitted
            sll(&ip_packet(c, s, Some((1100, 0x18)), b)),
        ];
        let seen = read(&mut r, &frames);
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert!(
            seen.iter()
                .all(|(d, src, _)| *d == Direction::ToAsterisk && *src == c)
        );
        assert_eq!(r.counters.snapshot().parse_failures, 0);
    }

    #[test]
    fn a_gap_in_a_tcp_stream_is_not_blamed_on_the_peer() {
        let mut r = reader();
        let (c, s) = (sa("203.0.113.9:40000"), sa("192.0.2.5:5060"));
        let (a, _lost) = REGISTER.split_at(60);
        let frames = vec![
            sll(&ip_packet(c, s, Some((999, 0x02)), b"")),
            sll(&ip_packet(c, s, Some((1000, 0x18)), a)),
            // The rest of the first message was lost; a whole second one follows.
            sll(&ip_packet(
                c,
                s,
                Some((1000 + REGISTER.len() as u32, 0x18)),
                REGISTER,
            )),
        ];
        let seen = read(&mut r, &frames);
        assert_eq!(
            seen,
            vec![(Direction::ToAsterisk, c, "Request(Register)".to_owned())]
        );
    }

    #[test]
    fn garbage_sent_to_asterisk_is_malformed_but_garbage_from_it_is_not_blamed() {
        let mut r = reader();
        let to = sll(&ip_packet(
            sa("203.0.113.9:5060"),
            sa("192.0.2.5:5060"),
            None,
            b"\x16\x03\x01 hello",
        ));
        let from = sll(&ip_packet(
            sa("192.0.2.5:5060"),
            sa("203.0.113.9:5060"),
            None,
            b"\x16\x03\x01 hello",
        ));
        let seen = read(&mut r, &[to, from]);
        assert_eq!(
            seen,
            vec![(
                Direction::ToAsterisk,
                sa("203.0.113.9:5060"),
                "Malformed".to_owned()
            )]
        );
    }

    #[test]
    fn the_same_packet_seen_twice_at_once_is_read_once() {
        let mut r = reader();
        let req = sll(&ip_packet(
            sa("203.0.113.9:5060"),
            sa("192.0.2.5:5060"),
            None,
            REGISTER,
        ));
        let mut out = 0;
        for _ in 0..2 {
            r.frame(Link::LinuxSll, Timestamp(5), &req, &mut |_| out += 1);
        }
        assert_eq!(out, 1);
        assert_eq!(r.counters.snapshot().duplicates, 1);
    }

    /// The `i`-th of many TCP clients, each from an address of its own.
    fn client(i: u32) -> SocketAddr {
        SocketAddr::new(
            IpAddr::from(0x0a00_0000_u32.wrapping_add(i).to_be_bytes()),
            40000,
        )
    }

    #[test]
    fn a_flood_of_connections_holding_unfinished_messages_keeps_the_reader_bounded() {
        let mut r = reader();
        let s = sa("192.0.2.5:5060");
        // Headers that never end, just under the longest message: every flow holds all it can.
        let mut partial = b"REGISTER sip:x SIP/2.0\r\nX: ".to_vec();
        partial.resize(MAX_TCP_MESSAGE - 64, b'a');
        let connections = 4 * MAX_FLOWS as u32;
        for i in 0..connections {
            let c = client(i);
            // SYN, then the unfinished message.
            let syn = sll(&ip_packet(c, s, Some((0, 0x02)), b""));
            let data = sll(&ip_packet(c, s, Some((1, 0x18)), &partial));
            for f in [syn, data] {
                r.frame(Link::LinuxSll, Timestamp(u64::from(i)), &f, &mut |_| {});
            }
            assert!(r.flows.len() <= MAX_FLOWS);
        }
        let seen = r.counters.snapshot();
        assert!(
            seen.flow_evictions >= u64::from(connections) - MAX_FLOWS as u64,
            "{seen:?}"
        );
        assert!(r.buffered_bytes() <= MAX_FLOWS * 2 * MAX_TCP_MESSAGE);
        // Each flow kept what it was sent: the bound is reached, not avoided by dropping data.
        assert!(
            r.buffered_bytes() >= (MAX_FLOWS / 2) * partial.len(),
            "{}",
            r.buffered_bytes()
        );
    }

    #[test]
    fn tcp_flows_are_bounded_and_the_oldest_go_first() {
        let mut r = reader();
        let s = sa("192.0.2.5:5060");
        for i in 0..(MAX_FLOWS as u32 + 500) {
            let f = sll(&ip_packet(
                client(i),
                s,
                Some((1, 0x18)),
                b"REGISTER sip:x SIP/2.0\r\n",
            ));
            r.frame(Link::LinuxSll, Timestamp(u64::from(i)), &f, &mut |_| {});
        }
        let seen = r.counters.snapshot();
        assert!(r.flows.len() <= MAX_FLOWS, "{}", r.flows.len());
        assert!(seen.flow_evictions >= 500, "{seen:?}");
        // The newest flow is still followed.
        assert!(
            r.flows
                .values()
                .any(|f| f.last_seen == u64::from(MAX_FLOWS as u32 + 499))
        );
    }

    #[test]
    fn the_kernel_filter_names_every_port_once() {
        let ports = SipPorts::with_defaults(5070, 5060);
        assert_eq!(
            ports.bpf_filter(),
            "(udp and (port 5060 or port 5070)) or (tcp and (port 5060))"
        );
    }
}
