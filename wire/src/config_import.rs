//! The import of an existing Asterisk configuration into sipwarden's model, as the API answers
//! it, the console's audit page shows it and `sipwarden import --json` prints it.

use serde::{Deserialize, Serialize};

/// What an import took over (or, on a dry run, would take over), what changed on the way in,
/// and what it could not represent.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigImport {
    /// True when nothing was stored (a preview).
    pub dry_run: bool,
    /// The configuration files read.
    pub files: Vec<String>,
    pub endpoints: Vec<ImportedEndpoint>,
    pub trunks: Vec<ImportedTrunk>,
    pub ami_users: Vec<ImportedAmiUser>,
    /// How each context phones start in became a calling class.
    pub contexts: Vec<ImportedContext>,
    pub not_imported: Vec<NotImported>,
}

/// Where an object was written in the imported configuration.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportOrigin {
    pub file: String,
    pub line: usize,
}

/// A phone taken over: it keeps the name (`id`) it registers with.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedEndpoint {
    pub id: String,
    pub extension: String,
    pub display_name: String,
    pub calling_class: String,
    pub from: ImportOrigin,
    /// What changed on the way in (networks, call limit, a weak secret kept…).
    pub notes: Vec<String>,
}

/// A provider taken over.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedTrunk {
    pub name: String,
    pub peer: String,
    pub outbound: bool,
    /// Whether it registers to the provider.
    pub registers: bool,
    /// How many DIDs it routes.
    pub dids: usize,
    pub from: ImportOrigin,
    pub notes: Vec<String>,
}

/// An AMI user taken over.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedAmiUser {
    pub name: String,
    /// The generated secret that replaced a weak one: in the one response that stored it,
    /// never on a dry run, never again.
    pub secret: Option<String>,
    pub from: ImportOrigin,
    pub notes: Vec<String>,
}

/// How one context became a calling class.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedContext {
    pub context: String,
    pub calling_class: String,
    pub reason: String,
}

/// Something the configuration holds that was not imported, and why.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotImported {
    pub file: String,
    pub line: usize,
    /// `endpoint`, `trunk`, `ami_user`, `registration`, `context` or `setting`.
    pub kind: String,
    pub object: String,
    pub reason: String,
}
