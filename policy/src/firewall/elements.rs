//! Element commands for the backend's fast path: add or remove bans, temporary allows and
//! known-good sources without re-rendering the table.
//!
//! Each helper returns one [`NftBatch`] (one transaction), with IPv4 and IPv6 addresses routed
//! to the `_v4` and `_v6` set. Removal is written as "add, then delete" in the same batch:
//! `delete element` of an element that is not there (a ban that just expired) fails the whole
//! transaction, while `add` of an element that is there is a no-op. Addition is written as
//! "add, delete, add with timeout", so the new timeout holds even where the kernel keeps the
//! old timeout of an element that already exists (a progressive ban getting longer).

use std::net::{IpAddr, SocketAddr};

use nftables::expr::Expression;
use nftables::schema::{NfCmd, NfListObject};

use super::batch::NftBatch;
use super::nft::{self, Family};
use super::policy::CheckedFirewallPolicy;
use super::state::{TimedAddress, TimedPort, normalise, normalise_ports};
use super::{ALLOW_SET, BAN_PORT_SET, BAN_SET, KNOWN_SET};

/// Bans `entries` (`add element inet sipwarden ban_v4 { 192.0.2.1 timeout 600s }`).
///
/// Allowlisted addresses are not filtered out here: the allow rule comes before the ban
/// rule, so such a ban has no effect; the guard is the place that refuses to ban them.
pub fn add_ban_elements(entries: &[TimedAddress]) -> NftBatch {
    upsert(BAN_SET, &normalise(entries))
}

/// Lifts the bans of `addresses`; an address that is not banned is no error.
pub fn delete_ban_elements(addresses: &[IpAddr]) -> NftBatch {
    remove(BAN_SET, &plain(addresses))
}

/// Bans single source ports of addresses (`add element inet sipwarden banport_v4
/// { 192.0.2.1 . 5062 timeout 900s }`), replacing an earlier timeout like
/// [`add_ban_elements`].
pub fn add_port_ban_elements(entries: &[TimedPort]) -> NftBatch {
    let entries = normalise_ports(entries);
    let mut batch = NftBatch::default();
    for family in Family::BOTH {
        let of_family: Vec<&TimedPort> = entries
            .iter()
            .filter(|e| Family::of(e.source.ip()) == family)
            .collect();
        if of_family.is_empty() {
            continue;
        }
        let set = nft::set_name(BAN_PORT_SET, family);
        let plain: Vec<Expression<'static>> = of_family
            .iter()
            .map(|e| nft::address_port(e.source.ip(), e.source.port()))
            .collect();
        let timed: Vec<Expression<'static>> = of_family
            .iter()
            .map(|e| {
                nft::timed(
                    nft::address_port(e.source.ip(), e.source.port()),
                    e.timeout_secs,
                )
            })
            .collect();
        batch.push(NfCmd::Add(nft::element(set.clone(), plain.clone())));
        batch.push(NfCmd::Delete(nft::element(set.clone(), plain)));
        batch.push(NfCmd::Add(nft::element(set, timed)));
    }
    batch
}

/// Lifts port bans; one that is not there is no error.
pub fn delete_port_ban_elements(sources: &[SocketAddr]) -> NftBatch {
    let entries: Vec<TimedPort> = sources
        .iter()
        .map(|s| TimedPort {
            source: *s,
            timeout_secs: None,
        })
        .collect();
    let entries = normalise_ports(&entries);
    let mut batch = NftBatch::default();
    for family in Family::BOTH {
        let plain: Vec<Expression<'static>> = entries
            .iter()
            .filter(|e| Family::of(e.source.ip()) == family)
            .map(|e| nft::address_port(e.source.ip(), e.source.port()))
            .collect();
        if plain.is_empty() {
            continue;
        }
        let set = nft::set_name(BAN_PORT_SET, family);
        batch.push(NfCmd::Add(nft::element(set.clone(), plain.clone())));
        batch.push(NfCmd::Delete(nft::element(set, plain)));
    }
    batch
}

/// Marks `entries` as known-good sources (the generous rate tier).
pub fn add_known_good_elements(entries: &[TimedAddress]) -> NftBatch {
    upsert(KNOWN_SET, &normalise(entries))
}

/// Takes addresses out of the known-good sets; one that is not there is no error.
pub fn delete_known_good_elements(addresses: &[IpAddr]) -> NftBatch {
    remove(KNOWN_SET, &plain(addresses))
}

/// Trusts `entries` for their timeout ("trust my current address for N hours").
///
/// Addresses inside a pinned trusted or admin network are left out: they are trusted
/// already, and the allow sets are interval sets, which refuse overlapping elements.
pub fn add_allow_elements(policy: &CheckedFirewallPolicy, entries: &[TimedAddress]) -> NftBatch {
    let entries: Vec<TimedAddress> = normalise(entries)
        .into_iter()
        .filter(|e| policy.pinned_allow_covering(e.address).is_none())
        .collect();
    upsert(ALLOW_SET, &entries)
}

/// Ends the temporary trust of `addresses`. Addresses inside a pinned network are left out:
/// pinned trust changes only with the policy.
pub fn delete_allow_elements(policy: &CheckedFirewallPolicy, addresses: &[IpAddr]) -> NftBatch {
    let entries: Vec<TimedAddress> = plain(addresses)
        .into_iter()
        .filter(|e| policy.pinned_allow_covering(e.address).is_none())
        .collect();
    remove(ALLOW_SET, &entries)
}

fn plain(addresses: &[IpAddr]) -> Vec<TimedAddress> {
    let entries: Vec<TimedAddress> = addresses
        .iter()
        .map(|a| TimedAddress::permanent(*a))
        .collect();
    normalise(&entries)
}

fn per_family(base: &str, entries: &[TimedAddress], mut each: impl FnMut(String, &[TimedAddress])) {
    for family in Family::BOTH {
        let of_family: Vec<TimedAddress> = entries
            .iter()
            .filter(|e| Family::of(e.address) == family)
            .copied()
            .collect();
        if !of_family.is_empty() {
            each(nft::set_name(base, family), &of_family);
        }
    }
}

fn element(set: &str, entries: &[TimedAddress], with_timeout: bool) -> NfListObject<'static> {
    let elems: Vec<Expression<'static>> = entries
        .iter()
        .map(|e| {
            let timeout = if with_timeout { e.timeout_secs } else { None };
            nft::timed(nft::address(e.address), timeout)
        })
        .collect();
    nft::element(set.to_owned(), elems)
}

fn upsert(base: &str, entries: &[TimedAddress]) -> NftBatch {
    let mut batch = NftBatch::default();
    per_family(base, entries, |set, of_family| {
        batch.push(NfCmd::Add(element(&set, of_family, false)));
        batch.push(NfCmd::Delete(element(&set, of_family, false)));
        batch.push(NfCmd::Add(element(&set, of_family, true)));
    });
    batch
}

fn remove(base: &str, entries: &[TimedAddress]) -> NftBatch {
    let mut batch = NftBatch::default();
    per_family(base, entries, |set, of_family| {
        batch.push(NfCmd::Add(element(&set, of_family, false)));
        batch.push(NfCmd::Delete(element(&set, of_family, false)));
    });
    batch
}
