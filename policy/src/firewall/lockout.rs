//! Lockout preview: which of the peers we know about the new rules would block, and why,
//! shown before an apply so nobody locks themselves (or their trunk) out.
//!
//! The checks walk the same order as the `guard` chain (loopback, allow, ban, blocklist,
//! AMI, console), so the preview and the kernel agree on who wins. Rate meters are not a
//! block (a peer within its rate passes) and are not reported.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::policy::CheckedFirewallPolicy;
use super::state::{DynamicState, normalise};

/// What a peer is to us, which decides the ports it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeerKind {
    /// A phone or softphone (needs the SIP ports).
    Endpoint,
    /// A SIP provider or another PBX (needs the SIP ports).
    Trunk,
    /// An administrator (needs the console port).
    Admin,
    /// A program talking to the Asterisk Manager Interface (needs the AMI port).
    AmiClient,
}

/// A peer currently talking to us: a registered endpoint's contact, a trunk's signalling
/// address, a signed-in administrator, a connected AMI client.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Peer {
    /// What the peer is.
    pub kind: PeerKind,
    /// How the administrator knows it (endpoint id, trunk name, user name).
    pub name: String,
    /// The source address its packets come from.
    pub address: IpAddr,
}

/// Why the new rules would block a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum BlockReason {
    /// The address is banned and not allowlisted.
    Banned {
        /// Seconds the ban has left (`None`: until lifted).
        timeout_secs: Option<u32>,
    },
    /// The address is in a blocklisted network and not allowlisted.
    Blocklisted {
        /// The blocklisted network.
        network: IpNet,
    },
    /// An AMI client outside loopback, the trusted networks and the AMI networks.
    AmiClosed,
    /// An administrator outside loopback, the trusted and the admin networks, while the
    /// console is restricted.
    ConsoleRestricted,
}

impl fmt::Display for BlockReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Banned {
                timeout_secs: Some(secs),
            } => write!(f, "banned for another {secs} s"),
            Self::Banned { timeout_secs: None } => f.write_str("banned until the ban is lifted"),
            Self::Blocklisted { network } => write!(f, "inside blocklisted network {network}"),
            Self::AmiClosed => {
                f.write_str("outside the AMI networks: the AMI port is closed to it")
            }
            Self::ConsoleRestricted => {
                f.write_str("outside the admin networks while the console is restricted")
            }
        }
    }
}

/// A peer the new rules would block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lockout {
    /// The peer.
    pub peer: Peer,
    /// Why.
    pub reason: BlockReason,
}

impl fmt::Display for Lockout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} {} ({}): {}",
            self.peer.kind, self.peer.name, self.peer.address, self.reason
        )
    }
}

/// The peers that `policy` (with the sets holding `state`) would block, in the order given,
/// each with the first rule that would drop it.
pub fn preview_lockout(
    policy: &CheckedFirewallPolicy,
    state: &DynamicState,
    peers: &[Peer],
) -> Vec<Lockout> {
    if !policy.enabled() {
        return Vec::new();
    }
    let temporary = normalise(&state.temporary_allows);
    peers
        .iter()
        .filter_map(|peer| {
            let address = peer.address.to_canonical();
            let allowlisted = address.is_loopback()
                || policy.pinned_allow_covering(address).is_some()
                || temporary.iter().any(|t| t.address == address);
            if allowlisted {
                return None;
            }
            let reason = if let Some(ban) = state.ban_of(address) {
                Some(BlockReason::Banned {
                    timeout_secs: ban.timeout_secs,
                })
            } else if let Some(network) = policy.blocklist().iter().find(|n| n.contains(&address)) {
                Some(BlockReason::Blocklisted { network: *network })
            } else {
                match peer.kind {
                    PeerKind::AmiClient
                        if !policy.ami_networks().iter().any(|n| n.contains(&address)) =>
                    {
                        Some(BlockReason::AmiClosed)
                    }
                    PeerKind::Admin if policy.restrict_console() => {
                        Some(BlockReason::ConsoleRestricted)
                    }
                    _ => None,
                }
            };
            reason.map(|reason| Lockout {
                peer: peer.clone(),
                reason,
            })
        })
        .collect()
}
