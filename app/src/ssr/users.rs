//! What the console's users page needs from the backend.

use std::sync::Arc;

use http::request::Parts;

use crate::form::{ActionError, ConsoleError};
use wire::Role;
use wire::users::{UserAction, UserActionDone, UserRow};

type Outcome<T> = Result<T, ActionError>;

/// Console users, implemented by the backend over its accounts and users services. Listing
/// needs an administrator; every change needs an administrator's console session and the
/// form's CSRF token.
#[async_trait::async_trait]
pub trait UsersConsole: super::form::Flashes {
    /// Every console user, by name.
    async fn users(&self, req: &Parts) -> Outcome<Vec<UserRow>>;
    /// Creates a user with the password typed (twice).
    async fn create_user(
        &self,
        req: &Parts,
        csrf: &str,
        username: &str,
        role: Role,
        password: &str,
        confirm: &str,
    ) -> Outcome<()>;
    /// Disables, enables, deletes a user, resets their password or ends their sessions.
    async fn user_action(
        &self,
        req: &Parts,
        csrf: &str,
        username: &str,
        action: UserAction,
    ) -> Outcome<UserActionDone>;
}

/// This page's backend and the current request.
pub fn context() -> Result<(Arc<dyn UsersConsole>, Parts), ConsoleError> {
    super::part::<dyn UsersConsole>()
}
