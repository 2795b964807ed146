//! The nftables ruleset of table `inet sipwarden`, rendered from the firewall policy.
//!
//! - [`FirewallPolicy`] is what the administrator edits; [`FirewallPolicy::check`] turns it
//!   into a [`CheckedFirewallPolicy`] or refuses it with the reason.
//! - [`render_ruleset`] turns a checked policy plus the current [`DynamicState`] (bans,
//!   temporary allows, known-good sources) into a [`Ruleset`]: one `nft -j -f` transaction
//!   that replaces our table and nothing else.
//! - [`add_ban_elements`] and friends build the small element batches of the guard's fast path.
//! - [`preview_lockout`] lists the peers a new policy would block, before it is applied.
//!
//! Everything here is pure: the backend reads the kernel's state, runs `nft` and keeps time.
//!
//! Objects of the table: sets `allow_*`, `ban_*`, `banport_*`, `blocklist_*`, `known_*`,
//! `ami_*` (each `_v4` and `_v6`), base chains `input` and `forward` (both jump to `guard`),
//! and the `guard` chain whose rules are listed in [`render_ruleset`]'s source, in this
//! order: loopback, allow, ban, port ban, blocklist, UDP SIP rate meters per method, AMI,
//! console, established fast path, TCP/TLS connection meters.

mod batch;
mod elements;
mod lockout;
pub mod netlink;
mod nft;
mod policy;
mod render;
mod state;

pub use batch::NftBatch;
pub use elements::{
    add_allow_elements, add_ban_elements, add_known_good_elements, add_port_ban_elements,
    delete_allow_elements, delete_ban_elements, delete_known_good_elements,
    delete_port_ban_elements,
};
pub use lockout::{BlockReason, Lockout, Peer, PeerKind, preview_lockout};
pub use policy::{
    CheckPolicy, CheckedFirewallPolicy, FirewallPolicy, FirewallPolicyError, NetworkList, Ports,
    Rate, RateLimits, RateTiers,
};
pub use render::{Ruleset, render_ruleset};
pub use state::{BanTarget, DynamicState, TimedAddress, TimedPort};

/// The one table sipwarden owns; nothing it renders names another.
pub const TABLE: &str = "sipwarden";

/// Base name of the allow sets (`allow_v4`, `allow_v6`).
pub const ALLOW_SET: &str = "allow";
/// Base name of the ban sets (`ban_v4`, `ban_v6`).
pub const BAN_SET: &str = "ban";
/// Base name of the port-ban sets (`banport_v4`, `banport_v6`): address and source port.
pub const BAN_PORT_SET: &str = "banport";
/// Base name of the blocklist sets (`blocklist_v4`, `blocklist_v6`).
pub const BLOCKLIST_SET: &str = "blocklist";
/// Base name of the known-good sets (`known_v4`, `known_v6`).
pub const KNOWN_SET: &str = "known";
/// Base name of the AMI network sets (`ami_v4`, `ami_v6`).
pub const AMI_SET: &str = "ami";
/// The regular chain both base chains jump to.
pub const GUARD_CHAIN: &str = "guard";

/// Maximum elements of a ban or known-good set. A cap, so a runaway enforcer fails loudly
/// instead of growing kernel memory without bound (roughly 100 bytes an element).
pub const TIMED_SET_SIZE: u32 = 1 << 20;

/// The metered SIP methods with the space that ends them in a request line, so `INVITEX`
/// is not `INVITE`.
const SIP_METHODS: [&str; 3] = ["REGISTER ", "INVITE ", "OPTIONS "];
