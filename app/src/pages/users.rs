//! `/users`: console users and their lifecycle. Administrators create users, disable and
//! enable them, reset a password (a generated one, shown once), end their sessions and
//! delete them; the last enabled administrator is kept.

use leptos::prelude::*;

use crate::components::time::When;
use leptos_router::hooks::use_query_map;

use crate::api::users::{ActOnUser, CreateUser, done_code, get_users};
use crate::components::form::{
    Confirm, FlashNotices, LastAction, Refusal, SecretOnce, action_error, csrf, is_admin,
    query_error, reset_on_success, use_flash,
};
use crate::form::ShownSecret;
use wire::Role;
use wire::users::{UserAction, UserRow};

/// The words of a finished action, by its `?done=` code.
fn done_message(code: &str) -> Option<&'static str> {
    match code {
        "disabled" => Some("User disabled: their sessions ended and their API tokens rest."),
        "enabled" => Some("User enabled."),
        "deleted" => Some("User deleted; the API tokens they made are revoked."),
        "ended" => Some("Their sessions ended."),
        "reset" => Some("Password reset; their sessions ended."),
        "second_factor_removed" => Some(
            "Second factor removed; their sessions ended. They sign in with the password alone.",
        ),
        _ => None,
    }
}

/// One row action as a small form that works without JavaScript; the ones that lock a
/// person out ask first, naming them.
#[component]
fn ActionButton(
    action: ServerAction<ActOnUser>,
    username: String,
    what: UserAction,
    label: &'static str,
    class: &'static str,
) -> impl IntoView {
    let question = match what {
        UserAction::Disable => Some(format!(
            "Disable {username}? Their sessions end and their API tokens stop working until enabled again."
        )),
        UserAction::Delete => Some(format!(
            "Delete {username}? Their sessions end and the API tokens they made are revoked. This cannot be undone."
        )),
        UserAction::ResetPassword => Some(format!(
            "Give {username} a new generated password? Their sessions end; you hand them the new one."
        )),
        UserAction::RemoveSecondFactor => Some(format!(
            "Remove {username}'s second factor? They sign in with the password alone until they set up a new app."
        )),
        UserAction::Enable | UserAction::EndSessions => None,
    };
    let value = done_code(what);
    let what = match what {
        UserAction::Disable => "disable",
        UserAction::Enable => "enable",
        UserAction::Delete => "delete",
        UserAction::ResetPassword => "reset_password",
        UserAction::EndSessions => "end_sessions",
        UserAction::RemoveSecondFactor => "remove_second_factor",
    };
    let form = move |button: &'static str| {
        view! {
            <ActionForm action attr:class=format!("inline user-{value}")>
                <input type="hidden" name="csrf" value=csrf() />
                <input type="hidden" name="username" value=username.clone() />
                <input type="hidden" name="action" value=what />
                <button type="submit" class=class>{button}</button>
            </ActionForm>
        }
    };
    match question {
        Some(question) => view! {
            <Confirm label class=if class == "danger" { "danger" } else { "ask" } question>
                {form("Yes")}
            </Confirm>
        }
        .into_any(),
        None => form(label).into_any(),
    }
}

fn user_row(u: UserRow, act: ServerAction<ActOnUser>, admin: bool) -> impl IntoView {
    let role = match u.role {
        Role::Admin => "administrator",
        Role::Viewer => "viewer",
    };
    let state = if u.disabled { "disabled" } else { "active" };
    let second_factor = if u.second_factor { "app" } else { "none" };
    let has_second_factor = u.second_factor;
    let name = u.username.clone();
    let toggle = if u.disabled {
        view! { <ActionButton action=act username=name.clone() what=UserAction::Enable label="Enable" class="secondary" /> }
    } else {
        view! { <ActionButton action=act username=name.clone() what=UserAction::Disable label="Disable" class="secondary" /> }
    };
    view! {
        <tr class=state data-user=u.username.clone()>
            <td>{u.username.clone()}</td>
            <td>{role}</td>
            <td class="state">{state}</td>
            <td class="second-factor">{second_factor}</td>
            <td><When at=u.created_at.clone() /></td>
            <td class="actions">
                {admin.then(|| view! {
                    {toggle}
                    <ActionButton action=act username=name.clone() what=UserAction::EndSessions label="End sessions" class="secondary" />
                    <ActionButton action=act username=name.clone() what=UserAction::ResetPassword label="Reset password" class="secondary" />
                    {has_second_factor.then(|| view! {
                        <ActionButton action=act username=name.clone() what=UserAction::RemoveSecondFactor label="Remove second factor" class="secondary" />
                    })}
                    <ActionButton action=act username=name.clone() what=UserAction::Delete label="Delete" class="danger" />
                })}
            </td>
        </tr>
    }
}

/// The users page.
#[component]
pub fn UsersPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::ssr::form::no_store();
    let admin = is_admin();
    let query = use_query_map();
    let flash = use_flash();
    let last = LastAction::new();
    let create = last.track("create", ServerAction::<CreateUser>::new());
    let created_form = reset_on_success(create);
    let act = last.track("act", ServerAction::<ActOnUser>::new());
    let (acted, made) = (last.outcome("act", act), last.outcome("create", create));
    let users = Resource::new(
        move || (create.version().get(), act.version().get()),
        |_| get_users(),
    );
    // The hydrated app's answer, or the plain post's `?done=`.
    let done = Signal::derive(move || {
        let from_action = acted
            .get()
            .and_then(Result::ok)
            .filter(|d| d.password.is_none())
            .map(|d| d.message);
        from_action.or_else(|| {
            query
                .read()
                .get("done")
                .filter(|_| last.none())
                .and_then(|c| done_message(&c))
                .map(str::to_owned)
        })
    });
    let generated = Signal::derive(move || {
        acted.get().and_then(Result::ok).and_then(|d| {
            d.password.map(|secret| ShownSecret {
                kind: "user".to_owned(),
                key: String::new(),
                label: "new password; their sessions ended".to_owned(),
                secret,
                provisioning: Vec::new(),
            })
        })
    });
    let (act_error, code_error) = (last.error("act", act), query_error());
    let row_error = Signal::derive(move || {
        act_error
            .get()
            .or_else(|| code_error.get().filter(|_| last.none()))
    });
    let created = move || {
        (last.none() && query.read().get("created").is_some()) || matches!(made.get(), Some(Ok(())))
    };

    view! {
        <h1>"Users"</h1>
        <p class="lead">
            "Who can sign in to this console. A disabled user cannot sign in and the API tokens they made stop working until they are enabled again; deleting a user revokes their tokens. The last active administrator cannot be disabled or deleted."
        </p>
        {move || done.get().map(|m| view! { <p class="notice" role="status" id="user-done">{m}</p> })}
        <Show when=created><p class="notice" role="status">"User created."</p></Show>
        <SecretOnce secret=generated />
        <Refusal error=row_error />
        <FlashNotices flash />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match users.await {
                    Ok(list) => view! {
                        <table class="list" id="users-table">
                            <thead><tr>
                                <th>"Username"</th><th>"Role"</th><th>"State"</th><th>"Second factor"</th><th>"Created"</th><th></th>
                            </tr></thead>
                            <tbody>
                                {list.into_iter().map(|u| user_row(u, act, admin)).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(e) => view! { <Refusal error=Signal::derive(move || Some(e.clone())) /> }.into_any(),
                }
            })}
        </Suspense>

        {admin.then(|| view! {
            <h2>"New user"</h2>
            <Refusal error=action_error(create) />
            <ActionForm action=create node_ref=created_form attr:id="user-create" attr:class="panel">
                <input type="hidden" name="csrf" value=csrf() />
                <div class="grid">
                    <label>"Username" <input type="text" name="username" required maxlength="64" autocomplete="off" /></label>
                    <label>"Role"
                        <select name="role">
                            <option value="viewer" selected=true>"viewer (reads only)"</option>
                            <option value="admin">"administrator"</option>
                        </select>
                    </label>
                    <label>"Password (at least 12 characters)" <input type="password" name="password" required autocomplete="new-password" /></label>
                    <label>"Repeat the password" <input type="password" name="confirm" required autocomplete="new-password" /></label>
                </div>
                <button type="submit">"Create user"</button>
            </ActionForm>
        })}
    }
}
