//! What this host depends on to reach anything: its default gateways and its DNS resolvers.
//! A ban of one of them (a forged datagram with its address is enough for a naive guard) would
//! take the PBX off its provider; the guard protects them.
//!
//! Read from the network namespace sipwarden runs in: `/proc/net/route`,
//! `/proc/net/ipv6_route` (the routing tables the kernel exports) and `/etc/resolv.conf`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// The gateways of the default routes and the resolvers, as host networks. What cannot be
/// read is left out (and said at debug level): a missing file only means less protection.
#[must_use]
pub fn infrastructure() -> Vec<IpNet> {
    let mut out: Vec<IpAddr> = Vec::new();
    for (path, parse) in [
        ("/proc/net/route", ipv4_gateways as fn(&str) -> Vec<IpAddr>),
        ("/proc/net/ipv6_route", ipv6_gateways),
        ("/etc/resolv.conf", resolvers),
    ] {
        match std::fs::read_to_string(path) {
            Ok(text) => out.extend(parse(&text)),
            Err(e) => {
                tracing::debug!(path, error = %e, "cannot read; its addresses stay unprotected")
            }
        }
    }
    out.sort();
    out.dedup();
    out.into_iter()
        .filter(|ip| !ip.is_unspecified() && !ip.is_loopback())
        .map(IpNet::from)
        .collect()
}

/// Gateways of the default routes in `/proc/net/route` (hex, in the kernel's byte order,
/// which is little-endian on every platform sipwarden ships for).
fn ipv4_gateways(text: &str) -> Vec<IpAddr> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (destination, gateway, mask) = (fields.get(1)?, fields.get(2)?, fields.get(7)?);
            if *destination != "00000000" || *mask != "00000000" {
                return None;
            }
            let raw = u32::from_str_radix(gateway, 16).ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(raw.swap_bytes())))
        })
        .collect()
}

/// Next hops of the default routes (`::/0`) in `/proc/net/ipv6_route`.
fn ipv6_gateways(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (destination, prefix, next_hop) = (fields.first()?, fields.get(1)?, fields.get(4)?);
            if destination.chars().any(|c| c != '0') || *prefix != "00" {
                return None;
            }
            let raw = u128::from_str_radix(next_hop, 16).ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(raw)))
        })
        .collect()
}

/// `nameserver` lines of `resolv.conf`.
fn resolvers(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next()? == "nameserver")
                .then(|| words.next()?.split('%').next()?.parse().ok())
                .flatten()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_gateways_and_resolvers_are_read() {
        let route = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        assert_eq!(
            ipv4_gateways(route),
            ["192.0.2.1".parse::<IpAddr>().unwrap()]
        );
        let route6 = "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n\
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0\n";
        assert_eq!(
            ipv6_gateways(route6),
            ["fd00::1".parse::<IpAddr>().unwrap()]
        );
        let resolv = "# comment\nsearch example.com\nnameserver 10.255.255.53\nnameserver fe80::1%eth0\nnameserver bogus\n";
        assert_eq!(
            resolvers(resolv),
            [
                "10.255.255.53".parse::<IpAddr>().unwrap(),
                "fe80::1".parse::<IpAddr>().unwrap()
            ]
        );
    }
}
