//! Small constructors over the `nftables` crate's types, so the renderer reads like the rules
//! it writes. Nothing here knows about sipwarden's policy.

use std::borrow::Cow;
use std::collections::HashSet;
use std::net::IpAddr;

use ipnet::IpNet;
use nftables::expr::{
    BinaryOperation, CT, Elem, Expression, Meta, MetaKey, NamedExpression, Payload, PayloadBase,
    PayloadField, PayloadRaw, Prefix, SetItem,
};
use nftables::schema::{self, Chain, Element, NfListObject, Rule, SetFlag, SetType, SetTypeValue};
use nftables::stmt::{Counter, JumpTarget, Limit, Match, Meter, Operator, Statement};
use nftables::types::{NfChainPolicy, NfChainType, NfFamily, NfHook};

use super::TABLE;

/// An address family of the `inet` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    V4,
    V6,
}

impl Family {
    pub(crate) const BOTH: [Family; 2] = [Family::V4, Family::V6];

    pub(crate) fn of(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    pub(crate) fn of_net(net: &IpNet) -> Self {
        Family::of(net.addr())
    }

    /// Suffix of our per-family set names.
    pub(crate) fn suffix(self) -> &'static str {
        match self {
            Family::V4 => "v4",
            Family::V6 => "v6",
        }
    }

    fn protocol(self) -> &'static str {
        match self {
            Family::V4 => "ip",
            Family::V6 => "ip6",
        }
    }

    fn set_type(self) -> SetType {
        match self {
            Family::V4 => SetType::Ipv4Addr,
            Family::V6 => SetType::Ipv6Addr,
        }
    }
}

/// A timed set of `address . inet_service` pairs.
pub(crate) fn port_set(name: String, family: Family, size: u32) -> NfListObject<'static> {
    NfListObject::Set(Box::new(schema::Set {
        family: NfFamily::INet,
        table: TABLE.into(),
        name: name.into(),
        set_type: SetTypeValue::Concatenated(vec![family.set_type(), SetType::InetService].into()),
        flags: Some([SetFlag::Timeout].into_iter().collect::<HashSet<_>>()),
        size: Some(size),
        ..schema::Set::default()
    }))
}

/// `address . port`, an element of a [`port_set`].
pub(crate) fn address_port(address: IpAddr, port: u16) -> Expression<'static> {
    Expression::Named(NamedExpression::Concat(vec![
        self::address(address),
        Expression::Number(u32::from(port)),
    ]))
}

/// `meta l4proto { tcp, udp } ip saddr . th sport @set`: the packet's source address and
/// transport source port are in `set`.
pub(crate) fn saddr_sport_in(family: Family, set: &str) -> Vec<Statement<'static>> {
    vec![
        matches(
            Expression::Named(NamedExpression::Meta(Meta {
                key: MetaKey::L4proto,
            })),
            Operator::EQ,
            Expression::Named(NamedExpression::Set(vec![
                SetItem::Element(Expression::String("tcp".into())),
                SetItem::Element(Expression::String("udp".into())),
            ])),
        ),
        matches(
            Expression::Named(NamedExpression::Concat(vec![
                saddr(family),
                field("th", "sport"),
            ])),
            Operator::EQ,
            Expression::String(format!("@{set}").into()),
        ),
    ]
}

/// `name_v4` / `name_v6`.
pub(crate) fn set_name(base: &str, family: Family) -> String {
    format!("{base}_{}", family.suffix())
}

pub(crate) fn table() -> schema::Table<'static> {
    schema::Table {
        family: NfFamily::INet,
        name: TABLE.into(),
        handle: None,
    }
}

pub(crate) fn base_chain(name: &'static str, hook: NfHook, prio: i32) -> Chain<'static> {
    Chain {
        family: NfFamily::INet,
        table: TABLE.into(),
        name: name.into(),
        _type: Some(NfChainType::Filter),
        hook: Some(hook),
        prio: Some(prio),
        policy: Some(NfChainPolicy::Accept),
        ..Chain::default()
    }
}

pub(crate) fn regular_chain(name: &'static str) -> Chain<'static> {
    Chain {
        family: NfFamily::INet,
        table: TABLE.into(),
        name: name.into(),
        ..Chain::default()
    }
}

pub(crate) fn set(
    name: String,
    family: Family,
    flags: &[SetFlag],
    size: Option<u32>,
) -> NfListObject<'static> {
    NfListObject::Set(Box::new(schema::Set {
        family: NfFamily::INet,
        table: TABLE.into(),
        name: name.into(),
        set_type: SetTypeValue::Single(family.set_type()),
        flags: Some(flags.iter().copied().collect::<HashSet<_>>()),
        size,
        ..schema::Set::default()
    }))
}

pub(crate) fn element(set: String, elems: Vec<Expression<'static>>) -> NfListObject<'static> {
    NfListObject::Element(Element {
        family: NfFamily::INet,
        table: TABLE.into(),
        name: set.into(),
        elem: elems.into(),
    })
}

pub(crate) fn rule(
    chain: &'static str,
    expr: Vec<Statement<'static>>,
    comment: &str,
) -> NfListObject<'static> {
    NfListObject::Rule(Rule {
        family: NfFamily::INet,
        table: TABLE.into(),
        chain: chain.into(),
        expr: expr.into(),
        comment: Some(comment.to_owned().into()),
        ..Rule::default()
    })
}

/// A network as a set element: a bare address for a single host, a prefix otherwise.
pub(crate) fn network(net: &IpNet) -> Expression<'static> {
    if net.prefix_len() == net.max_prefix_len() {
        address(net.addr())
    } else {
        Expression::Named(NamedExpression::Prefix(Prefix {
            addr: Box::new(address(net.network())),
            len: u32::from(net.prefix_len()),
        }))
    }
}

pub(crate) fn address(address: IpAddr) -> Expression<'static> {
    Expression::String(address.to_string().into())
}

/// A set element with an optional timeout in seconds.
pub(crate) fn timed(value: Expression<'static>, timeout_secs: Option<u32>) -> Expression<'static> {
    match timeout_secs {
        None => value,
        Some(secs) => Expression::Named(NamedExpression::Elem(Elem {
            val: Box::new(value),
            timeout: Some(secs),
            expires: None,
            comment: None,
            counter: None,
        })),
    }
}

fn matches(
    left: Expression<'static>,
    op: Operator,
    right: Expression<'static>,
) -> Statement<'static> {
    Statement::Match(Match { left, right, op })
}

fn field(protocol: &'static str, name: &'static str) -> Expression<'static> {
    Expression::Named(NamedExpression::Payload(Payload::PayloadField(
        PayloadField {
            protocol: protocol.into(),
            field: name.into(),
        },
    )))
}

pub(crate) fn saddr(family: Family) -> Expression<'static> {
    field(family.protocol(), "saddr")
}

/// `meta nfproto ipv4|ipv6`: explicit, so a rule never reads an IPv4 header as IPv6.
pub(crate) fn nfproto(family: Family) -> Statement<'static> {
    let name = match family {
        Family::V4 => "ipv4",
        Family::V6 => "ipv6",
    };
    matches(
        Expression::Named(NamedExpression::Meta(Meta {
            key: MetaKey::Nfproto,
        })),
        Operator::EQ,
        Expression::String(name.into()),
    )
}

/// `meta iif lo`
pub(crate) fn from_loopback() -> Statement<'static> {
    matches(
        Expression::Named(NamedExpression::Meta(Meta { key: MetaKey::Iif })),
        Operator::EQ,
        Expression::String("lo".into()),
    )
}

/// `ip saddr @set` or `ip saddr != @set`.
pub(crate) fn saddr_in(family: Family, set: &str, member: bool) -> Statement<'static> {
    let op = if member { Operator::EQ } else { Operator::NEQ };
    matches(
        saddr(family),
        op,
        Expression::String(format!("@{set}").into()),
    )
}

/// `udp dport 5060` or `tcp dport { 5060, 5061 }`.
pub(crate) fn dport(protocol: &'static str, ports: &[u16]) -> Statement<'static> {
    let right = match ports {
        [one] => Expression::Number(u32::from(*one)),
        many => Expression::Named(NamedExpression::Set(
            many.iter()
                .map(|p| SetItem::Element(Expression::Number(u32::from(*p))))
                .collect(),
        )),
    };
    matches(field(protocol, "dport"), Operator::EQ, right)
}

/// `@th,64,<8·len> 0x…`: the first bytes after the 8-byte UDP header equal `prefix`.
///
/// The value is written as a hex string, as `nft -j list ruleset` does for values wider than
/// 64 bits; the crate's numbers are only 32 bits wide.
pub(crate) fn udp_payload_starts_with(prefix: &[u8]) -> Statement<'static> {
    let bits = u32::try_from(prefix.len() * 8).unwrap_or(u32::MAX);
    let hex: String = prefix.iter().map(|b| format!("{b:02x}")).collect();
    matches(
        Expression::Named(NamedExpression::Payload(Payload::PayloadRaw(PayloadRaw {
            base: PayloadBase::TH,
            offset: 64,
            len: bits,
        }))),
        Operator::EQ,
        Expression::String(format!("0x{hex}").into()),
    )
}

/// `ct state new` / `ct state { established, related }`.
pub(crate) fn ct_state(states: &[&'static str]) -> Statement<'static> {
    let right = match states {
        [one] => Expression::String((*one).into()),
        many => Expression::List(
            many.iter()
                .map(|s| Expression::String((*s).into()))
                .collect(),
        ),
    };
    matches(
        Expression::Named(NamedExpression::CT(CT {
            key: "state".into(),
            family: None,
            dir: None,
        })),
        Operator::IN,
        right,
    )
}

/// The key a rate meter counts by: the source address for IPv4, the source /64 for IPv6,
/// because one IPv6 subscriber owns a whole /64 and could rotate through it to start every
/// request with a fresh bucket.
pub(crate) fn meter_key(family: Family) -> Expression<'static> {
    match family {
        Family::V4 => saddr(family),
        Family::V6 => Expression::BinaryOperation(Box::new(BinaryOperation::AND(
            saddr(family),
            Expression::String("ffff:ffff:ffff:ffff::".into()),
        ))),
    }
}

/// `meter NAME { KEY timeout Ts limit rate over R/minute burst B packets }`.
///
/// A meter is a set created by the kernel on first use, one token bucket per key; its
/// elements time out, so memory stays bounded by the set size (65535 by default) rather
/// than by the number of sources an attacker can spoof.
pub(crate) fn meter(
    name: String,
    key: Expression<'static>,
    timeout_secs: u32,
    per_minute: u32,
    burst: u32,
) -> Statement<'static> {
    Statement::Meter(Meter {
        name: name.into(),
        key: timed(key, Some(timeout_secs)),
        stmt: Box::new(Statement::Limit(Limit {
            rate: per_minute,
            rate_unit: None,
            per: Some(Cow::Borrowed("minute")),
            burst: Some(burst),
            burst_unit: None,
            inv: Some(true),
        })),
    })
}

pub(crate) fn counter() -> Statement<'static> {
    Statement::Counter(Counter::Anonymous(None))
}

pub(crate) fn accept() -> Statement<'static> {
    Statement::Accept(None)
}

pub(crate) fn drop() -> Statement<'static> {
    Statement::Drop(None)
}

pub(crate) fn jump(target: &'static str) -> Statement<'static> {
    Statement::Jump(JumpTarget {
        target: target.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_method_prefix_becomes_a_raw_payload_match_after_the_udp_header() {
        let json = serde_json::to_string(&udp_payload_starts_with(b"INVITE ")).expect("json");
        assert_eq!(
            json,
            r#"{"match":{"left":{"payload":{"base":"th","offset":64,"len":56}},"right":"0x494e5649544520","op":"=="}}"#
        );
    }
}
