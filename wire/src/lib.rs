//! The types that travel between the browser, the REST API and the services: what the console
//! shows and sends, and what the API answers. Plain data (serde, and `utoipa` schemas for the
//! server), shared by the server and the browser build, so neither side defines them twice.

use serde::{Deserialize, Serialize};

/// A console user's role. Viewers read; administrators change.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Viewer,
}

impl Role {
    /// The role's name as stored and shown.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }
}

/// The signed-in user, as the console needs it.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub username: String,
    pub role: Role,
    /// The session's anti-CSRF token: every state-changing form carries it back.
    pub csrf: String,
    /// The server's clock when the page was made (Unix seconds): what relative times
    /// ("5 min ago") count from, the same on the server and in the hydrated page.
    #[serde(default)]
    pub now_unix: i64,
}

/// Whether the first administrator still has to be created.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SetupState {
    /// No administrator exists: `/setup` accepts the one-time token from the server log.
    Required {
        /// The SHA-256 fingerprint of the HTTPS certificate sipwarden serves (`AB:CD:…`),
        /// to compare with the browser's before the first password is typed; none over
        /// plain HTTP.
        tls_fingerprint: Option<String>,
    },
    /// An administrator exists: `/setup` is closed for good.
    Done,
}

/// The dashboard's facts about this sipwarden.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dashboard {
    pub version: String,
    pub uptime_seconds: u64,
    pub database_ok: bool,
    pub database_path: String,
    pub database_bytes: u64,
    pub users: u64,
    pub active_sessions: u64,
}

/// One line of the audit log.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    /// RFC 3339, UTC.
    pub at: String,
    pub actor: Option<String>,
    pub source_ip: Option<String>,
    pub action: String,
    pub success: bool,
    pub detail: String,
}

/// One page of the audit log, newest first.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPageData {
    pub entries: Vec<AuditEntry>,
    pub page: u32,
    pub per_page: u32,
    pub total: u64,
}

impl AuditPageData {
    /// Whether a later (older) page exists.
    #[must_use]
    pub fn has_next(&self) -> bool {
        u64::from(self.page + 1) * u64::from(self.per_page) < self.total
    }
}

/// One page of a list. Every list of the REST API pages the same way: `?limit=N` (1 to 500)
/// and `?cursor=C`, where `C` is the `next_cursor` of the previous page (opaque: pass it back
/// as it came). `next_cursor` is absent on the last page. Keyset pages: rows added or removed
/// meanwhile never make a page repeat or skip a row.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

pub mod alerts;
pub mod config_audit;
pub mod config_import;
pub mod dashboard;
pub mod events;
pub mod firewall;
pub mod fraud;
pub mod guard;
pub mod pbx;
pub mod tokens;
pub mod users;
