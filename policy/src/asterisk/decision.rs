//! Where the rendered dialplan asks for the pre-call fraud decision (#15), and what a call
//! does when nobody answers there. Part of the model the dialplan is rendered from; the
//! fraud policy (`crate::fraud`) decides the calls and sets the fail modes.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// What happens to a call when sipwarden cannot be asked.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailMode {
    Open,
    Closed,
}

/// sipwarden's FastAGI address (on loopback), and what a call of each class does when
/// nobody answers there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecisionPoint {
    pub address: SocketAddr,
    pub fail_national: FailMode,
    pub fail_international: FailMode,
}

/// The variable sipwarden's answer sets (`SET VARIABLE`): `allow` or `block`.
pub const VERDICT_VARIABLE: &str = "SW_FRAUD";
