//! Start-up: what the database holds back into the kernel, and the trunks' rate tier.

use super::{
    Core, FirewallServiceError, Internal, IpAddr, TimedAddress, live_enabled, stored_state,
};

/// The trunks' single addresses (peers, and sources that are one host): known by
/// configuration, so their calls are metered by the generous tier, however many callers they
/// carry. A trunk identified by a whole network gets it for its peer address only (the known
/// sets hold addresses); the guard never bans any of it either way.
pub(super) async fn trunk_addresses(core: &Core) -> Result<Vec<IpAddr>, Internal> {
    let stored = crate::services::pbx::load_all(&core.db).await?;
    let mut out: Vec<IpAddr> = stored
        .trunks
        .iter()
        .flat_map(|t| {
            std::iter::once(t.peer()).chain(
                t.sources()
                    .permit()
                    .iter()
                    .map(|n| n.ip_net())
                    .filter(|n| n.prefix_len() == n.max_prefix_len())
                    .map(|n| n.addr()),
            )
        })
        .map(|ip| ip.to_canonical())
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// Keeps the trunks' addresses in the kernel's known sets as trunks come and go: after every
/// change of the model, while the server runs.
pub fn follow_trunks(core: Core) {
    tokio::spawn(async move {
        let mut changes = core.model.subscribe();
        let mut pushed: Vec<IpAddr> = Vec::new();
        loop {
            if live_enabled(&core).await.is_some() {
                match trunk_addresses(&core).await {
                    Ok(now) => {
                        let gone: Vec<IpAddr> = pushed
                            .iter()
                            .filter(|a| !now.contains(a))
                            .copied()
                            .collect();
                        let entries: Vec<TimedAddress> =
                            now.iter().map(|a| TimedAddress::permanent(*a)).collect();
                        let done = match core.firewall.mark_known(&entries).await {
                            Ok(()) => core.firewall.forget_known(&gone).await,
                            Err(e) => Err(e),
                        };
                        match done {
                            Ok(()) => pushed = now,
                            Err(e) => {
                                tracing::warn!(error = %e, "the trunks' rate tier is not in the kernel")
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot read the trunks"),
                }
            }
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return },
                () = core.stopping.cancelled() => return,
            }
        }
    });
}

/// What start-up did to the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// Bans put back.
    pub bans: usize,
    /// Temporary allow entries put back.
    pub allows: usize,
}

/// Start-up: settles a change left pending by the previous run (revert or re-arm), then
/// puts the confirmed table and the stored bans and allows back into the kernel (a reboot
/// empties it). Does nothing to the kernel when no enabled policy was ever applied.
pub async fn restore_at_startup(core: &Core) -> Result<Option<Restored>, FirewallServiceError> {
    let _guard = core.firewall_lock.lock().await;
    match core.firewall.resume().await? {
        crate::firewall::Resumed::NothingPending => {}
        crate::firewall::Resumed::Reverted(_) => {
            tracing::warn!(
                "an unconfirmed firewall change expired while sipwarden was stopped; the previous ruleset is back"
            );
        }
        crate::firewall::Resumed::Rearmed(p) => tracing::warn!(
            revert_in_secs = p.remaining().as_secs(),
            "a firewall change is still waiting for confirmation"
        ),
    }
    let Some(live) = live_enabled(core).await else {
        return Ok(None);
    };
    let carry = stored_state(core).await?;
    if core.firewall.pending().await?.is_some() {
        // The provisional table is in the kernel as applied; add what the database holds.
        let entries: Vec<TimedAddress> = carry.bans.clone();
        core.firewall.ban_in_kernel(&entries).await?;
        core.firewall.ban_ports(&carry.port_bans).await?;
        core.firewall.mark_known(&carry.known_good).await?;
        core.firewall
            .allow_many(&live, &carry.temporary_allows)
            .await?;
    } else {
        core.firewall.reload_committed(&carry).await?;
    }
    Ok(Some(Restored {
        bans: carry.bans.len(),
        allows: carry.temporary_allows.len(),
    }))
}
