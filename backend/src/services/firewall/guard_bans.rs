//! The guard's bans: recorded after the guard's enforcer put them into the kernel (mending
//! what the database knows better), the addresses that logged in, and the repeat offenders
//! the engine starts from.

use super::{
    BanDecision, BanTarget, Core, Internal, KnownSource, MAX_BAN_SECS, TimedAddress, TimedPort,
    Utc, allow_entry, live_enabled, load_policy, notify_ban, remaining_secs, replace_ban,
};
use crate::db::entities::ban;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

/// Why the guard banned, as the ban's reason says it: the kind in words ("guard: password
/// guessing (offence 2)").
pub(super) fn guard_reason(decision: &BanDecision) -> String {
    format!(
        "guard: {}{}{}",
        decision.kind.label(),
        match decision.offence {
            0 => String::new(),
            n => format!(" (offence {n})"),
        },
        if decision.proven { "" } else { " (unproven)" }
    )
}

/// Records the guard's bans, which the guard's enforcer has already put into the kernel
/// (`true` beside each) or could not: one transaction for the batch, then the alerts. What
/// the database knows better is mended in the kernel: a ban of an address that is trusted
/// after all (the engine's model was a moment old) is lifted, and a longer ban already in
/// force (an administrator's, say) gets its time back. Failures are logged: the guard has
/// nobody to answer to.
pub async fn record_guard_bans(core: &Core, bans: &[(BanDecision, bool)]) {
    if let Err(e) = record_guard_bans_now(core, bans).await {
        tracing::error!(error = %e, bans = bans.len(), "guard bans not stored");
    }
}

pub(super) async fn record_guard_bans_now(
    core: &Core,
    bans: &[(BanDecision, bool)],
) -> Result<(), Internal> {
    if bans.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    let (checked, _) = load_policy(&core.db).await?;
    let allowed: std::collections::HashSet<String> = allow_entry::Entity::find()
        .filter(allow_entry::Column::ExpiresAt.gt(now))
        .all(&core.db)
        .await?
        .into_iter()
        .map(|a| a.address)
        .collect();
    // The longest decision per target, should a batch hold two.
    let mut wanted: std::collections::BTreeMap<String, (BanTarget, BanDecision, bool)> =
        std::collections::BTreeMap::new();
    for (decision, in_kernel) in bans {
        let address = decision.source.to_canonical();
        let target = match decision.port {
            Some(port) => BanTarget::Port(std::net::SocketAddr::new(address, port)),
            None => BanTarget::Address(address),
        };
        let entry = wanted
            .entry(target.to_string())
            .or_insert((target, *decision, *in_kernel));
        if decision.duration > entry.1.duration {
            *entry = (target, *decision, *in_kernel);
        }
    }
    let previous: std::collections::HashMap<String, ban::Model> = ban::Entity::find()
        .filter(ban::Column::Address.is_in(wanted.keys().cloned()))
        .all(&core.db)
        .await?
        .into_iter()
        .map(|r| (r.address.clone(), r))
        .collect();
    let (mut lift, mut lift_ports) = (Vec::new(), Vec::new());
    let (mut restore, mut restore_ports) = (Vec::new(), Vec::new());
    let mut rows = Vec::new();
    for (key, (target, decision, in_kernel)) in &wanted {
        let address = target.ip();
        if address.is_loopback()
            || checked.pinned_allow_covering(address).is_some()
            || allowed.contains(&address.to_string())
        {
            tracing::info!(%key, "guard ban not kept: the address is trusted");
            if *in_kernel {
                match target {
                    BanTarget::Address(ip) => lift.push(*ip),
                    BanTarget::Port(source) => lift_ports.push(*source),
                }
            }
            continue;
        }
        let prev = previous.get(key);
        let left = prev
            .filter(|p| p.expires_at.is_none_or(|e| e > now))
            .map(|p| p.expires_at.map(|e| remaining_secs(e, now)));
        if let Some(left) = left
            && left.is_none_or(|l| l >= decision.duration.as_secs())
        {
            // A longer ban is in force: it keeps its row, and the kernel its time.
            if *in_kernel {
                let secs = left.map(|l| u32::try_from(l).unwrap_or(u32::MAX));
                match target {
                    BanTarget::Address(ip) => restore.push(TimedAddress {
                        address: *ip,
                        timeout_secs: secs,
                    }),
                    BanTarget::Port(source) => restore_ports.push(TimedPort {
                        source: *source,
                        timeout_secs: secs,
                    }),
                }
            }
            continue;
        }
        let secs = u32::try_from(decision.duration.as_secs())
            .unwrap_or(MAX_BAN_SECS)
            .clamp(1, MAX_BAN_SECS);
        // The engine counts offences (proven whole-address bans only); the row keeps its count.
        let offences = match decision.offence {
            0 => prev.map_or(0, |p| p.offences),
            n => i32::try_from(n).unwrap_or(i32::MAX),
        };
        rows.push(ban::Model {
            address: key.clone(),
            reason: guard_reason(decision),
            origin: "guard".to_owned(),
            actor: None,
            created_at: now,
            expires_at: Some(now + chrono::Duration::seconds(i64::from(secs))),
            offences,
        });
    }
    if core.firewall.enforcing().await {
        let mended = async {
            core.firewall.unban_many(&lift).await?;
            core.firewall.unban_ports(&lift_ports).await?;
            core.firewall.ban_batch(&restore, &restore_ports).await
        };
        if let Err(e) = mended.await {
            tracing::warn!(error = %e, "cannot mend guard bans in the kernel");
        }
    }
    if rows.is_empty() {
        return Ok(());
    }
    ban::Entity::insert_many(
        rows.iter()
            .cloned()
            .map(sea_orm::IntoActiveModel::into_active_model),
    )
    .on_conflict(replace_ban())
    .exec(&core.db)
    .await?;
    for row in &rows {
        let secs = row.expires_at.map_or(0, |e| {
            u32::try_from((e - row.created_at).num_seconds()).unwrap_or(u32::MAX)
        });
        notify_ban(core, row, secs);
    }
    Ok(())
}

/// Addresses that logged in: into the kernel's known sets (the generous rate tier) when the
/// firewall is live, and into the database, so they stay known across a restart.
pub async fn known_from_guard(core: &Core, known: &[KnownSource]) {
    if known.is_empty() {
        return;
    }
    if live_enabled(core).await.is_some() {
        let now = policy::guard::Timestamp::from_secs(
            u64::try_from(Utc::now().timestamp()).unwrap_or_default(),
        );
        let entries: Vec<TimedAddress> = known
            .iter()
            .map(|k| {
                let secs = k.until.0.saturating_sub(now.0) / 1000;
                TimedAddress::expiring(k.source, u32::try_from(secs).unwrap_or(u32::MAX).max(1))
            })
            .collect();
        if let Err(e) = core.firewall.mark_known(&entries).await {
            tracing::warn!(error = %e, "known addresses did not reach the kernel");
        }
    }
    if let Err(e) = crate::services::known_sources::store_known(&core.db, known).await {
        tracing::warn!(error = %e, "known addresses not stored");
    }
}

/// The guard's repeat offenders as the engine imports them: every source the guard banned,
/// with its offence count and the time of its last ban.
pub async fn guard_offences(
    db: &impl sea_orm::ConnectionTrait,
) -> Result<Vec<policy::guard::OffenceRecord>, Internal> {
    Ok(ban::Entity::find()
        .filter(ban::Column::Origin.eq("guard"))
        .all(db)
        .await?
        .iter()
        .filter_map(|r| {
            Some(policy::guard::OffenceRecord {
                source: r.address.parse().ok()?,
                offences: u32::try_from(r.offences).ok()?,
                last_offence: policy::guard::Timestamp(
                    u64::try_from(r.created_at.timestamp_millis()).ok()?,
                ),
            })
        })
        .collect())
}
