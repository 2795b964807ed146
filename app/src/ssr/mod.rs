//! The server side of the console: the trait the backend implements, and form plumbing.

pub mod alerts;
pub mod firewall;
pub mod form;
pub mod fraud;
pub mod guard;
pub mod pbx;
pub mod users;

use std::sync::Arc;

use http::request::Parts;
use leptos::prelude::*;

use crate::form::{ActionError, ConsoleError};
use wire::users::SecondFactorView;
use wire::{AuditPageData, Dashboard, SessionInfo, SetupState};

/// What the console needs from the backend. The backend puts an `Arc<dyn Console>` into Leptos
/// context; each method receives the request's parts, from which the backend reads the session
/// and the peer address itself (so authorisation cannot be forgotten by a page).
#[async_trait::async_trait]
pub trait Console: form::Flashes {
    /// The signed-in user of this request, if any.
    async fn session(&self, req: &Parts) -> Option<SessionInfo>;
    /// Whether the first administrator still has to be created.
    async fn setup_state(&self) -> Result<SetupState, ConsoleError>;
    /// Checks the credentials; on success returns the `Set-Cookie` value of the new session.
    async fn sign_in(
        &self,
        req: &Parts,
        username: String,
        password: String,
        code: Option<String>,
    ) -> Result<String, ConsoleError>;
    /// Ends the request's session; returns the `Set-Cookie` value that clears the cookie.
    async fn sign_out(&self, req: &Parts, csrf: String) -> Result<String, ConsoleError>;
    /// Creates the first administrator and signs them in (returns `Set-Cookie`).
    async fn complete_setup(
        &self,
        req: &Parts,
        token: String,
        username: String,
        password: String,
        confirm: String,
    ) -> Result<String, ConsoleError>;
    /// The dashboard for any signed-in user.
    async fn dashboard(&self, req: &Parts) -> Result<Dashboard, ConsoleError>;
    /// One page of the audit log for any signed-in user.
    async fn audit(&self, req: &Parts, page: u32) -> Result<AuditPageData, ConsoleError>;
    /// The signed-in user's second factor.
    async fn second_factor(&self, req: &Parts) -> Result<SecondFactorView, ActionError>;
    /// Starts setting up a second factor (a new key, pending until confirmed); replacing
    /// one in use needs the user's password.
    async fn begin_second_factor(
        &self,
        req: &Parts,
        csrf: &str,
        password: Option<&str>,
    ) -> Result<SecondFactorView, ActionError>;
    /// Confirms the pending key with its first code; returns the recovery codes once.
    async fn confirm_second_factor(
        &self,
        req: &Parts,
        csrf: &str,
        code: &str,
    ) -> Result<Vec<String>, ActionError>;
    /// Removes the user's own second factor (their password confirms it).
    async fn remove_second_factor(
        &self,
        req: &Parts,
        csrf: &str,
        password: &str,
    ) -> Result<(), ActionError>;
    /// Changes the signed-in user's own password.
    async fn change_password(
        &self,
        req: &Parts,
        csrf: String,
        current: String,
        new: String,
        confirm: String,
    ) -> Result<(), ConsoleError>;
}

/// The backend's side of the console and the current request, from Leptos context.
pub fn context() -> Result<(Arc<dyn Console>, Parts), ConsoleError> {
    part::<dyn Console>()
}

/// One of the backend's console traits (`dyn PbxConsole`, ...) and the current request, from
/// Leptos context, where the server put them.
pub fn part<C: ?Sized + Send + Sync + 'static>() -> Result<(Arc<C>, Parts), ConsoleError> {
    let console = use_context::<Arc<C>>().ok_or(ConsoleError::Internal)?;
    let parts = use_context::<Parts>().ok_or(ConsoleError::Internal)?;
    Ok((console, parts))
}

/// Adds a `Set-Cookie` header to the server function's response.
pub fn set_cookie(value: String) {
    if let (Some(options), Ok(value)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::HeaderValue::from_str(&value),
    ) {
        options.append_header(http::header::SET_COOKIE, value);
    }
}

/// Sends a Content-Security-Policy that allows only this page's own inline scripts (the
/// hydration bootstrap and resource data Leptos writes, all carrying the per-response nonce)
/// and scripts from this origin: an injected `<script>` would have no nonce and not run.
pub fn set_content_security_policy() {
    let (Some(nonce), Some(options)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
         form-action 'self'; base-uri 'none'; object-src 'none'"
    );
    if let Ok(value) = http::HeaderValue::from_str(&policy) {
        options.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}
