//! The allowlist: "trust my current address" entries, stored and in the kernel.

use super::{
    Action, Admin, AllowEntryView, AllowlistView, Core, Deserialize, FirewallServiceError,
    Internal, IpAddr, MAX_ALLOW_HOURS, OnConflict, PinnedView, Record, Serialize, Set,
    TimedAddress, Utc, allow_entry, audit, check_text, live_enabled, load_policy, parse_address,
    remaining_secs, rfc3339,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

/// A temporary allow request, as the API takes it.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAllow {
    /// The address to trust; the caller's own address when absent.
    #[serde(default)]
    pub address: Option<String>,
    /// For how long (1 to 168 hours).
    #[schema(minimum = 1, maximum = 168)]
    pub hours: u32,
    #[serde(default)]
    pub note: String,
}

/// The allowlist: the policy's pinned networks and the unexpired temporary entries.
pub async fn allowlist(core: &Core, you: IpAddr) -> Result<AllowlistView, Internal> {
    let (checked, _) = load_policy(&core.db).await?;
    let policy = checked.policy();
    let pinned = policy
        .trusted_networks
        .iter()
        .map(|n| PinnedView {
            network: n.clone(),
            list: "trusted_networks".to_owned(),
        })
        .chain(policy.admin_networks.iter().map(|n| PinnedView {
            network: n.clone(),
            list: "admin_networks".to_owned(),
        }))
        .collect();
    let now = Utc::now();
    let temporary = allow_entry::Entity::find()
        .filter(allow_entry::Column::ExpiresAt.gt(now))
        .order_by_asc(allow_entry::Column::ExpiresAt)
        .all(&core.db)
        .await?
        .into_iter()
        .map(|r| AllowEntryView {
            address: r.address,
            note: r.note,
            actor: r.actor,
            created_at: rfc3339(r.created_at),
            expires_at: rfc3339(r.expires_at),
            remaining_secs: remaining_secs(r.expires_at, now),
        })
        .collect();
    Ok(AllowlistView {
        pinned,
        temporary,
        your_address: you.to_canonical().to_string(),
    })
}

/// Trusts an address (the caller's own when none is given) for some hours: it is never
/// dropped meanwhile, even when banned.
pub async fn allow(
    core: &Core,
    admin: &Admin,
    new: NewAllow,
) -> Result<AllowEntryView, FirewallServiceError> {
    let address = match &new.address {
        Some(text) if !text.trim().is_empty() => parse_address("address", text)?,
        _ => admin.caller().source_ip.to_canonical(),
    };
    if !(1..=MAX_ALLOW_HOURS).contains(&new.hours) {
        return Err(FirewallServiceError::BadValue {
            field: "hours",
            reason: format!(
                "must be between 1 and {MAX_ALLOW_HOURS}; trust for longer belongs in the policy's trusted_networks"
            ),
        });
    }
    let note = check_text("note", &new.note, false)?;
    let (checked, _) = load_policy(&core.db).await?;
    if let Some(network) = checked.pinned_allow_covering(address) {
        return Err(FirewallServiceError::AlreadyTrusted(format!(
            "{address} is already trusted by the policy (inside {network})"
        )));
    }
    let now = Utc::now();
    let expires = now + chrono::Duration::hours(i64::from(new.hours));
    let row = allow_entry::ActiveModel {
        address: Set(address.to_string()),
        note: Set(note.clone()),
        actor: Set(admin.caller().username.clone()),
        created_at: Set(now),
        expires_at: Set(expires),
    };
    allow_entry::Entity::insert(row)
        .on_conflict(
            OnConflict::column(allow_entry::Column::Address)
                .update_columns([
                    allow_entry::Column::Note,
                    allow_entry::Column::Actor,
                    allow_entry::Column::CreatedAt,
                    allow_entry::Column::ExpiresAt,
                ])
                .to_owned(),
        )
        .exec(&core.db)
        .await?;
    let in_kernel = match live_enabled(core).await {
        Some(live) => {
            let secs = new.hours.saturating_mul(3600);
            core.firewall
                .allow_many(&live, &[TimedAddress::expiring(address, secs)])
                .await?;
            true
        }
        None => false,
    };
    // The guard never bans what the allowlist trusts.
    core.model.bump();
    let detail = format!(
        "{address} for {} h ({note}); in kernel: {in_kernel}",
        new.hours
    );
    audit::record(
        &core.db,
        Record::by_caller(admin.caller(), Action::AllowAdd, true, &detail),
    )
    .await?;
    Ok(AllowEntryView {
        address: address.to_string(),
        note,
        actor: admin.caller().username.clone(),
        created_at: rfc3339(now),
        expires_at: rfc3339(expires),
        remaining_secs: remaining_secs(expires, now),
    })
}

/// Ends a temporary allow entry.
pub async fn disallow(
    core: &Core,
    admin: &Admin,
    address: &str,
) -> Result<(), FirewallServiceError> {
    let address = parse_address("address", address)?;
    let deleted = allow_entry::Entity::delete_by_id(address.to_string())
        .filter(allow_entry::Column::ExpiresAt.gt(Utc::now()))
        .exec(&core.db)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(FirewallServiceError::NotFound(address.to_string()));
    }
    if let Some(live) = live_enabled(core).await {
        core.firewall.disallow_many(&live, &[address]).await?;
    }
    core.model.bump();
    let detail = address.to_string();
    audit::record(
        &core.db,
        Record::by_caller(admin.caller(), Action::AllowRemove, true, &detail),
    )
    .await?;
    Ok(())
}
