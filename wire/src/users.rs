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
    /// Whether signing in needs a code from an authenticator app.
    pub second_factor: bool,
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
    /// Remove their second factor (a lost phone) and end their sessions.
    RemoveSecondFactor,
}

/// What a user action did: a sentence, and a generated password when there is one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserActionDone {
    pub message: String,
    pub password: Option<String>,
}

/// The signed-in user's second factor, as the account page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondFactorView {
    /// Whether sign-in needs a code.
    pub enabled: bool,
    /// Recovery codes not used yet.
    pub recovery_codes_left: u64,
    /// Whether this user must have one (administrators, when the setting says so).
    pub required: bool,
    /// An enrolment started and not yet confirmed.
    pub pending: Option<PendingEnrolment>,
}

/// A key being set up: as text to type into an app, and as a QR code to scan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingEnrolment {
    /// Base32, in groups of four for reading.
    pub key: String,
    /// `data:image/svg+xml;base64,…`
    pub qr: String,
}
