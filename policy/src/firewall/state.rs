//! The run-time contents of the timed sets (bans, temporary allows, known-good sources), which
//! the guard and the API change between applies and which a re-apply must carry over.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

/// One address in a timed set, with the time it has left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TimedAddress {
    /// The address. IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`, as a dual-stack socket
    /// reports them) are treated as the IPv4 address they carry.
    pub address: IpAddr,
    /// Seconds left; `None` means no timeout (until removed), `Some(0)` means already expired
    /// and is skipped.
    pub timeout_secs: Option<u32>,
}

impl TimedAddress {
    /// An element that expires after `secs` seconds.
    pub fn expiring(address: IpAddr, secs: u32) -> Self {
        Self {
            address,
            timeout_secs: Some(secs),
        }
    }

    /// An element without a timeout.
    pub fn permanent(address: IpAddr) -> Self {
        Self {
            address,
            timeout_secs: None,
        }
    }

    pub(crate) fn is_expired(&self) -> bool {
        self.timeout_secs == Some(0)
    }

    pub(crate) fn canonical(&self) -> Self {
        Self {
            address: self.address.to_canonical(),
            timeout_secs: self.timeout_secs,
        }
    }
}

/// One source port of an address in the port-ban sets, with the time it has left: one phone
/// behind a NAT address whose other phones must go on working.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TimedPort {
    /// The address (IPv4-mapped IPv6 treated as IPv4) and the source port.
    pub source: SocketAddr,
    /// Seconds left; `None` means no timeout, `Some(0)` already expired (skipped).
    pub timeout_secs: Option<u32>,
}

impl TimedPort {
    /// An element that expires after `secs` seconds.
    pub fn expiring(source: SocketAddr, secs: u32) -> Self {
        Self {
            source,
            timeout_secs: Some(secs),
        }
    }

    pub(crate) fn canonical(&self) -> Self {
        Self {
            source: SocketAddr::new(self.source.ip().to_canonical(), self.source.port()),
            timeout_secs: self.timeout_secs,
        }
    }
}

/// What a ban applies to: a whole address, or one source port of it. Written as the address
/// (`203.0.113.7`, `2001:db8::7`) or as address and port (`203.0.113.7:5062`,
/// `[2001:db8::7]:5062`), which is how the API names a ban and the database keys it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BanTarget {
    /// Every packet of the address.
    Address(IpAddr),
    /// Packets of the address from this source port only.
    Port(SocketAddr),
}

impl BanTarget {
    /// Reads `203.0.113.7` or `203.0.113.7:5062` (IPv6 with brackets and a port, or bare).
    /// IPv4-mapped addresses become IPv4.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Some(Self::Address(ip.to_canonical()));
        }
        let sa = text.parse::<SocketAddr>().ok()?;
        (sa.port() != 0).then(|| Self::Port(SocketAddr::new(sa.ip().to_canonical(), sa.port())))
    }

    /// The address.
    pub fn ip(&self) -> IpAddr {
        match self {
            Self::Address(ip) => *ip,
            Self::Port(sa) => sa.ip(),
        }
    }

    /// The port, for a port ban.
    pub fn port(&self) -> Option<u16> {
        match self {
            Self::Address(_) => None,
            Self::Port(sa) => Some(sa.port()),
        }
    }
}

impl fmt::Display for BanTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Address(ip) => ip.fmt(f),
            Self::Port(sa) => sa.fmt(f),
        }
    }
}

/// What the kernel's timed sets hold right now, read by the backend just before an apply
/// (`nft -j list set inet sipwarden ban_v4` gives each element's `expires`).
///
/// The renderer re-adds these with their remaining time, so replacing the table does not
/// lift a single ban. The backend must make the read-render-apply step the only writer of
/// the table while it runs (the enforcer queues its bans meanwhile), or a ban added between
/// the read and the apply would be lost.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DynamicState {
    /// Banned sources (sets `ban_v4`/`ban_v6`).
    pub bans: Vec<TimedAddress>,
    /// "Trust my current address for N hours" entries (sets `allow_v4`/`allow_v6`).
    pub temporary_allows: Vec<TimedAddress>,
    /// Sources that authenticated successfully recently (sets `known_v4`/`known_v6`); they
    /// get the generous rate tier.
    pub known_good: Vec<TimedAddress>,
    /// Banned source ports (sets `banport_v4`/`banport_v6`).
    pub port_bans: Vec<TimedPort>,
}

impl DynamicState {
    /// Whether `address` is currently banned, and for how long.
    pub fn ban_of(&self, address: IpAddr) -> Option<TimedAddress> {
        let address = address.to_canonical();
        normalise(&self.bans)
            .into_iter()
            .find(|b| b.address == address)
    }
}

/// Canonical addresses, expired entries dropped, duplicates merged (the longest remaining
/// time wins, no timeout being the longest), sorted by address for byte-stable output.
pub(crate) fn normalise(entries: &[TimedAddress]) -> Vec<TimedAddress> {
    let mut out: Vec<TimedAddress> = entries
        .iter()
        .map(TimedAddress::canonical)
        .filter(|e| !e.is_expired())
        .collect();
    // `None` must sort as the longest; map it to u64::MAX for the comparison.
    let rank = |e: &TimedAddress| e.timeout_secs.map_or(u64::MAX, u64::from);
    out.sort_by(|a, b| a.address.cmp(&b.address).then(rank(b).cmp(&rank(a))));
    out.dedup_by(|later, first| later.address == first.address);
    out
}

/// [`normalise`] for port bans.
pub(crate) fn normalise_ports(entries: &[TimedPort]) -> Vec<TimedPort> {
    let mut out: Vec<TimedPort> = entries
        .iter()
        .map(TimedPort::canonical)
        .filter(|e| e.timeout_secs != Some(0))
        .collect();
    let rank = |e: &TimedPort| e.timeout_secs.map_or(u64::MAX, u64::from);
    out.sort_by(|a, b| a.source.cmp(&b.source).then(rank(b).cmp(&rank(a))));
    out.dedup_by(|later, first| later.source == first.source);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address")
    }

    #[test]
    fn a_ban_target_is_an_address_or_an_address_and_port() {
        assert_eq!(
            BanTarget::parse("203.0.113.7"),
            Some(BanTarget::Address(ip("203.0.113.7")))
        );
        assert_eq!(
            BanTarget::parse("::ffff:203.0.113.7"),
            Some(BanTarget::Address(ip("203.0.113.7")))
        );
        let port = BanTarget::parse("203.0.113.7:5062").unwrap();
        assert_eq!(port.port(), Some(5062));
        assert_eq!(port.to_string(), "203.0.113.7:5062");
        let v6 = BanTarget::parse("[2001:db8::7]:5062").unwrap();
        assert_eq!(v6.to_string(), "[2001:db8::7]:5062");
        assert_eq!(
            BanTarget::parse("[::ffff:203.0.113.7]:9")
                .unwrap()
                .to_string(),
            "203.0.113.7:9"
        );
        for bad in [
            "",
            "203.0.113.7:0",
            "203.0.113.7:70000",
            "host:5060",
            "203.0.113.7/24",
        ] {
            assert_eq!(BanTarget::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn normalising_keeps_the_longest_timeout_with_no_timeout_longest_of_all() {
        let out = normalise(&[
            TimedAddress::expiring(ip("192.0.2.1"), 60),
            TimedAddress::permanent(ip("::ffff:192.0.2.1")),
            TimedAddress::expiring(ip("192.0.2.1"), 600),
            TimedAddress::expiring(ip("192.0.2.2"), 5),
            TimedAddress::expiring(ip("192.0.2.2"), 50),
            TimedAddress::expiring(ip("192.0.2.3"), 0),
        ]);
        assert_eq!(
            out,
            [
                TimedAddress::permanent(ip("192.0.2.1")),
                TimedAddress::expiring(ip("192.0.2.2"), 50)
            ]
        );
    }
}
