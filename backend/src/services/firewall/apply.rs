//! Applying the policy provisionally, confirming it, reverting it.

use super::{
    Action, Admin, Core, DateTime, Duration, FirewallApplied, FirewallError, FirewallServiceError,
    Record, Utc, audit, load_policy, peers, preview_lockout, rfc3339, run_to_end, stored_state,
};

/// Applies the stored policy provisionally: it reverts by itself unless confirmed within
/// the policy's window. Refused when it would block a known peer, unless `force`. Runs to the
/// end even if the caller hangs up: the revert timer must be armed once nft ran.
pub async fn apply(
    core: &Core,
    admin: &Admin,
    force: bool,
) -> Result<FirewallApplied, FirewallServiceError> {
    let (core, admin) = (core.clone(), admin.clone());
    run_to_end(async move { apply_now(&core, &admin, force).await }).await
}

#[tracing::instrument(name = "firewall_apply", skip(core, admin))]
pub(super) async fn apply_now(
    core: &Core,
    admin: &Admin,
    force: bool,
) -> Result<FirewallApplied, FirewallServiceError> {
    let _guard = core.firewall_lock.lock().await;
    let (checked, version) = load_policy(&core.db).await?;
    let live = core.firewall.live_policy().await?;
    if !checked.enabled() && !live.as_ref().is_some_and(|p| p.enabled) {
        let message =
            "the firewall is disabled by the policy: nothing was applied to the kernel".to_owned();
        audit::record(
            &core.db,
            Record::by_caller(admin.caller(), Action::FirewallApply, true, &message),
        )
        .await?;
        return Ok(FirewallApplied {
            applied: false,
            message,
            revert_at: None,
            revert_in_secs: None,
        });
    }
    let carry = stored_state(core).await?;
    let lockout = preview_lockout(&checked, &carry, &peers(core).await);
    if !lockout.is_empty() && !force {
        let detail = format!("refused: would block {} peer(s)", lockout.len());
        audit::record(
            &core.db,
            Record::by_caller(admin.caller(), Action::FirewallApply, false, &detail),
        )
        .await?;
        return Err(FirewallServiceError::WouldLockOut(lockout));
    }
    let window = Duration::from_secs(u64::from(checked.confirm_window_secs()));
    let outcome = match core.firewall.apply_carrying(&checked, window, &carry).await {
        Ok(o) => o,
        Err(e) => {
            let detail = format!("failed: {e}");
            audit::record(
                &core.db,
                Record::by_caller(admin.caller(), Action::FirewallApply, false, &detail),
            )
            .await?;
            return Err(e.into());
        }
    };
    let deadline = rfc3339(DateTime::<Utc>::from(outcome.pending.deadline()));
    let message = if checked.enabled() {
        format!(
            "policy version {version} is live; it reverts at {deadline} unless confirmed ({} peer(s) it blocks were accepted)",
            lockout.len()
        )
    } else {
        format!(
            "the firewall is disabled: table inet sipwarden was removed; this reverts at {deadline} unless confirmed"
        )
    };
    audit::record(
        &core.db,
        Record::by_caller(admin.caller(), Action::FirewallApply, true, &message),
    )
    .await?;
    Ok(FirewallApplied {
        applied: true,
        message,
        revert_at: Some(deadline),
        revert_in_secs: Some(outcome.pending.remaining().as_secs()),
    })
}

/// Makes the pending change permanent.
pub async fn confirm(core: &Core, admin: &Admin) -> Result<(), FirewallServiceError> {
    let _guard = core.firewall_lock.lock().await;
    match core.firewall.confirm().await {
        Ok(_) => {}
        Err(FirewallError::NothingPending) => return Err(FirewallServiceError::NothingPending),
        Err(e) => return Err(e.into()),
    }
    audit::record(
        &core.db,
        Record::by_caller(admin.caller(), Action::FirewallConfirm, true, "confirmed"),
    )
    .await?;
    Ok(())
}

/// Reverts the pending change now.
pub async fn revert(core: &Core, admin: &Admin) -> Result<(), FirewallServiceError> {
    let _guard = core.firewall_lock.lock().await;
    if core.firewall.revert().await?.is_none() {
        return Err(FirewallServiceError::NothingPending);
    }
    audit::record(
        &core.db,
        Record::by_caller(
            admin.caller(),
            Action::FirewallRevert,
            true,
            "reverted by hand",
        ),
    )
    .await?;
    Ok(())
}
