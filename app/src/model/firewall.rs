//! The firewall as the console and the REST API show it: the policy's settings, the state of
//! the kernel's table, the lockout preview, bans and the allowlist.

use serde::{Deserialize, Serialize};

/// The firewall settings the console's form edits (the REST API edits the whole policy,
/// rate tiers included).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallSettings {
    pub enabled: bool,
    pub sip_udp_port: u32,
    pub sip_tcp_port: u32,
    pub sip_tls_port: u32,
    pub ami_port: u32,
    pub console_port: u32,
    pub restrict_console: bool,
    pub trusted_networks: Vec<String>,
    pub admin_networks: Vec<String>,
    pub ami_networks: Vec<String>,
    pub blocklist: Vec<String>,
    pub confirm_window_secs: u32,
}

/// Where the kernel's table stands.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableState {
    /// sipwarden never applied a policy (or a revert went back to none).
    NotApplied,
    /// The last apply was confirmed and is in force.
    Confirmed,
    /// An apply waits for confirmation and reverts by itself at the deadline.
    AwaitingConfirmation,
}

/// A peer the stored policy would block if applied now.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockoutView {
    /// `endpoint`, `trunk`, `admin` or `ami_client`.
    pub kind: String,
    pub name: String,
    pub address: String,
    /// Why, in words.
    pub reason: String,
}

/// The firewall's state beside its policy.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallStatus {
    /// Increases with every policy change.
    pub version: i32,
    pub table: TableState,
    /// Whether the policy in force (or pending) is the stored one; `false` means an apply
    /// is needed for the stored policy to take effect.
    pub stored_is_live: bool,
    /// RFC 3339 deadline of the pending change.
    pub revert_at: Option<String>,
    /// Seconds until the pending change reverts.
    pub revert_in_secs: Option<u64>,
    /// The stored policy's rendered ruleset, one line per rule.
    pub ruleset: String,
    /// Peers the stored policy would block (checked against the SIP peers, trunks and
    /// signed-in administrators known now).
    pub lockout: Vec<LockoutView>,
    /// How many peers the lockout preview checked.
    pub peers_checked: usize,
}

/// The console's firewall page.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallPage {
    pub settings: FirewallSettings,
    /// The rate tiers, one line per meter (edited over the API).
    pub rate_limits: Vec<String>,
    pub status: FirewallStatus,
}

/// What an apply did.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallApplied {
    /// Whether anything went to the kernel.
    pub applied: bool,
    /// What happened, in words.
    pub message: String,
    pub revert_at: Option<String>,
    pub revert_in_secs: Option<u64>,
}

/// A ban as listed.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanView {
    /// What is banned: an address (`203.0.113.7`) or one source port of it
    /// (`203.0.113.7:5062`, `[2001:db8::7]:5062`); also the key for `DELETE /bans/{address}`.
    pub address: String,
    /// The source port, for a ban of one port (one phone behind a NAT address).
    pub port: Option<u16>,
    pub reason: String,
    /// `api` or `guard`.
    pub origin: String,
    /// Who banned it (an administrator), if not the guard.
    pub actor: Option<String>,
    pub created_at: String,
    /// RFC 3339; `None` means until lifted.
    pub expires_at: Option<String>,
    pub remaining_secs: Option<u64>,
    /// How many times this source has been banned.
    pub offences: i32,
}

/// What adding a ban did.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanAdded {
    pub ban: BanView,
    /// Whether the ban is in the kernel now (else it goes in with the next apply).
    pub in_kernel: bool,
    /// Conntrack entries of the source that were deleted.
    pub flows_deleted: u64,
    /// Why the ban is not in the kernel, if it is not.
    pub note: Option<String>,
}

/// A network the policy always trusts.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinnedView {
    pub network: String,
    /// `trusted_networks` or `admin_networks`.
    pub list: String,
}

/// A temporary allow entry.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowEntryView {
    pub address: String,
    pub note: String,
    pub actor: String,
    pub created_at: String,
    pub expires_at: String,
    pub remaining_secs: u64,
}

/// The allowlist: pinned networks from the policy and temporary entries.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowlistView {
    pub pinned: Vec<PinnedView>,
    pub temporary: Vec<AllowEntryView>,
    /// The address this request came from (what "trust my current address" adds).
    pub your_address: String,
}
