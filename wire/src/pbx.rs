//! The PBX model as the console and the REST API show it: endpoints, trunks, AMI users, the
//! policy and configuration revisions. Never a secret, except in the one response that
//! creates or rotates it.

use serde::{Deserialize, Serialize};

/// An endpoint as listed and shown.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointView {
    /// Generated id: the endpoint, auth and AoR name and the auth username.
    pub id: String,
    pub extension: String,
    pub display_name: String,
    pub mac: Option<String>,
    /// Networks it may connect from; everything else is denied.
    pub permit: Vec<String>,
    pub deny: Vec<String>,
    pub max_calls: u32,
    /// `internal`, `national` or `international`.
    pub calling_class: String,
    pub codecs: Vec<String>,
    pub transport: String,
    pub max_contacts: u32,
    pub enabled: bool,
    /// The realm the stored digest was made for.
    pub realm: String,
    /// Increases with every change (the API's `ETag`).
    pub version: i32,
    /// RFC 3339, UTC.
    pub updated_at: String,
}

/// A secret shown once, with the object it belongs to.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WithSecret<T> {
    #[serde(flatten)]
    pub object: T,
    /// Shown this once; only a digest (SIP) or the rendered manager.conf (AMI) keeps it.
    pub secret: String,
}

/// One page of endpoints.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointList {
    pub items: Vec<EndpointView>,
    /// Endpoints matching the search, over all pages.
    pub total: u64,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A DID and the extension it rings.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DidView {
    pub did: String,
    pub extension: String,
}

/// A trunk as shown.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrunkView {
    pub name: String,
    pub peer: String,
    pub port: u16,
    /// The only networks it is identified by and accepted from.
    pub sources: Vec<String>,
    pub dids: Vec<DidView>,
    pub transport: String,
    pub codecs: Vec<String>,
    pub outbound: bool,
    /// The dialplan context its calls enter.
    pub context: String,
    /// Its outbound registration, if it registers (never the secret).
    pub registration: Option<RegistrationView>,
    pub version: i32,
    pub updated_at: String,
}

/// A trunk's outbound registration as shown. The provider's password is never part of it:
/// it is set (or replaced) by a request and never answered with again.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationView {
    /// The account at the provider.
    pub username: String,
    /// The username challenges are answered with, when it differs.
    pub auth_username: Option<String>,
    pub contact_user: Option<String>,
    pub retry_interval: u32,
    pub forbidden_retry_interval: u32,
    pub expiration: u32,
    /// Whether outbound calls answer the provider's challenges with the same credentials.
    pub outbound_auth: bool,
    /// What Asterisk reports now; only in the answer about one trunk (not in lists).
    pub status: Option<RegistrationStatus>,
}

/// A registration's state as Asterisk reports it.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationStatus {
    /// Asterisk's word (`Registered`, `Rejected`, `Unregistered`, …), or `unknown` when
    /// Asterisk could not be asked or has no such registration.
    pub state: String,
    /// Why the state is `unknown`, or when Asterisk tries next (`next_reg`, seconds).
    pub detail: Option<String>,
}

/// An AMI user as shown (never its secret).
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmiUserView {
    pub name: String,
    pub permit: Vec<String>,
    pub deny: Vec<String>,
    pub read: Vec<String>,
    pub write: Vec<String>,
    pub allow_dangerous: bool,
    /// The granted classes that amount to root on the PBX.
    pub dangerous: Vec<String>,
    pub version: i32,
    pub updated_at: String,
}

/// A configuration revision as listed.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionView {
    pub number: i32,
    pub created_at: String,
    pub author: String,
    /// `asterisk22-pjsip`.
    pub target: String,
    /// SHA-256 over the files, hex.
    pub hash: String,
    /// `live`, `failed`, `replaced`, `pending` (being applied) or `interrupted` (the process
    /// stopped during the apply).
    pub status: String,
    /// What happened: verification results or why it failed.
    pub message: String,
    /// The revision whose files this one restored (a rollback).
    pub restored_from: Option<i32>,
    pub files: Vec<String>,
}

/// How one file would change.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDiff {
    pub name: String,
    /// `added`, `changed` or `unchanged`.
    pub change: String,
    /// Unified diff of what is on disk against what would be written; empty when unchanged.
    pub diff: String,
}

/// What an apply would write.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    pub files: Vec<FileDiff>,
    /// Whether anything differs from what is on disk.
    pub changes: bool,
    /// The change in objects, for people: "+1 endpoint, −1 trunk; 2 files".
    pub summary: String,
    /// The revision that is live now, if any.
    pub live_revision: Option<i32>,
}

/// The outcome of an apply or a rollback.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyReport {
    pub revision: RevisionView,
    /// Whether the new revision is live and verified.
    pub applied: bool,
    /// What was checked in Asterisk after the reload, one line per check.
    pub checks: Vec<String>,
    /// The revision that is live afterwards (the previous one when this one was rolled back).
    pub live_revision: Option<i32>,
}
