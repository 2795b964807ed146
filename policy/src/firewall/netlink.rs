//! Set element changes as nf_tables netlink messages, for the kernel directly.
//!
//! Why not `nft`: nft 1.0.6 (Debian 12, the appliance's base) fills its cache before every
//! command, and that cache holds the elements of every interval set of the host, ours (allow,
//! blocklist, AMI) and other programs' alike. Measured in a namespace beside one interval set
//! of 100,000 networks: adding one element took 425 ms through a running `nft -i`, and 0.2 ms
//! without that set. A ban must not depend on how big somebody's blocklist is. The kernel
//! itself needs none of that: adding an element to a hash set is one message naming the
//! table, the set and the key.
//!
//! So the element batches of the timed hash sets (bans, port bans, known sources) are encoded
//! here as one netlink transaction (`BATCH_BEGIN`, the `NEWSETELEM`/`DELSETELEM` messages of
//! the [`NftBatch`] in order, `BATCH_END`), with the same all-or-nothing meaning as the batch
//! through nft. Anything else (interval sets, whose elements are ranges, rules, sets, tables)
//! is not encoded ([`encode_elements`] says `None`) and goes through nft as before.
//!
//! The layout is the kernel's UAPI (`linux/netlink.h`, `linux/netfilter/nfnetlink.h`,
//! `linux/netfilter/nf_tables.h`); keys are in network byte order, each part of a
//! concatenation padded to 4 bytes, timeouts in milliseconds as big-endian u64.

use std::net::IpAddr;

use nftables::expr::{Expression, NamedExpression};
use nftables::schema::{NfCmd, NfListObject};
use nftables::types::NfFamily;

use super::batch::NftBatch;
use super::{BAN_PORT_SET, BAN_SET, KNOWN_SET, TABLE};

const NLMSG_HDRLEN: usize = 16;
const NFGENMSG_LEN: usize = 4;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_CREATE: u16 = 0x400;

/// `NLMSG_ERROR`: the kernel's answer to a message (error 0 is an acknowledgement).
pub const NLMSG_ERROR: u16 = 2;

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFNL_MSG_BATCH_BEGIN: u16 = 16;
const NFNL_MSG_BATCH_END: u16 = 17;
const NFT_MSG_NEWSETELEM: u16 = 12;
const NFT_MSG_DELSETELEM: u16 = 14;
const NFPROTO_INET: u8 = 1;

const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
const NFTA_SET_ELEM_LIST_SET: u16 = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_SET_ELEM_KEY: u16 = 1;
const NFTA_SET_ELEM_TIMEOUT: u16 = 4;
const NFTA_DATA_VALUE: u16 = 1;
const NLA_F_NESTED: u16 = 0x8000;

/// Largest transaction encoded; a bigger one goes through nft (a netlink socket's default
/// send buffer is 208 KiB, and a batch this big is no fast path anyway).
pub const MAX_BYTES: usize = 128 * 1024;

/// One transaction for the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetlinkBatch {
    /// The datagram: every message, batch begin to batch end.
    pub bytes: Vec<u8>,
    /// The sequence numbers of the messages the kernel acknowledges (or refuses), in order.
    pub acked: Vec<u32>,
}

/// What a set's keys are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyType {
    /// `ipv4_addr` / `ipv6_addr`.
    Address { v6: bool },
    /// `ipv4_addr . inet_service` / `ipv6_addr . inet_service`.
    AddressPort { v6: bool },
}

/// The key type of one of our timed hash sets; `None` for any other set.
fn key_type(set: &str) -> Option<KeyType> {
    let (base, family) = set.rsplit_once('_')?;
    let v6 = match family {
        "v4" => false,
        "v6" => true,
        _ => return None,
    };
    match base {
        b if b == BAN_SET || b == KNOWN_SET => Some(KeyType::Address { v6 }),
        b if b == BAN_PORT_SET => Some(KeyType::AddressPort { v6 }),
        _ => None,
    }
}

/// `batch` as one netlink transaction whose messages are numbered from `first_seq`, or `None`
/// when it holds anything but element changes of the timed hash sets (see the module docs).
#[must_use]
pub fn encode_elements(batch: &NftBatch, first_seq: u32) -> Option<NetlinkBatch> {
    let mut out = Vec::new();
    let mut seq = first_seq;
    let mut acked = Vec::new();
    message(
        &mut out,
        NFNL_MSG_BATCH_BEGIN,
        NLM_F_REQUEST,
        seq,
        0,
        NFNL_SUBSYS_NFTABLES,
        |_| Some(()),
    )?;
    for command in batch.commands() {
        let (kind, flags, element) = match command {
            NfCmd::Add(NfListObject::Element(e)) => (
                NFT_MSG_NEWSETELEM,
                NLM_F_REQUEST | NLM_F_CREATE | NLM_F_ACK,
                e,
            ),
            NfCmd::Delete(NfListObject::Element(e)) => {
                (NFT_MSG_DELSETELEM, NLM_F_REQUEST | NLM_F_ACK, e)
            }
            _ => return None,
        };
        if element.family != NfFamily::INet || element.table != TABLE {
            return None;
        }
        let key = key_type(&element.name)?;
        if element.elem.is_empty() {
            continue;
        }
        seq = seq.wrapping_add(1);
        acked.push(seq);
        message(
            &mut out,
            (NFNL_SUBSYS_NFTABLES << 8) | kind,
            flags,
            seq,
            NFPROTO_INET,
            0,
            |m| {
                string_attr(m, NFTA_SET_ELEM_LIST_TABLE, TABLE);
                string_attr(m, NFTA_SET_ELEM_LIST_SET, &element.name);
                nested(m, NFTA_SET_ELEM_LIST_ELEMENTS, |list| {
                    for e in element.elem.iter() {
                        let (value, timeout) = match e {
                            Expression::Named(NamedExpression::Elem(elem)) => {
                                (elem.val.as_ref(), elem.timeout)
                            }
                            other => (other, None),
                        };
                        let bytes = key_bytes(key, value)?;
                        nested(list, NFTA_LIST_ELEM, |one| {
                            nested(one, NFTA_SET_ELEM_KEY, |k| {
                                attr(k, NFTA_DATA_VALUE, &bytes);
                                Some(())
                            })?;
                            if let Some(secs) = timeout {
                                let ms = u64::from(secs) * 1000;
                                attr(one, NFTA_SET_ELEM_TIMEOUT, &ms.to_be_bytes());
                            }
                            Some(())
                        })?;
                    }
                    Some(())
                })
            },
        )?;
    }
    seq = seq.wrapping_add(1);
    message(
        &mut out,
        NFNL_MSG_BATCH_END,
        NLM_F_REQUEST,
        seq,
        0,
        NFNL_SUBSYS_NFTABLES,
        |_| Some(()),
    )?;
    (out.len() <= MAX_BYTES && !acked.is_empty()).then_some(NetlinkBatch { bytes: out, acked })
}

/// The key of one element in the kernel's layout.
fn key_bytes(key: KeyType, value: &Expression<'_>) -> Option<Vec<u8>> {
    match key {
        KeyType::Address { v6 } => address_bytes(value, v6),
        KeyType::AddressPort { v6 } => {
            let Expression::Named(NamedExpression::Concat(parts)) = value else {
                return None;
            };
            let [address, Expression::Number(port)] = parts.as_slice() else {
                return None;
            };
            let mut bytes = address_bytes(address, v6)?;
            let port = u16::try_from(*port).ok()?;
            // inet_service is 2 bytes, padded to the 4-byte register a concatenation part
            // takes.
            bytes.extend_from_slice(&port.to_be_bytes());
            bytes.extend_from_slice(&[0, 0]);
            Some(bytes)
        }
    }
}

fn address_bytes(value: &Expression<'_>, v6: bool) -> Option<Vec<u8>> {
    let Expression::String(text) = value else {
        return None;
    };
    match (text.parse::<IpAddr>().ok()?, v6) {
        (IpAddr::V4(a), false) => Some(a.octets().to_vec()),
        (IpAddr::V6(a), true) => Some(a.octets().to_vec()),
        _ => None,
    }
}

/// One netlink message: header, `nfgenmsg`, then what `body` writes; the length is filled
/// in afterwards.
fn message(
    out: &mut Vec<u8>,
    kind: u16,
    flags: u16,
    seq: u32,
    family: u8,
    res_id: u16,
    body: impl FnOnce(&mut Vec<u8>) -> Option<()>,
) -> Option<()> {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    // nfgenmsg: family, version (NFNETLINK_V0), resource id in network byte order.
    out.push(family);
    out.push(0);
    out.extend_from_slice(&res_id.to_be_bytes());
    body(out)?;
    let len = u32::try_from(out.len() - start).ok()?;
    out[start..start + 4].copy_from_slice(&len.to_ne_bytes());
    debug_assert!(out.len() - start >= NLMSG_HDRLEN + NFGENMSG_LEN);
    Some(())
}

fn attr(out: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    let len = 4 + payload.len();
    // Attribute payloads here are at most a few bytes (keys, names of at most 255 bytes).
    let len16 = u16::try_from(len).unwrap_or(u16::MAX);
    out.extend_from_slice(&len16.to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(payload);
    pad(out);
}

fn string_attr(out: &mut Vec<u8>, kind: u16, text: &str) {
    let mut bytes = Vec::with_capacity(text.len() + 1);
    bytes.extend_from_slice(text.as_bytes());
    bytes.push(0);
    attr(out, kind, &bytes);
}

/// A nested attribute; `None` when its contents cannot be encoded or do not fit its 16-bit
/// length (a list of elements that long goes through nft).
fn nested(
    out: &mut Vec<u8>,
    kind: u16,
    body: impl FnOnce(&mut Vec<u8>) -> Option<()>,
) -> Option<()> {
    let start = out.len();
    out.extend_from_slice(&[0; 2]);
    out.extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
    body(out)?;
    let len = u16::try_from(out.len() - start).ok()?;
    out[start..start + 2].copy_from_slice(&len.to_ne_bytes());
    Some(())
}

fn pad(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

/// The kernel's answer to one message: its sequence number and error (0: done; else a
/// negative errno).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub seq: u32,
    pub error: i32,
}

/// The answers (`NLMSG_ERROR` messages) in one datagram from the kernel; anything else in it
/// is skipped, and a message cut short ends the reading.
#[must_use]
pub fn answers(datagram: &[u8]) -> Vec<Answer> {
    let mut out = Vec::new();
    let mut at = 0usize;
    let bytes = |i: usize| -> Option<[u8; 4]> { datagram.get(i..i + 4)?.try_into().ok() };
    // A header is length (u32), type (u16), flags (u16), sequence number (u32), port (u32).
    while let Some(header) = bytes(at).zip(bytes(at + 4)) {
        let len = u32::from_ne_bytes(header.0) as usize;
        let kind = u16::from_ne_bytes([header.1[0], header.1[1]]);
        if len < NLMSG_HDRLEN {
            break;
        }
        if kind == NLMSG_ERROR
            && let (Some(seq), Some(error)) = (bytes(at + 8), bytes(at + NLMSG_HDRLEN))
        {
            // The header's sequence number is the answered message's.
            out.push(Answer {
                seq: u32::from_ne_bytes(seq),
                error: i32::from_ne_bytes(error),
            });
        }
        // Messages are 4-byte aligned; a truncated datagram (a long echoed request) ends here.
        at = at.saturating_add(len.div_ceil(4) * 4);
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::firewall::CheckPolicy;
    use std::net::SocketAddr;

    use super::super::elements::{
        add_allow_elements, add_ban_elements, add_known_good_elements, add_port_ban_elements,
        delete_ban_elements,
    };
    use super::super::state::{TimedAddress, TimedPort};
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// (type, flags, seq) of each message.
    fn headers(bytes: &[u8]) -> Vec<(u16, u16, u32)> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let len = u32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            out.push((
                u16::from_ne_bytes(bytes[at + 4..at + 6].try_into().unwrap()),
                u16::from_ne_bytes(bytes[at + 6..at + 8].try_into().unwrap()),
                u32::from_ne_bytes(bytes[at + 8..at + 12].try_into().unwrap()),
            ));
            assert_eq!(len % 4, 0, "messages stay aligned");
            at += len;
        }
        assert_eq!(at, bytes.len(), "the lengths add up to the datagram");
        out
    }

    #[test]
    fn a_ban_is_one_transaction_of_add_delete_add_between_batch_begin_and_end() {
        let batch = add_ban_elements(&[TimedAddress::expiring(ip("203.0.113.7"), 900)]);
        let encoded = encode_elements(&batch, 100).unwrap();
        let new = (10 << 8) | 12;
        let del = (10 << 8) | 14;
        assert_eq!(
            headers(&encoded.bytes),
            vec![
                (16, 0x1, 100),
                (new, 0x405, 101),
                (del, 0x5, 102),
                (new, 0x405, 103),
                (17, 0x1, 104)
            ]
        );
        assert_eq!(encoded.acked, vec![101, 102, 103]);
        let b = &encoded.bytes;
        let find = |needle: &[u8]| b.windows(needle.len()).any(|w| w == needle);
        assert!(find(b"sipwarden\0"), "the table");
        assert!(find(b"ban_v4\0"), "the set");
        assert!(find(&[203, 0, 113, 7]), "the key, network order");
        assert!(
            find(&900_000u64.to_be_bytes()),
            "the timeout, milliseconds, big-endian"
        );
    }

    #[test]
    fn port_bans_pad_the_port_to_a_register_and_ipv6_keys_are_sixteen_bytes() {
        let source: SocketAddr = "[2001:db8::5]:5062".parse().unwrap();
        let batch = add_port_ban_elements(&[TimedPort::expiring(source, 60)]);
        let encoded = encode_elements(&batch, 1).unwrap();
        let mut key = "2001:db8::5"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets()
            .to_vec();
        key.extend_from_slice(&[0x13, 0xc6, 0, 0]);
        // NFTA_DATA_VALUE: length 4 + 20, type 1, then the key.
        let mut attr = vec![24, 0, 1, 0];
        attr.extend_from_slice(&key);
        assert!(encoded.bytes.windows(attr.len()).any(|w| w == attr));
        assert!(encoded.bytes.windows(11).any(|w| w == b"banport_v6\0"));
    }

    #[test]
    fn only_the_timed_hash_sets_are_encoded() {
        assert!(
            encode_elements(
                &add_known_good_elements(&[TimedAddress::expiring(ip("192.0.2.1"), 60)]),
                1
            )
            .is_some()
        );
        assert!(encode_elements(&delete_ban_elements(&[ip("192.0.2.1")]), 1).is_some());
        // The allow sets are interval sets (ranges): nft's business.
        let policy = crate::firewall::FirewallPolicy::default().check().unwrap();
        // (192.0.2.1 is in no pinned network of the default policy, so it is kept.)
        let allow = add_allow_elements(&policy, &[TimedAddress::expiring(ip("192.0.2.1"), 60)]);
        assert!(!allow.is_empty());
        assert_eq!(encode_elements(&allow, 1), None);
        // Nothing to do is no transaction.
        assert_eq!(encode_elements(&NftBatch::default(), 1), None);
    }

    #[test]
    fn a_batch_too_big_for_one_datagram_is_left_to_nft() {
        let many: Vec<TimedAddress> = (0..5000u32)
            .map(|i| TimedAddress::expiring(IpAddr::from((0xC000_0000u32 + i).to_be_bytes()), 60))
            .collect();
        assert_eq!(encode_elements(&add_ban_elements(&many), 1), None);
        // The guard's largest batch (a thousand decisions, v4 and v6) fits.
        let mixed: Vec<TimedAddress> = (0..1000u32)
            .map(|i| {
                let v4 = IpAddr::from((0xC000_0000u32 + i).to_be_bytes());
                let v6 = IpAddr::from((0x2001_0db8_u128 << 96 | u128::from(i)).to_be_bytes());
                TimedAddress::expiring(if i % 2 == 0 { v4 } else { v6 }, 60)
            })
            .collect();
        assert!(encode_elements(&add_ban_elements(&mixed), 1).is_some());
        let v4_only: Vec<TimedAddress> = (0..1000u32)
            .map(|i| TimedAddress::expiring(IpAddr::from((0xC000_0000u32 + i).to_be_bytes()), 60))
            .collect();
        assert!(encode_elements(&add_ban_elements(&v4_only), 1).is_some());
        let some = &many[..200];
        let encoded = encode_elements(&add_ban_elements(some), 1).unwrap();
        assert!(encoded.bytes.len() <= MAX_BYTES);
    }

    #[test]
    fn answers_are_read_by_sequence_number_and_junk_is_not_an_answer() {
        let mut datagram = Vec::new();
        for (seq, error) in [(7u32, 0i32), (8, -2)] {
            datagram.extend_from_slice(&36u32.to_ne_bytes());
            datagram.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
            datagram.extend_from_slice(&0u16.to_ne_bytes());
            datagram.extend_from_slice(&seq.to_ne_bytes());
            datagram.extend_from_slice(&0u32.to_ne_bytes());
            datagram.extend_from_slice(&error.to_ne_bytes());
            datagram.extend_from_slice(&[0; 16]);
        }
        assert_eq!(
            answers(&datagram),
            vec![Answer { seq: 7, error: 0 }, Answer { seq: 8, error: -2 }]
        );
        assert!(answers(&[]).is_empty());
        assert!(answers(&[1, 2, 3]).is_empty());
        // A length below a header's ends the reading instead of looping.
        let mut bad = datagram.clone();
        bad[0..4].copy_from_slice(&3u32.to_ne_bytes());
        assert!(answers(&bad).is_empty());
        // Cut short: the whole answers before the cut are read.
        assert_eq!(answers(&datagram[..40]), vec![Answer { seq: 7, error: 0 }]);
    }
}
