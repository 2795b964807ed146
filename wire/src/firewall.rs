//! The firewall as the console and the REST API show it: the policy's settings, the state of
//! the kernel's table, the lockout preview, bans and the allowlist.

use serde::{Deserialize, Serialize};

/// The firewall part of sipwarden's hardening policy, as stored and as sent over the API.
///
/// Every field has a default (see [`FirewallPolicy::default`]), so `{}` is a valid policy:
/// enabled, SIP on udp/tcp 5060 and tls 5061, AMI on 5038 reachable from loopback only, the
/// console on 8080 not restricted by the firewall (it listens on 127.0.0.1 by default), no
/// trusted, admin or blocklisted networks, the default rate tiers and a 60 s confirm window.
///
/// This type may hold nonsense; turn it into a `CheckedFirewallPolicy` with `check` (or
/// `TryFrom`) of the `policy` crate before rendering anything from it.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FirewallPolicy {
    /// Whether table `inet sipwarden` exists at all. When `false` the rendered batch only
    /// removes the table (and with it every ban), leaving the host's other firewall alone.
    pub enabled: bool,
    /// UDP port of the SIP listener (default 5060).
    pub sip_udp_port: u32,
    /// TCP port of the SIP listener (default 5060).
    pub sip_tcp_port: u32,
    /// TLS port of the SIP listener (default 5061).
    pub sip_tls_port: u32,
    /// Asterisk Manager Interface port (default 5038). Only loopback, trusted networks and
    /// `ami_networks` may reach it.
    pub ami_port: u32,
    /// Port of sipwarden's web console (default 8080).
    pub console_port: u32,
    /// When `true`, only loopback, trusted and admin networks may reach the console port
    /// (default `false`: the console listens on 127.0.0.1 unless configured otherwise).
    pub restrict_console: bool,
    /// Networks that are never dropped by sipwarden (office LAN, the SIP provider's
    /// signalling servers). Bare addresses mean a single host.
    pub trusted_networks: Vec<String>,
    /// Pinned administrator addresses or networks: never dropped, and the only remote
    /// sources allowed on the console when `restrict_console` is set.
    pub admin_networks: Vec<String>,
    /// Networks of the AMI users (their `permit=` lines); the AMI port is closed to others.
    pub ami_networks: Vec<String>,
    /// Networks dropped outright, on every port.
    pub blocklist: Vec<String>,
    /// Per-source rate tiers for SIP requests and connections.
    pub rate_limits: RateLimits,
    /// Seconds an applied firewall change stays in force without a confirmation before it is
    /// reverted (default 60, allowed 10..=3600).
    pub confirm_window_secs: u32,
}

impl Default for FirewallPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            sip_udp_port: 5060,
            sip_tcp_port: 5060,
            sip_tls_port: 5061,
            ami_port: 5038,
            console_port: 8080,
            restrict_console: false,
            trusted_networks: Vec::new(),
            admin_networks: Vec::new(),
            ami_networks: Vec::new(),
            blocklist: Vec::new(),
            rate_limits: RateLimits::default(),
            confirm_window_secs: 60,
        }
    }
}

/// Per-source rate tiers, in the spirit of FreePBX's responsive firewall: a source the guard
/// has seen authenticate successfully ("known good", e.g. an office NAT with fifty phones)
/// gets a generous rate, everyone else a tight one. Allowlisted sources are not metered.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// UDP `REGISTER` requests per source (default known 600/min burst 120, unknown 20/min
    /// burst 10: a phone needs two per registration, a scanner thousands).
    pub register: RateTiers,
    /// UDP `INVITE` requests per source (default known 300/min burst 60, unknown 20/min
    /// burst 10).
    pub invite: RateTiers,
    /// UDP `OPTIONS` requests per source (default known 300/min burst 60, unknown 30/min
    /// burst 10): OPTIONS is the scanners' favourite probe (`svmap`).
    pub options: RateTiers,
    /// New TCP/TLS connections to the SIP ports per source (default known 120/min burst 30,
    /// unknown 20/min burst 10). TLS payload is opaque, so connections are what we can count.
    pub tcp_connections: RateTiers,
}

impl RateLimits {
    /// The meters in render order, with their field names.
    #[must_use]
    pub fn named(&self) -> [(&'static str, RateTiers); 4] {
        [
            ("register", self.register),
            ("invite", self.invite),
            ("options", self.options),
            ("tcp_connections", self.tcp_connections),
        ]
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            register: RateTiers::new(Rate::new(600, 120), Rate::new(20, 10)),
            invite: RateTiers::new(Rate::new(300, 60), Rate::new(20, 10)),
            options: RateTiers::new(Rate::new(300, 60), Rate::new(30, 10)),
            tcp_connections: RateTiers::new(Rate::new(120, 30), Rate::new(20, 10)),
        }
    }
}

/// The two tiers of one rate meter.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateTiers {
    /// Rate for sources in the runtime `known_v4`/`known_v6` sets.
    pub known: Rate,
    /// Rate for every other source.
    pub unknown: Rate,
}

impl RateTiers {
    /// Both tiers at once.
    #[must_use]
    pub const fn new(known: Rate, unknown: Rate) -> Self {
        Self { known, unknown }
    }
}

impl Default for RateTiers {
    fn default() -> Self {
        RateLimits::default().register
    }
}

/// A token-bucket rate: `per_minute` packets per minute on average, `burst` more at once.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Sustained packets (or connections) per minute; must be at least 1.
    pub per_minute: u32,
    /// Extra packets allowed in a burst on top of the rate; must be at least 1.
    pub burst: u32,
}

impl Rate {
    /// A rate of `per_minute` with `burst`.
    #[must_use]
    pub const fn new(per_minute: u32, burst: u32) -> Self {
        Self { per_minute, burst }
    }
}

/// Where the kernel's table stands.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallPage {
    pub settings: FirewallPolicy,
    /// The rate tiers, one line per meter (edited over the API).
    pub rate_limits: Vec<String>,
    pub status: FirewallStatus,
}

/// What an apply did.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinnedView {
    pub network: String,
    /// `trusted_networks` or `admin_networks`.
    pub list: String,
}

/// A temporary allow entry.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowlistView {
    pub pinned: Vec<PinnedView>,
    pub temporary: Vec<AllowEntryView>,
    /// The address this request came from (what "trust my current address" adds).
    pub your_address: String,
}
