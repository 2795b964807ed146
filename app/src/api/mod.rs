//! Server functions: the console's only door to the server.
//!
//! Each one only gathers its input, calls the backend through [`crate::ssr::Console`] and maps
//! the outcome. Every state-changing one takes the session's `csrf` token from the form.
//!
//! Forms work without JavaScript: a plain form post that fails is redirected back to the page
//! it came from with `?error=<code>`, and the page shows the fixed message for that code (the
//! browser never receives server-side error text, and no attacker-chosen text is reflected).

pub mod alerts;
pub mod firewall;
pub mod guard;
pub mod pbx;

use leptos::prelude::*;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

use wire::{AuditPageData, Dashboard, SessionInfo, SetupState};

/// Everything that can go wrong in a console action, as the browser may see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ConsoleError {
    #[error("Sign in to continue.")]
    NotSignedIn,
    #[error("Your role does not allow this.")]
    Forbidden,
    #[error("Wrong username or password.")]
    BadCredentials,
    #[error("Too many failed attempts. Wait a while, then try again.")]
    Throttled,
    #[error("The form expired. Reload the page and try again.")]
    BadCsrf,
    #[error("The current password is wrong.")]
    WrongCurrentPassword,
    #[error("The new passwords do not match.")]
    PasswordMismatch,
    #[error("The password must be at least 12 characters long.")]
    PasswordTooShort,
    #[error("The password must not contain the username.")]
    PasswordContainsUsername,
    #[error("The password is too long (at most 1024 characters).")]
    PasswordTooLong,
    #[error("A username is 1 to 64 letters, digits, '.', '-' or '_'.")]
    BadUsername,
    #[error("That setup token is not valid. Use the one printed in the server log.")]
    BadSetupToken,
    #[error("Setup is already complete. Sign in instead.")]
    SetupDone,
    #[error(
        "The firewall policy was refused. Networks must be in CIDR notation without host bits, must not overlap or cover the whole internet; ports must be 1 to 65535 and distinct; the confirm window 10 to 3600 s; restricting the console needs an admin network. The REST API names the exact field."
    )]
    FirewallPolicyInvalid,
    #[error("That is not a single IPv4 or IPv6 address.")]
    BadAddress,
    #[error(
        "A ban needs a reason (one line, at most 200 characters) and lasts from 1 second to a year."
    )]
    BadBan,
    #[error("Trust lasts 1 to 168 hours; the note is one line of at most 200 characters.")]
    BadAllow,
    #[error(
        "That address cannot be banned: it is loopback, trusted by the firewall policy or on the temporary allowlist."
    )]
    NotBannable,
    #[error("That address is already trusted by the firewall policy.")]
    AlreadyTrusted,
    #[error(
        "Applying would block the peers listed in the lockout preview. Tick \"apply anyway\" to apply regardless."
    )]
    WouldLockOut,
    #[error("No firewall change is waiting for confirmation.")]
    NothingPending,
    #[error("That address is not in the list (it may have expired).")]
    NotListed,
    #[error(
        "The kernel firewall could not be changed, and nothing was lost. The server log says why (sipwarden needs nft and the capability NET_ADMIN: in a container add it with `--cap-add NET_ADMIN`, in compose with `cap_add: [NET_ADMIN, NET_RAW, SYS_NICE]`)."
    )]
    FirewallUnavailable,
    #[error(
        "That filter is not valid: the kind must be one of the listed kinds and the source an IP address."
    )]
    BadFilter,
    #[error("That request was malformed.")]
    BadRequest,
    #[error("Something went wrong on the server. It has been logged.")]
    Internal,
}

impl ConsoleError {
    /// A stable code for URLs (`?error=code`) and logs.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            ConsoleError::NotSignedIn => "not_signed_in",
            ConsoleError::Forbidden => "forbidden",
            ConsoleError::BadCredentials => "bad_credentials",
            ConsoleError::Throttled => "throttled",
            ConsoleError::BadCsrf => "bad_csrf",
            ConsoleError::WrongCurrentPassword => "wrong_current_password",
            ConsoleError::PasswordMismatch => "password_mismatch",
            ConsoleError::PasswordTooShort => "password_too_short",
            ConsoleError::PasswordContainsUsername => "password_contains_username",
            ConsoleError::PasswordTooLong => "password_too_long",
            ConsoleError::BadUsername => "bad_username",
            ConsoleError::BadSetupToken => "bad_setup_token",
            ConsoleError::SetupDone => "setup_done",
            ConsoleError::FirewallPolicyInvalid => "firewall_policy_invalid",
            ConsoleError::BadAddress => "bad_address",
            ConsoleError::BadBan => "bad_ban",
            ConsoleError::BadAllow => "bad_allow",
            ConsoleError::NotBannable => "not_bannable",
            ConsoleError::AlreadyTrusted => "already_trusted",
            ConsoleError::WouldLockOut => "would_lock_out",
            ConsoleError::NothingPending => "nothing_pending",
            ConsoleError::NotListed => "not_listed",
            ConsoleError::FirewallUnavailable => "firewall_unavailable",
            ConsoleError::BadFilter => "bad_filter",
            ConsoleError::BadRequest => "bad_request",
            ConsoleError::Internal => "internal",
        }
    }

    /// The error for a code; unknown codes give `None` (never echo arbitrary text).
    #[must_use]
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|e| e.code() == code)
    }

    const ALL: [ConsoleError; 26] = [
        ConsoleError::NotSignedIn,
        ConsoleError::Forbidden,
        ConsoleError::BadCredentials,
        ConsoleError::Throttled,
        ConsoleError::BadCsrf,
        ConsoleError::WrongCurrentPassword,
        ConsoleError::PasswordMismatch,
        ConsoleError::PasswordTooShort,
        ConsoleError::PasswordContainsUsername,
        ConsoleError::PasswordTooLong,
        ConsoleError::BadUsername,
        ConsoleError::BadSetupToken,
        ConsoleError::SetupDone,
        ConsoleError::FirewallPolicyInvalid,
        ConsoleError::BadAddress,
        ConsoleError::BadBan,
        ConsoleError::BadAllow,
        ConsoleError::NotBannable,
        ConsoleError::AlreadyTrusted,
        ConsoleError::WouldLockOut,
        ConsoleError::NothingPending,
        ConsoleError::NotListed,
        ConsoleError::FirewallUnavailable,
        ConsoleError::BadFilter,
        ConsoleError::BadRequest,
        ConsoleError::Internal,
    ];
}

impl FromServerFnError for ConsoleError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // Bad form fields or JSON from the client: the client's fault.
            ServerFnErrorErr::Args(_)
            | ServerFnErrorErr::Deserialization(_)
            | ServerFnErrorErr::MissingArg(_)
            | ServerFnErrorErr::UnsupportedRequestMethod(_) => ConsoleError::BadRequest,
            _ => ConsoleError::Internal,
        }
    }
}

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

/// Signs in and goes to the dashboard.
#[server(prefix = "/fn", endpoint = "sign_in")]
pub async fn sign_in(username: String, password: String) -> Result<(), ConsoleError> {
    let (console, parts) = crate::ssr::context()?;
    let outcome = console.sign_in(&parts, username, password).await;
    crate::ssr::finish_form(&parts, outcome.map(crate::ssr::set_cookie), "/")
}

/// Ends the session on the server and clears the cookie.
#[server(prefix = "/fn", endpoint = "sign_out")]
pub async fn sign_out(csrf: String) -> Result<(), ConsoleError> {
    let (console, parts) = crate::ssr::context()?;
    let outcome = console.sign_out(&parts, csrf).await;
    crate::ssr::finish_form(&parts, outcome.map(crate::ssr::set_cookie), "/login")
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
    crate::ssr::finish_form(&parts, outcome.map(crate::ssr::set_cookie), "/")
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
    crate::ssr::finish_form(&parts, outcome, "/account?changed=1")
}
