//! The services: every rule lives here once. REST handlers and the console's server functions
//! only extract input, call a service and map its error.

pub mod accounts;
pub mod alarms;
pub mod alerts;
pub mod apply_account;
pub mod audit;
pub mod config;
pub mod dashboard;
pub mod events;
pub mod firewall;
pub mod fraud;
pub mod guard_enforcer;
pub mod guard_model;
pub mod guard_policy;
pub mod guard_status;
pub mod known_sources;
pub mod page;
pub mod pbx;
pub mod posture;
pub mod registrations;
pub mod second_factor;
pub mod settings_form;
pub mod sip_peers;
pub mod tokens;
pub mod users;

/// A time as the API shows it: RFC 3339, UTC, whole seconds.
#[must_use]
pub fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A failure inside a service that is not the caller's fault. Logged with its cause chain,
/// shown to the caller only as an opaque 500.
#[derive(Debug, thiserror::Error)]
pub enum Internal {
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("password hashing: {0}")]
    Hash(String),
    /// A stored row no longer passes the checks of its type (edited by hand, or a bug).
    #[error("stored data: {0}")]
    Corrupt(String),
    /// Reading or writing a file failed.
    #[error("file system: {0}")]
    Io(String),
    /// A task the service ran to the end on its own failed (it panicked).
    #[error("task: {0}")]
    Task(String),
}

/// Runs `work` in a task of its own and waits for it. A change that touches the kernel or
/// Asterisk must not stop half-way when the caller hangs up (a proxy's timeout, a browser
/// that aborts a double-clicked form): axum drops the handler's future then, and with it
/// whatever it was awaiting, leaving a revert timer unarmed or a revision pending.
pub async fn run_to_end<T, E>(
    work: impl Future<Output = Result<T, E>> + Send + 'static,
) -> Result<T, E>
where
    T: Send + 'static,
    E: From<Internal> + Send + 'static,
{
    // In the caller's span, so the work's log lines still name the request.
    tokio::spawn(tracing::Instrument::in_current_span(work))
        .await
        .map_err(|e| E::from(Internal::Task(e.to_string())))?
}
