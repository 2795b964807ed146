//! Safe apply: a new ruleset goes in provisionally and comes out again by itself unless
//! [`Firewall::confirm`]ed in time, so an administrator who locks themselves out is let back in
//! after the confirm window (invariant 4 of the design).
//!
//! # What survives a restart
//!
//! The pending change is written to `STATE_FILE` in the state directory *before* the kernel is
//! touched: what was there before ([`Previous`]), what was applied, and the deadline as wall
//! clock time (a monotonic clock does not survive a reboot). A crash at any point therefore
//! leaves either no record and the old table, or a record, which [`Firewall::resume`] acts on
//! at start-up: revert at once if the deadline passed while we were down, else re-arm the
//! timer for the time left. A record with the old table still in place reverts to what is
//! already there, which is harmless.
//!
//! # What a revert restores
//!
//! The previous *policy*, rendered again with the timed sets read just before, so bans the
//! guard added during the window survive the revert. Only when there is no policy to go back
//! to (the table existed before sipwarden kept state, e.g. after an upgrade) the table's text
//! listing is restored instead, as it was at apply time.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use policy::firewall::{
    CheckedFirewallPolicy, DynamicState, FirewallPolicy, TABLE, render_ruleset,
};
use serde::{Deserialize, Serialize};

use super::{Firewall, FirewallError};
use policy::firewall::CheckPolicy;

/// Name of the pending-apply state file inside the state directory.
pub const STATE_FILE: &str = "firewall-apply.json";

/// Spacing of the revert timer's retries when a revert fails (nft busy, kernel refusing).
const REVERT_RETRY: Duration = Duration::from_secs(2);
/// Attempts the timer makes before it gives up until the next start-up's [`Firewall::resume`].
const REVERT_ATTEMPTS: u32 = 5;

/// What the table looked like before the pending change, i.e. what a revert restores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Previous {
    /// There was no table `inet sipwarden`: a revert removes ours.
    Absent,
    /// The table was rendered from this (confirmed) policy.
    Policy {
        /// The policy to render again.
        policy: FirewallPolicy,
    },
    /// A table we have no policy for; its `nft list table` text, restored as it was.
    Listing {
        /// The listing.
        text: String,
    },
}

/// A change waiting for confirmation, as kept in the state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingApply {
    /// Identifies this change, so a timer armed for an older one never reverts a newer one.
    pub id: u64,
    /// The policy that was applied.
    pub applied: FirewallPolicy,
    /// What a revert restores.
    pub previous: Previous,
    /// When the change is reverted, in milliseconds since the Unix epoch.
    pub deadline_unix_ms: u64,
}

impl PendingApply {
    /// The deadline as a time.
    pub fn deadline(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.deadline_unix_ms)
    }

    /// Time left until the revert (zero once passed).
    pub fn remaining(&self) -> Duration {
        self.deadline()
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
    }
}

/// The state file's content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
struct StateFile {
    /// The last confirmed policy (or the one a revert went back to).
    committed: Option<FirewallPolicy>,
    /// The change waiting for confirmation.
    pending: Option<PendingApply>,
}

/// What [`Firewall::apply`] did to table `inet sipwarden`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TableChange {
    /// The table now matches the policy.
    Replaced,
    /// The policy is disabled: our table was removed (if it was there), nothing else touched.
    Removed,
}

/// The result of a provisional apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOutcome {
    /// What happened to the table.
    pub table: TableChange,
    /// The ruleset's one-line-per-rule summary.
    pub summary: String,
    /// The change, as recorded; it reverts at `pending.deadline()` unless confirmed.
    pub pending: PendingApply,
}

/// What [`Firewall::resume`] found at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resumed {
    /// No change was pending.
    NothingPending,
    /// The deadline passed while the server was down; the previous table is back.
    Reverted(Box<Previous>),
    /// The change is still within its window; the timer is armed again for the time left.
    Rearmed(Box<PendingApply>),
}

/// The armed revert timer.
pub(crate) struct Timer {
    id: u64,
    task: tokio::task::AbortHandle,
}

impl Firewall {
    /// Applies `policy` provisionally with its own confirm window
    /// ([`CheckedFirewallPolicy::confirm_window_secs`]).
    pub async fn apply(
        &self,
        policy: &CheckedFirewallPolicy,
    ) -> Result<ApplyOutcome, FirewallError> {
        let window = Duration::from_secs(u64::from(policy.confirm_window_secs()));
        self.apply_with_window(policy, window).await
    }

    /// Applies `policy` as one transaction and reverts it after `window` unless confirmed.
    ///
    /// Applying again while a change is pending keeps the original "previous": a revert always
    /// goes back to the last confirmed table, never to an unconfirmed one.
    pub async fn apply_with_window(
        &self,
        policy: &CheckedFirewallPolicy,
        window: Duration,
    ) -> Result<ApplyOutcome, FirewallError> {
        self.apply_carrying(policy, window, &DynamicState::default())
            .await
    }

    /// [`Firewall::apply_with_window`], also putting `carry` (bans and allows kept in the
    /// database) into the new table, merged with what the kernel's timed sets hold.
    pub async fn apply_carrying(
        &self,
        policy: &CheckedFirewallPolicy,
        window: Duration,
        carry: &DynamicState,
    ) -> Result<ApplyOutcome, FirewallError> {
        let _writer = self.inner.writer.lock().await;
        let before = self.load_state()?;
        let previous = match (&before.pending, &before.committed) {
            (Some(pending), _) => pending.previous.clone(),
            (None, Some(committed)) => Previous::Policy {
                policy: committed.clone(),
            },
            (None, None) => match self.inner.nft.table_text().await? {
                Some(text) => Previous::Listing { text },
                None => Previous::Absent,
            },
        };
        let dynamic = merged(self.inner.nft.dynamic_state().await?, carry);
        let ruleset = render_ruleset(policy, &dynamic);
        let now = SystemTime::now();
        let mut pending = PendingApply {
            id: unix_nanos(now),
            applied: policy.policy().clone(),
            previous,
            deadline_unix_ms: unix_millis(now + window),
        };
        // Intent first: if we crash after the kernel took the new table, start-up must know
        // to revert it.
        self.store_state(&StateFile {
            committed: before.committed.clone(),
            pending: Some(pending.clone()),
        })?;
        if let Err(e) = self.inner.nft.apply_json(&ruleset.to_json()).await {
            // The kernel kept the old table; the record must say so too.
            self.store_state(&before)?;
            return Err(e);
        }
        // The window to confirm runs from when the new table is in force: the time nft took
        // (long on a busy host) is not taken from the administrator. Should that record fail,
        // the one written before stands: the revert still comes, only a little earlier.
        let in_force = PendingApply {
            deadline_unix_ms: unix_millis(SystemTime::now() + window),
            ..pending.clone()
        };
        match self.store_state(&StateFile {
            committed: before.committed.clone(),
            pending: Some(in_force.clone()),
        }) {
            Ok(()) => pending = in_force,
            Err(e) => {
                tracing::warn!(error = %e, "firewall: the confirmation window counts from before the apply")
            }
        }
        self.arm(pending.id, pending.remaining());
        tracing::info!(
            target_netns = ?self.inner.nft.target().netns_name(),
            enabled = policy.enabled(),
            window_secs = window.as_secs(),
            "firewall applied provisionally"
        );
        Ok(ApplyOutcome {
            table: if policy.enabled() {
                TableChange::Replaced
            } else {
                TableChange::Removed
            },
            summary: ruleset.summary(),
            pending,
        })
    }

    /// Makes the pending change permanent and disarms its revert timer; returns the policy
    /// now in force.
    pub async fn confirm(&self) -> Result<FirewallPolicy, FirewallError> {
        let _writer = self.inner.writer.lock().await;
        let mut state = self.load_state()?;
        let pending = state.pending.take().ok_or(FirewallError::NothingPending)?;
        state.committed = Some(pending.applied.clone());
        self.store_state(&state)?;
        self.disarm();
        tracing::info!("firewall change confirmed");
        Ok(pending.applied)
    }

    /// The change waiting for confirmation, if any.
    pub async fn pending(&self) -> Result<Option<PendingApply>, FirewallError> {
        let _writer = self.inner.writer.lock().await;
        Ok(self.load_state()?.pending)
    }

    /// The policy the table was last rendered from: the pending one, else the confirmed one;
    /// `None` when sipwarden never applied one (or a revert went back to no policy).
    pub async fn live_policy(&self) -> Result<Option<FirewallPolicy>, FirewallError> {
        if let Some(live) = self.cached_live() {
            return Ok(live);
        }
        let _writer = self.inner.writer.lock().await;
        let state = self.load_state()?;
        let live = state.pending.map(|p| p.applied).or(state.committed);
        self.cache_live(live.clone());
        Ok(live)
    }

    /// Whether sipwarden's table is live with an enabled policy, i.e. whether a ban put into
    /// the kernel takes effect. Read from memory (the guard's fast path asks it per ban);
    /// `false` when the state file cannot be read.
    pub async fn enforcing(&self) -> bool {
        match self.live_policy().await {
            Ok(live) => live.is_some_and(|p| p.enabled),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the firewall's state file");
                false
            }
        }
    }

    /// [`Firewall::enforcing`] from memory alone, for a caller that must not wait: `None`
    /// until the state has been read once.
    pub fn enforcing_now(&self) -> Option<bool> {
        self.inner
            .live
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .map(|live| live.as_ref().is_some_and(|p| p.enabled))
    }

    fn cached_live(&self) -> Option<Option<FirewallPolicy>> {
        self.inner
            .live
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn cache_live(&self, live: Option<FirewallPolicy>) {
        *self
            .inner
            .live
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(live);
    }

    /// Start-up with no change pending: renders the confirmed policy again and loads it in
    /// one transaction, carrying over the kernel's timed sets and `carry` (the database's
    /// bans and allows). After a reboot the kernel has no table at all; this puts it back.
    /// Returns the policy loaded, `None` if there is no confirmed one (nothing is touched).
    pub async fn reload_committed(
        &self,
        carry: &DynamicState,
    ) -> Result<Option<FirewallPolicy>, FirewallError> {
        let _writer = self.inner.writer.lock().await;
        let state = self.load_state()?;
        let (None, Some(committed)) = (&state.pending, &state.committed) else {
            return Ok(None);
        };
        let checked = committed.clone().check()?;
        let nft = &self.inner.nft;
        let dynamic = merged(nft.dynamic_state().await?, carry);
        nft.apply_json(&render_ruleset(&checked, &dynamic).to_json())
            .await?;
        Ok(Some(committed.clone()))
    }

    /// Reverts the pending change now (the administrator's "undo"); `None` if none is pending.
    pub async fn revert(&self) -> Result<Option<Previous>, FirewallError> {
        let id = self.pending().await?.map(|p| p.id);
        match id {
            Some(id) => self.revert_if_pending(id).await,
            None => Ok(None),
        }
    }

    /// Start-up: acts on a change left pending by the previous run (see the module docs).
    pub async fn resume(&self) -> Result<Resumed, FirewallError> {
        let pending = self.pending().await?;
        let Some(pending) = pending else {
            return Ok(Resumed::NothingPending);
        };
        let remaining = pending.remaining();
        if remaining.is_zero() {
            tracing::warn!("firewall change was not confirmed before its deadline; reverting");
            let previous = self.revert_if_pending(pending.id).await?;
            return Ok(Resumed::Reverted(Box::new(
                previous.unwrap_or(pending.previous),
            )));
        }
        self.arm(pending.id, remaining);
        Ok(Resumed::Rearmed(Box::new(pending)))
    }

    /// Reverts the pending change `id` (and nothing if another one, or none, is pending).
    async fn revert_if_pending(&self, id: u64) -> Result<Option<Previous>, FirewallError> {
        let _writer = self.inner.writer.lock().await;
        let mut state = self.load_state()?;
        let Some(pending) = state.pending.clone().filter(|p| p.id == id) else {
            return Ok(None);
        };
        let nft = &self.inner.nft;
        match &pending.previous {
            Previous::Absent => {
                let off = FirewallPolicy {
                    enabled: false,
                    ..FirewallPolicy::default()
                }
                .check()?;
                nft.apply_json(&render_ruleset(&off, &Default::default()).to_json())
                    .await?;
            }
            Previous::Policy { policy } => {
                let checked = policy.clone().check()?;
                let dynamic = nft.dynamic_state().await?;
                nft.apply_json(&render_ruleset(&checked, &dynamic).to_json())
                    .await?;
            }
            Previous::Listing { text } => {
                // `add` then `delete` removes ours whether or not it is there now (as in the
                // renderer); the listing then recreates it, all in one transaction.
                let script = format!("add table inet {TABLE}\ndelete table inet {TABLE}\n{text}");
                nft.apply_text(&script).await?;
            }
        }
        state.committed = match &pending.previous {
            Previous::Policy { policy } => Some(policy.clone()),
            Previous::Absent | Previous::Listing { .. } => None,
        };
        state.pending = None;
        self.store_state(&state)?;
        self.disarm_if(id);
        tracing::warn!(previous = ?kind(&pending.previous), "unconfirmed firewall change reverted");
        Ok(Some(pending.previous))
    }

    /// Arms the revert timer for change `id`, replacing any older timer.
    fn arm(&self, id: u64, after: Duration) {
        let firewall = self.clone();
        let task = tokio::spawn(async move {
            tokio::time::sleep(after).await;
            for attempt in 1..=REVERT_ATTEMPTS {
                match firewall.revert_if_pending(id).await {
                    Ok(_) => return,
                    Err(e) => {
                        tracing::error!(error = %e, attempt, "reverting the unconfirmed firewall change failed");
                        tokio::time::sleep(REVERT_RETRY).await;
                    }
                }
            }
            // The record stays: the next start-up's `resume` tries again.
        });
        let old = self.timers().replace(Timer {
            id,
            task: task.abort_handle(),
        });
        if let Some(old) = old {
            old.task.abort();
        }
    }

    fn disarm(&self) {
        if let Some(timer) = self.timers().take() {
            timer.task.abort();
        }
    }

    /// Disarms the timer only if it is the one of change `id`. Called from inside that timer's
    /// own task, where aborting itself would be harmless but pointless.
    fn disarm_if(&self, id: u64) {
        let mut timers = self.timers();
        if timers.as_ref().is_some_and(|t| t.id == id) {
            *timers = None;
        }
    }

    fn timers(&self) -> std::sync::MutexGuard<'_, Option<Timer>> {
        // A poisoned lock only means a panic elsewhere while holding it; the Option inside
        // is still valid.
        self.inner
            .timer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn state_path(&self) -> PathBuf {
        self.inner.state_dir.join(STATE_FILE)
    }

    fn load_state(&self) -> Result<StateFile, FirewallError> {
        let path = self.state_path();
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|source| FirewallError::StateFormat { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(StateFile::default()),
            Err(source) => Err(FirewallError::StateFile { path, source }),
        }
    }

    /// Writes the state file atomically: a temporary file, fsync, rename, fsync of the
    /// directory. A crash leaves the old file or the new one, never half of one.
    fn store_state(&self, state: &StateFile) -> Result<(), FirewallError> {
        let path = self.state_path();
        let err = |source| FirewallError::StateFile {
            path: path.clone(),
            source,
        };
        let json =
            serde_json::to_vec_pretty(state).map_err(|source| FirewallError::StateFormat {
                path: path.clone(),
                source,
            })?;
        std::fs::create_dir_all(&self.inner.state_dir).map_err(err)?;
        let tmp = self.inner.state_dir.join(format!("{STATE_FILE}.tmp"));
        // Whatever happens below, the file may have changed: read it again next time.
        *self
            .inner
            .live
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        write_synced(&tmp, &json).map_err(err)?;
        std::fs::rename(&tmp, &path).map_err(err)?;
        std::fs::File::open(&self.inner.state_dir)
            .and_then(|dir| dir.sync_all())
            .map_err(err)?;
        self.cache_live(
            state
                .pending
                .as_ref()
                .map(|p| p.applied.clone())
                .or_else(|| state.committed.clone()),
        );
        Ok(())
    }
}

/// The kernel's timed sets plus `carry`; duplicates are merged by the renderer (the longest
/// remaining time wins).
fn merged(mut kernel: DynamicState, carry: &DynamicState) -> DynamicState {
    kernel.bans.extend_from_slice(&carry.bans);
    kernel
        .temporary_allows
        .extend_from_slice(&carry.temporary_allows);
    kernel.known_good.extend_from_slice(&carry.known_good);
    kernel.port_bans.extend_from_slice(&carry.port_bans);
    kernel
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn kind(previous: &Previous) -> &'static str {
    match previous {
        Previous::Absent => "absent",
        Previous::Policy { .. } => "policy",
        Previous::Listing { .. } => "listing",
    }
}

fn unix_millis(time: SystemTime) -> u64 {
    let ms = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    u64::try_from(ms).unwrap_or(u64::MAX)
}

fn unix_nanos(time: SystemTime) -> u64 {
    let ns = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    u64::try_from(ns).unwrap_or(u64::MAX)
}
