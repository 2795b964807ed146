//! `/ami-users`: Asterisk Manager Interface accounts. Root-equivalent classes are marked and
//! need explicit consent; a new or rotated secret is shown once.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::form::TypedForm;

use crate::form::pbx::{AmiUserForm, object_page};

use crate::api::pbx::{CreateAmiUser, DeleteAmiUser, RotateAmiSecret, list_ami_users};
use crate::components::form::{
    Confirm, FlashNotices, LastAction, Refusal, SecretListOutcomes, SecretOnce, csrf, is_admin,
    refused_form, reset_on_success, use_flash,
};

/// The classes that amount to root on the PBX (run programs, rewrite files, drive AGI).
pub const DANGEROUS: [&str; 6] = ["system", "command", "originate", "config", "agi", "all"];

/// Classes, the dangerous ones marked.
#[component]
pub fn Classes(classes: Vec<String>) -> impl IntoView {
    classes
        .into_iter()
        .map(|c| {
            if DANGEROUS.contains(&c.as_str()) {
                view! { <span class="class danger" title="root-equivalent">{c}" ⚠"</span> " " }
                    .into_any()
            } else {
                view! { <span class="class">{c}</span> " " }.into_any()
            }
        })
        .collect_view()
}

/// The fields of an AMI user, shared by the creation and the edit form (name and secret
/// are set at creation only; a secret is changed by rotating it).
#[component]
pub fn AmiUserFields(initial: AmiUserForm, creating: bool) -> impl IntoView {
    view! {
        <div class="grid">
            {creating.then(|| view! {
                <label>"Name" <input type="text" name="name" value=initial.name.clone() required maxlength="64" /></label>
                <label>"Secret (optional: generated when empty)"
                    <input type="password" name="secret" autocomplete="new-password" maxlength="128" />
                </label>
            })}
            <label class="wide">"Networks it may log in from" <input type="text" name="permit" value=initial.permit /></label>
            <label class="wide">"Exceptions" <input type="text" name="deny" value=initial.deny /></label>
            <label class="wide">"Read classes (events it receives)" <input type="text" name="read" value=initial.read placeholder="call, security" /></label>
            <label class="wide">"Write classes (actions it may run)" <input type="text" name="write" value=initial.write placeholder="call, reporting" /></label>
            <label class="check danger-consent">
                <input type="checkbox" name="allow_dangerous" checked=initial.allow_dangerous.is_some() />
                " I understand: allow root-equivalent classes (" {DANGEROUS.join(", ")} ") for this user"
            </label>
        </div>
    }
}

/// The AMI users page.
#[component]
pub fn AmiUsersPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::ssr::form::no_store();
    let admin = is_admin();
    let flash = use_flash();
    let last = LastAction::new();
    let create = ServerAction::<CreateAmiUser>::new();
    let created_form = reset_on_success(create);
    let delete = ServerAction::<DeleteAmiUser>::new();
    let rotate = ServerAction::<RotateAmiSecret>::new();
    let users = Resource::new(
        move || (create.version().get(), delete.version().get()),
        |_| list_ami_users(),
    );
    let SecretListOutcomes {
        created,
        rotated,
        row_error,
        deleted,
    } = SecretListOutcomes::new(last, create, rotate, delete);

    view! {
        <h1>"AMI users"</h1>
        <p class="lead">
            "Accounts for the Asterisk Manager Interface. Classes marked ⚠ ("
            {DANGEROUS.join(", ")}
            ") amount to root on the PBX and are refused unless explicitly allowed."
        </p>
        <Show when=move || deleted.get()><p class="notice" role="status">"AMI user deleted."</p></Show>
        <SecretOnce secret=created />
        <SecretOnce secret=rotated />
        <Refusal error=row_error />
        <FlashNotices flash />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match users.await {
                    Ok(users) if users.is_empty() => view! { <p class="hint">"No AMI users yet (sipwarden's own two accounts live in the policy)."</p> }.into_any(),
                    Ok(users) => view! {
                        <table class="list" id="ami-table">
                            <thead><tr>
                                <th>"Name"</th><th>"Permitted from"</th><th>"Denied"</th><th>"Read"</th><th>"Write"</th>
                                <th>"Dangerous"</th><th></th>
                            </tr></thead>
                            <tbody>
                                {users.into_iter().map(|u| {
                                    let (n1, n2) = (u.name.clone(), u.name.clone());
                                    let (q1, q2) = (u.name.clone(), u.name.clone());
                                    let dangerous = if u.dangerous.is_empty() {
                                        "none".to_owned()
                                    } else {
                                        format!("allowed: {}", u.dangerous.join(", "))
                                    };
                                    let row_class = if u.dangerous.is_empty() { "" } else { "dangerous" };
                                    let href = object_page("/ami-users", &u.name);
                                    view! {
                                        <tr class=row_class>
                                            <td><A href=href>{u.name.clone()}</A></td>
                                            <td>{u.permit.join(", ")}</td>
                                            <td>{u.deny.join(", ")}</td>
                                            <td><Classes classes=u.read.clone() /></td>
                                            <td><Classes classes=u.write.clone() /></td>
                                            <td>{dangerous}</td>
                                            <td class="actions">
                                                {admin.then(|| view! {
                                                    <Confirm label="New secret" class="rotate" question=format!("Give AMI user {q1} a new secret? Whatever logs in with the old one is refused after the next apply.")>
                                                        <ActionForm action=rotate attr:class="inline rotate">
                                                            <input type="hidden" name="csrf" value=csrf() />
                                                            <input type="hidden" name="name" value=n1 />
                                                            <button type="submit" class="secondary">"Yes, new secret"</button>
                                                        </ActionForm>
                                                    </Confirm>
                                                    <Confirm label="Delete" class="danger delete" question=format!("Delete AMI user {q2}? It can no longer log in after the next apply.")>
                                                        <ActionForm action=delete attr:class="inline delete">
                                                            <input type="hidden" name="csrf" value=csrf() />
                                                            <input type="hidden" name="name" value=n2 />
                                                            <button type="submit" class="danger">"Yes, delete"</button>
                                                        </ActionForm>
                                                    </Confirm>
                                                })}
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(e) => view! { <Refusal error=Signal::derive(move || Some(e.clone())) /> }.into_any(),
                }
            })}
        </Suspense>

        {admin.then(|| view! {
            <h2>"New AMI user"</h2>
            <Refusal error=last.error("create", create) />
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let (error, form) = refused_form(flash.await);
                    let initial = match form {
                        Some(TypedForm::AmiUser(form)) => form,
                        _ => AmiUserForm::new_defaults(),
                    };
                    view! {
                        <Refusal error />
                        <ActionForm action=create node_ref=created_form attr:id="ami-create" attr:class="panel">
                            <input type="hidden" name="csrf" value=csrf() />
                            <AmiUserFields initial creating=true />
                            <button type="submit">"Create AMI user"</button>
                        </ActionForm>
                    }
                })}
            </Suspense>
        })}
    }
}
