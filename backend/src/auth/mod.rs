//! Who is calling, and what they may do.
//!
//! Authorisation is by type: a service that changes something takes an [`Admin`], which can
//! only be obtained from a [`Caller`] whose role is admin; one that hands out access (console
//! users, API tokens) takes an [`AccessAdmin`], which only an administrator's console session
//! or a token made with the `admin` scope yields. Read-only services take a [`Caller`].
//! Nothing checks a role with an `if` at the call site.

pub mod password;
pub mod session;
pub mod sign_in;
pub mod throttle;
pub mod totp;

use std::net::IpAddr;

use wire::Role;

/// A signed-in console user on whose behalf a request runs.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: i32,
    pub username: String,
    pub role: Role,
    /// The SHA-256 (hex) of the session token, to end this session.
    pub session_hash: String,
    /// The session's anti-CSRF token.
    pub csrf: String,
    pub source_ip: IpAddr,
    /// Set when the request authenticated with an API token (`Authorization: Bearer`)
    /// rather than a session cookie: no ambient browser credential, so no CSRF token needed.
    pub token_id: Option<i32>,
    /// Whether the caller may hand out access (create users, create and revoke tokens): an
    /// administrator's console session, or a token made with the `admin` scope. A `write`
    /// token changes the PBX but cannot mint credentials, so a leaked one cannot outlive its
    /// own revocation.
    pub manages_access: bool,
    /// An administrator without the second factor the configuration requires: until they set
    /// one up, their session reaches only the account page, its server functions and sign-out.
    pub must_enrol: bool,
}

/// Proof that the caller is an administrator. Only [`Caller::admin`] makes one.
#[derive(Debug, Clone)]
pub struct Admin(Caller);

/// The caller lacks the role for an action.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("this action needs the admin role")]
pub struct Forbidden;

impl Caller {
    /// The administrator capability, if this caller has the role.
    pub fn admin(self) -> Result<Admin, Forbidden> {
        match self.role {
            Role::Admin => Ok(Admin(self)),
            Role::Viewer => Err(Forbidden),
        }
    }
}

impl Caller {
    /// Whether `sent` is this session's anti-CSRF token (compared in constant time).
    #[must_use]
    pub fn csrf_matches(&self, sent: &str) -> bool {
        constant_time_eq(sent.as_bytes(), self.csrf.as_bytes())
    }
}

impl Admin {
    /// The caller behind the capability.
    #[must_use]
    pub fn caller(&self) -> &Caller {
        &self.0
    }

    /// The capability to hand out access, if this administrator has it.
    pub fn access(self) -> Result<AccessAdmin, Forbidden> {
        if self.0.manages_access {
            Ok(AccessAdmin(self))
        } else {
            Err(Forbidden)
        }
    }
}

/// Proof that the caller may hand out access (console users, API tokens). Only
/// [`Admin::access`] makes one.
#[derive(Debug, Clone)]
pub struct AccessAdmin(Admin);

impl AccessAdmin {
    /// The caller behind the capability.
    #[must_use]
    pub fn caller(&self) -> &Caller {
        self.0.caller()
    }
}

/// Parses a role as stored in the database.
#[must_use]
pub fn parse_role(stored: &str) -> Option<Role> {
    match stored {
        "admin" => Some(Role::Admin),
        "viewer" => Some(Role::Viewer),
        _ => None,
    }
}

/// Compares two secrets in time that does not depend on where they differ.
#[must_use]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
