//! Server functions of the firewall, bans and allowlist pages.

// One argument per form field: a server function takes a plain form flat, and the macro's
// browser-side copy of the function does not carry an item-level allow.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use crate::form::{ActionError, ConsoleError};
#[cfg(feature = "ssr")]
use wire::firewall::FirewallPolicy;
use wire::firewall::{AllowlistView, BanView, FirewallPage};

/// The firewall page's data.
#[server(prefix = "/fn", endpoint = "firewall")]
pub async fn get_firewall() -> Result<FirewallPage, ConsoleError> {
    let (console, parts) = crate::ssr::firewall::context()?;
    console.firewall(&parts).await
}

/// One network per line (commas and blanks also separate), empty lines dropped.
#[cfg(feature = "ssr")]
fn lines(text: &str) -> Vec<String> {
    text.split(|c: char| c == '\n' || c == ',' || c.is_whitespace())
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Stores the firewall settings from the form (checkboxes send a value only when ticked).
#[server(prefix = "/fn", endpoint = "save_firewall")]
pub async fn save_firewall(
    csrf: String,
    enabled: Option<String>,
    sip_udp_port: u32,
    sip_tcp_port: u32,
    sip_tls_port: u32,
    ami_port: u32,
    console_port: u32,
    restrict_console: Option<String>,
    trusted_networks: String,
    admin_networks: String,
    ami_networks: String,
    blocklist: String,
    confirm_window_secs: u32,
) -> Result<(), ActionError> {
    use crate::form::TypedForm;
    use crate::ssr::form::{Then, finish};
    let (console, parts) = crate::ssr::firewall::context()?;
    // The form does not edit the rate tiers: the stored ones are kept.
    let settings = FirewallPolicy {
        enabled: enabled.is_some(),
        sip_udp_port,
        sip_tcp_port,
        sip_tls_port,
        ami_port,
        console_port,
        restrict_console: restrict_console.is_some(),
        trusted_networks: lines(&trusted_networks),
        admin_networks: lines(&admin_networks),
        ami_networks: lines(&ami_networks),
        blocklist: lines(&blocklist),
        confirm_window_secs,
        rate_limits: Default::default(),
    };
    let outcome = console.save_firewall(&parts, csrf, settings.clone()).await;
    // Refused: back to the form with the field named and what was typed.
    let typed = TypedForm::Firewall(Box::new(settings));
    finish(&*console, &parts, outcome, "/firewall", Some(typed), |()| {
        Then::Redirect("/firewall?saved=1".to_owned())
    })
    .await
}

/// Applies the stored policy provisionally (`force` when the lockout box is ticked).
#[server(prefix = "/fn", endpoint = "apply_firewall")]
pub async fn apply_firewall(csrf: String, force: Option<String>) -> Result<String, ConsoleError> {
    let (console, parts) = crate::ssr::firewall::context()?;
    let outcome = console
        .apply_firewall(&parts, csrf, force.is_some())
        .await
        .map(|a| a.message);
    crate::ssr::form::finish_form(&parts, outcome, "/firewall?applied=1")
}

/// Keeps the pending firewall change.
#[server(prefix = "/fn", endpoint = "confirm_firewall")]
pub async fn confirm_firewall(csrf: String) -> Result<(), ConsoleError> {
    let (console, parts) = crate::ssr::firewall::context()?;
    let outcome = console.confirm_firewall(&parts, csrf).await;
    crate::ssr::form::finish_form(&parts, outcome, "/firewall?confirmed=1")
}

/// Undoes the pending firewall change now.
#[server(prefix = "/fn", endpoint = "revert_firewall")]
pub async fn revert_firewall(csrf: String) -> Result<(), ConsoleError> {
    let (console, parts) = crate::ssr::firewall::context()?;
    let outcome = console.revert_firewall(&parts, csrf).await;
    crate::ssr::form::finish_form(&parts, outcome, "/firewall?reverted=1")
}

/// The bans in force.
#[server(prefix = "/fn", endpoint = "bans")]
pub async fn get_bans() -> Result<Vec<BanView>, ConsoleError> {
    let (console, parts) = crate::ssr::firewall::context()?;
    console.bans(&parts).await
}

/// Bans an address; returns what happened, in words.
#[server(prefix = "/fn", endpoint = "add_ban")]
pub async fn add_ban(
    csrf: String,
    address: String,
    duration_minutes: u32,
    reason: String,
) -> Result<String, ConsoleError> {
    let (console, parts) = crate::ssr::firewall::context()?;
    let secs = duration_minutes.saturating_mul(60);
    let outcome = console
        .add_ban(&parts, csrf, address, secs, reason)
        .await
        .map(|added| match added.note {
            None => format!(
                "{} banned; {} running flow(s) ended.",
                added.ban.address, added.flows_deleted
            ),
            Some(note) => format!("{} banned: {note}", added.ban.address),
        });
    crate::ssr::form::finish_form(&parts, outcome, "/bans?banned=1")
}

/// Lifts a ban.
#[server(prefix = "/fn", endpoint = "remove_ban")]
pub async fn remove_ban(csrf: String, address: String) -> Result<(), ConsoleError> {
    let (console, parts) = crate::ssr::firewall::context()?;
    let outcome = console.remove_ban(&parts, csrf, address).await;
    crate::ssr::form::finish_form(&parts, outcome, "/bans?unbanned=1")
}

/// The allowlist.
#[server(prefix = "/fn", endpoint = "allowlist")]
pub async fn get_allowlist() -> Result<AllowlistView, ConsoleError> {
    let (console, parts) = crate::ssr::firewall::context()?;
    console.allowlist(&parts).await
}

/// Trusts an address (empty: the address this request comes from) for some hours.
#[server(prefix = "/fn", endpoint = "add_allow")]
pub async fn add_allow(
    csrf: String,
    address: String,
    hours: u32,
    note: String,
) -> Result<(), ConsoleError> {
    let (console, parts) = crate::ssr::firewall::context()?;
    let outcome = console.add_allow(&parts, csrf, address, hours, note).await;
    crate::ssr::form::finish_form(&parts, outcome, "/allowlist?added=1")
}

/// Ends a temporary trust.
#[server(prefix = "/fn", endpoint = "remove_allow")]
pub async fn remove_allow(csrf: String, address: String) -> Result<(), ConsoleError> {
    let (console, parts) = crate::ssr::firewall::context()?;
    let outcome = console.remove_allow(&parts, csrf, address).await;
    crate::ssr::form::finish_form(&parts, outcome, "/allowlist?removed=1")
}
