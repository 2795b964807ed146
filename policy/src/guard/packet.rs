//! Reading captured frames down to their UDP or TCP payload: link layer (Ethernet with VLAN
//! tags, Linux cooked capture SLL and SLL2 as libpcap gives for the `any` interface, raw IP,
//! BSD loopback), IPv4 and IPv6 (extension headers skipped), UDP and TCP.
//!
//! Pure and bounded: every length is checked before it is used, nothing allocates, and a
//! frame that does not decode is `None` (the tap counts it), never a panic: these are
//! attacker-chosen bytes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// How a frame starts, from the capture's data link type (DLT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// DLT_EN10MB.
    Ethernet,
    /// DLT_LINUX_SLL: the cooked header of `any` (16 bytes).
    LinuxSll,
    /// DLT_LINUX_SLL2: its newer 20-byte form.
    LinuxSll2,
    /// DLT_RAW and friends: the frame is an IP packet.
    Raw,
    /// DLT_NULL: a 4-byte address family in the capturing host's byte order.
    Null,
    /// DLT_LOOP: the same in network byte order.
    Loop,
}

impl Link {
    /// Every link type the guard reads.
    pub const ALL: [Link; 6] = [
        Self::Ethernet,
        Self::LinuxSll,
        Self::LinuxSll2,
        Self::Raw,
        Self::Null,
        Self::Loop,
    ];

    /// The link for a libpcap DLT number, `None` for ones the guard cannot read.
    #[must_use]
    pub fn from_dlt(dlt: i32) -> Option<Self> {
        match dlt {
            1 => Some(Self::Ethernet),
            113 => Some(Self::LinuxSll),
            276 => Some(Self::LinuxSll2),
            // DLT_RAW is 12 on some BSDs and 14 on OpenBSD; LINKTYPE_RAW (101) in files;
            // LINKTYPE_IPV4 and LINKTYPE_IPV6 (228, 229) carry plain packets too.
            12 | 14 | 101 | 228 | 229 => Some(Self::Raw),
            0 => Some(Self::Null),
            108 => Some(Self::Loop),
            _ => None,
        }
    }
}

/// The transport of a decoded segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// A UDP datagram.
    Udp,
    /// A TCP segment.
    Tcp {
        /// Sequence number of the first payload byte.
        seq: u32,
        /// SYN set.
        syn: bool,
        /// FIN or RST set: the flow ends.
        fin: bool,
    },
}

/// One decoded UDP datagram or TCP segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment<'a> {
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// UDP or TCP.
    pub proto: Proto,
    /// The bytes after the transport header.
    pub payload: &'a [u8],
}

/// Why a frame yielded no segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Not IP, not UDP/TCP, or cut short.
    Undecodable,
    /// An IP fragment: its payload is not a whole datagram.
    Fragment,
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: [u16; 3] = [0x8100, 0x88a8, 0x9100];
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;

/// Decodes `frame` of link type `link` down to its UDP/TCP payload.
pub fn decode(link: Link, frame: &[u8]) -> Result<Segment<'_>, Skip> {
    let (ethertype, ip) = match link {
        Link::Ethernet => {
            let mut at = 12;
            let mut ethertype = be16(frame, at).ok_or(Skip::Undecodable)?;
            // Up to two VLAN tags (802.1Q, QinQ).
            for _ in 0..2 {
                if !ETHERTYPE_VLAN.contains(&ethertype) {
                    break;
                }
                at += 4;
                ethertype = be16(frame, at).ok_or(Skip::Undecodable)?;
            }
            (Some(ethertype), frame.get(at + 2..))
        }
        Link::LinuxSll => (be16(frame, 14), frame.get(16..)),
        Link::LinuxSll2 => (be16(frame, 0), frame.get(20..)),
        Link::Raw => (None, Some(frame)),
        Link::Null | Link::Loop => (None, frame.get(4..)),
    };
    let ip = ip.ok_or(Skip::Undecodable)?;
    match ethertype {
        Some(ETHERTYPE_IPV4 | ETHERTYPE_IPV6) | None => {}
        Some(_) => return Err(Skip::Undecodable),
    }
    match ip.first().map(|b| b >> 4) {
        Some(4) => ipv4(ip),
        Some(6) => ipv6(ip),
        _ => Err(Skip::Undecodable),
    }
}

fn ipv4(p: &[u8]) -> Result<Segment<'_>, Skip> {
    let ihl = usize::from(p.first().ok_or(Skip::Undecodable)? & 0x0f) * 4;
    let total = usize::from(be16(p, 2).ok_or(Skip::Undecodable)?);
    if ihl < 20 || total < ihl || p.len() < ihl {
        return Err(Skip::Undecodable);
    }
    let flags_offset = be16(p, 6).ok_or(Skip::Undecodable)?;
    // More-fragments set, or a non-zero offset: part of a datagram, not a datagram.
    if flags_offset & 0x3fff != 0 {
        return Err(Skip::Fragment);
    }
    let proto = p[9];
    let src = IpAddr::V4(Ipv4Addr::new(p[12], p[13], p[14], p[15]));
    let dst = IpAddr::V4(Ipv4Addr::new(p[16], p[17], p[18], p[19]));
    // Ethernet pads short frames: the IP length, not the frame's, says where data ends (a
    // capture cut by its snap length keeps what it has).
    let end = total.min(p.len());
    transport(proto, src, dst, &p[ihl..end])
}

fn ipv6(p: &[u8]) -> Result<Segment<'_>, Skip> {
    if p.len() < 40 {
        return Err(Skip::Undecodable);
    }
    let payload_len = usize::from(be16(p, 4).ok_or(Skip::Undecodable)?);
    let mut next = p[6];
    let src = IpAddr::V6(Ipv6Addr::from(array16(&p[8..24])));
    let dst = IpAddr::V6(Ipv6Addr::from(array16(&p[24..40])));
    let end = (40 + payload_len).min(p.len());
    let mut at = 40;
    // Extension headers: hop-by-hop (0), routing (43), destination options (60); a
    // fragment header (44) means a piece of a datagram. Bounded: at most 8 headers.
    for _ in 0..8 {
        match next {
            0 | 43 | 60 => {
                let hdr = p.get(at..at + 2).ok_or(Skip::Undecodable)?;
                next = hdr[0];
                at += (usize::from(hdr[1]) + 1) * 8;
            }
            44 => return Err(Skip::Fragment),
            _ => break,
        }
    }
    let payload = p.get(at..end).ok_or(Skip::Undecodable)?;
    transport(next, src, dst, payload)
}

fn transport(proto: u8, src: IpAddr, dst: IpAddr, p: &[u8]) -> Result<Segment<'_>, Skip> {
    let sport = be16(p, 0).ok_or(Skip::Undecodable)?;
    let dport = be16(p, 2).ok_or(Skip::Undecodable)?;
    let (proto, payload) = match proto {
        PROTO_UDP => {
            let len = usize::from(be16(p, 4).ok_or(Skip::Undecodable)?);
            if len < 8 {
                return Err(Skip::Undecodable);
            }
            (Proto::Udp, p.get(8..len.min(p.len())).unwrap_or_default())
        }
        PROTO_TCP => {
            let off = usize::from(p.get(12).ok_or(Skip::Undecodable)? >> 4) * 4;
            let flags = *p.get(13).ok_or(Skip::Undecodable)?;
            if off < 20 || p.len() < off {
                return Err(Skip::Undecodable);
            }
            let seq = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
            let tcp = Proto::Tcp {
                seq,
                syn: flags & 0x02 != 0,
                fin: flags & 0x05 != 0,
            };
            (tcp, &p[off..])
        }
        _ => return Err(Skip::Undecodable),
    };
    Ok(Segment {
        src: SocketAddr::new(src, sport),
        dst: SocketAddr::new(dst, dport),
        proto,
        payload,
    })
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

fn array16(s: &[u8]) -> [u8; 16] {
    let mut a = [0u8; 16];
    a.copy_from_slice(&s[..16]);
    a
}

/// Frames built the way the kernel would hand them over, for tests (here, the capture tap's
/// in the server) and the fuzzer; lengths past 65,535 are clamped (test payloads are small).
#[cfg(any(test, feature = "test-frames"))]
pub mod build {
    use std::net::SocketAddr;

    /// An IPv4 or IPv6 packet carrying UDP (`tcp` None) or TCP (seq, flags) `payload`.
    pub fn ip_packet(
        src: SocketAddr,
        dst: SocketAddr,
        tcp: Option<(u32, u8)>,
        payload: &[u8],
    ) -> Vec<u8> {
        let mut l4 = Vec::new();
        l4.extend_from_slice(&src.port().to_be_bytes());
        l4.extend_from_slice(&dst.port().to_be_bytes());
        match tcp {
            None => {
                l4.extend_from_slice(
                    &u16::try_from(8 + payload.len())
                        .unwrap_or(u16::MAX)
                        .to_be_bytes(),
                );
                l4.extend_from_slice(&[0, 0]);
            }
            Some((seq, flags)) => {
                l4.extend_from_slice(&seq.to_be_bytes());
                l4.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
            }
        }
        l4.extend_from_slice(payload);
        let proto = if tcp.is_some() { 6 } else { 17 };
        let mut p = Vec::new();
        match (src.ip(), dst.ip()) {
            (std::net::IpAddr::V4(s), std::net::IpAddr::V4(d)) => {
                p.extend_from_slice(&[0x45, 0]);
                p.extend_from_slice(
                    &u16::try_from(20 + l4.len())
                        .unwrap_or(u16::MAX)
                        .to_be_bytes(),
                );
                p.extend_from_slice(&[0, 0, 0x40, 0, 64, proto, 0, 0]);
                p.extend_from_slice(&s.octets());
                p.extend_from_slice(&d.octets());
            }
            (std::net::IpAddr::V6(s), std::net::IpAddr::V6(d)) => {
                p.extend_from_slice(&[0x60, 0, 0, 0]);
                p.extend_from_slice(&u16::try_from(l4.len()).unwrap_or(u16::MAX).to_be_bytes());
                p.extend_from_slice(&[proto, 64]);
                p.extend_from_slice(&s.octets());
                p.extend_from_slice(&d.octets());
            }
            _ => panic!("mixed families"),
        }
        p.extend_from_slice(&l4);
        p
    }

    /// A Linux cooked (SLL) frame around an IP packet.
    pub fn sll(ip: &[u8]) -> Vec<u8> {
        let ethertype: u16 = if ip[0] >> 4 == 6 { 0x86dd } else { 0x0800 };
        let mut f = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 0, 0, 0];
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(ip);
        f
    }
}

#[cfg(test)]
mod tests {
    use super::build::{ip_packet, sll};
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_udp_datagram_in_a_cooked_frame_decodes_to_its_payload() {
        let ip = ip_packet(sa("192.0.2.1:5062"), sa("192.0.2.5:5060"), None, b"OPTIONS");
        let frame = sll(&ip);
        let seg = decode(Link::LinuxSll, &frame).unwrap();
        assert_eq!(seg.src, sa("192.0.2.1:5062"));
        assert_eq!(seg.dst, sa("192.0.2.5:5060"));
        assert_eq!(seg.proto, Proto::Udp);
        assert_eq!(seg.payload, b"OPTIONS");
    }

    #[test]
    fn ethernet_with_a_vlan_tag_and_padding_decodes() {
        let ip = ip_packet(sa("10.0.0.1:1"), sa("10.0.0.2:5060"), None, b"x");
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x81, 0, 0, 7, 0x08, 0]);
        f.extend_from_slice(&ip);
        f.extend_from_slice(&[0; 20]); // padding to the minimum frame size
        let seg = decode(Link::Ethernet, &f).unwrap();
        assert_eq!(seg.payload, b"x");
    }

    #[test]
    fn ipv6_tcp_in_sll2_decodes_with_flags_and_sequence() {
        let ip = ip_packet(
            sa("[2001:db8::1]:40000"),
            sa("[2001:db8::5]:5060"),
            Some((7, 0x18)),
            b"REGISTER",
        );
        let mut f = vec![0x86, 0xdd];
        f.extend_from_slice(&[0; 18]);
        f.extend_from_slice(&ip);
        let seg = decode(Link::LinuxSll2, &f).unwrap();
        assert_eq!(
            seg.proto,
            Proto::Tcp {
                seq: 7,
                syn: false,
                fin: false
            }
        );
        assert_eq!(seg.payload, b"REGISTER");
        assert_eq!(seg.src.ip(), "2001:db8::1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn fragments_are_told_apart_from_garbage() {
        let mut ip = ip_packet(sa("10.0.0.1:1"), sa("10.0.0.2:5060"), None, b"x");
        ip[6] = 0x20; // more fragments
        assert_eq!(decode(Link::Raw, &ip), Err(Skip::Fragment));
    }

    #[test]
    fn every_truncation_of_a_frame_is_refused_without_panicking() {
        let ip = ip_packet(
            sa("[2001:db8::1]:1"),
            sa("[2001:db8::5]:5060"),
            Some((1, 2)),
            b"abc",
        );
        let frame = sll(&ip);
        for link in Link::ALL {
            for cut in 0..frame.len() {
                let _ = decode(link, &frame[..cut]);
            }
        }
        // Arbitrary bytes too.
        let mut x: u32 = 1;
        for _ in 0..2000 {
            let junk: Vec<u8> = (0..64)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            let _ = decode(Link::LinuxSll, &junk);
            let _ = decode(Link::Raw, &junk);
        }
    }
}
