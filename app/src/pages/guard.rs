//! `/guard`: how the guard judges. Its status (mode, taps, the PBX model it judges by, what it
//! did), and the guard policy: every threshold and window, which detectors ban and which only
//! report, ban durations and memory bounds. A saved policy is in force at once.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::guard::{UpdateGuardSettings, get_guard_settings, get_guard_status};
use crate::components::form::{
    FlashNotices, Refusal, action_error, csrf, is_admin, refused_form, use_flash,
};
use crate::components::settings::Setting;
use crate::form::TypedForm;
use crate::pages::events::GuardStatus;
use wire::guard::{GuardSettingView, section_title};

/// The Guard page.
#[component]
pub fn GuardPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::ssr::form::no_store();
    let admin = is_admin();
    let query = use_query_map();
    let flash = use_flash();
    let update = ServerAction::<UpdateGuardSettings>::new();
    // Read again after each save, so the form carries the new version.
    let settings = Resource::new(move || update.version().get(), |_| get_guard_settings());
    let status = Resource::new(move || update.version().get(), |_| get_guard_status());
    let saved =
        move || query.read().get("saved").is_some() || matches!(update.value().get(), Some(Ok(_)));
    view! {
        <h1>"Guard"</h1>
        <p class="lead">
            "The guard bans on proof: a failed answer to Asterisk's challenge, or a TCP connection. One UDP datagram can carry a forged address, so it earns only a short ban, and never one of a trunk, this host's gateway or resolvers, or an address that logged in within the trust period: those are reported and alerted instead. Behind an address that logged in (an office behind NAT), one phone is banned by its source port, the others go on working."
        </p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match status.await {
                    Ok(s) => view! { <GuardStatus status=s /> }.into_any(),
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
        <h2>"Policy"</h2>
        <Show when=saved><p class="notice" role="status" id="saved">"Guard policy saved: the running guard judges by it now."</p></Show>
        <Refusal error=action_error(update) />
        <FlashNotices flash />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let (error, form) = refused_form(flash.await);
                match settings.await {
                    Ok(data) => {
                        let typed = match form {
                            Some(TypedForm::GuardSettings(form)) => Some(form.values),
                            _ => None,
                        };
                        let settings: Vec<GuardSettingView> = data
                            .settings
                            .into_iter()
                            .map(|mut s| {
                                if let Some(typed) = &typed {
                                    // What was typed comes back, an unticked switch as off.
                                    s.value = typed.get(&s.path).cloned().unwrap_or_else(|| {
                                        if s.kind == "switch" { "false".to_owned() } else { String::new() }
                                    });
                                }
                                s
                            })
                            .collect();
                        let mut sections: Vec<(String, Vec<GuardSettingView>)> = Vec::new();
                        for s in settings {
                            match sections.last_mut() {
                                Some((name, list)) if name == s.section() => list.push(s),
                                _ => sections.push((s.section().to_owned(), vec![s])),
                            }
                        }
                        view! {
                            <Refusal error />
                            <ActionForm action=update attr:id="guard-policy-form" attr:class="panel">
                                <input type="hidden" name="csrf" value=csrf() />
                                <input type="hidden" name="version" value=data.version />
                                {sections.into_iter().map(|(name, list)| view! {
                                    <fieldset id=format!("guard-{name}")>
                                        <legend>{section_title(&name)}</legend>
                                        <div class="grid">
                                            {list.into_iter().map(|s| view! { <Setting setting=s admin prefix="g" /> }).collect_view()}
                                        </div>
                                    </fieldset>
                                }).collect_view()}
                                <p class="hint">"Version " {data.version} ". The same settings are at GET/PUT /api/v1/guard/policy."</p>
                                {admin.then(|| view! { <button type="submit">"Save guard policy"</button> })}
                            </ActionForm>
                        }
                        .into_any()
                    }
                    Err(e) => view! { <Refusal error=Signal::derive(move || Some(e.clone())) /> }.into_any(),
                }
            })}
        </Suspense>
    }
}
