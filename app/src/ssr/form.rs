//! How a console form's server function ends, for every page: a JavaScript caller gets the
//! typed outcome; a plain form post is redirected — to the next page on success, back to
//! the form on failure, with a fixed `?error=<code>` ([`finish_form`]) or with a [`Flash`]
//! that holds the refusal and what was typed, or a secret shown once ([`finish`]). See
//! [`crate::form`] for why text never travels in a URL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use http::request::Parts;
use leptos::prelude::*;

use crate::form::{ActionError, ConsoleError, Flash, TypedForm};

type Outcome<T> = Result<T, ActionError>;

/// Where the flashes live: the backend keeps them in memory, bound to the session that made
/// them. Every console trait has it, so any page's server function can end with [`finish`].
#[async_trait::async_trait]
pub trait Flashes: Send + Sync + 'static {
    /// Keeps `flash` for the caller's session; returns its token (none without a session).
    async fn put_flash(&self, req: &Parts, flash: Flash) -> Option<String>;
    /// Takes the caller's flash with this token, once.
    async fn take_flash(&self, req: &Parts, token: &str) -> Option<Flash>;
}

/// Ends a form's server function.
///
/// On success, goes to `success_to`. On failure, a JavaScript caller gets the typed error
/// back; a plain form post (no JavaScript) is redirected to the page it came from with
/// `?error=<code>`, so the full page comes back with the message.
pub fn finish_form<T>(
    req: &Parts,
    outcome: Result<T, ConsoleError>,
    success_to: &str,
) -> Result<T, ConsoleError> {
    match outcome {
        Ok(value) => {
            leptos_axum::redirect(success_to);
            Ok(value)
        }
        Err(error) => {
            if accepts_html(req) {
                leptos_axum::redirect(&back_with_error(req, error));
            }
            Err(error)
        }
    }
}

/// Whether the request is a plain form post from a page (not the hydrated app's fetch).
pub(crate) fn accepts_html(req: &Parts) -> bool {
    req.headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// The path of the referring page (same origin only) with `?error=<code>`.
fn back_with_error(req: &Parts, error: ConsoleError) -> String {
    let referer = req
        .headers
        .get(http::header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.parse::<http::Uri>().ok());
    let path = referer
        .as_ref()
        .map(|uri| uri.path().to_owned())
        // Only a local absolute path: never redirect to another site.
        .filter(|p| p.starts_with('/') && !p.starts_with("//"))
        .unwrap_or_else(|| "/".to_owned());
    // The sign-in page's `next` (still percent-encoded) goes along, so a wrong password
    // does not forget where to go back to; the page checks it again before use.
    let next = referer
        .as_ref()
        .and_then(http::Uri::query)
        .and_then(|q| q.split('&').find(|p| p.starts_with("next=")))
        .filter(|p| {
            p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"=%-._~".contains(&b))
        })
        .map(|p| format!("&{p}"))
        .unwrap_or_default();
    format!("{path}?error={}{next}", error.code())
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
pub struct TakenFlashes(Arc<Mutex<HashMap<String, Option<Flash>>>>);

impl TakenFlashes {
    fn get(&self, token: &str) -> Option<Option<Flash>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(token)
            .cloned()
    }

    fn put(&self, token: String, flash: Option<Flash>) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(token, flash);
    }
}

/// Takes the flash with this token once per request (see [`TakenFlashes`]).
pub async fn take_flash(token: String) -> Result<Option<Flash>, ActionError> {
    let (console, parts) = super::context()?;
    let taken = use_context::<TakenFlashes>();
    if let Some(flash) = taken.as_ref().and_then(|t| t.get(&token)) {
        return Ok(flash);
    }
    let flash = console.take_flash(&parts, &token).await;
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
    Flash(Box<Flash>, String),
}

impl Then {
    /// To `page`, which shows `flash` once.
    #[must_use]
    pub fn flash(flash: Flash, page: String) -> Self {
        Then::Flash(Box::new(flash), page)
    }
}

/// Ends a PBX form's server function.
///
/// A JavaScript caller gets the outcome as it is (the page shows it). A plain form post is
/// redirected: on success as `then` says, on failure back to `page` with a flash holding
/// the reason and what was typed (`form`).
pub async fn finish<T>(
    console: &dyn Flashes,
    req: &Parts,
    outcome: Outcome<T>,
    page: &str,
    form: Option<TypedForm>,
    then: impl FnOnce(&T) -> Then,
) -> Outcome<T> {
    if !accepts_html(req) {
        return outcome;
    }
    match &outcome {
        Ok(value) => match then(value) {
            Then::Redirect(to) => leptos_axum::redirect(&to),
            Then::Flash(flash, to) => match console.put_flash(req, *flash).await {
                Some(token) => leptos_axum::redirect(&format!("{to}?flash={token}")),
                None => leptos_axum::redirect(&to),
            },
        },
        Err(error) => {
            let flash = Flash::Refused {
                error: error.clone(),
                form: form.map(Box::new),
            };
            match console.put_flash(req, flash).await {
                Some(token) => leptos_axum::redirect(&format!("{page}?flash={token}")),
                None => {
                    let code = match error {
                        ActionError::Console(e) => e.code(),
                        _ => ConsoleError::BadRequest.code(),
                    };
                    leptos_axum::redirect(&format!("{page}?error={code}"));
                }
            }
        }
    }
    outcome
}
