//! What the console's firewall, bans and allowlist pages need from the backend.

use std::sync::Arc;

use http::request::Parts;

use crate::form::{ActionError, ConsoleError};
use wire::firewall::{
    AllowlistView, BanAdded, BanView, FirewallApplied, FirewallPage, FirewallPolicy,
};

/// The firewall half of the console, implemented by the backend over its firewall service.
/// Every method reads the caller from the request; every change checks the form's CSRF token
/// and the administrator role.
#[async_trait::async_trait]
pub trait FirewallConsole: super::form::Flashes {
    /// The stored policy, the kernel's state and the lockout preview.
    async fn firewall(&self, req: &Parts) -> Result<FirewallPage, ConsoleError>;
    /// Stores new settings (rate tiers kept); they take effect with an apply.
    async fn save_firewall(
        &self,
        req: &Parts,
        csrf: String,
        settings: FirewallPolicy,
    ) -> Result<(), ActionError>;
    /// Applies the stored policy provisionally.
    async fn apply_firewall(
        &self,
        req: &Parts,
        csrf: String,
        force: bool,
    ) -> Result<FirewallApplied, ConsoleError>;
    /// Keeps the pending change.
    async fn confirm_firewall(&self, req: &Parts, csrf: String) -> Result<(), ConsoleError>;
    /// Undoes the pending change now.
    async fn revert_firewall(&self, req: &Parts, csrf: String) -> Result<(), ConsoleError>;
    /// The bans in force.
    async fn bans(&self, req: &Parts) -> Result<Vec<BanView>, ConsoleError>;
    /// Bans an address.
    async fn add_ban(
        &self,
        req: &Parts,
        csrf: String,
        address: String,
        duration_secs: u32,
        reason: String,
    ) -> Result<BanAdded, ConsoleError>;
    /// Lifts a ban.
    async fn remove_ban(
        &self,
        req: &Parts,
        csrf: String,
        address: String,
    ) -> Result<(), ConsoleError>;
    /// Pinned networks and temporary entries.
    async fn allowlist(&self, req: &Parts) -> Result<AllowlistView, ConsoleError>;
    /// Trusts an address (the caller's own when `address` is empty) for `hours`.
    async fn add_allow(
        &self,
        req: &Parts,
        csrf: String,
        address: String,
        hours: u32,
        note: String,
    ) -> Result<(), ConsoleError>;
    /// Ends a temporary trust.
    async fn remove_allow(
        &self,
        req: &Parts,
        csrf: String,
        address: String,
    ) -> Result<(), ConsoleError>;
}

/// This page's backend and the current request.
pub fn context() -> Result<(Arc<dyn FirewallConsole>, Parts), ConsoleError> {
    super::part::<dyn FirewallConsole>()
}
