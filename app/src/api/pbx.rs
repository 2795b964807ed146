//! Server functions of the PBX pages: endpoints, trunks, AMI users, the policy and the
//! configuration (preview, apply, revisions, rollback).
//!
//! Like the rest of [`crate::api`] they only gather input, call the backend through
//! [`crate::ssr::pbx::PbxConsole`] and map the outcome. Every change takes the session's
//! `csrf` token from the form; viewers may read, only administrators change.

use leptos::prelude::*;

use crate::form::pbx::{AmiUserForm, EndpointForm, PolicyData, PolicyForm, TrunkForm};
use crate::form::{ActionError, ShownSecret};
// Used by the server functions' bodies, which only the server build has.
#[cfg(feature = "ssr")]
use crate::form::{Flash, ServiceAddress, TypedForm, pbx::endpoint_page, pbx::object_page};
use wire::pbx::{
    AmiUserView, ApplyReport, EndpointList, EndpointView, Preview, RevisionView, TrunkView,
};

/// A new secret with the provisioning block of where this PBX is reached.
#[cfg(feature = "ssr")]
async fn with_address<T>(
    pbx: &dyn crate::ssr::pbx::PbxConsole,
    parts: &http::request::Parts,
    outcome: Result<T, ActionError>,
    shown: fn(&T, &ServiceAddress) -> ShownSecret,
) -> Result<ShownSecret, ActionError> {
    let made = outcome?;
    // The object and its secret are stored already: a failure to say where the PBX is
    // reached must not lose the secret, so the block is then left out.
    match pbx.service_address(parts).await {
        Ok(address) => Ok(shown(&made, &address)),
        Err(_) => {
            let mut secret = shown(&made, &ServiceAddress::default());
            secret.provisioning.clear();
            Ok(secret)
        }
    }
}

/// One page of endpoints, optionally filtered by `q`, from `cursor` (a page's `next_cursor`).
#[server(prefix = "/fn", endpoint = "list_endpoints")]
pub async fn list_endpoints(
    q: Option<String>,
    cursor: Option<String>,
) -> Result<EndpointList, ActionError> {
    let (pbx, parts) = crate::ssr::pbx::context()?;
    pbx.list_endpoints(&parts, q, cursor).await
}

/// One endpoint.
#[server(prefix = "/fn", endpoint = "get_endpoint")]
pub async fn get_endpoint(id: String) -> Result<EndpointView, ActionError> {
    let (pbx, parts) = crate::ssr::pbx::context()?;
    pbx.get_endpoint(&parts, &id).await
}

/// Creates an endpoint; its secret (generated unless one was typed) is in the answer once.
#[server(prefix = "/fn", endpoint = "create_endpoint")]
pub async fn create_endpoint(
    csrf: String,
    #[server(flatten)] form: EndpointForm,
    #[server(default)] secret: String,
) -> Result<ShownSecret, ActionError> {
    use crate::ssr::form::{Then, finish};
    let (pbx, parts) = crate::ssr::pbx::context()?;
    crate::ssr::form::no_store();
    let typed = Some(secret).filter(|s| !s.is_empty());
    let outcome = pbx
        .create_endpoint(&parts, &csrf, form.clone(), typed)
        .await;
    let outcome = with_address(&*pbx, &parts, outcome, ShownSecret::endpoint).await;
    finish(
        &*pbx,
        &parts,
        outcome,
        "/endpoints",
        Some(TypedForm::Endpoint(form)),
        |created| Then::flash(Flash::Secret(created.clone()), "/endpoints".to_owned()),
    )
    .await
}

/// Changes an endpoint's editable fields.
#[server(prefix = "/fn", endpoint = "update_endpoint")]
pub async fn update_endpoint(
    csrf: String,
    id: String,
    #[server(flatten)] form: EndpointForm,
) -> Result<EndpointView, ActionError> {
    use crate::ssr::form::{Then, finish};
    let (pbx, parts) = crate::ssr::pbx::context()?;
    let outcome = pbx.update_endpoint(&parts, &csrf, &id, form.clone()).await;
    let page = endpoint_page(&id);
    finish(
        &*pbx,
        &parts,
        outcome,
        &page,
        Some(TypedForm::Endpoint(form)),
        |e| Then::Redirect(format!("{}?saved=1", endpoint_page(&e.id))),
    )
    .await
}

/// Deletes an endpoint.
#[server(prefix = "/fn", endpoint = "delete_endpoint")]
pub async fn delete_endpoint(csrf: String, id: String) -> Result<(), ActionError> {
    use crate::ssr::form::{Then, finish};
    let (pbx, parts) = crate::ssr::pbx::context()?;
    let outcome = pbx.delete_endpoint(&parts, &csrf, &id).await;
    finish(&*pbx, &parts, outcome, "/endpoints", None, |()| {
        Then::Redirect("/endpoints?deleted=1".to_owned())
    })
    .await
}

/// A new generated secret for an endpoint, in the answer once.
#[server(prefix = "/fn", endpoint = "rotate_endpoint_secret")]
pub async fn rotate_endpoint_secret(csrf: String, id: String) -> Result<ShownSecret, ActionError> {
    use crate::ssr::form::{Then, finish};
    let (pbx, parts) = crate::ssr::pbx::context()?;
    crate::ssr::form::no_store();
    let outcome = pbx.rotate_endpoint_secret(&parts, &csrf, &id).await;
    let outcome = with_address(&*pbx, &parts, outcome, ShownSecret::endpoint).await;
    finish(&*pbx, &parts, outcome, "/endpoints", None, |rotated| {
        Then::flash(Flash::Secret(rotated.clone()), "/endpoints".to_owned())
    })
    .await
}

/// Whether an apply is due: the model differs from what Asterisk last loaded. `None`
/// when the session has ended: the page asks every 15 s, and a 401 would be an error in
/// the browser's console for what is an expected answer.
#[server(prefix = "/fn", endpoint = "pending_changes")]
pub async fn pending_changes() -> Result<Option<bool>, ActionError> {
    use crate::form::ConsoleError;
    let (pbx, parts) = crate::ssr::pbx::context()?;
    match pbx.pending_changes(&parts).await {
        Err(ActionError::Console(ConsoleError::NotSignedIn)) => Ok(None),
        other => other.map(Some),
    }
}

/// Every trunk.
#[server(prefix = "/fn", endpoint = "list_trunks")]
pub async fn list_trunks() -> Result<Vec<TrunkView>, ActionError> {
    let (pbx, parts) = crate::ssr::pbx::context()?;
    pbx.list_trunks(&parts).await
}

/// Creates a trunk; `secret` is the provider's password when it registers (never kept in
/// the form a refusal brings back, never shown again).
#[server(prefix = "/fn", endpoint = "create_trunk")]
pub async fn create_trunk(
    csrf: String,
    #[server(flatten)] form: TrunkForm,
    #[server(default)] secret: String,
) -> Result<TrunkView, ActionError> {
    use crate::ssr::form::{Then, finish};
    let (pbx, parts) = crate::ssr::pbx::context()?;
    let typed = Some(secret).filter(|s| !s.is_empty());
    let outcome = pbx.create_trunk(&parts, &csrf, form.clone(), typed).await;
    finish(
        &*pbx,
        &parts,
        outcome,
        "/trunks",
        Some(TypedForm::Trunk(form)),
        |_| Then::Redirect("/trunks?saved=1".to_owned()),
    )
    .await
}

/// One trunk.
#[server(prefix = "/fn", endpoint = "get_trunk")]
pub async fn get_trunk(name: String) -> Result<TrunkView, ActionError> {
    let (pbx, parts) = crate::ssr::pbx::context()?;
    pbx.get_trunk(&parts, &name).await
}

/// Changes a trunk (its name stays: `key`). An empty `secret` keeps the stored provider
/// password.
#[server(prefix = "/fn", endpoint = "update_trunk")]
pub async fn update_trunk(
    csrf: String,
    key: String,
    #[server(flatten)] form: TrunkForm,
    #[server(default)] secret: String,
) -> Result<TrunkView, ActionError> {
    use crate::ssr::form::{Then, finish};
    let (pbx, parts) = crate::ssr::pbx::context()?;
    let typed = Some(secret).filter(|s| !s.is_empty());
    let outcome = pbx
        .update_trunk(&parts, &csrf, &key, form.clone(), typed)
        .await;
    let page = object_page("/trunks", &key);
    finish(
        &*pbx,
        &parts,
        outcome,
        &page,
        Some(TypedForm::Trunk(form)),
        |t| Then::Redirect(format!("{}?saved=1", object_page("/trunks", &t.name))),
    )
    .await
}

/// Replaces the provider password of the registering trunk `key`, nothing else.
#[server(prefix = "/fn", endpoint = "replace_trunk_secret")]
pub async fn replace_trunk_secret(
    csrf: String,
    key: String,
    #[server(default)] secret: String,
) -> Result<TrunkView, ActionError> {
    use crate::ssr::form::{Then, finish};
    let (pbx, parts) = crate::ssr::pbx::context()?;
    let outcome = pbx.replace_trunk_secret(&parts, &csrf, &key, secret).await;
    let page = object_page("/trunks", &key);
    finish(&*pbx, &parts, outcome, &page, None, |t| {
        Then::Redirect(format!("{}?replaced=1", object_page("/trunks", &t.name)))
    })
    .await
}

/// Deletes a trunk.
#[server(prefix = "/fn", endpoint = "delete_trunk")]
pub async fn delete_trunk(
    csrf: String,
    name: String,
    #[server(default)] confirm: Option<String>,
) -> Result<(), ActionError> {
    use crate::ssr::form::{Then, finish};
    let (pbx, parts) = crate::ssr::pbx::context()?;
    let outcome = pbx
        .delete_trunk(&parts, &csrf, &name, confirm.as_deref())
        .await;
    finish(&*pbx, &parts, outcome, "/trunks", None, |()| {
        Then::Redirect("/trunks?deleted=1".to_owned())
    })
    .await
}

/// Every AMI user.
#[server(prefix = "/fn", endpoint = "list_ami_users")]
pub async fn list_ami_users() -> Result<Vec<AmiUserView>, ActionError> {
    let (pbx, parts) = crate::ssr::pbx::context()?;
    pbx.list_ami_users(&parts).await
}

/// Creates an AMI user; its secret (generated unless one was typed) is in the answer once.
#[server(prefix = "/fn", endpoint = "create_ami_user")]
pub async fn create_ami_user(
    csrf: String,
    #[server(flatten)] form: AmiUserForm,
    #[server(default)] secret: String,
) -> Result<ShownSecret, ActionError> {
    use crate::ssr::form::{Then, finish};
    let (pbx, parts) = crate::ssr::pbx::context()?;
    crate::ssr::form::no_store();
    let typed = Some(secret).filter(|s| !s.is_empty());
    let outcome = pbx
        .create_ami_user(&parts, &csrf, form.clone(), typed)
        .await;
    let outcome = with_address(&*pbx, &parts, outcome, ShownSecret::ami_user).await;
    finish(
        &*pbx,
        &parts,
        outcome,
        "/ami-users",
        Some(TypedForm::AmiUser(form)),
        |created| Then::flash(Flash::Secret(created.clone()), "/ami-users".to_owned()),
    )
    .await
}

/// One AMI user.
#[server(prefix = "/fn", endpoint = "get_ami_user")]
pub async fn get_ami_user(name: String) -> Result<AmiUserView, ActionError> {
    let (pbx, parts) = crate::ssr::pbx::context()?;
    pbx.get_ami_user(&parts, &name).await
}

/// Changes an AMI user's networks and classes (its name and secret stay).
#[server(prefix = "/fn", endpoint = "update_ami_user")]
pub async fn update_ami_user(
    csrf: String,
    key: String,
    #[server(flatten)] form: AmiUserForm,
) -> Result<AmiUserView, ActionError> {
    use crate::ssr::form::{Then, finish};
    let (pbx, parts) = crate::ssr::pbx::context()?;
    let outcome = pbx.update_ami_user(&parts, &csrf, &key, form.clone()).await;
    let page = object_page("/ami-users", &key);
    finish(
        &*pbx,
        &parts,
        outcome,
        &page,
        Some(TypedForm::AmiUser(form)),
        |u| Then::Redirect(format!("{}?saved=1", object_page("/ami-users", &u.name))),
    )
    .await
}

/// Deletes an AMI user.
#[server(prefix = "/fn", endpoint = "delete_ami_user")]
pub async fn delete_ami_user(csrf: String, name: String) -> Result<(), ActionError> {
    use crate::ssr::form::{Then, finish};
    let (pbx, parts) = crate::ssr::pbx::context()?;
    let outcome = pbx.delete_ami_user(&parts, &csrf, &name).await;
    finish(&*pbx, &parts, outcome, "/ami-users", None, |()| {
        Then::Redirect("/ami-users?deleted=1".to_owned())
    })
    .await
}

/// A new generated secret for an AMI user, in the answer once.
#[server(prefix = "/fn", endpoint = "rotate_ami_secret")]
pub async fn rotate_ami_secret(csrf: String, name: String) -> Result<ShownSecret, ActionError> {
    use crate::ssr::form::{Then, finish};
    let (pbx, parts) = crate::ssr::pbx::context()?;
    crate::ssr::form::no_store();
    let outcome = pbx.rotate_ami_secret(&parts, &csrf, &name).await;
    let outcome = with_address(&*pbx, &parts, outcome, ShownSecret::ami_user).await;
    finish(&*pbx, &parts, outcome, "/ami-users", None, |rotated| {
        Then::flash(Flash::Secret(rotated.clone()), "/ami-users".to_owned())
    })
    .await
}

/// The hardening policy.
#[server(prefix = "/fn", endpoint = "get_policy")]
pub async fn get_policy() -> Result<PolicyData, ActionError> {
    let (pbx, parts) = crate::ssr::pbx::context()?;
    pbx.policy(&parts).await
}

/// Replaces the hardening policy.
#[server(prefix = "/fn", endpoint = "update_policy")]
pub async fn update_policy(
    csrf: String,
    #[server(flatten)] form: PolicyForm,
) -> Result<PolicyData, ActionError> {
    use crate::ssr::form::{Then, finish};
    let (pbx, parts) = crate::ssr::pbx::context()?;
    let outcome = pbx.update_policy(&parts, &csrf, form.clone()).await;
    finish(
        &*pbx,
        &parts,
        outcome,
        "/policy",
        Some(TypedForm::Policy(Box::new(form))),
        |_| Then::Redirect("/policy?saved=1".to_owned()),
    )
    .await
}

/// What an apply would write, per file (administrators only; secrets hidden).
#[server(prefix = "/fn", endpoint = "config_preview")]
pub async fn config_preview() -> Result<Preview, ActionError> {
    let (pbx, parts) = crate::ssr::pbx::context()?;
    crate::ssr::form::no_store();
    pbx.preview(&parts).await
}

/// Renders, writes and reloads the configuration; the report says what Asterisk loaded or
/// why it failed and what is live instead.
#[server(prefix = "/fn", endpoint = "apply_config")]
pub async fn apply_config(csrf: String) -> Result<ApplyReport, ActionError> {
    use crate::ssr::form::{Then, finish};
    let (pbx, parts) = crate::ssr::pbx::context()?;
    let outcome = pbx.apply(&parts, &csrf).await;
    finish(&*pbx, &parts, outcome, "/config", None, |report| {
        Then::flash(Flash::Report(report.clone()), "/config".to_owned())
    })
    .await
}

/// The configuration revisions, newest first.
#[server(prefix = "/fn", endpoint = "list_revisions")]
pub async fn list_revisions() -> Result<Vec<RevisionView>, ActionError> {
    let (pbx, parts) = crate::ssr::pbx::context()?;
    pbx.revisions(&parts).await
}

/// Makes an earlier revision's files live again (as a new revision).
#[server(prefix = "/fn", endpoint = "rollback_config")]
pub async fn rollback_config(csrf: String, number: String) -> Result<ApplyReport, ActionError> {
    use crate::ssr::form::{Then, finish};
    let (pbx, parts) = crate::ssr::pbx::context()?;
    let outcome = match number.trim().parse::<i32>() {
        Ok(n) if n > 0 => pbx.rollback(&parts, &csrf, n).await,
        _ => Err(ActionError::invalid(
            "number",
            "a revision number is a positive integer",
        )),
    };
    finish(&*pbx, &parts, outcome, "/config", None, |report| {
        Then::flash(Flash::Report(report.clone()), "/config".to_owned())
    })
    .await
}
