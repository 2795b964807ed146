//! Networks and the permit/deny lists built from them (step 1).
//!
//! Addresses are parsed by `ipnet` and re-serialised, never copied from input, so whatever
//! reaches a `permit=` line is a canonical network (reference §5.8).

use super::error::InvalidField;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;

/// One network in an ACL: an address with its prefix length and no host bits set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Network(IpNet);

impl Network {
    /// Parses `198.51.100.0/24`, `2001:db8::/32` or a bare address (a /32 or /128).
    pub fn parse(value: &str) -> Result<Self, InvalidField> {
        let err = |rule: String| InvalidField::new("network", rule);
        if value.is_empty() || value.len() > 64 {
            return Err(err(format!(
                "must be an address or network of at most 64 characters (this one has {} bytes)",
                value.len()
            )));
        }
        let net = match value.parse::<IpNet>() {
            Ok(net) => net,
            Err(_) => match value.parse::<IpAddr>() {
                Ok(addr) => IpNet::from(addr),
                Err(_) => {
                    return Err(err(
                        "is not an IPv4 or IPv6 address or network (write e.g. 198.51.100.0/24)"
                            .to_owned(),
                    ));
                }
            },
        };
        if net.trunc() != net {
            // Why: Asterisk would silently apply the mask; refusing makes the admin see that
            // `198.51.100.7/24` means the whole /24.
            return Err(err(format!(
                "has host bits set; the network is {}",
                net.trunc()
            )));
        }
        if let IpNet::V6(v6) = net
            && v6.addr().to_ipv4_mapped().is_some()
        {
            // Why: Asterisk checks IPv4-mapped sources against the IPv4 rules, so a mapped
            // IPv6 rule would never match anything (reference §1e).
            return Err(err(
                "is an IPv4-mapped IPv6 address; write the IPv4 form".to_owned()
            ));
        }
        Ok(Self(net))
    }

    /// The network as `ipnet` holds it.
    pub fn ip_net(&self) -> IpNet {
        self.0
    }

    /// Whether this is an IPv4 network.
    pub fn is_ipv4(&self) -> bool {
        matches!(self.0, IpNet::V4(_))
    }

    /// Whether `addr` lies inside this network.
    pub fn contains(&self, addr: &IpAddr) -> bool {
        self.0.contains(addr)
    }

    /// Whether this network is everything of its family (a /0).
    pub fn is_everything(&self) -> bool {
        self.0.prefix_len() == 0
    }
}

impl From<IpAddr> for Network {
    fn from(addr: IpAddr) -> Self {
        Self(IpNet::from(addr))
    }
}

impl TryFrom<String> for Network {
    type Error = InvalidField;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Network> for String {
    fn from(value: Network) -> String {
        value.to_string()
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // ipnet prints `addr/len` in canonical form: the exact text Asterisk gets.
        write!(f, "{}", self.0)
    }
}

/// The most networks one list may hold; a longer list is almost certainly a mistake and
/// every entry is one line Asterisk has to evaluate per request.
pub const MAX_NETWORKS: usize = 64;

/// Who may talk to one SIP endpoint or AMI user: everything is denied, then `permit` is let
/// in, then `deny` carves exceptions out of it.
///
/// Rendered as `deny=0.0.0.0/0.0.0.0`, `deny=::/0`, the `permit=` lines, then the `deny=`
/// lines, because Asterisk starts from allow and the last matching rule wins (reference §1e).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "AclLists", into = "AclLists")]
pub struct Acl {
    permit: Vec<Network>,
    deny: Vec<Network>,
}

/// The raw lists of an [`Acl`], as stored and as the API sends them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AclLists {
    /// Networks let in.
    pub permit: Vec<String>,
    /// Exceptions inside the permitted networks.
    #[serde(default)]
    pub deny: Vec<String>,
}

impl Acl {
    /// Checks the lists: at least one permitted network, none of them a /0, no duplicates.
    pub fn new(permit: Vec<Network>, deny: Vec<Network>) -> Result<Self, InvalidField> {
        if permit.is_empty() {
            return Err(InvalidField::new(
                "permit",
                "must list at least one network; everything else is denied",
            ));
        }
        for (list, name) in [(&permit, "permit"), (&deny, "deny")] {
            if list.len() > MAX_NETWORKS {
                return Err(InvalidField::new(
                    name,
                    format!("must list at most {MAX_NETWORKS} networks"),
                ));
            }
            for (i, net) in list.iter().enumerate() {
                if list[..i].contains(net) {
                    return Err(InvalidField::new(
                        format!("{name}[{i}]"),
                        format!("{net} is listed twice"),
                    ));
                }
            }
        }
        if let Some(i) = permit.iter().position(Network::is_everything) {
            // Why (step 1): permitting a /0 silently turns the ACL off.
            return Err(InvalidField::new(
                format!("permit[{i}]"),
                "a /0 network would let every address in",
            ));
        }
        Ok(Self { permit, deny })
    }

    /// Parses and checks raw lists, naming the failing entry (`permit[2]`).
    pub fn from_strings(permit: &[String], deny: &[String]) -> Result<Self, InvalidField> {
        let parse = |list: &[String], name: &str| -> Result<Vec<Network>, InvalidField> {
            if list.len() > MAX_NETWORKS {
                return Err(InvalidField::new(
                    name,
                    format!("must list at most {MAX_NETWORKS} networks"),
                ));
            }
            list.iter()
                .enumerate()
                .map(|(i, s)| Network::parse(s).map_err(|e| e.for_field(format!("{name}[{i}]"))))
                .collect()
        };
        Self::new(parse(permit, "permit")?, parse(deny, "deny")?)
    }

    /// The permitted networks, in order.
    pub fn permit(&self) -> &[Network] {
        &self.permit
    }

    /// The denied exceptions, in order.
    pub fn deny(&self) -> &[Network] {
        &self.deny
    }

    /// Whether any permitted network is IPv4 / IPv6.
    pub fn families(&self) -> (bool, bool) {
        let v4 = self.permit.iter().any(Network::is_ipv4);
        let v6 = self.permit.iter().any(|n| !n.is_ipv4());
        (v4, v6)
    }

    /// The rules in the order Asterisk must read them: (`"permit"`/`"deny"`, network text).
    pub fn rules(&self) -> Vec<(&'static str, String)> {
        let mut rules = Vec::with_capacity(2 + self.permit.len() + self.deny.len());
        rules.push(("deny", DENY_ALL_V4.to_owned()));
        rules.push(("deny", DENY_ALL_V6.to_owned()));
        rules.extend(self.permit.iter().map(|n| ("permit", n.to_string())));
        rules.extend(self.deny.iter().map(|n| ("deny", n.to_string())));
        rules
    }
}

/// Denies every IPv4 source; written with a dotted mask, as Asterisk's own samples do.
pub const DENY_ALL_V4: &str = "0.0.0.0/0.0.0.0";
/// Denies every IPv6 source: IPv4 rules never match IPv6 (reference §1e).
pub const DENY_ALL_V6: &str = "::/0";

impl TryFrom<AclLists> for Acl {
    type Error = InvalidField;
    fn try_from(lists: AclLists) -> Result<Self, Self::Error> {
        Self::from_strings(&lists.permit, &lists.deny)
    }
}

impl From<Acl> for AclLists {
    fn from(acl: Acl) -> Self {
        Self {
            permit: acl.permit.iter().map(ToString::to_string).collect(),
            deny: acl.deny.iter().map(ToString::to_string).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_address_becomes_a_host_network() {
        assert_eq!(
            Network::parse("192.0.2.10").unwrap().to_string(),
            "192.0.2.10/32"
        );
        assert_eq!(
            Network::parse("2001:db8::1").unwrap().to_string(),
            "2001:db8::1/128"
        );
    }

    #[test]
    fn a_network_with_host_bits_is_refused_with_the_intended_network() {
        let err = Network::parse("198.51.100.7/24").unwrap_err();
        assert!(err.rule().contains("198.51.100.0/24"), "{err}");
    }

    #[test]
    fn a_permit_of_everything_is_refused() {
        let err = Acl::from_strings(&["0.0.0.0/0".into()], &[]).unwrap_err();
        assert_eq!(err.field(), "permit[0]");
    }

    #[test]
    fn rules_deny_both_families_before_permitting() {
        let acl = Acl::from_strings(&["198.51.100.0/24".into()], &["198.51.100.9".into()]).unwrap();
        let rules: Vec<String> = acl
            .rules()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(
            rules,
            [
                "deny=0.0.0.0/0.0.0.0",
                "deny=::/0",
                "permit=198.51.100.0/24",
                "deny=198.51.100.9/32"
            ]
        );
    }
}
