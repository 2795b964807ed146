//! The run-time contents of the timed sets (bans, temporary allows, known-good sources), which
//! the guard and the API change between applies and which a re-apply must carry over.

use std::net::IpAddr;

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

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address")
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
