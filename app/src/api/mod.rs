//! Server functions: the console's only door to the server.
//!
//! Each one only gathers its input, calls the backend through [`crate::ssr::Console`] and maps
//! the outcome. Every state-changing one takes the session's `csrf` token from the form.
//!
//! Forms work without JavaScript: a plain form post that fails is redirected back to the page
//! it came from with `?error=<code>`, and the page shows the fixed message for that code (the
//! browser never receives server-side error text, and no attacker-chosen text is reflected).

pub mod account;
pub mod alerts;
pub mod firewall;
pub mod fraud;
pub mod guard;
pub mod pbx;
pub mod users;

use leptos::prelude::*;

use crate::form::{ActionError, ConsoleError, Flash};

use wire::{AuditPageData, Dashboard, SessionInfo, SetupState};

/// The signed-in user, or `None`.
#[server(prefix = "/fn", endpoint = "session")]
pub async fn get_session() -> Result<Option<SessionInfo>, ConsoleError> {
    let (console, parts) = crate::ssr::context()?;
    Ok(console.session(&parts).await)
}

/// Whether `/setup` is open.
#[server(prefix = "/fn", endpoint = "setup_state")]
pub async fn get_setup_state() -> Result<SetupState, ConsoleError> {
    let (console, _) = crate::ssr::context()?;
    console.setup_state().await
}

/// Signs in and goes back to the page that asked for it (`next`, a local path), else to
/// the dashboard.
#[server(prefix = "/fn", endpoint = "sign_in")]
pub async fn sign_in(
    username: String,
    password: String,
    #[server(default)] code: Option<String>,
    #[server(default)] next: Option<String>,
) -> Result<(), ConsoleError> {
    let (console, parts) = crate::ssr::context()?;
    let outcome = console.sign_in(&parts, username, password, code).await;
    let to = crate::form::local_path(next.as_deref()).unwrap_or("/");
    crate::ssr::form::finish_form(&parts, outcome.map(crate::ssr::set_cookie), to)
}

/// Ends the session on the server and clears the cookie.
#[server(prefix = "/fn", endpoint = "sign_out")]
pub async fn sign_out(csrf: String) -> Result<(), ConsoleError> {
    let (console, parts) = crate::ssr::context()?;
    let outcome = console.sign_out(&parts, csrf).await;
    crate::ssr::form::finish_form(&parts, outcome.map(crate::ssr::set_cookie), "/login")
}

/// Creates the first administrator with the one-time token from the server log.
#[server(prefix = "/fn", endpoint = "complete_setup")]
pub async fn complete_setup(
    token: String,
    username: String,
    password: String,
    confirm: String,
) -> Result<(), ConsoleError> {
    let (console, parts) = crate::ssr::context()?;
    let outcome = console
        .complete_setup(&parts, token, username, password, confirm)
        .await;
    crate::ssr::form::finish_form(&parts, outcome.map(crate::ssr::set_cookie), "/")
}

/// The dashboard's facts.
#[server(prefix = "/fn", endpoint = "dashboard")]
pub async fn get_dashboard() -> Result<Dashboard, ConsoleError> {
    let (console, parts) = crate::ssr::context()?;
    console.dashboard(&parts).await
}

/// One page of the audit log (0 = newest).
#[server(prefix = "/fn", endpoint = "audit")]
pub async fn get_audit(page: u32) -> Result<AuditPageData, ConsoleError> {
    let (console, parts) = crate::ssr::context()?;
    console.audit(&parts, page).await
}

/// Changes the signed-in user's own password; other sessions of the user end.
#[server(prefix = "/fn", endpoint = "change_password")]
pub async fn change_password(
    csrf: String,
    current: String,
    new: String,
    confirm: String,
) -> Result<(), ConsoleError> {
    let (console, parts) = crate::ssr::context()?;
    let outcome = console
        .change_password(&parts, csrf, current, new, confirm)
        .await;
    crate::ssr::form::finish_form(&parts, outcome, "/account?changed=1")
}

/// Takes (once) the flash a plain form post left for this session.
#[server(prefix = "/fn", endpoint = "flash")]
pub async fn take_flash(token: String) -> Result<Option<Flash>, ActionError> {
    crate::ssr::form::no_store();
    crate::ssr::form::take_flash(token).await
}
