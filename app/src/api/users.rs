//! Server functions of the users page. Like the other pages' they answer the hydrated app
//! with the typed outcome and redirect a plain form post, keeping a refusal or a generated
//! password in a flash bound to the session, shown once.

use leptos::prelude::*;

use crate::form::ActionError;
use wire::Role;
use wire::users::{UserAction, UserActionDone, UserRow};

/// Every console user (administrators only).
#[server(prefix = "/fn", endpoint = "users")]
pub async fn get_users() -> Result<Vec<UserRow>, ActionError> {
    let (users, parts) = crate::ssr::users::context()?;
    users.users(&parts).await
}

/// Creates a console user.
#[server(prefix = "/fn", endpoint = "create_user")]
pub async fn create_user(
    csrf: String,
    username: String,
    role: Role,
    password: String,
    confirm: String,
) -> Result<(), ActionError> {
    use crate::ssr::form::{Then, finish};
    let (users, parts) = crate::ssr::users::context()?;
    let outcome = users
        .create_user(&parts, &csrf, &username, role, &password, &confirm)
        .await;
    finish(&*users, &parts, outcome, "/users", None, |()| {
        Then::Redirect("/users?created=1".to_owned())
    })
    .await
}

/// Disables, enables or deletes a user, resets their password (a generated one, in the
/// answer once) or ends their sessions.
#[server(prefix = "/fn", endpoint = "user_action")]
pub async fn act_on_user(
    csrf: String,
    username: String,
    action: UserAction,
) -> Result<UserActionDone, ActionError> {
    use crate::form::{Flash, ShownSecret};
    use crate::ssr::form::{Then, finish};
    let (users, parts) = crate::ssr::users::context()?;
    crate::ssr::form::no_store();
    let outcome = users.user_action(&parts, &csrf, &username, action).await;
    finish(
        &*users,
        &parts,
        outcome,
        "/users",
        None,
        |done| match &done.password {
            Some(password) => Then::flash(
                Flash::Secret(ShownSecret {
                    kind: "user".to_owned(),
                    key: username.clone(),
                    label: "new password; their sessions ended".to_owned(),
                    secret: password.clone(),
                    provisioning: Vec::new(),
                }),
                "/users".to_owned(),
            ),
            None => Then::Redirect(format!("/users?done={}", done_code(action))),
        },
    )
    .await
}

/// The `?done=` code of an action, for the page after a plain form post.
#[must_use]
pub fn done_code(action: UserAction) -> &'static str {
    match action {
        UserAction::Disable => "disabled",
        UserAction::Enable => "enabled",
        UserAction::Delete => "deleted",
        UserAction::ResetPassword => "reset",
        UserAction::EndSessions => "ended",
        UserAction::RemoveSecondFactor => "second_factor_removed",
    }
}
