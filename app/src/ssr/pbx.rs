//! The server side of the PBX pages: the trait the backend implements, and how a form post
//! ends (see [`crate::api::pbx`] for why plain form posts go through a flash).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use http::request::Parts;
use leptos::prelude::*;

use crate::api::ConsoleError;
use crate::api::pbx::{
    AmiUserForm, EndpointForm, PbxActionError, PbxFlash, PbxForm, PolicyData, PolicyForm, TrunkForm,
};
use wire::pbx::{
    AmiUserView, ApplyReport, EndpointList, EndpointView, Preview, RevisionView, TrunkView,
    WithSecret,
};

type Outcome<T> = Result<T, PbxActionError>;

/// What the PBX pages need from the backend, put into Leptos context as
/// `Arc<dyn PbxConsole>` beside [`super::Console`]. Every method reads the caller from the
/// request; those that change something also check `csrf` and the admin role.
#[async_trait::async_trait]
pub trait PbxConsole: Send + Sync + 'static {
    /// Keeps `flash` for the caller's session; returns its token (none without a session).
    async fn put_flash(&self, req: &Parts, flash: PbxFlash) -> Option<String>;
    /// Takes the caller's flash with this token, once.
    async fn take_flash(&self, req: &Parts, token: &str) -> Option<PbxFlash>;

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
    async fn create_trunk(&self, req: &Parts, csrf: &str, form: TrunkForm) -> Outcome<TrunkView>;
    async fn get_trunk(&self, req: &Parts, name: &str) -> Outcome<TrunkView>;
    async fn update_trunk(
        &self,
        req: &Parts,
        csrf: &str,
        name: &str,
        form: TrunkForm,
    ) -> Outcome<TrunkView>;
    async fn delete_trunk(&self, req: &Parts, csrf: &str, name: &str) -> Outcome<()>;

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

    /// Administrators only: the diff of manager.conf shows AMI secrets.
    async fn preview(&self, req: &Parts) -> Outcome<Preview>;
    async fn apply(&self, req: &Parts, csrf: &str) -> Outcome<ApplyReport>;
    async fn revisions(&self, req: &Parts) -> Outcome<Vec<RevisionView>>;
    async fn rollback(&self, req: &Parts, csrf: &str, number: i32) -> Outcome<ApplyReport>;
}

/// The backend and the current request, from Leptos context.
pub fn context() -> Result<(Arc<dyn PbxConsole>, Parts), PbxActionError> {
    let pbx = use_context::<Arc<dyn PbxConsole>>().ok_or(ConsoleError::Internal)?;
    let parts = use_context::<Parts>().ok_or(ConsoleError::Internal)?;
    Ok((pbx, parts))
}

/// The flashes this request has taken, by token.
///
/// Server-side rendering may build a page more than once per request (a `Suspense` re-runs
/// its children as the resources inside resolve), and each build creates the page's
/// resources anew. Taking a flash is not idempotent, so the first take's result is kept here
/// for the rest of the request: every build of the page (and the state serialised for
/// hydration) sees the same flash, and the next request sees none. Provided per request by
/// [`crate::App`].
#[derive(Clone, Debug, Default)]
pub struct TakenFlashes(Arc<Mutex<HashMap<String, Option<PbxFlash>>>>);

impl TakenFlashes {
    fn get(&self, token: &str) -> Option<Option<PbxFlash>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(token)
            .cloned()
    }

    fn put(&self, token: String, flash: Option<PbxFlash>) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(token, flash);
    }
}

/// Takes the flash with this token once per request (see [`TakenFlashes`]).
pub async fn take_flash(token: String) -> Result<Option<PbxFlash>, PbxActionError> {
    let (pbx, parts) = context()?;
    let taken = use_context::<TakenFlashes>();
    if let Some(flash) = taken.as_ref().and_then(|t| t.get(&token)) {
        return Ok(flash);
    }
    let flash = pbx.take_flash(&parts, &token).await;
    if let Some(taken) = taken {
        taken.put(token, flash.clone());
    }
    Ok(flash)
}

/// Marks the response as never to be cached: it may carry a secret shown once.
pub fn no_store() {
    if let Some(options) = use_context::<leptos_axum::ResponseOptions>() {
        options.insert_header(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-store"),
        );
    }
}

/// Where a plain form post goes after a success.
pub enum Then {
    /// To this page.
    Redirect(String),
    /// To this page, which shows the flash once.
    Flash(Box<PbxFlash>, String),
}

impl Then {
    /// To `page`, which shows `flash` once.
    #[must_use]
    pub fn flash(flash: PbxFlash, page: String) -> Self {
        Then::Flash(Box::new(flash), page)
    }
}

/// Ends a PBX form's server function.
///
/// A JavaScript caller gets the outcome as it is (the page shows it). A plain form post is
/// redirected: on success as `then` says, on failure back to `page` with a flash holding
/// the reason and what was typed (`form`).
pub async fn finish<T>(
    pbx: &dyn PbxConsole,
    req: &Parts,
    outcome: Outcome<T>,
    page: &str,
    form: Option<PbxForm>,
    then: impl FnOnce(&T) -> Then,
) -> Outcome<T> {
    if !super::accepts_html(req) {
        return outcome;
    }
    match &outcome {
        Ok(value) => match then(value) {
            Then::Redirect(to) => leptos_axum::redirect(&to),
            Then::Flash(flash, to) => match pbx.put_flash(req, *flash).await {
                Some(token) => leptos_axum::redirect(&format!("{to}?flash={token}")),
                None => leptos_axum::redirect(&to),
            },
        },
        Err(error) => {
            let flash = PbxFlash::Refused {
                error: error.clone(),
                form: form.map(Box::new),
            };
            match pbx.put_flash(req, flash).await {
                Some(token) => leptos_axum::redirect(&format!("{page}?flash={token}")),
                None => {
                    let code = match error {
                        PbxActionError::Console(e) => e.code(),
                        _ => ConsoleError::BadRequest.code(),
                    };
                    leptos_axum::redirect(&format!("{page}?error={code}"));
                }
            }
        }
    }
    outcome
}
