//! Where a webhook may be delivered (#18 L3).
//!
//! A webhook makes the appliance send requests where an administrator — or whoever holds a
//! write token — points it. Aimed at loopback it reaches services that trust the host
//! itself (Asterisk's AMI and HTTP, sipwarden's own `/metrics`); at a link-local address it
//! reaches cloud metadata services (and their credentials); at one of the host's own
//! addresses, the same as loopback. So those targets are refused unless an administrator
//! enables them for that alert. Other private networks (a chat server on the office LAN)
//! are the common case and stay allowed.
//!
//! The check happens where the address is known for certain: a host name is resolved once
//! per connection by [`CheckedResolver`], whose addresses are then the only ones connected
//! to (a name that answers differently a second later — DNS rebinding — changes nothing);
//! a literal address in the URL is checked by [`check_literal`] before any attempt.

use std::net::{IpAddr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// A delivery target the alert may not reach.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{host} is {why} ({ip}): refused; enable internal targets on this alert if it is meant to go there"
)]
pub struct TargetRefused {
    host: String,
    ip: IpAddr,
    why: &'static str,
}

/// Cloud metadata services outside the link-local range (AWS's IPv6 one, Alibaba's).
const METADATA: [IpAddr; 2] = [
    IpAddr::V6(std::net::Ipv6Addr::new(
        0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254,
    )),
    IpAddr::V4(std::net::Ipv4Addr::new(100, 100, 100, 200)),
];

/// The IPv4 address inside an IPv6 one that only carries it: mapped (`::ffff:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`) or NAT64 (`64:ff9b::a.b.c.d`), where a packet ends up at
/// the IPv4 address.
fn carried_v4(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = ip else {
        return ip;
    };
    let s = v6.segments();
    let o = v6.octets();
    let v4 = || IpAddr::V4(std::net::Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    if s[..6] == [0; 6] && !v6.is_loopback() && !v6.is_unspecified() {
        return v4();
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return v4();
    }
    ip.to_canonical()
}

/// Why `ip` counts as internal, or `None` for an address a webhook may go to.
#[must_use]
pub fn internal_kind(ip: IpAddr, own: &[IpAddr]) -> Option<&'static str> {
    let ip = carried_v4(ip);
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    if ip.is_unspecified() || matches!(ip, IpAddr::V4(v4) if v4.octets()[0] == 0) {
        return Some("an address of this host (0.0.0.0/8)");
    }
    if METADATA.contains(&ip) {
        return Some("a cloud metadata address");
    }
    let link_local = match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.is_unicast_link_local(),
    };
    if link_local {
        return Some("a link-local address (where cloud metadata services answer)");
    }
    let broadcast = matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
    if ip.is_multicast() || broadcast {
        return Some("a multicast or broadcast address");
    }
    if own.iter().any(|o| o.to_canonical() == ip) {
        return Some("one of this host's own addresses");
    }
    None
}

/// This host's addresses, read at each check (interfaces come and go).
#[must_use]
pub fn own_addresses() -> Vec<IpAddr> {
    if_addrs::get_if_addrs()
        .map(|ifs| ifs.iter().map(if_addrs::Interface::ip).collect())
        .unwrap_or_default()
}

/// Refuses a URL whose host is a literal internal address, or a name that is loopback by
/// definition (`localhost`, RFC 6761); other names are checked when resolved.
pub fn check_literal(url: &reqwest::Url) -> Result<(), TargetRefused> {
    let refuse = |ip: IpAddr, why| TargetRefused {
        host: url.host_str().unwrap_or_default().to_owned(),
        ip,
        why,
    };
    let Some(host) = url.host_str() else {
        return Ok(());
    };
    // The URL parser has normalised literals already (`[::1]`, `127.0.0.1` for `0x7f.1`).
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return check_ip(ip, &own_addresses(), refuse);
    }
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return Err(refuse(IpAddr::from([127, 0, 0, 1]), "a loopback address"));
    }
    Ok(())
}

fn check_ip(
    ip: IpAddr,
    own: &[IpAddr],
    refuse: impl Fn(IpAddr, &'static str) -> TargetRefused,
) -> Result<(), TargetRefused> {
    internal_kind(ip, own).map_or(Ok(()), |why| Err(refuse(ip, why)))
}

/// Resolves a webhook's host name and refuses it when any of its addresses is internal (a
/// name that mixes a public and a loopback address is not a receiver, it is a trick).
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckedResolver;

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let own = own_addresses();
            for addr in &found {
                check_ip(addr.ip(), &own, |ip, why| TargetRefused {
                    host: host.clone(),
                    ip,
                    why,
                })?;
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// The refusal inside a failed request, if that is why it failed.
#[must_use]
pub fn refusal_in<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a TargetRefused> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(refused) = e.downcast_ref::<TargetRefused>() {
            return Some(refused);
        }
        next = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> reqwest::Url {
        reqwest::Url::parse(text).unwrap()
    }

    #[test]
    fn loopback_link_local_and_own_addresses_are_internal_and_the_lan_is_not() {
        let own: Vec<IpAddr> = vec!["192.0.2.10".parse().unwrap()];
        for internal in [
            "127.0.0.1",
            "127.9.9.9",
            "::1",
            "::ffff:127.0.0.1",
            "0.0.0.0",
            "169.254.169.254",
            "fe80::1",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.10",
            "0.1.2.3",
            "fd00:ec2::254",
            "100.100.100.200",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(
                internal_kind(internal.parse().unwrap(), &own).is_some(),
                "{internal}"
            );
        }
        for fine in [
            "10.1.2.3",
            "192.168.1.20",
            "203.0.113.5",
            "2001:db8::1",
            "fd00::5",
        ] {
            assert_eq!(internal_kind(fine.parse().unwrap(), &own), None, "{fine}");
        }
    }

    #[test]
    fn literal_internal_hosts_are_refused_before_any_request() {
        for target in [
            "http://127.0.0.1:9000/hook",
            "http://[::1]/hook",
            "http://LOCALHOST./hook",
            "http://api.localhost/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::ffff:7f00:1]/",
            "http://0x7f.1/",
        ] {
            let refused = check_literal(&url(target)).unwrap_err();
            assert!(
                refused.to_string().contains("enable internal targets"),
                "{target}: {refused}"
            );
        }
        assert!(check_literal(&url("https://hooks.example.com/x")).is_ok());
        assert!(check_literal(&url("http://10.0.0.8:8080/x")).is_ok());
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_refused_by_the_resolver() {
        let name: Name = "localhost".parse().unwrap();
        let err = CheckedResolver.resolve(name).await.err().unwrap();
        let refused = refusal_in(err.as_ref()).expect("a TargetRefused");
        assert!(refused.to_string().contains("loopback"), "{refused}");
    }
}
