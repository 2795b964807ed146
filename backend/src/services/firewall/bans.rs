//! Bans: by hand, stored first, then in the kernel; the ban rows every ban goes through (the
//! guard's too, see `guard_bans`); listing and lifting.

use super::{
    Action, Admin, BanAdded, BanTarget, BanView, Condition, Core, DEFAULT_BAN_SECS, DateTime,
    Deserialize, Duration, FirewallServiceError, Internal, IpAddr, MAX_BAN_SECS, MAX_TEXT,
    OnConflict, Page, Record, Serialize, Set, Utc, allow_entry, audit, live_enabled, load_policy,
    page, remaining_secs, rfc3339,
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
