//! The administrator's firewall policy: the raw, serde-friendly [`FirewallPolicy`] and the
//! [`CheckedFirewallPolicy`] that only exists once every rule below has passed.
//!
//! Validation refuses rather than repairs whenever a repair would have to guess what the
//! administrator meant, because in a firewall a wrong guess either locks people out or lets
//! attackers in.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

pub use wire::firewall::{FirewallPolicy, Rate, RateLimits, RateTiers};

/// Which list of the policy a network came from (used in error messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NetworkList {
    /// `trusted_networks`
    Trusted,
    /// `admin_networks`
    Admin,
    /// `ami_networks`
    Ami,
    /// `blocklist`
    Blocklist,
}

impl fmt::Display for NetworkList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Trusted => "trusted_networks",
            Self::Admin => "admin_networks",
            Self::Ami => "ami_networks",
            Self::Blocklist => "blocklist",
        })
    }
}

/// Why a [`FirewallPolicy`] was refused. Every variant names the offending field and value,
/// so the message can go to the administrator as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FirewallPolicyError {
    /// Not an address nor a network in CIDR notation.
    #[error("{list}: `{value}` is not an IP address or network (expected e.g. 192.0.2.0/24)")]
    NotANetwork {
        /// The list the value is in.
        list: NetworkList,
        /// The value as given.
        value: String,
    },
    /// Host bits set, e.g. `192.0.2.7/24`.
    #[error(
        "{list}: `{value}` has host bits set; write `{network}` for the whole network or `{host}` for the single host"
    )]
    HostBitsSet {
        /// The list the value is in.
        list: NetworkList,
        /// The value as given.
        value: String,
        /// The network the prefix length describes.
        network: IpNet,
        /// The single host the address describes.
        host: IpNet,
    },
    /// `0.0.0.0/0` or `::/0`.
    #[error(
        "{list}: `{value}` covers every address; sipwarden refuses a rule for the whole internet"
    )]
    WholeInternet {
        /// The list the value is in.
        list: NetworkList,
        /// The value as given.
        value: String,
    },
    /// An IPv4-mapped IPv6 network, which the kernel never sees as a source.
    #[error("{list}: `{value}` is an IPv4-mapped IPv6 network; write the IPv4 network instead")]
    Ipv4Mapped {
        /// The list the value is in.
        list: NetworkList,
        /// The value as given.
        value: String,
    },
    /// Two entries of the same list overlap (a duplicate or one inside the other).
    #[error("{list}: `{inner}` is already covered by `{outer}`; remove one of them")]
    Overlap {
        /// The list both are in.
        list: NetworkList,
        /// The narrower (or equal) network.
        inner: IpNet,
        /// The wider (or equal) network.
        outer: IpNet,
    },
    /// A network that must be reachable overlaps a blocklisted one.
    #[error("`{allowed}` in {list} overlaps `{blocked}` in blocklist; a network cannot be both")]
    Contradiction {
        /// The list of the network that must be reachable.
        list: NetworkList,
        /// The network that must be reachable.
        allowed: IpNet,
        /// The blocklisted network.
        blocked: IpNet,
    },
    /// A port outside 1..=65535.
    #[error("{field}: port {value} is out of range (1..=65535)")]
    PortOutOfRange {
        /// The field name.
        field: &'static str,
        /// The value as given.
        value: u32,
    },
    /// Two services on the same port (SIP over UDP and TCP sharing one is allowed).
    #[error("{first} and {second} are both port {port}; each service needs its own port")]
    PortCollision {
        /// The first field.
        first: &'static str,
        /// The second field.
        second: &'static str,
        /// The shared port.
        port: u16,
    },
    /// The console is restricted to admin networks, but there are none.
    #[error(
        "restrict_console is set but admin_networks is empty: every administrator would be locked out of the console"
    )]
    NoAdminNetwork,
    /// A rate or burst of zero.
    #[error("rate_limits.{meter}.{tier}.{field} is 0; a zero rate would drop every request")]
    ZeroRate {
        /// `register`, `invite`, `options` or `tcp_connections`.
        meter: &'static str,
        /// `known` or `unknown`.
        tier: &'static str,
        /// `per_minute` or `burst`.
        field: &'static str,
    },
    /// The known-good tier is tighter than the unknown tier.
    #[error(
        "rate_limits.{meter}: the known tier ({known}/min) is tighter than the unknown tier ({unknown}/min)"
    )]
    TiersInverted {
        /// The meter.
        meter: &'static str,
        /// The known tier's rate.
        known: u32,
        /// The unknown tier's rate.
        unknown: u32,
    },
    /// The confirm window is too short to confirm or too long to be a safety net.
    #[error("confirm_window_secs is {value}; it must be between 10 and 3600")]
    ConfirmWindowOutOfRange {
        /// The value as given.
        value: u32,
    },
}

impl FirewallPolicyError {
    /// The policy field the error is about, as named in the JSON (`rate_limits.register`),
    /// so an API can point at it.
    #[must_use]
    pub fn field(&self) -> String {
        match self {
            Self::NotANetwork { list, .. }
            | Self::HostBitsSet { list, .. }
            | Self::WholeInternet { list, .. }
            | Self::Ipv4Mapped { list, .. }
            | Self::Overlap { list, .. }
            | Self::Contradiction { list, .. } => list.to_string(),
            Self::PortOutOfRange { field, .. } => (*field).to_owned(),
            Self::PortCollision { second, .. } => (*second).to_owned(),
            Self::NoAdminNetwork => "admin_networks".to_owned(),
            Self::ZeroRate { meter, tier, .. } => format!("rate_limits.{meter}.{tier}"),
            Self::TiersInverted { meter, .. } => format!("rate_limits.{meter}"),
            Self::ConfirmWindowOutOfRange { .. } => "confirm_window_secs".to_owned(),
        }
    }
}

/// A firewall policy that passed every check; the only input the renderer accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedFirewallPolicy {
    raw: FirewallPolicy,
    ports: Ports,
    trusted: Vec<IpNet>,
    admin: Vec<IpNet>,
    ami: Vec<IpNet>,
    blocklist: Vec<IpNet>,
}

/// The checked ports of a [`CheckedFirewallPolicy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    /// SIP over UDP.
    pub sip_udp: u16,
    /// SIP over TCP.
    pub sip_tcp: u16,
    /// SIP over TLS.
    pub sip_tls: u16,
    /// AMI.
    pub ami: u16,
    /// The web console.
    pub console: u16,
}

/// The checks of a [`FirewallPolicy`] (a trait because the plain type is defined with the other
/// wire types, in the `wire` crate).
pub trait CheckPolicy {
    /// Checks every rule and returns the first violation, in a fixed order (ports, networks,
    /// contradictions, lockout, rates, confirm window), so the same policy always gets the
    /// same answer.
    fn check(self) -> Result<CheckedFirewallPolicy, FirewallPolicyError>;
}

impl CheckPolicy for FirewallPolicy {
    fn check(self) -> Result<CheckedFirewallPolicy, FirewallPolicyError> {
        let ports = check_ports(&self)?;
        let trusted = parse_list(NetworkList::Trusted, &self.trusted_networks)?;
        let admin = parse_list(NetworkList::Admin, &self.admin_networks)?;
        let ami = parse_list(NetworkList::Ami, &self.ami_networks)?;
        let blocklist = parse_list(NetworkList::Blocklist, &self.blocklist)?;
        // Trusted and admin networks may overlap each other (an admin laptop inside the office
        // LAN is normal); they are merged into one allow set. But nothing that must stay
        // reachable may overlap the blocklist: which rule wins would be an accident of order.
        for (list, nets) in [
            (NetworkList::Trusted, &trusted),
            (NetworkList::Admin, &admin),
            (NetworkList::Ami, &ami),
        ] {
            for allowed in nets {
                if let Some(blocked) = blocklist.iter().find(|b| overlaps(allowed, b)) {
                    return Err(FirewallPolicyError::Contradiction {
                        list,
                        allowed: *allowed,
                        blocked: *blocked,
                    });
                }
            }
        }
        if self.restrict_console && admin.is_empty() {
            return Err(FirewallPolicyError::NoAdminNetwork);
        }
        check_rates(&self.rate_limits)?;
        if !(10..=3600).contains(&self.confirm_window_secs) {
            return Err(FirewallPolicyError::ConfirmWindowOutOfRange {
                value: self.confirm_window_secs,
            });
        }
        Ok(CheckedFirewallPolicy {
            raw: self,
            ports,
            trusted,
            admin,
            ami,
            blocklist,
        })
    }
}

fn check_ports(policy: &FirewallPolicy) -> Result<Ports, FirewallPolicyError> {
    let port = |field: &'static str, value: u32| match u16::try_from(value) {
        Ok(p) if p != 0 => Ok(p),
        _ => Err(FirewallPolicyError::PortOutOfRange { field, value }),
    };
    let ports = Ports {
        sip_udp: port("sip_udp_port", policy.sip_udp_port)?,
        sip_tcp: port("sip_tcp_port", policy.sip_tcp_port)?,
        sip_tls: port("sip_tls_port", policy.sip_tls_port)?,
        ami: port("ami_port", policy.ami_port)?,
        console: port("console_port", policy.console_port)?,
    };
    // SIP over UDP and TCP sharing 5060 is the convention and not a collision (different
    // protocols). Everything else must be distinct: the rate meters, the AMI restriction
    // and the console restriction would otherwise apply to the wrong service. The SIP UDP
    // port is compared too, because an AMI or console on "the SIP port" is a typo.
    let named = [
        ("sip_udp_port", ports.sip_udp),
        ("sip_tcp_port", ports.sip_tcp),
        ("sip_tls_port", ports.sip_tls),
        ("ami_port", ports.ami),
        ("console_port", ports.console),
    ];
    for (i, (first, a)) in named.iter().enumerate() {
        for (second, b) in &named[i + 1..] {
            let conventional = *first == "sip_udp_port" && *second == "sip_tcp_port";
            if a == b && !conventional {
                return Err(FirewallPolicyError::PortCollision {
                    first,
                    second,
                    port: *a,
                });
            }
        }
    }
    Ok(ports)
}

impl TryFrom<FirewallPolicy> for CheckedFirewallPolicy {
    type Error = FirewallPolicyError;

    fn try_from(policy: FirewallPolicy) -> Result<Self, Self::Error> {
        policy.check()
    }
}

/// The rate tiers' rules.
fn check_rates(limits: &RateLimits) -> Result<(), FirewallPolicyError> {
    for (meter, tiers) in limits.named() {
        for (tier, rate) in [("known", tiers.known), ("unknown", tiers.unknown)] {
            // A zero burst would make nft fall back to its default of 5, silently
            // differing from the policy; refuse it like a zero rate.
            for (field, value) in [("per_minute", rate.per_minute), ("burst", rate.burst)] {
                if value == 0 {
                    return Err(FirewallPolicyError::ZeroRate { meter, tier, field });
                }
            }
        }
        if tiers.known.per_minute < tiers.unknown.per_minute {
            return Err(FirewallPolicyError::TiersInverted {
                meter,
                known: tiers.known.per_minute,
                unknown: tiers.unknown.per_minute,
            });
        }
    }
    Ok(())
}

impl CheckedFirewallPolicy {
    /// The policy as given (it passed every check, so it is also the canonical form to store).
    pub fn policy(&self) -> &FirewallPolicy {
        &self.raw
    }

    /// Whether table `inet sipwarden` should exist.
    pub fn enabled(&self) -> bool {
        self.raw.enabled
    }

    /// The checked ports.
    pub fn ports(&self) -> Ports {
        self.ports
    }

    /// Whether the console port is closed to everyone but loopback, trusted and admin networks.
    pub fn restrict_console(&self) -> bool {
        self.raw.restrict_console
    }

    /// Trusted networks, sorted.
    pub fn trusted_networks(&self) -> &[IpNet] {
        &self.trusted
    }

    /// Pinned admin networks, sorted.
    pub fn admin_networks(&self) -> &[IpNet] {
        &self.admin
    }

    /// AMI networks, sorted.
    pub fn ami_networks(&self) -> &[IpNet] {
        &self.ami
    }

    /// Blocklisted networks, sorted.
    pub fn blocklist(&self) -> &[IpNet] {
        &self.blocklist
    }

    /// The rate tiers.
    pub fn rate_limits(&self) -> &RateLimits {
        &self.raw.rate_limits
    }

    /// Seconds before an unconfirmed change is reverted.
    pub fn confirm_window_secs(&self) -> u32 {
        self.raw.confirm_window_secs
    }

    /// The contents of the allow sets: trusted and admin networks merged, with networks inside
    /// others dropped, because an nftables interval set refuses overlapping elements.
    pub fn pinned_allow(&self) -> Vec<IpNet> {
        let all: Vec<IpNet> = self.trusted.iter().chain(&self.admin).copied().collect();
        IpNet::aggregate(&all)
    }

    /// The pinned allow network containing `address`, if any.
    pub fn pinned_allow_covering(&self, address: IpAddr) -> Option<IpNet> {
        self.trusted
            .iter()
            .chain(&self.admin)
            .find(|n| n.contains(&address))
            .copied()
    }
}

/// Whether two networks share at least one address (for prefixes: one contains the other).
pub(crate) fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(b) || b.contains(a)
}

fn parse_list(list: NetworkList, values: &[String]) -> Result<Vec<IpNet>, FirewallPolicyError> {
    let mut nets = Vec::with_capacity(values.len());
    for value in values {
        nets.push(parse_network(list, value)?);
    }
    // Sorted by (family, address, prefix): wider networks come before the networks inside
    // them, so one pass against the previous entries finds every overlap.
    nets.sort();
    for (i, inner) in nets.iter().enumerate() {
        if let Some(outer) = nets[..i].iter().find(|o| o.contains(inner)) {
            return Err(FirewallPolicyError::Overlap {
                list,
                inner: *inner,
                outer: *outer,
            });
        }
    }
    Ok(nets)
}

/// Parses one entry. Bare addresses are single hosts. Host bits set (`192.0.2.7/24`) are
/// refused rather than normalised: silently widening "this host" to "these 256 hosts" in a
/// trust list, or narrowing a blocklist entry, is exactly the kind of guess a firewall must
/// not make.
fn parse_network(list: NetworkList, value: &str) -> Result<IpNet, FirewallPolicyError> {
    let trimmed = value.trim();
    let net = if let Ok(net) = IpNet::from_str(trimmed) {
        net
    } else if let Ok(addr) = IpAddr::from_str(trimmed) {
        IpNet::from(addr)
    } else {
        return Err(FirewallPolicyError::NotANetwork {
            list,
            value: value.to_owned(),
        });
    };
    if net.trunc() != net {
        return Err(FirewallPolicyError::HostBitsSet {
            list,
            value: value.to_owned(),
            network: net.trunc(),
            host: IpNet::from(net.addr()),
        });
    }
    if net.prefix_len() == 0 {
        return Err(FirewallPolicyError::WholeInternet {
            list,
            value: value.to_owned(),
        });
    }
    // ::ffff:a.b.c.d is how a dual-stack socket shows an IPv4 peer; the kernel's IPv6 rules
    // never see such a source, so an entry like that would silently match nothing.
    if let IpNet::V6(v6) = net
        && v6.prefix_len() >= 96
        && v6.addr().to_ipv4_mapped().is_some()
    {
        return Err(FirewallPolicyError::Ipv4Mapped {
            list,
            value: value.to_owned(),
        });
    }
    Ok(net)
}
