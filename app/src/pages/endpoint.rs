//! `/endpoints/:id`: edit one endpoint, or give it a new secret (shown once).

use leptos::prelude::*;

use crate::components::time::When;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::form::TypedForm;

use crate::form::pbx::EndpointForm;

use crate::api::pbx::{RotateEndpointSecret, UpdateEndpoint, get_endpoint};
use crate::components::form::{
    Confirm, FlashNotices, LastAction, Refusal, SecretOnce, csrf, is_admin, refused_form, use_flash,
};
use crate::pages::endpoints::EndpointFields;

/// The endpoint page.
#[component]
pub fn EndpointPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::ssr::form::no_store();
    let admin = is_admin();
    let params = use_params_map();
    let query = use_query_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let endpoint = Resource::new(id, get_endpoint);
    let flash = use_flash();
    let last = LastAction::new();
    let update = last.track("update", ServerAction::<UpdateEndpoint>::new());
    let rotate = last.track("rotate", ServerAction::<RotateEndpointSecret>::new());
    let updated = last.outcome("update", update);
    let saved = move || {
        (last.none() && query.read().get("saved").is_some()) || matches!(updated.get(), Some(Ok(_)))
    };
    let rotated = last.outcome("rotate", rotate);
    let rotated = Signal::derive(move || rotated.get().and_then(Result::ok));
    let (update_error, rotate_error) = (last.error("update", update), last.error("rotate", rotate));

    view! {
        <p class="crumbs"><A href="/endpoints">"← Endpoints"</A></p>
        <Show when=saved><p class="notice" role="status" id="saved">"Saved. Apply the configuration to make it live."</p></Show>
        <SecretOnce secret=rotated />
        <Refusal error=rotate_error />
        <Refusal error=update_error />
        <FlashNotices flash />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let flash = flash.await;
                match endpoint.await {
                    Ok(e) => {
                        let (error, form) = refused_form(flash);
                        let initial = match form {
                            Some(TypedForm::Endpoint(form)) => form,
                            _ => EndpointForm::from(&e),
                        };
                        let title = format!("Extension {} — {}", e.extension, e.display_name);
                        let (id1, id2) = (e.id.clone(), e.id.clone());
                        view! {
                            <h1>{title}</h1>
                            <dl class="facts">
                                <dt>"Id and auth name"</dt><dd><code id="endpoint-id">{e.id.clone()}</code></dd>
                                <dt>"MAC address"</dt><dd>{e.mac.clone().unwrap_or_else(|| "—".to_owned())}</dd>
                                <dt>"Realm of its digest"</dt><dd>{e.realm.clone()}</dd>
                                <dt>"Version"</dt><dd>{e.version} " (changed " <When at=e.updated_at.clone() /> ")"</dd>
                            </dl>
                            <Refusal error />
                            {if admin {
                                view! {
                                    <ActionForm action=update attr:id="endpoint-edit" attr:class="panel">
                                        <input type="hidden" name="csrf" value=csrf() />
                                        <input type="hidden" name="id" value=id1 />
                                        <EndpointFields initial creating=false />
                                        <button type="submit">"Save"</button>
                                    </ActionForm>
                                    <h2>"Secret"</h2>
                                    <p class="hint">"A new secret replaces the old one at once (after the next apply); the phone must be given the new one."</p>
                                    <Confirm label="Generate a new secret" class="rotate" question=format!("Give extension {} a new secret? The phone stops registering until it is provisioned with the new one.", e.extension)>
                                        <ActionForm action=rotate attr:id="endpoint-rotate">
                                            <input type="hidden" name="csrf" value=csrf() />
                                            <input type="hidden" name="id" value=id2 />
                                            <button type="submit" class="secondary">"Yes, new secret"</button>
                                        </ActionForm>
                                    </Confirm>
                                }.into_any()
                            } else {
                                view! { <EndpointFacts form=EndpointForm::from(&e) /> }.into_any()
                            }}
                        }.into_any()
                    }
                    Err(e) => view! {
                        <h1>"Endpoint"</h1>
                        <Refusal error=Signal::derive(move || Some(e.clone())) />
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The endpoint read-only, for viewers.
#[component]
fn EndpointFacts(form: EndpointForm) -> impl IntoView {
    view! {
        <dl class="facts">
            <dt>"Calling class"</dt><dd>{form.calling_class}</dd>
            <dt>"Networks"</dt><dd>{form.permit}</dd>
            <dt>"Exceptions"</dt><dd>{form.deny}</dd>
            <dt>"Concurrent calls"</dt><dd>{form.max_calls}</dd>
            <dt>"Codecs"</dt><dd>{form.codecs}</dd>
            <dt>"Transport"</dt><dd>{form.transport}</dd>
            <dt>"State"</dt><dd>{if form.enabled.is_some() { "enabled" } else { "disabled" }}</dd>
        </dl>
    }
}
