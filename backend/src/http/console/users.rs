//! The console's users page over the accounts and users services.

use http::request::Parts;

use app::form::{ActionError, ConsoleError};
use wire::Role;
use wire::users::{UserAction, UserActionDone, UserRow};

use super::{ConsoleService, admin, caller};
use crate::services::accounts::{self, AccountError, Actor};
use crate::services::users;

type Outcome<T> = Result<T, ActionError>;

fn shown(e: AccountError) -> ActionError {
    ActionError::Console(ConsoleError::from(e))
}

#[async_trait::async_trait]
impl app::ssr::users::UsersConsole for ConsoleService {
    async fn users(&self, req: &Parts) -> Outcome<Vec<UserRow>> {
        let admin = caller(req)?.admin().map_err(|_| ConsoleError::Forbidden)?;
        let mut rows = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = accounts::list_users(&self.state().db, &admin, cursor.as_deref(), 500)
                .await
                .map_err(|e| shown(e.into()))?;
            rows.extend(page.items.into_iter().map(|u| UserRow {
                username: u.username,
                role: u.role,
                created_at: crate::services::rfc3339(u.created_at),
                disabled: u.disabled,
                second_factor: u.second_factor,
            }));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(rows),
            }
        }
    }

    async fn create_user(
        &self,
        req: &Parts,
        csrf: &str,
        username: &str,
        role: Role,
        password: &str,
        confirm: &str,
    ) -> Outcome<()> {
        let access = admin(req, csrf)?
            .access()
            .map_err(|_| ConsoleError::Forbidden)?;
        if password != confirm {
            return Err(ConsoleError::PasswordMismatch.into());
        }
        accounts::create_user(
            &self.state().db,
            Actor::Admin(&access),
            username.trim(),
            password,
            role,
        )
        .await
        .map_err(shown)
    }

    async fn user_action(
        &self,
        req: &Parts,
        csrf: &str,
        username: &str,
        action: UserAction,
    ) -> Outcome<UserActionDone> {
        let access = admin(req, csrf)?
            .access()
            .map_err(|_| ConsoleError::Forbidden)?;
        let (db, actor) = (&self.state().db, Actor::Admin(&access));
        let done = |message: String| UserActionDone {
            message,
            password: None,
        };
        match action {
            UserAction::Disable => users::disable(db, actor, username).await.map(|()| {
                done(format!(
                    "{username} is disabled: their sessions ended and their API tokens rest."
                ))
            }),
            UserAction::Enable => users::enable(db, actor, username)
                .await
                .map(|()| done(format!("{username} is enabled."))),
            UserAction::Delete => users::delete(db, actor, username).await.map(|()| {
                done(format!(
                    "{username} is deleted; the API tokens they made are revoked."
                ))
            }),
            UserAction::ResetPassword => users::reset_password(db, actor, username, None)
                .await
                .map(|password| UserActionDone {
                    message: format!("New password of {username}; their sessions ended."),
                    password,
                }),
            UserAction::RemoveSecondFactor => users::remove_second_factor(db, actor, username)
                .await
                .map(|()| {
                    done(format!(
                        "{username}'s second factor is removed; their sessions ended."
                    ))
                }),
            UserAction::EndSessions => users::end_sessions(db, actor, username)
                .await
                .map(|n| done(format!("{n} session(s) of {username} ended."))),
        }
        .map_err(shown)
    }
}
