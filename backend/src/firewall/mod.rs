//! The kernel-facing half of the firewall: runs the `policy` crate's nftables batches in a
//! network namespace, bans and unbans on the guard's fast path, and applies whole rulesets
//! provisionally, reverting them unless confirmed.
//!
//! - [`Target`] says which network namespace: the current one in production, a named one in
//!   tests. Every command is built through it, so tests exercise the production code.
//! - [`Nft`] runs a batch as one transaction (`nft -j -f -`) and reads table
//!   `inet sipwarden` back; [`Conntrack`] deletes a banned source's flows.
//! - [`Firewall`] is the handle the server keeps: [`Firewall::ban`] and friends (fast path:
//!   straight to the kernel over netlink where the target is this namespace, see `netlink`,
//!   else through one long-lived `nft -j -i`, see `session`), [`Firewall::apply`],
//!   [`Firewall::confirm`] and [`Firewall::resume`] (safe apply with a revert timer whose
//!   deadline survives a restart, see `safe`).
//!
//! Only table `inet sipwarden` is ever named, so the host's other tables are never touched.
//!
//! # One writer
//!
//! Re-rendering the table reads the timed sets and writes them back (see
//! [`policy::firewall::DynamicState`]); a ban landing between the read and the write would be
//! lost. So every write to the table (ban, unban, apply, revert) holds one async mutex, which
//! also owns the fast path (the netlink socket and the `nft` session). Conntrack deletion
//! happens after the lock is released: it does not touch the table, and the next ban should
//! not wait for it.

mod bans;
mod conntrack;
mod error;
mod netlink;
mod nft;
mod safe;
mod session;
mod target;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use bans::BanOutcome;
pub use conntrack::{CONNTRACK_TIMEOUT, Conntrack};
pub use error::FirewallError;
pub use nft::{NFT_TIMEOUT, Nft};
pub use safe::{ApplyOutcome, PendingApply, Previous, Resumed, STATE_FILE, TableChange};
pub use session::{MAX_LINE, SESSION_TIMEOUT};
pub use target::Target;

/// The server's handle on the firewall of one network namespace. Cheap to clone; clones share
/// the writer lock, the fast-path session and the revert timer.
#[derive(Clone)]
pub struct Firewall {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Firewall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Firewall")
            .field("target", self.inner.nft.target())
            .field("state_dir", &self.inner.state_dir)
            .finish_non_exhaustive()
    }
}

struct Inner {
    nft: Nft,
    conntrack: Conntrack,
    state_dir: PathBuf,
    /// The single-writer lock (see the module docs), owning the fast-path session.
    writer: tokio::sync::Mutex<session::Session>,
    /// The armed revert timer, if a change is pending.
    timer: std::sync::Mutex<Option<safe::Timer>>,
    /// The policy live in the kernel as the state file says, once read (`None`: read it).
    /// Only this process writes the file, and every write refreshes this, so the guard's
    /// fast path need not read the file per ban.
    live: std::sync::RwLock<Option<Option<policy::firewall::FirewallPolicy>>>,
}

impl Firewall {
    /// A handle on the firewall of `target`, keeping its pending-apply state in `state_dir`
    /// (created when first needed). Call [`Firewall::resume`] once at start-up.
    pub fn new(target: Target, state_dir: impl AsRef<Path>) -> Self {
        Self {
            inner: Arc::new(Inner {
                nft: Nft::new(target.clone()),
                conntrack: Conntrack::new(target.clone()),
                state_dir: state_dir.as_ref().to_owned(),
                writer: tokio::sync::Mutex::new(session::Session::new(target)),
                timer: std::sync::Mutex::new(None),
                live: std::sync::RwLock::new(None),
            }),
        }
    }

    /// The one-shot `nft` runner of this firewall's target (for reads).
    pub fn nft(&self) -> &Nft {
        &self.inner.nft
    }

    /// The `conntrack` runner of this firewall's target.
    pub fn conntrack(&self) -> &Conntrack {
        &self.inner.conntrack
    }
}
