//! Server functions of the PBX pages: endpoints, trunks, AMI users, the policy and the
//! configuration (preview, apply, revisions, rollback).
//!
//! Like the rest of [`crate::api`] they only gather input, call the backend through
//! [`crate::ssr::pbx::PbxConsole`] and map the outcome. Every change takes the session's
//! `csrf` token from the form; viewers may read, only administrators change.
//!
//! # Errors, with and without JavaScript
//!
//! A refused PBX change has a field and a reason written by the `policy` crate (or, for a
//! conflict, one reason per problem). That text is sipwarden's own, never the refused value,
//! so showing it is safe. It travels in two ways:
//!
//! - JavaScript (the hydrated `ActionForm`): as the typed [`PbxActionError`] in the server
//!   function's response; the page shows it next to the form, which keeps what was typed.
//! - A plain form post (no JavaScript): the browser must be redirected to a page, and a URL
//!   must never carry text the page would show (anyone could forge such a link). So the server
//!   keeps the outcome in a short-lived *flash* (in memory, bound to the session that made it,
//!   taken once) and redirects to `page?flash=<random token>`; the page fetches the flash
//!   and shows the message with the typed values back in the form. The token is opaque:
//!   a forged or replayed one shows nothing. The same flash carries a secret that was just
//!   generated, so it is shown once without JavaScript too. Without a session (e.g. it
//!   expired) there is nothing to bind a flash to, and the page gets the fixed
//!   `?error=<code>` of [`ConsoleError`] instead.

use leptos::prelude::*;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

use crate::api::ConsoleError;
use wire::pbx::{
    AmiUserView, ApplyReport, EndpointList, EndpointView, Preview, RevisionView, TrunkView,
    WithSecret,
};

/// Why a PBX action failed, as the browser may see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum PbxActionError {
    /// Not signed in, not allowed, expired form, malformed request, or our fault.
    #[error("{0}")]
    Console(ConsoleError),
    /// A field broke its rule. Both strings are sipwarden's own words (the refused value is
    /// never in them).
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    /// The change would make the model inconsistent; one reason per problem.
    #[error("{}", .0.join(" "))]
    Conflict(Vec<String>),
    /// The object is gone (deleted meanwhile, or a stale link).
    #[error("That {kind} does not exist (any more).")]
    NotFound { kind: String },
}

impl From<ConsoleError> for PbxActionError {
    fn from(e: ConsoleError) -> Self {
        PbxActionError::Console(e)
    }
}

impl FromServerFnError for PbxActionError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        PbxActionError::Console(ConsoleError::from_server_fn_error(value))
    }
}

/// The endpoint form, as typed (lists are separated by commas, blanks or new lines).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointForm {
    pub extension: String,
    pub display_name: String,
    pub calling_class: String,
    /// Networks it may connect from; empty for the policy's defaults.
    pub permit: String,
    pub deny: String,
    pub max_calls: String,
    pub max_contacts: String,
    pub codecs: String,
    pub transport: String,
    /// Only at creation (the id is derived from it).
    pub mac: String,
    /// A checkbox: present when ticked.
    pub enabled: Option<String>,
}

impl EndpointForm {
    /// What the creation form starts with: the API's defaults.
    #[must_use]
    pub fn new_defaults() -> Self {
        Self {
            calling_class: "internal".to_owned(),
            max_calls: "2".to_owned(),
            max_contacts: "1".to_owned(),
            codecs: "ulaw, alaw".to_owned(),
            transport: "udp".to_owned(),
            enabled: Some("on".to_owned()),
            ..Self::default()
        }
    }
}

impl From<&EndpointView> for EndpointForm {
    fn from(e: &EndpointView) -> Self {
        Self {
            extension: e.extension.clone(),
            display_name: e.display_name.clone(),
            calling_class: e.calling_class.clone(),
            permit: e.permit.join(", "),
            deny: e.deny.join(", "),
            max_calls: e.max_calls.to_string(),
            max_contacts: e.max_contacts.to_string(),
            codecs: e.codecs.join(", "),
            transport: e.transport.clone(),
            mac: e.mac.clone().unwrap_or_default(),
            enabled: e.enabled.then(|| "on".to_owned()),
        }
    }
}

/// The trunk form, as typed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrunkForm {
    pub name: String,
    pub peer: String,
    pub port: String,
    /// Source networks; empty for the peer address alone.
    pub sources: String,
    /// One route per line: `DID=extension`.
    pub dids: String,
    pub transport: String,
    pub codecs: String,
    /// A checkbox: present when ticked.
    pub outbound: Option<String>,
}

impl TrunkForm {
    /// What the creation form starts with.
    #[must_use]
    pub fn new_defaults() -> Self {
        Self {
            port: "5060".to_owned(),
            transport: "udp".to_owned(),
            codecs: "ulaw, alaw".to_owned(),
            ..Self::default()
        }
    }
}

impl From<&TrunkView> for TrunkForm {
    fn from(t: &TrunkView) -> Self {
        Self {
            name: t.name.clone(),
            peer: t.peer.clone(),
            port: t.port.to_string(),
            sources: t.sources.join(", "),
            dids: t
                .dids
                .iter()
                .map(|d| format!("{}={}", d.did, d.extension))
                .collect::<Vec<_>>()
                .join("\n"),
            transport: t.transport.clone(),
            codecs: t.codecs.join(", "),
            outbound: t.outbound.then(|| "on".to_owned()),
        }
    }
}

/// The AMI user form, as typed (the secret is a separate argument, never kept in a flash).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AmiUserForm {
    pub name: String,
    pub permit: String,
    pub deny: String,
    /// Classes, e.g. `call, security`.
    pub read: String,
    pub write: String,
    /// A checkbox: explicit consent to root-equivalent classes.
    pub allow_dangerous: Option<String>,
}

impl AmiUserForm {
    /// What the creation form starts with: loopback only, no classes.
    #[must_use]
    pub fn new_defaults() -> Self {
        Self {
            permit: "127.0.0.1/32".to_owned(),
            ..Self::default()
        }
    }
}

impl From<&AmiUserView> for AmiUserForm {
    fn from(u: &AmiUserView) -> Self {
        Self {
            name: u.name.clone(),
            permit: u.permit.join(", "),
            deny: u.deny.join(", "),
            read: u.read.join(", "),
            write: u.write.join(", "),
            allow_dangerous: u.allow_dangerous.then(|| "on".to_owned()),
        }
    }
}

/// The hardening policy form, as typed. sipwarden's own AMI secrets are not in it (they are
/// kept as they are).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PolicyForm {
    pub realm: String,
    pub user_agent: String,
    pub unidentified_request_count: String,
    pub unidentified_request_period: String,
    pub unidentified_request_prune_interval: String,
    pub sip_bind_v4: String,
    /// Empty: no IPv6 transports.
    pub sip_bind_v6: String,
    pub sip_port: String,
    /// Both empty: no TLS transport.
    pub tls_cert_file: String,
    pub tls_key_file: String,
    pub tls_port: String,
    pub default_endpoint_networks: String,
    pub national_patterns: String,
    pub international_patterns: String,
    pub emergency_numbers: String,
    pub ami_bind: String,
    pub ami_port: String,
    pub ami_auth_timeout: String,
    pub ami_auth_limit: String,
    pub guard_ami_user: String,
    pub guard_ami_permit: String,
    pub apply_ami_user: String,
}

/// The policy as the form shows it, with its version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyData {
    pub form: PolicyForm,
    pub version: i32,
}

/// A form that was refused, to put back what was typed (never a secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PbxForm {
    Endpoint(EndpointForm),
    Trunk(TrunkForm),
    AmiUser(AmiUserForm),
    Policy(Box<PolicyForm>),
    /// The Guard settings page's form (it shares the PBX pages' flash).
    GuardSettings(Box<wire::guard::GuardSettingsForm>),
}

/// A secret generated (or typed) just now, shown this once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShownSecret {
    /// `endpoint` or `AMI user`.
    pub kind: String,
    /// Its id or name.
    pub key: String,
    /// Its extension, for endpoints.
    pub label: String,
    pub secret: String,
}

impl From<&WithSecret<EndpointView>> for ShownSecret {
    fn from(w: &WithSecret<EndpointView>) -> Self {
        Self {
            kind: "endpoint".to_owned(),
            key: w.object.id.clone(),
            label: format!("extension {}", w.object.extension),
            secret: w.secret.clone(),
        }
    }
}

impl From<&WithSecret<AmiUserView>> for ShownSecret {
    fn from(w: &WithSecret<AmiUserView>) -> Self {
        Self {
            kind: "AMI user".to_owned(),
            key: w.object.name.clone(),
            label: String::new(),
            secret: w.secret.clone(),
        }
    }
}

/// The outcome of a plain form post, kept on the server for the page it redirects to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PbxFlash {
    /// Refused: why, and what was typed.
    Refused {
        error: PbxActionError,
        form: Option<Box<PbxForm>>,
    },
    /// A new secret.
    Secret(ShownSecret),
    /// An apply or rollback finished (or failed and fell back).
    Report(ApplyReport),
}

impl PbxFlash {
    /// The refusal, if this flash is one.
    #[must_use]
    pub fn error(&self) -> Option<PbxActionError> {
        match self {
            PbxFlash::Refused { error, .. } => Some(error.clone()),
            _ => None,
        }
    }

    /// The secret, if this flash carries one.
    #[must_use]
    pub fn secret(&self) -> Option<ShownSecret> {
        match self {
            PbxFlash::Secret(s) => Some(s.clone()),
            _ => None,
        }
    }

    /// The report, if this flash carries one.
    #[must_use]
    pub fn report(&self) -> Option<ApplyReport> {
        match self {
            PbxFlash::Report(r) => Some(r.clone()),
            _ => None,
        }
    }

    /// What was typed into a refused form, if it was this kind of form.
    #[must_use]
    pub fn form(&self) -> Option<PbxForm> {
        match self {
            PbxFlash::Refused { form, .. } => form.as_deref().cloned(),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Server functions
// ---------------------------------------------------------------------------------------

/// Takes (once) the flash a plain form post left for this session.
#[server(prefix = "/fn", endpoint = "pbx_flash")]
pub async fn take_pbx_flash(token: String) -> Result<Option<PbxFlash>, PbxActionError> {
    crate::ssr::pbx::no_store();
    crate::ssr::pbx::take_flash(token).await
}

/// One page of endpoints, optionally filtered by `q`, from `cursor` (a page's `next_cursor`).
#[server(prefix = "/fn", endpoint = "list_endpoints")]
pub async fn list_endpoints(
    q: Option<String>,
    cursor: Option<String>,
) -> Result<EndpointList, PbxActionError> {
    let (pbx, parts) = crate::ssr::pbx::context()?;
    pbx.list_endpoints(&parts, q, cursor).await
}

/// One endpoint.
#[server(prefix = "/fn", endpoint = "get_endpoint")]
pub async fn get_endpoint(id: String) -> Result<EndpointView, PbxActionError> {
    let (pbx, parts) = crate::ssr::pbx::context()?;
    pbx.get_endpoint(&parts, &id).await
}

/// Creates an endpoint; its secret (generated unless one was typed) is in the answer once.
#[server(prefix = "/fn", endpoint = "create_endpoint")]
pub async fn create_endpoint(
    csrf: String,
    #[server(flatten)] form: EndpointForm,
    #[server(default)] secret: String,
) -> Result<WithSecret<EndpointView>, PbxActionError> {
    use crate::ssr::pbx::{Then, finish};
    let (pbx, parts) = crate::ssr::pbx::context()?;
    crate::ssr::pbx::no_store();
    let typed = Some(secret).filter(|s| !s.is_empty());
    let outcome = pbx
        .create_endpoint(&parts, &csrf, form.clone(), typed)
        .await;
    finish(
        &*pbx,
        &parts,
        outcome,
        "/endpoints",
        Some(PbxForm::Endpoint(form)),
        |created| Then::flash(PbxFlash::Secret(created.into()), "/endpoints".to_owned()),
    )
    .await
}

/// Changes an endpoint's editable fields.
#[server(prefix = "/fn", endpoint = "update_endpoint")]
pub async fn update_endpoint(
    csrf: String,
    id: String,
    #[server(flatten)] form: EndpointForm,
) -> Result<EndpointView, PbxActionError> {
    use crate::ssr::pbx::{Then, finish};
    let (pbx, parts) = crate::ssr::pbx::context()?;
    let outcome = pbx.update_endpoint(&parts, &csrf, &id, form.clone()).await;
    let page = endpoint_page(&id);
    finish(
        &*pbx,
        &parts,
        outcome,
        &page,
        Some(PbxForm::Endpoint(form)),
        |e| Then::Redirect(format!("{}?saved=1", endpoint_page(&e.id))),
    )
    .await
}

/// Deletes an endpoint.
#[server(prefix = "/fn", endpoint = "delete_endpoint")]
pub async fn delete_endpoint(csrf: String, id: String) -> Result<(), PbxActionError> {
    use crate::ssr::pbx::{Then, finish};
    let (pbx, parts) = crate::ssr::pbx::context()?;
    let outcome = pbx.delete_endpoint(&parts, &csrf, &id).await;
    finish(&*pbx, &parts, outcome, "/endpoints", None, |()| {
        Then::Redirect("/endpoints?deleted=1".to_owned())
    })
    .await
}

/// A new generated secret for an endpoint, in the answer once.
#[server(prefix = "/fn", endpoint = "rotate_endpoint_secret")]
pub async fn rotate_endpoint_secret(
    csrf: String,
    id: String,
) -> Result<WithSecret<EndpointView>, PbxActionError> {
    use crate::ssr::pbx::{Then, finish};
    let (pbx, parts) = crate::ssr::pbx::context()?;
    crate::ssr::pbx::no_store();
    let outcome = pbx.rotate_endpoint_secret(&parts, &csrf, &id).await;
    finish(&*pbx, &parts, outcome, "/endpoints", None, |rotated| {
        Then::flash(PbxFlash::Secret(rotated.into()), "/endpoints".to_owned())
    })
    .await
}

/// Every trunk.
#[server(prefix = "/fn", endpoint = "list_trunks")]
pub async fn list_trunks() -> Result<Vec<TrunkView>, PbxActionError> {
    let (pbx, parts) = crate::ssr::pbx::context()?;
    pbx.list_trunks(&parts).await
}

/// Creates a trunk.
#[server(prefix = "/fn", endpoint = "create_trunk")]
pub async fn create_trunk(
    csrf: String,
    #[server(flatten)] form: TrunkForm,
) -> Result<TrunkView, PbxActionError> {
    use crate::ssr::pbx::{Then, finish};
    let (pbx, parts) = crate::ssr::pbx::context()?;
    let outcome = pbx.create_trunk(&parts, &csrf, form.clone()).await;
    finish(
        &*pbx,
        &parts,
        outcome,
        "/trunks",
        Some(PbxForm::Trunk(form)),
        |_| Then::Redirect("/trunks?saved=1".to_owned()),
    )
    .await
}

/// One trunk.
#[server(prefix = "/fn", endpoint = "get_trunk")]
pub async fn get_trunk(name: String) -> Result<TrunkView, PbxActionError> {
    let (pbx, parts) = crate::ssr::pbx::context()?;
    pbx.get_trunk(&parts, &name).await
}

/// Changes a trunk (its name stays: `key`).
#[server(prefix = "/fn", endpoint = "update_trunk")]
pub async fn update_trunk(
    csrf: String,
    key: String,
    #[server(flatten)] form: TrunkForm,
) -> Result<TrunkView, PbxActionError> {
    use crate::ssr::pbx::{Then, finish};
    let (pbx, parts) = crate::ssr::pbx::context()?;
    let outcome = pbx.update_trunk(&parts, &csrf, &key, form.clone()).await;
    let page = object_page("/trunks", &key);
    finish(
        &*pbx,
        &parts,
        outcome,
        &page,
        Some(PbxForm::Trunk(form)),
        |t| Then::Redirect(format!("{}?saved=1", object_page("/trunks", &t.name))),
    )
    .await
}

/// Deletes a trunk.
#[server(prefix = "/fn", endpoint = "delete_trunk")]
pub async fn delete_trunk(csrf: String, name: String) -> Result<(), PbxActionError> {
    use crate::ssr::pbx::{Then, finish};
    let (pbx, parts) = crate::ssr::pbx::context()?;
    let outcome = pbx.delete_trunk(&parts, &csrf, &name).await;
    finish(&*pbx, &parts, outcome, "/trunks", None, |()| {
        Then::Redirect("/trunks?deleted=1".to_owned())
    })
    .await
}

/// Every AMI user.
#[server(prefix = "/fn", endpoint = "list_ami_users")]
pub async fn list_ami_users() -> Result<Vec<AmiUserView>, PbxActionError> {
    let (pbx, parts) = crate::ssr::pbx::context()?;
    pbx.list_ami_users(&parts).await
}

/// Creates an AMI user; its secret (generated unless one was typed) is in the answer once.
#[server(prefix = "/fn", endpoint = "create_ami_user")]
pub async fn create_ami_user(
    csrf: String,
    #[server(flatten)] form: AmiUserForm,
    #[server(default)] secret: String,
) -> Result<WithSecret<AmiUserView>, PbxActionError> {
    use crate::ssr::pbx::{Then, finish};
    let (pbx, parts) = crate::ssr::pbx::context()?;
    crate::ssr::pbx::no_store();
    let typed = Some(secret).filter(|s| !s.is_empty());
    let outcome = pbx
        .create_ami_user(&parts, &csrf, form.clone(), typed)
        .await;
    finish(
        &*pbx,
        &parts,
        outcome,
        "/ami-users",
        Some(PbxForm::AmiUser(form)),
        |created| Then::flash(PbxFlash::Secret(created.into()), "/ami-users".to_owned()),
    )
    .await
}

/// One AMI user.
#[server(prefix = "/fn", endpoint = "get_ami_user")]
pub async fn get_ami_user(name: String) -> Result<AmiUserView, PbxActionError> {
    let (pbx, parts) = crate::ssr::pbx::context()?;
    pbx.get_ami_user(&parts, &name).await
}

/// Changes an AMI user's networks and classes (its name and secret stay).
#[server(prefix = "/fn", endpoint = "update_ami_user")]
pub async fn update_ami_user(
    csrf: String,
    key: String,
    #[server(flatten)] form: AmiUserForm,
) -> Result<AmiUserView, PbxActionError> {
    use crate::ssr::pbx::{Then, finish};
    let (pbx, parts) = crate::ssr::pbx::context()?;
    let outcome = pbx.update_ami_user(&parts, &csrf, &key, form.clone()).await;
    let page = object_page("/ami-users", &key);
    finish(
        &*pbx,
        &parts,
        outcome,
        &page,
        Some(PbxForm::AmiUser(form)),
        |u| Then::Redirect(format!("{}?saved=1", object_page("/ami-users", &u.name))),
    )
    .await
}

/// Deletes an AMI user.
#[server(prefix = "/fn", endpoint = "delete_ami_user")]
pub async fn delete_ami_user(csrf: String, name: String) -> Result<(), PbxActionError> {
    use crate::ssr::pbx::{Then, finish};
    let (pbx, parts) = crate::ssr::pbx::context()?;
    let outcome = pbx.delete_ami_user(&parts, &csrf, &name).await;
    finish(&*pbx, &parts, outcome, "/ami-users", None, |()| {
        Then::Redirect("/ami-users?deleted=1".to_owned())
    })
    .await
}

/// A new generated secret for an AMI user, in the answer once.
#[server(prefix = "/fn", endpoint = "rotate_ami_secret")]
pub async fn rotate_ami_secret(
    csrf: String,
    name: String,
) -> Result<WithSecret<AmiUserView>, PbxActionError> {
    use crate::ssr::pbx::{Then, finish};
    let (pbx, parts) = crate::ssr::pbx::context()?;
    crate::ssr::pbx::no_store();
    let outcome = pbx.rotate_ami_secret(&parts, &csrf, &name).await;
    finish(&*pbx, &parts, outcome, "/ami-users", None, |rotated| {
        Then::flash(PbxFlash::Secret(rotated.into()), "/ami-users".to_owned())
    })
    .await
}

/// The hardening policy.
#[server(prefix = "/fn", endpoint = "get_policy")]
pub async fn get_policy() -> Result<PolicyData, PbxActionError> {
    let (pbx, parts) = crate::ssr::pbx::context()?;
    pbx.policy(&parts).await
}

/// Replaces the hardening policy.
#[server(prefix = "/fn", endpoint = "update_policy")]
pub async fn update_policy(
    csrf: String,
    #[server(flatten)] form: PolicyForm,
) -> Result<PolicyData, PbxActionError> {
    use crate::ssr::pbx::{Then, finish};
    let (pbx, parts) = crate::ssr::pbx::context()?;
    let outcome = pbx.update_policy(&parts, &csrf, form.clone()).await;
    finish(
        &*pbx,
        &parts,
        outcome,
        "/policy",
        Some(PbxForm::Policy(Box::new(form))),
        |_| Then::Redirect("/policy?saved=1".to_owned()),
    )
    .await
}

/// What an apply would write, per file (administrators only: manager.conf holds secrets).
#[server(prefix = "/fn", endpoint = "config_preview")]
pub async fn config_preview() -> Result<Preview, PbxActionError> {
    let (pbx, parts) = crate::ssr::pbx::context()?;
    crate::ssr::pbx::no_store();
    pbx.preview(&parts).await
}

/// Renders, writes and reloads the configuration; the report says what Asterisk loaded or
/// why it failed and what is live instead.
#[server(prefix = "/fn", endpoint = "apply_config")]
pub async fn apply_config(csrf: String) -> Result<ApplyReport, PbxActionError> {
    use crate::ssr::pbx::{Then, finish};
    let (pbx, parts) = crate::ssr::pbx::context()?;
    let outcome = pbx.apply(&parts, &csrf).await;
    finish(&*pbx, &parts, outcome, "/config", None, |report| {
        Then::flash(PbxFlash::Report(report.clone()), "/config".to_owned())
    })
    .await
}

/// The configuration revisions, newest first.
#[server(prefix = "/fn", endpoint = "list_revisions")]
pub async fn list_revisions() -> Result<Vec<RevisionView>, PbxActionError> {
    let (pbx, parts) = crate::ssr::pbx::context()?;
    pbx.revisions(&parts).await
}

/// Makes an earlier revision's files live again (as a new revision).
#[server(prefix = "/fn", endpoint = "rollback_config")]
pub async fn rollback_config(csrf: String, number: String) -> Result<ApplyReport, PbxActionError> {
    use crate::ssr::pbx::{Then, finish};
    let (pbx, parts) = crate::ssr::pbx::context()?;
    let outcome = match number.trim().parse::<i32>() {
        Ok(n) if n > 0 => pbx.rollback(&parts, &csrf, n).await,
        _ => Err(PbxActionError::Invalid {
            field: "number".to_owned(),
            reason: "a revision number is a positive integer".to_owned(),
        }),
    };
    finish(&*pbx, &parts, outcome, "/config", None, |report| {
        Then::flash(PbxFlash::Report(report.clone()), "/config".to_owned())
    })
    .await
}

/// The console page of an endpoint.
#[must_use]
pub fn endpoint_page(id: &str) -> String {
    object_page("/endpoints", id)
}

/// The console page of an object under `list`. Ids and names are checked to be letters,
/// digits, `-` and `_`; anything else is dropped, so the path (also used in a redirect's
/// `Location`) cannot carry other characters.
#[must_use]
pub fn object_page(list: &str, key: &str) -> String {
    let safe: String = key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .collect();
    format!("{list}/{safe}")
}

impl PolicyForm {
    /// The value of the field `name` (the form's input names), or `""` for an unknown name.
    #[must_use]
    pub fn get(&self, name: &str) -> &str {
        match name {
            "realm" => &self.realm,
            "user_agent" => &self.user_agent,
            "unidentified_request_count" => &self.unidentified_request_count,
            "unidentified_request_period" => &self.unidentified_request_period,
            "unidentified_request_prune_interval" => &self.unidentified_request_prune_interval,
            "sip_bind_v4" => &self.sip_bind_v4,
            "sip_bind_v6" => &self.sip_bind_v6,
            "sip_port" => &self.sip_port,
            "tls_cert_file" => &self.tls_cert_file,
            "tls_key_file" => &self.tls_key_file,
            "tls_port" => &self.tls_port,
            "default_endpoint_networks" => &self.default_endpoint_networks,
            "national_patterns" => &self.national_patterns,
            "international_patterns" => &self.international_patterns,
            "emergency_numbers" => &self.emergency_numbers,
            "ami_bind" => &self.ami_bind,
            "ami_port" => &self.ami_port,
            "ami_auth_timeout" => &self.ami_auth_timeout,
            "ami_auth_limit" => &self.ami_auth_limit,
            "guard_ami_user" => &self.guard_ami_user,
            "guard_ami_permit" => &self.guard_ami_permit,
            "apply_ami_user" => &self.apply_ami_user,
            _ => "",
        }
    }
}
