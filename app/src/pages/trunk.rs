//! `/trunks/:name`: edit one trunk (its name is fixed once created).

use leptos::prelude::*;

use crate::components::time::When;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::form::TypedForm;

use crate::form::pbx::TrunkForm;

use crate::api::pbx::{ReplaceTrunkSecret, UpdateTrunk, get_trunk};
use crate::components::form::{
    FlashNotices, Refusal, action_error, csrf, is_admin, refused_form, use_flash,
};
use crate::pages::trunks::TrunkFields;

/// The trunk page.
#[component]
pub fn TrunkPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::ssr::form::no_store();
    let admin = is_admin();
    let params = use_params_map();
    let query = use_query_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let trunk = Resource::new(name, get_trunk);
    let flash = use_flash();
    let update = ServerAction::<UpdateTrunk>::new();
    let replace = ServerAction::<ReplaceTrunkSecret>::new();
    let saved =
        move || query.read().get("saved").is_some() || matches!(update.value().get(), Some(Ok(_)));
    let replaced = move || {
        query.read().get("replaced").is_some() || matches!(replace.value().get(), Some(Ok(_)))
    };

    view! {
        <p class="crumbs"><A href="/trunks">"← Trunks"</A></p>
        <Show when=saved><p class="notice" role="status" id="saved">"Saved. Apply the configuration to make it live."</p></Show>
        <Show when=replaced><p class="notice" role="status" id="replaced">"Provider password replaced. Apply the configuration to make it live; it is never shown."</p></Show>
        <Refusal error=action_error(update) />
        <Refusal error=action_error(replace) />
        <FlashNotices flash />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let flash = flash.await;
                match trunk.await {
                    Ok(t) => {
                        let (error, form) = refused_form(flash);
                        let initial = match form {
                            Some(TypedForm::Trunk(form)) => form,
                            _ => TrunkForm::from(&t),
                        };
                        let key = t.name.clone();
                        let replace_key = t.name.clone();
                        let registration = t.registration.clone();
                        let registers = registration.is_some();
                        view! {
                            <h1>"Trunk " {t.name.clone()}</h1>
                            <dl class="facts">
                                <dt>"Dialplan context"</dt><dd><code>{t.context.clone()}</code></dd>
                                {registration.map(|r| {
                                    let status = r.status.unwrap_or(wire::pbx::RegistrationStatus {
                                        state: "unknown".to_owned(),
                                        detail: None,
                                    });
                                    let class = match status.state.as_str() {
                                        "Registered" => "status ok",
                                        "unknown" => "status",
                                        _ => "status bad",
                                    };
                                    view! {
                                        <dt>"Registration"</dt>
                                        <dd id="registration-status">
                                            <span class=class>{status.state}</span>
                                            {status.detail.map(|d| view! { " (" {d} ")" })}
                                            " as " <code>{r.username}</code>
                                        </dd>
                                    }
                                })}
                                <dt>"Version"</dt><dd>{t.version} " (changed " <When at=t.updated_at.clone() /> ")"</dd>
                            </dl>
                            <Refusal error />
                            <ActionForm action=update attr:id="trunk-edit" attr:class="panel">
                                <input type="hidden" name="csrf" value=csrf() />
                                <input type="hidden" name="key" value=key />
                                <fieldset disabled=!admin>
                                    <TrunkFields initial creating=false />
                                </fieldset>
                                {admin.then(|| view! { <button type="submit">"Save"</button> })}
                            </ActionForm>
                            {(admin && registers).then(|| view! {
                                <h2>"Replace the provider password"</h2>
                                <ActionForm action=replace attr:id="trunk-secret" attr:class="panel">
                                    <input type="hidden" name="csrf" value=csrf() />
                                    <input type="hidden" name="key" value=replace_key />
                                    <label>"New provider password"
                                        <input type="password" name="secret" value="" required maxlength="128" autocomplete="new-password" />
                                    </label>
                                    <p class="hint">"Only the password changes. sipwarden never shows it again."</p>
                                    <button type="submit">"Replace password"</button>
                                </ActionForm>
                            })}
                        }.into_any()
                    }
                    Err(e) => view! {
                        <h1>"Trunk"</h1>
                        <Refusal error=Signal::derive(move || Some(e.clone())) />
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}
