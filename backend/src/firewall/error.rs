//! Errors of the kernel-facing firewall: every one names what ran and what it said, so a log
//! line is enough to debug a failed apply or ban without rerunning it.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use policy::firewall::FirewallPolicyError;

/// Why a firewall operation failed.
#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    /// The program could not be started (not installed, no permission).
    #[error("could not start `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// The operating system's reason.
        source: io::Error,
    },
    /// Talking to a running program failed (a pipe broke).
    #[error("lost contact with `{command}`: {source}")]
    Io {
        /// The command line.
        command: String,
        /// The operating system's reason.
        source: io::Error,
    },
    /// The program ran and reported failure.
    #[error("`{command}` failed ({status}): {stderr}{}", permission_hint(stderr))]
    Failed {
        /// The command line.
        command: String,
        /// Exit status, or `error reported` for the long-lived `nft` session.
        status: String,
        /// What it printed on stderr (its tail, for very long messages).
        stderr: String,
    },
    /// The program did not finish in time and was killed.
    #[error("`{command}` did not finish within {timeout:?} and was killed")]
    Timeout {
        /// The command line.
        command: String,
        /// The deadline it missed.
        timeout: Duration,
    },
    /// The program's output was not what we can read (e.g. `nft -j` printed no JSON).
    #[error("could not read the output of `{command}`: {reason}")]
    Output {
        /// The command line.
        command: String,
        /// What was wrong with it.
        reason: String,
    },
    /// Reading or writing the pending-apply state file failed.
    #[error("firewall state file {}: {source}", path.display())]
    StateFile {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// The pending-apply state file holds something we cannot read.
    #[error("firewall state file {} is not valid: {source}", path.display())]
    StateFormat {
        /// The file.
        path: PathBuf,
        /// The parser's reason.
        source: serde_json::Error,
    },
    /// A policy stored as the one to revert to no longer passes the checks (written by an
    /// older version with laxer rules, or edited by hand).
    #[error("the stored previous firewall policy is not valid any more: {0}")]
    StoredPolicy(#[from] FirewallPolicyError),
    /// `confirm` was called while no change was waiting for confirmation.
    #[error("no firewall change is waiting for confirmation")]
    NothingPending,
}

/// When the kernel refused a change for lack of a capability, what to do about it: the
/// administrator reads this error in the log and the console, not `nft`'s bare EPERM.
fn permission_hint(stderr: &str) -> String {
    if !stderr.contains("Operation not permitted") {
        return String::new();
    }
    format!(
        " (sipwarden lacks the capability NET_ADMIN; to fix it, {})",
        crate::caps::how_to_fix("NET_ADMIN")
    )
}

/// The last `max` bytes of `text`, on a char boundary, marked when cut: `nft` can echo a whole
/// 10,000-element batch back in an error, which is no use in a log line.
pub(crate) fn tail(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.len() <= max {
        return text.to_owned();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &text[start..])
}
