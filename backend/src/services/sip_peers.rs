//! The SIP peers talking to this PBX right now: trunks at their signalling addresses and
//! endpoints at the addresses they registered from (asked over AMI). The firewall's lockout
//! preview checks them against new rules before they go live.

use std::net::IpAddr;
use std::time::Duration;

use policy::firewall::{Peer, PeerKind};

use crate::core::Core;
use crate::services::pbx;

/// How long the preview waits for AMI: a missing Asterisk must not stall the firewall page.
const AMI_TIMEOUT: Duration = Duration::from_secs(2);

/// Trunks and registered endpoints (the caller sorts and merges duplicates). What cannot be
/// read (no model yet, Asterisk down) is left out and logged, never an error: the preview
/// then covers fewer peers, and says which it covered.
pub async fn sip_peers(core: &Core) -> Vec<Peer> {
    let Ok(stored) = pbx::load_all(&core.db).await else {
        return Vec::new();
    };
    let mut peers: Vec<Peer> = stored
        .trunks
        .iter()
        .map(|t| Peer {
            kind: PeerKind::Trunk,
            name: t.name().to_string(),
            address: t.peer(),
        })
        .collect();
    match registered_contacts(core, &stored.policy).await {
        Ok(contacts) => peers.extend(contacts),
        Err(e) => tracing::debug!(error = %e, "no registered contacts for the lockout preview"),
    }
    peers
}

async fn registered_contacts(
    core: &Core,
    policy: &policy::asterisk::GlobalPolicy,
) -> Result<Vec<Peer>, crate::asterisk::ami::AmiError> {
    let mut ami = crate::services::apply_account::login(core, policy, AMI_TIMEOUT).await?;
    let events = ami.list("PJSIPShowContacts", &[]).await?;
    ami.logoff().await;
    Ok(events
        .iter()
        .filter_map(|e| {
            let name = e.get("Endpoint")?.to_owned();
            // ViaAddr: where the REGISTER came from (behind NAT, not the Contact's host).
            let address = e
                .get("ViaAddr")
                .and_then(|a| a.parse::<IpAddr>().ok())
                .or_else(|| e.get("Uri").and_then(uri_host))?;
            Some(Peer {
                kind: PeerKind::Endpoint,
                name,
                address,
            })
        })
        .collect())
}

/// The host of `sip:user@host:port;params` when it is an address.
fn uri_host(uri: &str) -> Option<IpAddr> {
    let rest = uri.split_once('@').map_or(uri, |(_, r)| r);
    let rest = rest.trim_start_matches("sip:").trim_start_matches("sips:");
    let host = if let Some(v6) = rest.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        rest.split([':', ';', '>']).next()?
    };
    host.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_of_a_contact_uri_is_found() {
        assert_eq!(
            uri_host("sip:abc@198.51.100.10:5060;ob"),
            Some("198.51.100.10".parse().unwrap())
        );
        assert_eq!(
            uri_host("sip:abc@[2001:db8::1]:5060"),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(uri_host("sip:abc@phone.example"), None);
    }
}
