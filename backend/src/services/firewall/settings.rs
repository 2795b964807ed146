//! The stored firewall policy: reading and changing it, its settings form, its status.

use super::{
    Action, Admin, CheckedFirewallPolicy, Core, DateTime, FirewallError, FirewallPage,
    FirewallPolicy, FirewallServiceError, FirewallStatus, Internal, Lockout, LockoutView,
    OnConflict, Peer, PeerKind, PendingApply, RateTiers, Record, Set, TableState, Utc, audit,
    corrupt, firewall_policy, preview_lockout, render_ruleset, rfc3339, session, stored_state,
    user,
};
use policy::firewall::CheckPolicy;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

/// The stored policy (checked) and its version; the default when none was stored yet.
pub async fn load_policy(
    db: &impl sea_orm::ConnectionTrait,
) -> Result<(CheckedFirewallPolicy, i32), Internal> {
    let Some(row) = firewall_policy::Entity::find_by_id(1).one(db).await? else {
        let checked = FirewallPolicy::default()
            .check()
            .map_err(|e| corrupt("default firewall policy", e))?;
        return Ok((checked, 0));
    };
    let raw: FirewallPolicy =
        serde_json::from_str(&row.body).map_err(|e| corrupt("firewall_policy", e))?;
    let checked = raw.check().map_err(|e| corrupt("firewall_policy", e))?;
    Ok((checked, row.version))
}

/// Replaces the stored policy after checking it. Takes effect in the kernel only with
/// [`apply`].
pub async fn update_policy(
    core: &Core,
    admin: &Admin,
    raw: FirewallPolicy,
    expected: Option<i32>,
) -> Result<(CheckedFirewallPolicy, i32), FirewallServiceError> {
    let checked = match raw.check() {
        Ok(c) => c,
        Err(e) => {
            let detail = format!("refused: {e}");
            audit::record(
                &core.db,
                Record::by_caller(admin.caller(), Action::FirewallPolicyUpdate, false, &detail),
            )
            .await?;
            return Err(e.into());
        }
    };
    let _guard = core.firewall_lock.lock().await;
    let body =
        serde_json::to_string(checked.policy()).map_err(|e| corrupt("serialising policy", e))?;
    let txn = crate::db::begin_write(&core.db).await?;
    let (_, version) = load_policy(&txn).await?;
    if let Some(expected) = expected.filter(|e| *e != version) {
        return Err(FirewallServiceError::Stale {
            expected,
            current: version,
        });
    }
    let version = version + 1;
    firewall_policy::Entity::insert(firewall_policy::ActiveModel {
        id: Set(1),
        body: Set(body),
        version: Set(version),
        updated_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::column(firewall_policy::Column::Id)
            .update_columns([
                firewall_policy::Column::Body,
                firewall_policy::Column::Version,
                firewall_policy::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec(&txn)
    .await?;
    txn.commit().await?;
    // Its trusted and admin networks are what the guard never bans.
    core.model.bump();
    let detail = format!("firewall policy version {version}");
    audit::record(
        &core.db,
        Record::by_caller(admin.caller(), Action::FirewallPolicyUpdate, true, &detail),
    )
    .await?;
    Ok((checked, version))
}

/// The stored policy with the console form's settings: everything but the rate tiers, which
/// the form does not edit (they are kept).
#[must_use]
pub fn with_settings(stored: &FirewallPolicy, form: FirewallPolicy) -> FirewallPolicy {
    FirewallPolicy {
        rate_limits: stored.rate_limits,
        ..form
    }
}

/// The rate tiers, one line per meter.
#[must_use]
pub fn rate_lines(policy: &FirewallPolicy) -> Vec<String> {
    let r = &policy.rate_limits;
    let line = |name: &str, t: &RateTiers| {
        format!(
            "{name}: known sources {}/min (burst {}), others {}/min (burst {})",
            t.known.per_minute, t.known.burst, t.unknown.per_minute, t.unknown.burst
        )
    };
    vec![
        line("REGISTER", &r.register),
        line("INVITE", &r.invite),
        line("OPTIONS", &r.options),
        line("TCP/TLS connections", &r.tcp_connections),
    ]
}

/// The stored policy, where the kernel stands, and the lockout preview.
pub async fn status(core: &Core) -> Result<(FirewallPolicy, FirewallStatus), Internal> {
    let (checked, version) = load_policy(&core.db).await?;
    let carry = stored_state(core).await?;
    let (table, live, pending) = match kernel_record(core).await {
        Ok(k) => k,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the firewall's core file");
            (TableState::NotApplied, None, None)
        }
    };
    let peers = peers(core).await;
    let lockout = preview_lockout(&checked, &carry, &peers);
    let status = FirewallStatus {
        version,
        table,
        stored_is_live: live.as_ref() == Some(checked.policy()),
        revert_at: pending
            .as_ref()
            .map(|p| rfc3339(DateTime::<Utc>::from(p.deadline()))),
        revert_in_secs: pending.as_ref().map(|p| p.remaining().as_secs()),
        ruleset: render_ruleset(&checked, &carry).summary(),
        lockout: lockout.iter().map(lockout_view).collect(),
        peers_checked: peers.len(),
    };
    Ok((checked.policy().clone(), status))
}

/// The console's firewall page.
pub async fn page(core: &Core) -> Result<FirewallPage, Internal> {
    let (policy, status) = status(core).await?;
    Ok(FirewallPage {
        settings: policy.clone(),
        rate_limits: rate_lines(&policy),
        status,
    })
}

/// The stored policy's JSON ruleset, as `nft -j -f` would get it.
pub async fn ruleset_json(core: &Core) -> Result<String, Internal> {
    let (checked, _) = load_policy(&core.db).await?;
    let carry = stored_state(core).await?;
    Ok(render_ruleset(&checked, &carry).to_json())
}

/// Where sipwarden's table stands now (not applied when its state cannot be read; logged).
pub async fn table_state(core: &Core) -> TableState {
    match kernel_record(core).await {
        Ok((table, _, _)) => table,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the firewall's core file");
            TableState::NotApplied
        }
    }
}

pub(super) async fn kernel_record(
    core: &Core,
) -> Result<(TableState, Option<FirewallPolicy>, Option<PendingApply>), FirewallError> {
    let pending = core.firewall.pending().await?;
    let live = core.firewall.live_policy().await?;
    let table = match (&pending, &live) {
        (Some(_), _) => TableState::AwaitingConfirmation,
        (None, Some(_)) => TableState::Confirmed,
        (None, None) => TableState::NotApplied,
    };
    Ok((table, live, pending))
}

pub(super) fn lockout_view(l: &Lockout) -> LockoutView {
    LockoutView {
        kind: match l.peer.kind {
            PeerKind::Endpoint => "endpoint",
            PeerKind::Trunk => "trunk",
            PeerKind::Admin => "admin",
            PeerKind::AmiClient => "ami_client",
        }
        .to_owned(),
        name: l.peer.name.clone(),
        address: l.peer.address.to_string(),
        reason: l.reason.to_string(),
    }
}

/// Everyone a new ruleset must not cut off: SIP peers (trunks, registered endpoints) and
/// the administrators signed in now, at the addresses they signed in from.
pub(super) async fn peers(core: &Core) -> Vec<Peer> {
    let mut peers = crate::services::sip_peers::sip_peers(core).await;
    match signed_in_admins(core).await {
        Ok(admins) => peers.extend(admins),
        Err(e) => tracing::warn!(error = %e, "cannot list signed-in administrators"),
    }
    peers.sort_by(|a, b| (&a.name, a.address).cmp(&(&b.name, b.address)));
    peers.dedup();
    peers
}

pub(super) async fn signed_in_admins(core: &Core) -> Result<Vec<Peer>, Internal> {
    let rows = session::Entity::find()
        .filter(session::Column::ExpiresAt.gt(Utc::now()))
        .find_also_related(user::Entity)
        .all(&core.db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(s, u)| {
            let u = u?;
            Some(Peer {
                kind: PeerKind::Admin,
                name: u.username,
                address: s.source_ip.parse().ok()?,
            })
        })
        .collect())
}
