//! Server functions of the account page's second factor. Like the other pages' they answer
//! the hydrated app with the typed outcome and redirect a plain form post; the recovery codes
//! travel to the page in a one-time flash bound to the session.

use leptos::prelude::*;

use crate::form::ActionError;
use wire::users::SecondFactorView;

/// The signed-in user's second factor.
#[server(prefix = "/fn", endpoint = "second_factor")]
pub async fn get_second_factor() -> Result<SecondFactorView, ActionError> {
    let (console, parts) = crate::ssr::context()?;
    crate::ssr::form::no_store();
    console.second_factor(&parts).await
}

/// Starts setting up an authenticator app: the page then shows the key and its QR code.
#[server(prefix = "/fn", endpoint = "begin_second_factor")]
pub async fn begin_second_factor(
    csrf: String,
    #[server(default)] password: Option<String>,
) -> Result<SecondFactorView, ActionError> {
    use crate::ssr::form::{Then, finish};
    let (console, parts) = crate::ssr::context()?;
    crate::ssr::form::no_store();
    let outcome = console
        .begin_second_factor(&parts, &csrf, password.as_deref().filter(|p| !p.is_empty()))
        .await;
    finish(&*console, &parts, outcome, "/account", None, |_| {
        Then::Redirect("/account#second-factor".to_owned())
    })
    .await
}

/// Confirms the app with its first code; the recovery codes are in the answer once.
#[server(prefix = "/fn", endpoint = "confirm_second_factor")]
pub async fn confirm_second_factor(csrf: String, code: String) -> Result<Vec<String>, ActionError> {
    use crate::form::Flash;
    use crate::ssr::form::{Then, finish};
    let (console, parts) = crate::ssr::context()?;
    crate::ssr::form::no_store();
    let outcome = console.confirm_second_factor(&parts, &csrf, &code).await;
    finish(&*console, &parts, outcome, "/account", None, |codes| {
        Then::flash(Flash::RecoveryCodes(codes.clone()), "/account".to_owned())
    })
    .await
}

/// Removes the user's own second factor; their password confirms it.
#[server(prefix = "/fn", endpoint = "remove_second_factor")]
pub async fn remove_second_factor(csrf: String, password: String) -> Result<(), ActionError> {
    use crate::ssr::form::{Then, finish};
    let (console, parts) = crate::ssr::context()?;
    let outcome = console.remove_second_factor(&parts, &csrf, &password).await;
    finish(&*console, &parts, outcome, "/account", None, |()| {
        Then::Redirect("/account?removed=1".to_owned())
    })
    .await
}
