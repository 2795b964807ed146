//! `/ami-users/:name`: edit one AMI user's networks and classes (the name is fixed; the
//! secret changes only by rotation, shown once on the list page).

use leptos::prelude::*;

use crate::components::time::When;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::form::TypedForm;

use crate::form::pbx::AmiUserForm;

use crate::api::pbx::{UpdateAmiUser, get_ami_user};
use crate::components::form::{
    FlashNotices, Refusal, action_error, csrf, is_admin, refused_form, use_flash,
};
use crate::pages::ami_users::{AmiUserFields, Classes};

/// The AMI user page.
#[component]
pub fn AmiUserPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::ssr::form::no_store();
    let admin = is_admin();
    let params = use_params_map();
    let query = use_query_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let user = Resource::new(name, get_ami_user);
    let flash = use_flash();
    let update = ServerAction::<UpdateAmiUser>::new();
    let saved =
        move || query.read().get("saved").is_some() || matches!(update.value().get(), Some(Ok(_)));

    view! {
        <p class="crumbs"><A href="/ami-users">"← AMI users"</A></p>
        <Show when=saved><p class="notice" role="status" id="saved">"Saved. Apply the configuration to make it live."</p></Show>
        <Refusal error=action_error(update) />
        <FlashNotices flash />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let flash = flash.await;
                match user.await {
                    Ok(u) => {
                        let (error, form) = refused_form(flash);
                        let initial = match form {
                            Some(TypedForm::AmiUser(form)) => form,
                            _ => AmiUserForm::from(&u),
                        };
                        let key = u.name.clone();
                        view! {
                            <h1>"AMI user " {u.name.clone()}</h1>
                            <dl class="facts">
                                <dt>"Root-equivalent classes"</dt>
                                <dd>
                                    {if u.dangerous.is_empty() {
                                        view! { "none" }.into_any()
                                    } else {
                                        view! { <Classes classes=u.dangerous.clone() /> }.into_any()
                                    }}
                                </dd>
                                <dt>"Version"</dt><dd>{u.version} " (changed " <When at=u.updated_at.clone() /> ")"</dd>
                            </dl>
                            <Refusal error />
                            <ActionForm action=update attr:id="ami-edit" attr:class="panel">
                                <input type="hidden" name="csrf" value=csrf() />
                                <input type="hidden" name="key" value=key />
                                <fieldset disabled=!admin>
                                    <AmiUserFields initial creating=false />
                                </fieldset>
                                {admin.then(|| view! { <button type="submit">"Save"</button> })}
                            </ActionForm>
                        }.into_any()
                    }
                    Err(e) => view! {
                        <h1>"AMI user"</h1>
                        <Refusal error=Signal::derive(move || Some(e.clone())) />
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}
