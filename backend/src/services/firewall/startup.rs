//! Start-up: what the database holds back into the kernel, and the trunks' rate tier.

use super::*;

/// The unexpired bans and allow entries of the database, with the whole seconds they have
/// left: what the kernel must hold.
pub async fn stored_state(state: &AppState) -> Result<DynamicState, Internal> {
    let now = Utc::now();
    let mut bans = Vec::new();
    let mut port_bans = Vec::new();
    for r in active_bans(state, now).await? {
        let left = r
            .expires_at
            .map(|e| u32::try_from(remaining_secs(e, now)).unwrap_or(u32::MAX));
        if left == Some(0) {
            continue;
        }
        match BanTarget::parse(&r.address) {
            Some(BanTarget::Address(address)) => bans.push(TimedAddress {
                address,
                timeout_secs: left,
            }),
            Some(BanTarget::Port(source)) => port_bans.push(TimedPort {
                source,
                timeout_secs: left,
            }),
            None => tracing::warn!(target = %r.address, "a stored ban names no address; left out"),
        }
    }
    let temporary_allows = allow_entry::Entity::find()
        .filter(allow_entry::Column::ExpiresAt.gt(now))
        .all(&state.db)
        .await?
        .iter()
        .filter_map(|r| {
            let address: IpAddr = r.address.parse().ok()?;
            let secs = u32::try_from(remaining_secs(r.expires_at, now)).unwrap_or(u32::MAX);
            (secs > 0).then(|| TimedAddress::expiring(address, secs))
        })
        .collect();
    let mut known_good = crate::services::guard_model::known_for_kernel(&state.db).await?;
    known_good.extend(
        trunk_addresses(state)
            .await?
            .into_iter()
            .map(TimedAddress::permanent),
    );
    Ok(DynamicState {
        bans,
        temporary_allows,
        known_good,
        port_bans,
    })
}

/// The trunks' single addresses (peers, and sources that are one host): known by
/// configuration, so their calls are metered by the generous tier, however many callers they
/// carry. A trunk identified by a whole network gets it for its peer address only (the known
/// sets hold addresses); the guard never bans any of it either way.
pub(super) async fn trunk_addresses(state: &AppState) -> Result<Vec<IpAddr>, Internal> {
    let stored = crate::services::pbx::load_all(&state.db).await?;
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
pub fn follow_trunks(state: AppState) {
    tokio::spawn(async move {
        let mut changes = state.model.subscribe();
        let mut pushed: Vec<IpAddr> = Vec::new();
        loop {
            if live_enabled(&state).await.is_some() {
                match trunk_addresses(&state).await {
                    Ok(now) => {
                        let gone: Vec<IpAddr> = pushed
                            .iter()
                            .filter(|a| !now.contains(a))
                            .copied()
                            .collect();
                        let entries: Vec<TimedAddress> =
                            now.iter().map(|a| TimedAddress::permanent(*a)).collect();
                        let done = match state.firewall.mark_known(&entries).await {
                            Ok(()) => state.firewall.forget_known(&gone).await,
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
                () = state.stopping.cancelled() => return,
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
pub async fn restore_at_startup(
    state: &AppState,
) -> Result<Option<Restored>, FirewallServiceError> {
    let _guard = state.firewall_lock.lock().await;
    match state.firewall.resume().await? {
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
    let Some(live) = live_enabled(state).await else {
        return Ok(None);
    };
    let carry = stored_state(state).await?;
    if state.firewall.pending().await?.is_some() {
        // The provisional table is in the kernel as applied; add what the database holds.
        let entries: Vec<TimedAddress> = carry.bans.clone();
        state.firewall.ban_in_kernel(&entries).await?;
        state.firewall.ban_ports(&carry.port_bans).await?;
        state.firewall.mark_known(&carry.known_good).await?;
        state
            .firewall
            .allow_many(&live, &carry.temporary_allows)
            .await?;
    } else {
        state.firewall.reload_committed(&carry).await?;
    }
    Ok(Some(Restored {
        bans: carry.bans.len(),
        allows: carry.temporary_allows.len(),
    }))
}
