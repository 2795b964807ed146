//! The guard's fast path: ban and unban single sources or batches, with their timeouts, and
//! end the banned sources' running flows.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use policy::firewall::{
    CheckedFirewallPolicy, NftBatch, TimedAddress, TimedPort, add_allow_elements, add_ban_elements,
    add_known_good_elements, add_port_ban_elements, delete_allow_elements, delete_ban_elements,
    delete_known_good_elements, delete_port_ban_elements,
};

use super::session::MAX_LINE;
use super::{Firewall, FirewallError};

/// What a ban did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BanOutcome {
    /// Addresses now in the ban sets (after merging duplicates and dropping expired ones).
    pub banned: usize,
    /// Conntrack entries of those sources that were deleted.
    pub flows_deleted: u64,
}

impl Firewall {
    /// Bans `address` for `duration` (rounded up to whole seconds, at least one) and ends its
    /// running flows. Banning an address again replaces its remaining time.
    pub async fn ban(
        &self,
        address: IpAddr,
        duration: Duration,
    ) -> Result<BanOutcome, FirewallError> {
        self.ban_many(&[TimedAddress::expiring(address, whole_secs(duration))])
            .await
    }

    /// Bans every entry in one kernel transaction, then ends their running flows.
    pub async fn ban_many(&self, entries: &[TimedAddress]) -> Result<BanOutcome, FirewallError> {
        let sources = self.ban_in_kernel(entries).await?;
        // After the element is in: from here on new packets are dropped, so a flow deleted
        // now cannot be re-created by the attacker's next packet.
        let flows_deleted = self.inner.conntrack.delete_sources(&sources).await?;
        Ok(BanOutcome {
            banned: sources.len(),
            flows_deleted,
        })
    }

    /// Only the kernel half of [`Firewall::ban_many`]: puts the entries into the ban sets in one
    /// transaction and returns the distinct sources, whose flows the caller may end later
    /// with [`Conntrack::delete_sources`](super::Conntrack::delete_sources). From the moment
    /// this returns, every packet of theirs is dropped.
    pub async fn ban_in_kernel(
        &self,
        entries: &[TimedAddress],
    ) -> Result<Vec<IpAddr>, FirewallError> {
        let batch = add_ban_elements(entries);
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let mut sources: Vec<IpAddr> = entries
            .iter()
            .filter(|e| e.timeout_secs != Some(0))
            .map(|e| e.address.to_canonical())
            .collect();
        sources.sort();
        sources.dedup();
        self.write_elements(&batch).await?;
        Ok(sources)
    }

    /// The guard's fast path: bans addresses and single ports in one kernel transaction and
    /// returns as soon as the kernel has them. Their running flows are left to
    /// [`Firewall::end_flows`], which the caller runs afterwards, off the critical path.
    pub async fn ban_batch(
        &self,
        addresses: &[TimedAddress],
        ports: &[TimedPort],
    ) -> Result<(), FirewallError> {
        let batch = ban_elements(addresses, ports);
        if batch.is_empty() {
            return Ok(());
        }
        self.write_elements(&batch).await
    }

    /// [`Firewall::ban_batch`] at once, on the calling thread, for a caller that must not wait
    /// for the scheduler (the capture thread that decided the bans). `None` when that cannot
    /// be done now, and then nothing was sent: the firewall is not known to be live, another
    /// write holds the ban path, or the batch needs `nft` (a target namespace).
    pub fn try_ban_batch_now(
        &self,
        addresses: &[TimedAddress],
        ports: &[TimedPort],
    ) -> Option<Result<(), FirewallError>> {
        if self.enforcing_now() != Some(true) {
            return None;
        }
        let batch = ban_elements(addresses, ports);
        if batch.is_empty() {
            return Some(Ok(()));
        }
        let mut session = self.inner.writer.try_lock().ok()?;
        session.apply_direct(&batch)
    }

    /// Starts the long-lived `nft` that carries bans, so that the first ban does not wait
    /// for it.
    pub async fn warm_ban_path(&self) -> Result<(), FirewallError> {
        self.inner.writer.lock().await.warm().await
    }

    /// Ends the running flows of banned addresses and ports; returns how many went.
    pub async fn end_flows(
        &self,
        addresses: &[IpAddr],
        ports: &[SocketAddr],
    ) -> Result<u64, FirewallError> {
        let conntrack = &self.inner.conntrack;
        Ok(conntrack.delete_sources(addresses).await? + conntrack.delete_ports(ports).await?)
    }

    /// Bans single source ports of addresses in one transaction, then ends those flows (and
    /// only those: the address's other ports, its other phones, keep theirs).
    pub async fn ban_ports(&self, entries: &[TimedPort]) -> Result<BanOutcome, FirewallError> {
        let batch = add_port_ban_elements(entries);
        if batch.is_empty() {
            return Ok(BanOutcome {
                banned: 0,
                flows_deleted: 0,
            });
        }
        self.write_elements(&batch).await?;
        let mut sources: Vec<SocketAddr> = entries
            .iter()
            .filter(|e| e.timeout_secs != Some(0))
            .map(|e| SocketAddr::new(e.source.ip().to_canonical(), e.source.port()))
            .collect();
        sources.sort();
        sources.dedup();
        let flows_deleted = self.inner.conntrack.delete_ports(&sources).await?;
        Ok(BanOutcome {
            banned: sources.len(),
            flows_deleted,
        })
    }

    /// Lifts port bans; one that is not there is no error.
    pub async fn unban_ports(&self, sources: &[SocketAddr]) -> Result<(), FirewallError> {
        let batch = delete_port_ban_elements(sources);
        if batch.is_empty() {
            return Ok(());
        }
        self.write_elements(&batch).await
    }

    /// Puts addresses that logged in into the known sets (the generous rate tier).
    pub async fn mark_known(&self, entries: &[TimedAddress]) -> Result<(), FirewallError> {
        let batch = add_known_good_elements(entries);
        if batch.is_empty() {
            return Ok(());
        }
        self.write_elements(&batch).await
    }

    /// Takes addresses out of the known sets (a trunk that was deleted).
    pub async fn forget_known(&self, addresses: &[IpAddr]) -> Result<(), FirewallError> {
        let batch = delete_known_good_elements(addresses);
        if batch.is_empty() {
            return Ok(());
        }
        self.write_elements(&batch).await
    }

    /// Lifts the ban of `address`; an address that is not banned is no error.
    pub async fn unban(&self, address: IpAddr) -> Result<(), FirewallError> {
        self.unban_many(&[address]).await
    }

    /// Lifts the bans of `addresses` in one transaction.
    pub async fn unban_many(&self, addresses: &[IpAddr]) -> Result<(), FirewallError> {
        let batch = delete_ban_elements(addresses);
        if batch.is_empty() {
            return Ok(());
        }
        self.write_elements(&batch).await
    }

    /// Puts temporary allow entries into the allow sets (allowlisted sources are never
    /// dropped, even when banned).
    pub async fn allow_many(
        &self,
        policy: &CheckedFirewallPolicy,
        entries: &[TimedAddress],
    ) -> Result<(), FirewallError> {
        let batch = add_allow_elements(policy, entries);
        if batch.is_empty() {
            return Ok(());
        }
        self.write_elements(&batch).await
    }

    /// Takes temporary allow entries out of the allow sets.
    pub async fn disallow_many(
        &self,
        policy: &CheckedFirewallPolicy,
        addresses: &[IpAddr],
    ) -> Result<(), FirewallError> {
        let batch = delete_allow_elements(policy, addresses);
        if batch.is_empty() {
            return Ok(());
        }
        self.write_elements(&batch).await
    }

    /// The bans in the kernel now, each with the whole seconds it has left.
    pub async fn bans(&self) -> Result<Vec<TimedAddress>, FirewallError> {
        Ok(self.inner.nft.dynamic_state().await?.bans)
    }

    /// Writes an element batch under the writer lock: through the long-lived session when
    /// the batch fits on a line, else with one `nft -j -f -` run.
    async fn write_elements(&self, batch: &NftBatch) -> Result<(), FirewallError> {
        let mut session = self.inner.writer.lock().await;
        if let Some(done) = session.apply_direct(batch) {
            return done;
        }
        let line = compact(batch);
        if line.len() <= MAX_LINE {
            session.apply(&line).await
        } else {
            self.inner.nft.apply_json(&line).await
        }
    }
}

/// The guard's bans, addresses and single ports, as one batch.
fn ban_elements(addresses: &[TimedAddress], ports: &[TimedPort]) -> NftBatch {
    add_ban_elements(addresses).then(add_port_ban_elements(ports))
}

/// The batch as one line of JSON (the session reads a batch per line).
fn compact(batch: &NftBatch) -> String {
    // Re-read from the canonical form, which leaves out the null properties the `nftables`
    // crate writes into element objects (see `NftBatch::to_json`). JSON strings never hold a
    // raw newline, so joining the pretty lines is the fallback should re-reading ever fail.
    let pretty = batch.to_json();
    serde_json::from_str::<serde_json::Value>(&pretty)
        .ok()
        .and_then(|v| serde_json::to_string(&v).ok())
        .unwrap_or_else(|| pretty.replace('\n', " "))
}

/// `duration` in whole seconds, rounded up, at least 1: a ban of 0 s would be "already expired"
/// and silently skipped.
fn whole_secs(duration: Duration) -> u32 {
    let secs = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    u32::try_from(secs.max(1)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ban_durations_round_up_to_whole_seconds_and_never_to_zero() {
        assert_eq!(whole_secs(Duration::ZERO), 1);
        assert_eq!(whole_secs(Duration::from_millis(1500)), 2);
        assert_eq!(whole_secs(Duration::from_secs(600)), 600);
        assert_eq!(whole_secs(Duration::from_secs(u64::MAX)), u32::MAX);
    }

    #[test]
    fn a_batch_becomes_one_line() {
        let ip: IpAddr = "192.0.2.1".parse().expect("test address");
        let line = compact(&add_ban_elements(&[TimedAddress::expiring(ip, 60)]));
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains("192.0.2.1"), "{line}");
    }
}
