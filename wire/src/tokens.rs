//! API tokens as listed (never the token itself, except in the one response that creates it).

use serde::{Deserialize, Serialize};

/// An API token.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenView {
    pub id: i32,
    pub name: String,
    /// The token's first characters, to tell tokens apart.
    pub prefix: String,
    /// `read` (GET only), `write` (what an administrator may do, but no users or tokens) or
    /// `admin` (everything).
    pub scope: String,
    pub created_by: String,
    pub created_at: String,
    pub expires_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    /// Usable now: not revoked and not expired.
    pub active: bool,
}

/// A token just created: the only time its value is shown.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub view: TokenView,
    /// Send as `Authorization: Bearer <token>`. Shown this once; only a digest is kept.
    pub token: String,
}
