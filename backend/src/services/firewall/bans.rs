//! Bans: by hand and from the guard, stored first, then in the kernel; listing and lifting.

use super::{
    Action, Admin, BanAdded, BanDecision, BanTarget, BanView, Condition, Core, DEFAULT_BAN_SECS,
    DateTime, Deserialize, Duration, FirewallServiceError, Internal, IpAddr, KnownSource,
    MAX_BAN_SECS, MAX_TEXT, OnConflict, Page, Record, Serialize, Set, TimedAddress, TimedPort, Utc,
    allow_entry, audit, live_enabled, load_policy, page, remaining_secs, rfc3339,
};
use crate::db::entities::ban;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

/// Who asks for a ban.
#[derive(Debug, Clone, Copy)]
pub enum BanOrigin<'a> {
    /// An administrator over the API or the console.
    Admin(&'a Admin),
    /// The guard's enforcer.
    Guard,
}

/// A ban request, as the API takes it.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBan {
    /// An IPv4 or IPv6 address.
    #[schema(example = "203.0.113.7")]
    pub address: String,
    /// Seconds (default one hour, at most a year).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 31_536_000)]
    pub duration_secs: Option<u32>,
    /// Why (at most 200 characters).
    #[schema(max_length = 200)]
    pub reason: String,
}

pub(super) fn parse_address(
    field: &'static str,
    text: &str,
) -> Result<IpAddr, FirewallServiceError> {
    let address: IpAddr = text
        .trim()
        .parse()
        .map_err(|_| FirewallServiceError::BadValue {
            field,
            reason: format!("`{}` is not an IPv4 or IPv6 address", clip(text)),
        })?;
    let address = address.to_canonical();
    if address.is_unspecified() || address.is_multicast() {
        return Err(FirewallServiceError::BadValue {
            field,
            reason: format!("{address} is not a single source address"),
        });
    }
    Ok(address)
}

/// At most 60 characters of untrusted text, for an error message.
pub(super) fn clip(text: &str) -> String {
    text.chars().take(60).collect()
}

pub(super) fn check_text(
    field: &'static str,
    text: &str,
    required: bool,
) -> Result<String, FirewallServiceError> {
    let text = text.trim();
    if required && text.is_empty() {
        return Err(FirewallServiceError::BadValue {
            field,
            reason: "must not be empty".to_owned(),
        });
    }
    if text.chars().count() > MAX_TEXT {
        return Err(FirewallServiceError::BadValue {
            field,
            reason: format!("at most {MAX_TEXT} characters"),
        });
    }
    if text.chars().any(char::is_control) {
        return Err(FirewallServiceError::BadValue {
            field,
            reason: "must not contain control characters (line breaks, tabs, NUL)".to_owned(),
        });
    }
    Ok(text.to_owned())
}

/// Why `address` may not be banned, if it may not: it is loopback, or trusted by the policy
/// or the temporary allowlist (allowlisted sources are never dropped).
pub(super) async fn ban_refusal(core: &Core, address: IpAddr) -> Result<Option<String>, Internal> {
    if address.is_loopback() {
        return Ok(Some(format!(
            "{address} is loopback: sipwarden's own traffic is never banned"
        )));
    }
    let (checked, _) = load_policy(&core.db).await?;
    if let Some(network) = checked.pinned_allow_covering(address) {
        return Ok(Some(format!(
            "{address} is inside {network}, which the firewall policy trusts; remove it from trusted_networks or admin_networks first"
        )));
    }
    let now = Utc::now();
    if let Some(entry) = allow_entry::Entity::find_by_id(address.to_string())
        .filter(allow_entry::Column::ExpiresAt.gt(now))
        .one(&core.db)
        .await?
    {
        return Ok(Some(format!(
            "{address} is on the temporary allowlist until {}; remove it there first",
            rfc3339(entry.expires_at)
        )));
    }
    Ok(None)
}

/// Bans a source: stored first, then put into the kernel (with its running flows ended)
/// when the firewall is live.
pub async fn ban(
    core: &Core,
    origin: BanOrigin<'_>,
    new: NewBan,
) -> Result<BanAdded, FirewallServiceError> {
    let address = parse_address("address", &new.address)?;
    let reason = check_text("reason", &new.reason, true)?;
    let secs = new.duration_secs.unwrap_or(DEFAULT_BAN_SECS);
    if !(1..=MAX_BAN_SECS).contains(&secs) {
        return Err(FirewallServiceError::BadValue {
            field: "duration_secs",
            reason: format!(
                "must be between 1 and {MAX_BAN_SECS} seconds (a year); use the blocklist for longer"
            ),
        });
    }
    if let Some(why) = ban_refusal(core, address).await? {
        if let BanOrigin::Admin(admin) = origin {
            let detail = format!("{address}: refused: {why}");
            audit::record(
                &core.db,
                Record::by_caller(admin.caller(), Action::BanAdd, false, &detail),
            )
            .await?;
        }
        return Err(FirewallServiceError::NotBannable(why));
    }
    let now = Utc::now();
    let (origin_name, actor) = match origin {
        BanOrigin::Admin(a) => ("api", Some(a.caller().username.clone())),
        BanOrigin::Guard => ("guard", None),
    };
    let row = store_ban(
        core,
        &address.to_string(),
        secs,
        &reason,
        origin_name,
        actor,
        None,
    )
    .await?;
    let (in_kernel, flows_deleted, note) = if live_enabled(core).await.is_some() {
        match core
            .firewall
            .ban(address, Duration::from_secs(u64::from(secs)))
            .await
        {
            Ok(outcome) => (true, outcome.flows_deleted, None),
            Err(e) => {
                tracing::error!(error = %e, %address, "ban stored but not in the kernel");
                (
                    false,
                    0,
                    Some(format!("stored, but the kernel refused it: {e}")),
                )
            }
        }
    } else {
        (
            false,
            0,
            Some(
                "stored; the firewall is not applied, so the ban goes into the kernel with the next apply"
                    .to_owned(),
            ),
        )
    };
    if let BanOrigin::Admin(admin) = origin {
        let detail = format!(
            "{address} for {secs} s ({reason}); in kernel: {in_kernel}, flows ended: {flows_deleted}"
        );
        audit::record(
            &core.db,
            Record::by_caller(admin.caller(), Action::BanAdd, true, &detail),
        )
        .await?;
    }
    Ok(BanAdded {
        ban: ban_view(&row, now),
        in_kernel,
        flows_deleted,
        note,
    })
}

/// Why the guard banned, as the ban's reason says it.
pub(super) fn guard_reason(decision: &BanDecision) -> String {
    format!(
        "guard: {:?}{}{}",
        decision.kind,
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

/// Upserts the ban row of `address` (a [`BanTarget`]'s text) with `offences`, or counting
/// one more offence when that is `None`.
#[allow(
    clippy::too_many_arguments,
    reason = "one row's columns; a struct would only rename them"
)]
pub(super) async fn store_ban(
    core: &Core,
    address: &str,
    secs: u32,
    reason: &str,
    origin: &str,
    actor: Option<String>,
    offences: Option<i32>,
) -> Result<ban::Model, Internal> {
    let now = Utc::now();
    let expires = now + chrono::Duration::seconds(i64::from(secs));
    let previous = ban::Entity::find_by_id(address.to_owned())
        .one(&core.db)
        .await?;
    let offences = offences.unwrap_or_else(|| previous.map_or(1, |p| p.offences.saturating_add(1)));
    let row = ban::ActiveModel {
        address: Set(address.to_owned()),
        reason: Set(reason.to_owned()),
        origin: Set(origin.to_owned()),
        actor: Set(actor),
        created_at: Set(now),
        expires_at: Set(Some(expires)),
        offences: Set(offences),
    };
    let stored = ban::Entity::insert(row)
        .on_conflict(replace_ban())
        .exec_with_returning(&core.db)
        .await?;
    notify_ban(core, &stored, secs);
    Ok(stored)
}

/// A ban row replaces the earlier one of its address whole (its offence count as given).
pub(super) fn replace_ban() -> OnConflict {
    OnConflict::column(ban::Column::Address)
        .update_columns([
            ban::Column::Reason,
            ban::Column::Origin,
            ban::Column::Actor,
            ban::Column::CreatedAt,
            ban::Column::ExpiresAt,
            ban::Column::Offences,
        ])
        .to_owned()
}

/// The alert of a ban. Every ban (the guard's and by hand) passes here once it is recorded;
/// the notifier never waits.
pub(super) fn notify_ban(core: &Core, stored: &ban::Model, secs: u32) {
    core.alerts.notify(crate::services::alerts::Notice::new(
        Some(wire::alerts::Trigger::Ban),
        format!(
            "{} banned for {secs} s by {}: {}",
            stored.address, stored.origin, stored.reason
        ),
        serde_json::json!({
            "address": stored.address,
            "port": BanTarget::parse(&stored.address).and_then(|t| t.port()),
            "duration_secs": secs,
            "expires_at": stored.expires_at.map(rfc3339),
            "reason": stored.reason,
            "origin": stored.origin,
            "actor": stored.actor,
            "offences": stored.offences,
        }),
    ));
}

pub(super) fn ban_view(row: &ban::Model, now: DateTime<Utc>) -> BanView {
    BanView {
        address: row.address.clone(),
        port: BanTarget::parse(&row.address).and_then(|t| t.port()),
        reason: row.reason.clone(),
        origin: row.origin.clone(),
        actor: row.actor.clone(),
        created_at: rfc3339(row.created_at),
        expires_at: row.expires_at.map(rfc3339),
        remaining_secs: row.expires_at.map(|e| remaining_secs(e, now)),
        offences: row.offences,
    }
}

/// The bans in force, newest first.
pub async fn bans(core: &Core) -> Result<Vec<BanView>, Internal> {
    let now = Utc::now();
    Ok(active_bans(core, now)
        .await?
        .iter()
        .map(|r| ban_view(r, now))
        .collect())
}

/// The API's pages of active bans, newest first. The cursor is the last ban's creation time
/// (nanoseconds) and address: two bans can share a time, never an address.
pub async fn bans_page(
    core: &Core,
    cursor: Option<&str>,
    limit: u64,
) -> Result<Page<BanView>, FirewallServiceError> {
    let after = cursor.map(parse_ban_cursor).transpose()?;
    let now = Utc::now();
    let mut query = ban::Entity::find()
        .filter(in_force(now))
        .order_by_desc(ban::Column::CreatedAt)
        .order_by_desc(ban::Column::Address);
    if let Some((at, address)) = after {
        query = query.filter(
            Condition::any().add(ban::Column::CreatedAt.lt(at)).add(
                Condition::all()
                    .add(ban::Column::CreatedAt.eq(at))
                    .add(ban::Column::Address.lt(address)),
            ),
        );
    }
    let rows = query
        .limit(page::fetch(limit))
        .all(&core.db)
        .await
        .map_err(Internal::from)?;
    Ok(page::split(
        rows,
        limit,
        |r| {
            format!(
                "{}_{}",
                r.created_at.timestamp_nanos_opt().unwrap_or_default(),
                r.address
            )
        },
        |r| ban_view(&r, now),
    ))
}

pub(super) fn parse_ban_cursor(raw: &str) -> Result<(DateTime<Utc>, String), FirewallServiceError> {
    let bad = || FirewallServiceError::BadValue {
        field: "cursor",
        reason: "not a cursor of this list".to_owned(),
    };
    let (nanos, address) = raw.split_once('_').ok_or_else(bad)?;
    let at = DateTime::from_timestamp_nanos(nanos.parse::<i64>().map_err(|_| bad())?);
    let address: IpAddr = address.parse().map_err(|_| bad())?;
    Ok((at, address.to_string()))
}

/// Bans still in force at `now`: without an end, or ending later.
pub(super) fn in_force(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(ban::Column::ExpiresAt.is_null())
        .add(ban::Column::ExpiresAt.gt(now))
}

pub(super) async fn active_bans(
    core: &Core,
    now: DateTime<Utc>,
) -> Result<Vec<ban::Model>, Internal> {
    Ok(ban::Entity::find()
        .filter(in_force(now))
        .order_by_desc(ban::Column::CreatedAt)
        .all(&core.db)
        .await?)
}

/// Lifts a ban of an address or of one port of it (the row stays, expired, so repeat
/// offences are still counted). The running guard forgets it too, so the source is judged
/// afresh.
pub async fn unban(core: &Core, admin: &Admin, target: &str) -> Result<(), FirewallServiceError> {
    let target = BanTarget::parse(target).ok_or_else(|| FirewallServiceError::BadValue {
        field: "address",
        reason: format!(
            "`{}` is not an address (203.0.113.7) or an address and port (203.0.113.7:5062)",
            clip(target)
        ),
    })?;
    let key = target.to_string();
    let now = Utc::now();
    let row = ban::Entity::find_by_id(key.clone())
        .filter(in_force(now))
        .one(&core.db)
        .await?
        .ok_or_else(|| FirewallServiceError::NotFound(key.clone()))?;
    ban::Entity::update(ban::ActiveModel {
        address: Set(row.address),
        expires_at: Set(Some(now)),
        ..Default::default()
    })
    .exec(&core.db)
    .await?;
    if live_enabled(core).await.is_some() {
        match target {
            BanTarget::Address(ip) => core.firewall.unban(ip).await?,
            BanTarget::Port(source) => core.firewall.unban_ports(&[source]).await?,
        }
    }
    if let Some(running) = core.guard.get() {
        match target {
            BanTarget::Address(ip) => running.guard.unban(ip),
            BanTarget::Port(source) => running.guard.unban_port(source),
        }
    }
    audit::record(
        &core.db,
        Record::by_caller(admin.caller(), Action::BanRemove, true, &key),
    )
    .await?;
    Ok(())
}
