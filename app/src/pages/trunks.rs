//! `/trunks`: the SIP trunks (identified by source address, reaching only their DIDs), with
//! the creation form.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use leptos_router::components::A;

use crate::form::TypedForm;

use crate::form::pbx::{TrunkForm, object_page};

use crate::api::pbx::{CreateTrunk, DeleteTrunk, list_trunks};
use crate::components::form::{
    Confirm, FlashNotices, LastAction, Refusal, action_error, csrf, is_admin, query_error,
    refused_form, reset_on_success, use_flash,
};

/// The fields of a trunk, shared by the creation and the edit form (a trunk's name is
/// fixed once created). The provider password is never filled in: on an edit, leaving it
/// empty keeps the stored one.
#[component]
pub fn TrunkFields(initial: TrunkForm, creating: bool) -> impl IntoView {
    let transport = initial.transport.clone();
    let password_label = if creating || initial.registers.is_none() {
        "Provider password"
    } else {
        "New provider password (empty: keep the stored one)"
    };
    view! {
        <div class="grid">
            {creating.then(|| view! {
                <label>"Name" <input type="text" name="name" value=initial.name.clone() required maxlength="64" placeholder="provider-a" /></label>
            })}
            <label>"Provider address" <input type="text" name="peer" value=initial.peer required placeholder="203.0.113.10" /></label>
            <label>"Port" <input type="text" name="port" value=initial.port inputmode="numeric" /></label>
            <label>"Transport"
                <select name="transport">
                    {["udp", "tcp", "tls"].into_iter().map(|v| {
                        let selected = transport == v;
                        view! { <option value=v selected=selected>{v}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label class="wide">"Source networks (empty: the provider address alone)"
                <input type="text" name="sources" value=initial.sources placeholder="203.0.113.0/28" />
            </label>
            <label class="wide">"DIDs, one per line: number=extension"
                <textarea name="dids" rows="4" placeholder="4930123456=1001">{initial.dids}</textarea>
            </label>
            <label>"Codecs, in order" <input type="text" name="codecs" value=initial.codecs /></label>
            <label class="check"><input type="checkbox" name="outbound" checked=initial.outbound.is_some() /> " Outbound calls leave through this trunk"</label>
        </div>
        <fieldset class="registration">
            <legend>"Registration with the provider"</legend>
            <label class="check"><input type="checkbox" name="registers" checked=initial.registers.is_some() /> " Register with the provider (most providers want it)"</label>
            <div class="grid">
                <label>"Provider username" <input type="text" name="reg_username" value=initial.reg_username maxlength="64" autocomplete="off" /></label>
                <label>{password_label} <input type="password" name="secret" value="" maxlength="128" autocomplete="new-password" /></label>
                <label>"Auth username (if different)" <input type="text" name="reg_auth_username" value=initial.reg_auth_username maxlength="64" autocomplete="off" /></label>
                <label>"Contact user" <input type="text" name="reg_contact_user" value=initial.reg_contact_user maxlength="64" /></label>
                <label>"Retry after a failure (s)" <input type="text" name="reg_retry_interval" value=initial.reg_retry_interval inputmode="numeric" /></label>
                <label>"Retry after 403 Forbidden (s, 0: never)" <input type="text" name="reg_forbidden_retry_interval" value=initial.reg_forbidden_retry_interval inputmode="numeric" /></label>
                <label>"Registration lifetime (s)" <input type="text" name="reg_expiration" value=initial.reg_expiration inputmode="numeric" /></label>
                <label class="check"><input type="checkbox" name="reg_outbound_auth" checked=initial.reg_outbound_auth.is_some() /> " Answer the provider's challenges on outbound calls with these credentials"</label>
            </div>
        </fieldset>
    }
}

/// The trunks page.
#[component]
pub fn TrunksPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::ssr::form::no_store();
    let admin = is_admin();
    let query = use_query_map();
    let flash = use_flash();
    let last = LastAction::new();
    let create = last.track("create", ServerAction::<CreateTrunk>::new());
    let created_form = reset_on_success(create);
    let delete = last.track("delete", ServerAction::<DeleteTrunk>::new());
    let trunks = Resource::new(
        move || (create.version().get(), delete.version().get()),
        |_| list_trunks(),
    );
    let (delete_error, code_error) = (last.error("delete", delete), query_error());
    let row_error = Signal::derive(move || {
        delete_error
            .get()
            .or_else(|| code_error.get().filter(|_| last.none()))
    });
    let (created, removed) = (
        last.outcome("create", create),
        last.outcome("delete", delete),
    );
    let saved = move || {
        (last.none() && query.read().get("saved").is_some()) || matches!(created.get(), Some(Ok(_)))
    };
    let deleted = move || {
        (last.none() && query.read().get("deleted").is_some())
            || matches!(removed.get(), Some(Ok(())))
    };

    view! {
        <h1>"Trunks"</h1>
        <p class="lead">
            "A trunk is recognised by the address its packets come from, never by a name it claims, "
            "and its calls reach only the DIDs listed here."
        </p>
        <Show when=saved><p class="notice" role="status">"Trunk saved. Apply the configuration to make it live."</p></Show>
        <Show when=deleted><p class="notice" role="status">"Trunk deleted."</p></Show>
        <Refusal error=row_error />
        <FlashNotices flash />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match trunks.await {
                    Ok(trunks) if trunks.is_empty() => view! { <p class="hint">"No trunks yet."</p> }.into_any(),
                    Ok(trunks) => view! {
                        <table class="list" id="trunk-table">
                            <thead><tr>
                                <th>"Name"</th><th>"Provider"</th><th>"Accepted from"</th><th>"DIDs → extension"</th>
                                <th>"Transport"</th><th>"Codecs"</th><th>"Outbound"</th><th>"Registers as"</th><th>"Context"</th><th></th>
                            </tr></thead>
                            <tbody>
                                {trunks.into_iter().map(|t| {
                                    let name = t.name.clone();
                                    let asked = t.name.clone();
                                    let question = format!("Delete trunk {}? Calls through it stop after the next apply. Type its name to confirm.", t.name);
                                    let href = object_page("/trunks", &t.name);
                                    view! {
                                        <tr>
                                            <td><A href=href>{t.name.clone()}</A></td>
                                            <td>{format!("{}:{}", t.peer, t.port)}</td>
                                            <td>{t.sources.join(", ")}</td>
                                            <td>{t.dids.iter().map(|d| format!("{} → {}", d.did, d.extension)).collect::<Vec<_>>().join(", ")}</td>
                                            <td>{t.transport.clone()}</td>
                                            <td>{t.codecs.join(", ")}</td>
                                            <td>{if t.outbound { "yes" } else { "no" }}</td>
                                            <td>{t.registration.as_ref().map_or_else(|| "—".to_owned(), |r| r.username.clone())}</td>
                                            <td><code>{t.context.clone()}</code></td>
                                            <td class="actions">
                                                {admin.then(|| view! {
                                                    <Confirm label="Delete" class="danger delete" question=question.clone()>
                                                        <ActionForm action=delete attr:class="inline delete">
                                                            <input type="hidden" name="csrf" value=csrf() />
                                                            <input type="hidden" name="name" value=name.clone() />
                                                            <label>"Trunk name"
                                                                <input type="text" name="confirm" required autocomplete="off" pattern=regex_literal(&asked) />
                                                            </label>
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
            <h2>"New trunk"</h2>
            <Refusal error=action_error(create) />
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let (error, form) = refused_form(flash.await);
                    let initial = match form {
                        Some(TypedForm::Trunk(form)) => form,
                        _ => TrunkForm::new_defaults(),
                    };
                    view! {
                        <Refusal error />
                        <ActionForm action=create node_ref=created_form attr:id="trunk-create" attr:class="panel">
                            <input type="hidden" name="csrf" value=csrf() />
                            <TrunkFields initial creating=true />
                            <button type="submit">"Create trunk"</button>
                        </ActionForm>
                    }
                })}
            </Suspense>
        })}
    }
}

/// `text` as an HTML `pattern` that matches it and nothing else (the attribute is a
/// regular expression, anchored at both ends, in the `v` mode where only syntax characters
/// may be escaped).
fn regex_literal(text: &str) -> String {
    text.chars()
        .map(|c| {
            if "^$\\.*+?()[]{}|/".contains(c) {
                format!("\\{c}")
            } else {
                c.to_string()
            }
        })
        .collect()
}
