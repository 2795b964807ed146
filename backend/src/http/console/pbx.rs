//! The backend side of the PBX pages: [`app::ssr::pbx::PbxConsole`] over the PBX and config
//! services. It only reads the caller (viewers read; changes need the CSRF token and the
//! admin role), turns the typed-in forms into the API's input types ([`super::pbx_forms`]),
//! calls the service and maps its error. The rules stay in the services and the `policy`
//! crate.

use http::request::Parts;

use app::form::pbx::{AmiUserForm, EndpointForm, PolicyData, PolicyForm, TrunkForm};
use app::form::{ActionError, ConsoleError, ServiceAddress};
use policy::asterisk::InvalidField;
use wire::pbx::{
    AmiUserView, ApplyReport, EndpointList, EndpointView, Preview, RevisionView, TrunkView,
    WithSecret,
};

use super::pbx_forms::{new_ami_user, new_endpoint, new_trunk, policy_data, policy_settings};
use super::{ConsoleService, admin, caller};
use crate::services::pbx::PbxError;
use crate::services::{config, page, pbx};

/// Endpoints per page in the console.
const PAGE_SIZE: u64 = 50;

type Outcome<T> = Result<T, ActionError>;

/// The one mapping from service errors to what the browser sees: the field and rule of a
/// refusal and the problems of a conflict are sipwarden's own words; an internal failure is
/// logged and shown as the fixed message.
fn shown(e: PbxError) -> ActionError {
    match e {
        PbxError::Invalid(field) => invalid(&field),
        PbxError::Conflict(problems) => ActionError::Conflict(problems),
        // The console never sends If-Match; kept total for the day it does.
        e @ PbxError::Stale { .. } => ActionError::Conflict(vec![e.to_string()]),
        PbxError::NotFound { kind, .. } => ActionError::NotFound {
            kind: kind.to_owned(),
        },
        PbxError::Internal(cause) => {
            tracing::error!(error = %cause, "internal error");
            ActionError::Console(ConsoleError::Internal)
        }
    }
}

fn invalid(field: &InvalidField) -> ActionError {
    ActionError::invalid(field.field(), field.rule())
}

#[async_trait::async_trait]
impl app::ssr::pbx::PbxConsole for ConsoleService {
    async fn list_endpoints(
        &self,
        req: &Parts,
        q: Option<String>,
        cursor: Option<String>,
    ) -> Outcome<EndpointList> {
        caller(req)?;
        pbx::list_endpoints(&self.state.db, q.as_deref(), cursor.as_deref(), PAGE_SIZE)
            .await
            .map_err(shown)
    }

    async fn get_endpoint(&self, req: &Parts, id: &str) -> Outcome<EndpointView> {
        caller(req)?;
        pbx::get_endpoint(&self.state.db, id).await.map_err(shown)
    }

    async fn create_endpoint(
        &self,
        req: &Parts,
        csrf: &str,
        form: EndpointForm,
        secret: Option<String>,
    ) -> Outcome<WithSecret<EndpointView>> {
        let admin = admin(req, csrf)?;
        let new = new_endpoint(form, secret).map_err(|e| invalid(&e))?;
        pbx::create_endpoint(&self.state, &admin, new)
            .await
            .map_err(shown)
    }

    async fn update_endpoint(
        &self,
        req: &Parts,
        csrf: &str,
        id: &str,
        form: EndpointForm,
    ) -> Outcome<EndpointView> {
        let admin = admin(req, csrf)?;
        let changes = new_endpoint(form, None).map_err(|e| invalid(&e))?;
        pbx::update_endpoint(&self.state, &admin, id, changes, None)
            .await
            .map_err(shown)
    }

    async fn delete_endpoint(&self, req: &Parts, csrf: &str, id: &str) -> Outcome<()> {
        let admin = admin(req, csrf)?;
        pbx::delete_endpoint(&self.state, &admin, id)
            .await
            .map_err(shown)
    }

    async fn rotate_endpoint_secret(
        &self,
        req: &Parts,
        csrf: &str,
        id: &str,
    ) -> Outcome<WithSecret<EndpointView>> {
        let admin = admin(req, csrf)?;
        pbx::rotate_endpoint_secret(&self.state, &admin, id, None)
            .await
            .map_err(shown)
    }

    async fn list_trunks(&self, req: &Parts) -> Outcome<Vec<TrunkView>> {
        caller(req)?;
        // The console shows one page of the most the API pages allow: a PBX has a few trunks.
        pbx::list_trunks(&self.state.db, None, page::MAX_LIMIT)
            .await
            .map(|p| p.items)
            .map_err(shown)
    }

    async fn create_trunk(
        &self,
        req: &Parts,
        csrf: &str,
        form: TrunkForm,
        secret: Option<String>,
    ) -> Outcome<TrunkView> {
        let admin = admin(req, csrf)?;
        let new = new_trunk(form, secret).map_err(|e| invalid(&e))?;
        pbx::create_trunk(&self.state, &admin, new)
            .await
            .map_err(shown)
    }

    async fn get_trunk(&self, req: &Parts, name: &str) -> Outcome<TrunkView> {
        caller(req)?;
        pbx::get_trunk(&self.state, name).await.map_err(shown)
    }

    async fn update_trunk(
        &self,
        req: &Parts,
        csrf: &str,
        name: &str,
        form: TrunkForm,
        secret: Option<String>,
    ) -> Outcome<TrunkView> {
        let admin = admin(req, csrf)?;
        let changes = new_trunk(form, secret).map_err(|e| invalid(&e))?;
        pbx::update_trunk(&self.state, &admin, name, changes, None)
            .await
            .map_err(shown)
    }

    async fn replace_trunk_secret(
        &self,
        req: &Parts,
        csrf: &str,
        name: &str,
        secret: String,
    ) -> Outcome<TrunkView> {
        let admin = admin(req, csrf)?;
        pbx::replace_trunk_secret(&self.state, &admin, name, secret)
            .await
            .map_err(shown)
    }

    async fn delete_trunk(
        &self,
        req: &Parts,
        csrf: &str,
        name: &str,
        confirm: Option<&str>,
    ) -> Outcome<()> {
        let admin = admin(req, csrf)?;
        // A trunk carries every outside call: its name is typed again, as the form asks.
        if confirm.map(str::trim) != Some(name) {
            return Err(ActionError::invalid(
                "confirm",
                "type the trunk's name exactly to delete it",
            ));
        }
        pbx::delete_trunk(&self.state, &admin, name)
            .await
            .map_err(shown)
    }

    async fn list_ami_users(&self, req: &Parts) -> Outcome<Vec<AmiUserView>> {
        caller(req)?;
        pbx::list_ami_users(&self.state.db, None, page::MAX_LIMIT)
            .await
            .map(|p| p.items)
            .map_err(shown)
    }

    async fn create_ami_user(
        &self,
        req: &Parts,
        csrf: &str,
        form: AmiUserForm,
        secret: Option<String>,
    ) -> Outcome<WithSecret<AmiUserView>> {
        let admin = admin(req, csrf)?;
        let new = new_ami_user(form, secret).map_err(|e| invalid(&e))?;
        pbx::create_ami_user(&self.state, &admin, new)
            .await
            .map_err(shown)
    }

    async fn get_ami_user(&self, req: &Parts, name: &str) -> Outcome<AmiUserView> {
        caller(req)?;
        pbx::get_ami_user(&self.state.db, name).await.map_err(shown)
    }

    async fn update_ami_user(
        &self,
        req: &Parts,
        csrf: &str,
        name: &str,
        form: AmiUserForm,
    ) -> Outcome<AmiUserView> {
        let admin = admin(req, csrf)?;
        let changes = new_ami_user(form, None).map_err(|e| invalid(&e))?;
        pbx::update_ami_user(&self.state, &admin, name, changes, None)
            .await
            .map_err(shown)
    }

    async fn delete_ami_user(&self, req: &Parts, csrf: &str, name: &str) -> Outcome<()> {
        let admin = admin(req, csrf)?;
        pbx::delete_ami_user(&self.state, &admin, name)
            .await
            .map_err(shown)
    }

    async fn rotate_ami_secret(
        &self,
        req: &Parts,
        csrf: &str,
        name: &str,
    ) -> Outcome<WithSecret<AmiUserView>> {
        let admin = admin(req, csrf)?;
        pbx::rotate_ami_secret(&self.state, &admin, name, None)
            .await
            .map_err(shown)
    }

    async fn policy(&self, req: &Parts) -> Outcome<PolicyData> {
        caller(req)?;
        pbx::get_policy(&self.state.db)
            .await
            .map(policy_data)
            .map_err(shown)
    }

    async fn update_policy(
        &self,
        req: &Parts,
        csrf: &str,
        form: PolicyForm,
    ) -> Outcome<PolicyData> {
        let admin = admin(req, csrf)?;
        let settings = policy_settings(form).map_err(|e| invalid(&e))?;
        pbx::update_policy(&self.state, &admin, settings, None)
            .await
            .map(policy_data)
            .map_err(shown)
    }

    async fn service_address(&self, req: &Parts) -> Outcome<ServiceAddress> {
        caller(req)?;
        let (policy, _) = pbx::get_policy(&self.state.db).await.map_err(shown)?;
        // SIP on every address: phones reach it where the console was reached (the
        // appliance runs both), by the name the administrator typed.
        let console_host = req
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.parse::<http::uri::Authority>().ok())
            .map(|a| a.host().to_owned())
            .unwrap_or_default();
        let or_console = |bind: std::net::IpAddr| {
            if bind.is_unspecified() {
                console_host.clone()
            } else {
                bind.to_string()
            }
        };
        Ok(ServiceAddress {
            host_from_console: policy.sip_bind_v4.is_unspecified(),
            host: or_console(policy.sip_bind_v4.into()),
            sip_port: policy.sip_port,
            tls_port: policy.tls_port,
            ami_host: or_console(policy.ami_bind),
            ami_port: policy.ami_port,
        })
    }

    async fn pending_changes(&self, req: &Parts) -> Outcome<bool> {
        caller(req)?;
        config::pending(&self.state).await.map_err(shown)
    }

    async fn preview(&self, req: &Parts) -> Outcome<Preview> {
        caller(req)?
            .admin()
            .map_err(|_| ActionError::Console(ConsoleError::Forbidden))?;
        config::preview(&self.state).await.map_err(shown)
    }

    async fn apply(&self, req: &Parts, csrf: &str) -> Outcome<ApplyReport> {
        let admin = admin(req, csrf)?;
        config::apply(&self.state, &admin).await.map_err(shown)
    }

    async fn revisions(&self, req: &Parts) -> Outcome<Vec<RevisionView>> {
        caller(req)?;
        config::revisions(&self.state, None, 50)
            .await
            .map(|p| p.items)
            .map_err(shown)
    }

    async fn rollback(&self, req: &Parts, csrf: &str, number: i32) -> Outcome<ApplyReport> {
        let admin = admin(req, csrf)?;
        config::rollback(&self.state, &admin, number)
            .await
            .map_err(shown)
    }
}
