//! Console users as the console's users page shows them.

use serde::{Deserialize, Serialize};

use crate::Role;

/// One console user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRow {
    pub username: String,
    pub role: Role,
    /// When it was created (RFC 3339, UTC).
    pub created_at: String,
    /// A disabled user cannot sign in; their API tokens do not authenticate.
    pub disabled: bool,
}

/// What an administrator can do to a user from the users page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserAction {
    Disable,
    Enable,
    Delete,
    /// Set a generated password (shown once) and end their sessions.
    ResetPassword,
    EndSessions,
}

/// What a user action did: a sentence, and a generated password when there is one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserActionDone {
    pub message: String,
    pub password: Option<String>,
}
