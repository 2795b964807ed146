//! The server side of the PBX pages: the trait the backend implements (forms end in
//! [`super::form`]).

use std::sync::Arc;

use http::request::Parts;

use crate::form::ActionError;
use crate::form::pbx::{AmiUserForm, EndpointForm, PolicyData, PolicyForm, TrunkForm};
use wire::pbx::{
    AmiUserView, ApplyReport, EndpointList, EndpointView, Preview, RevisionView, TrunkView,
    WithSecret,
};

type Outcome<T> = Result<T, ActionError>;

/// What the PBX pages need from the backend, put into Leptos context as
/// `Arc<dyn PbxConsole>` beside [`super::Console`]. Every method reads the caller from the
/// request; those that change something also check `csrf` and the admin role.
#[async_trait::async_trait]
pub trait PbxConsole: super::form::Flashes {
    async fn list_endpoints(
        &self,
        req: &Parts,
        q: Option<String>,
        cursor: Option<String>,
    ) -> Outcome<EndpointList>;
    async fn get_endpoint(&self, req: &Parts, id: &str) -> Outcome<EndpointView>;
    async fn create_endpoint(
        &self,
        req: &Parts,
        csrf: &str,
        form: EndpointForm,
        secret: Option<String>,
    ) -> Outcome<WithSecret<EndpointView>>;
    async fn update_endpoint(
        &self,
        req: &Parts,
        csrf: &str,
        id: &str,
        form: EndpointForm,
    ) -> Outcome<EndpointView>;
    async fn delete_endpoint(&self, req: &Parts, csrf: &str, id: &str) -> Outcome<()>;
    async fn rotate_endpoint_secret(
        &self,
        req: &Parts,
        csrf: &str,
        id: &str,
    ) -> Outcome<WithSecret<EndpointView>>;

    async fn list_trunks(&self, req: &Parts) -> Outcome<Vec<TrunkView>>;
    /// Creates a trunk; `secret` is the provider's password when it registers.
    async fn create_trunk(
        &self,
        req: &Parts,
        csrf: &str,
        form: TrunkForm,
        secret: Option<String>,
    ) -> Outcome<TrunkView>;
    async fn get_trunk(&self, req: &Parts, name: &str) -> Outcome<TrunkView>;
    /// Changes a trunk; without `secret` a registration keeps its stored password.
    async fn update_trunk(
        &self,
        req: &Parts,
        csrf: &str,
        name: &str,
        form: TrunkForm,
        secret: Option<String>,
    ) -> Outcome<TrunkView>;
    /// Replaces a registering trunk's provider password, nothing else.
    async fn replace_trunk_secret(
        &self,
        req: &Parts,
        csrf: &str,
        name: &str,
        secret: String,
    ) -> Outcome<TrunkView>;
    /// Deletes a trunk; `confirm` is its name typed again (the console asks for it).
    async fn delete_trunk(
        &self,
        req: &Parts,
        csrf: &str,
        name: &str,
        confirm: Option<&str>,
    ) -> Outcome<()>;

    async fn list_ami_users(&self, req: &Parts) -> Outcome<Vec<AmiUserView>>;
    async fn create_ami_user(
        &self,
        req: &Parts,
        csrf: &str,
        form: AmiUserForm,
        secret: Option<String>,
    ) -> Outcome<WithSecret<AmiUserView>>;
    async fn get_ami_user(&self, req: &Parts, name: &str) -> Outcome<AmiUserView>;
    async fn update_ami_user(
        &self,
        req: &Parts,
        csrf: &str,
        name: &str,
        form: AmiUserForm,
    ) -> Outcome<AmiUserView>;
    async fn delete_ami_user(&self, req: &Parts, csrf: &str, name: &str) -> Outcome<()>;
    async fn rotate_ami_secret(
        &self,
        req: &Parts,
        csrf: &str,
        name: &str,
    ) -> Outcome<WithSecret<AmiUserView>>;

    async fn policy(&self, req: &Parts) -> Outcome<PolicyData>;
    async fn update_policy(&self, req: &Parts, csrf: &str, form: PolicyForm)
    -> Outcome<PolicyData>;

    /// Where phones and AMI clients reach this PBX (for a new secret's provisioning block).
    async fn service_address(&self, req: &Parts) -> Outcome<crate::form::ServiceAddress>;
    /// Whether the model differs from what Asterisk last loaded (anyone signed in).
    async fn pending_changes(&self, req: &Parts) -> Outcome<bool>;
    /// Administrators only: the diff names every account (secrets hidden).
    async fn preview(&self, req: &Parts) -> Outcome<Preview>;
    async fn apply(&self, req: &Parts, csrf: &str) -> Outcome<ApplyReport>;
    async fn revisions(&self, req: &Parts) -> Outcome<Vec<RevisionView>>;
    async fn rollback(&self, req: &Parts, csrf: &str, number: i32) -> Outcome<ApplyReport>;
}

/// This page's backend and the current request.
pub fn context() -> Result<(Arc<dyn PbxConsole>, Parts), ActionError> {
    Ok(super::part::<dyn PbxConsole>()?)
}
