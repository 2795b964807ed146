//! The backend side of the console: the console traits of [`app::ssr`] over the services,
//! on one [`ConsoleService`]. Each method reads the caller from the request itself, with the
//! one set of checks below (signed in; an administrator; the form's CSRF token).

mod alerts;
mod firewall;
mod flash;
mod fraud;
mod guard;
mod pbx;
mod pbx_forms;
mod users;

use http::StatusCode;
use http::request::Parts;

use app::form::{ActionError, ConsoleError};
use wire::{AuditPageData, Dashboard, SessionInfo, SetupState};

use crate::auth::{Admin, Caller};
use crate::http::HttpState;
use crate::http::extract::peer_ip;
use crate::services::{accounts, audit, second_factor};
use wire::users::SecondFactorView;

/// Implements every console trait on top of the HTTP state, and keeps the flashes.
pub struct ConsoleService {
    state: HttpState,
    flashes: flash::FlashStore,
}

impl ConsoleService {
    /// Wraps the state.
    #[must_use]
    pub fn new(state: HttpState) -> Self {
        Self {
            state,
            flashes: flash::FlashStore::default(),
        }
    }

    /// What the account page shows of the caller's second factor.
    async fn second_factor_view(&self, caller: &Caller) -> Result<SecondFactorView, ActionError> {
        let status = second_factor::status(&self.state.db, caller)
            .await
            .map_err(|e| ActionError::Console(internal(e)))?;
        Ok(SecondFactorView {
            enabled: status.enabled,
            recovery_codes_left: status.recovery_codes_left,
            required: self.state.config.require_second_factor_for_admins
                && caller.role == wire::Role::Admin,
            pending: status.pending,
        })
    }

    /// The application state the console works on.
    #[must_use]
    pub fn state(&self) -> &HttpState {
        &self.state
    }
}

/// The signed-in caller of a console request.
pub(crate) fn caller(req: &Parts) -> Result<Caller, ConsoleError> {
    req.extensions
        .get::<Caller>()
        .cloned()
        .ok_or(ConsoleError::NotSignedIn)
}

/// The caller, if the form's CSRF token matches their session.
fn signed_in_with_csrf(req: &Parts, csrf: &str) -> Result<Caller, ConsoleError> {
    let caller = caller(req)?;
    if caller.csrf_matches(csrf) {
        Ok(caller)
    } else {
        Err(ConsoleError::BadCsrf)
    }
}

/// An administrator reading a page only administrators see.
fn reader(req: &Parts) -> Result<Admin, ConsoleError> {
    caller(req)?.admin().map_err(|_| ConsoleError::Forbidden)
}

/// An administrator whose form's CSRF token matches their session: every change.
fn admin(req: &Parts, csrf: &str) -> Result<Admin, ConsoleError> {
    signed_in_with_csrf(req, csrf)?
        .admin()
        .map_err(|_| ConsoleError::Forbidden)
}

/// The HTTP status of a PBX action error (server functions answer every error with 500
/// otherwise; see `middleware::server_fn_status`).
#[must_use]
pub fn status_of(e: &ActionError) -> StatusCode {
    match e {
        ActionError::Console(c) => crate::http::error::status_of(*c),
        ActionError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        ActionError::Conflict(_) => StatusCode::CONFLICT,
        ActionError::NotFound { .. } => StatusCode::NOT_FOUND,
    }
}

/// Logs a failure that is not the caller's fault; the browser gets the fixed message.
pub(crate) fn internal(e: impl std::fmt::Display) -> ConsoleError {
    tracing::error!(error = %e, "internal error");
    ConsoleError::Internal
}

#[async_trait::async_trait]
impl app::ssr::Console for ConsoleService {
    async fn session(&self, req: &Parts) -> Option<SessionInfo> {
        caller(req).ok().map(|c| SessionInfo {
            username: c.username,
            role: c.role,
            csrf: c.csrf,
            now_unix: chrono::Utc::now().timestamp(),
        })
    }

    async fn setup_state(&self) -> Result<SetupState, ConsoleError> {
        match accounts::admin_exists(&self.state.db).await {
            Ok(true) => Ok(SetupState::Done),
            Ok(false) => Ok(SetupState::Required {
                tls_fingerprint: self.state.tls_fingerprint.get(),
            }),
            Err(e) => Err(internal(e)),
        }
    }

    async fn sign_in(
        &self,
        req: &Parts,
        username: String,
        password: String,
        code: Option<String>,
    ) -> Result<String, ConsoleError> {
        let ip = peer_ip(&req.extensions);
        accounts::sign_in_with_code(
            &self.state,
            &self.state.sign_in_throttle,
            &username,
            &password,
            code.as_deref(),
            ip,
        )
        .await
        .map(|s| s.set_cookie)
        .map_err(Into::into)
    }

    async fn second_factor(&self, req: &Parts) -> Result<SecondFactorView, ActionError> {
        let caller = caller(req)?;
        self.second_factor_view(&caller).await
    }

    async fn begin_second_factor(
        &self,
        req: &Parts,
        csrf: &str,
        password: Option<&str>,
    ) -> Result<SecondFactorView, ActionError> {
        let caller = signed_in_with_csrf(req, csrf)?;
        let confirmed = match password {
            Some(password) => {
                accounts::confirm_own_password(
                    &self.state,
                    &self.state.sign_in_throttle,
                    &caller,
                    password,
                    crate::services::audit::Action::SecondFactorEnrol,
                )
                .await
                .map_err(|e| ActionError::Console(e.into()))?;
                true
            }
            None => false,
        };
        second_factor::begin(&self.state, &caller, confirmed)
            .await
            .map_err(|e| ActionError::Console(e.into()))?;
        self.second_factor_view(&caller).await
    }

    async fn confirm_second_factor(
        &self,
        req: &Parts,
        csrf: &str,
        code: &str,
    ) -> Result<Vec<String>, ActionError> {
        let caller = signed_in_with_csrf(req, csrf)?;
        second_factor::confirm(&self.state, &caller, code)
            .await
            .map_err(|e| ActionError::Console(e.into()))
    }

    async fn remove_second_factor(
        &self,
        req: &Parts,
        csrf: &str,
        password: &str,
    ) -> Result<(), ActionError> {
        let caller = signed_in_with_csrf(req, csrf)?;
        accounts::remove_own_second_factor(
            &self.state,
            &self.state.sign_in_throttle,
            &caller,
            password,
        )
        .await
        .map_err(|e| ActionError::Console(e.into()))
    }

    async fn sign_out(&self, req: &Parts, csrf: String) -> Result<String, ConsoleError> {
        let caller = signed_in_with_csrf(req, &csrf)?;
        accounts::sign_out(&self.state, &caller)
            .await
            .map_err(Into::into)
    }

    async fn complete_setup(
        &self,
        req: &Parts,
        token: String,
        username: String,
        password: String,
        confirm: String,
    ) -> Result<String, ConsoleError> {
        let ip = peer_ip(&req.extensions);
        accounts::complete_setup(
            &self.state,
            &self.state.sign_in_throttle,
            &self.state.setup_token,
            accounts::SetupForm {
                token: &token,
                username: &username,
                password: &password,
                confirm: &confirm,
            },
            ip,
        )
        .await
        .map(|s| s.set_cookie)
        .map_err(Into::into)
    }

    async fn dashboard(&self, req: &Parts) -> Result<Dashboard, ConsoleError> {
        caller(req)?;
        let database_ok = crate::db::ping(&self.state.db).await;
        let (users, active_sessions) = accounts::counts(&self.state.db).await.map_err(internal)?;
        let path = self.state.config.database_path();
        let database_bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        Ok(Dashboard {
            version: crate::VERSION.to_owned(),
            uptime_seconds: self.state.started_at.elapsed().as_secs(),
            database_ok,
            database_path: path.display().to_string(),
            database_bytes,
            users,
            active_sessions,
        })
    }

    async fn audit(&self, req: &Parts, page: u32) -> Result<AuditPageData, ConsoleError> {
        caller(req)?;
        audit::page(&self.state.db, page).await.map_err(internal)
    }

    async fn change_password(
        &self,
        req: &Parts,
        csrf: String,
        current: String,
        new: String,
        confirm: String,
    ) -> Result<(), ConsoleError> {
        let caller = signed_in_with_csrf(req, &csrf)?;
        accounts::change_password(
            &self.state,
            &self.state.sign_in_throttle,
            &caller,
            &current,
            &new,
            &confirm,
        )
        .await
        .map_err(Into::into)
    }
}
