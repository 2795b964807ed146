//! `/endpoints`: the SIP endpoints, searchable (`?q=`) and paged by extension
//! (`?cursor=`), with the creation form. A new or rotated secret is shown once.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::form::TypedForm;

use crate::form::pbx::{EndpointForm, endpoint_page};

use crate::api::pbx::{CreateEndpoint, DeleteEndpoint, RotateEndpointSecret, list_endpoints};
use crate::components::form::{
    Confirm, FlashNotices, LastAction, Refusal, SecretListOutcomes, SecretOnce, csrf, is_admin,
    refused_form, reset_on_success, url_encode, use_flash,
};

const CALLING_CLASSES: [(&str, &str); 3] = [
    ("internal", "internal: extensions and emergency numbers"),
    ("national", "national: also national numbers"),
    ("international", "international: also international numbers"),
];
const TRANSPORTS: [&str; 3] = ["udp", "tcp", "tls"];

/// The fields of an endpoint, shared by the creation and the edit form.
#[component]
pub fn EndpointFields(initial: EndpointForm, creating: bool) -> impl IntoView {
    let class = initial.calling_class.clone();
    let transport = initial.transport.clone();
    view! {
        <div class="grid">
            <label>"Extension" <input type="text" name="extension" value=initial.extension required maxlength="15" inputmode="numeric" /></label>
            <label>"Display name" <input type="text" name="display_name" value=initial.display_name required maxlength="64" /></label>
            <label>"Calling class"
                <select name="calling_class">
                    {CALLING_CLASSES.into_iter().map(|(value, text)| {
                        let selected = class == value;
                        view! { <option value=value selected=selected>{text}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label>"Transport"
                <select name="transport">
                    {TRANSPORTS.into_iter().map(|value| {
                        let selected = transport == value;
                        view! { <option value=value selected=selected>{value}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label class="wide">"Networks it may connect from (empty: the policy's defaults)"
                <input type="text" name="permit" value=initial.permit placeholder="192.168.10.0/24, 2001:db8::/48" />
            </label>
            <label class="wide">"Exceptions inside those networks"
                <input type="text" name="deny" value=initial.deny placeholder="192.168.10.99/32" />
            </label>
            <label>"Concurrent calls" <input type="text" name="max_calls" value=initial.max_calls inputmode="numeric" /></label>
            <label>"Registered contacts" <input type="text" name="max_contacts" value=initial.max_contacts inputmode="numeric" /></label>
            <label>"Codecs, in order" <input type="text" name="codecs" value=initial.codecs placeholder="ulaw, alaw, g722, g729, opus, gsm" /></label>
            {creating.then(|| view! {
                <label>"MAC address (optional)" <input type="text" name="mac" value=initial.mac.clone() placeholder="00:11:22:33:44:55" /></label>
            })}
            <label class="check"><input type="checkbox" name="enabled" checked=initial.enabled.is_some() /> " Enabled"</label>
        </div>
    }
}

/// The endpoints page.
#[component]
pub fn EndpointsPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::ssr::form::no_store();
    let admin = is_admin();
    let query = use_query_map();
    let q = move || query.read().get("q").filter(|s| !s.trim().is_empty());
    let cursor = move || query.read().get("cursor").filter(|s| !s.is_empty());
    let flash = use_flash();
    let last = LastAction::new();
    let create = ServerAction::<CreateEndpoint>::new();
    let created_form = reset_on_success(create);
    let delete = ServerAction::<DeleteEndpoint>::new();
    let rotate = ServerAction::<RotateEndpointSecret>::new();
    let list = Resource::new(
        move || {
            (
                q(),
                cursor(),
                create.version().get(),
                delete.version().get(),
            )
        },
        |(q, cursor, _, _)| list_endpoints(q, cursor),
    );
    let SecretListOutcomes {
        created,
        rotated,
        row_error,
        deleted,
    } = SecretListOutcomes::new(last, create, rotate, delete);

    view! {
        <h1>"Endpoints"</h1>
        <Show when=move || deleted.get()><p class="notice" role="status">"Endpoint deleted."</p></Show>
        <SecretOnce secret=created />
        <SecretOnce secret=rotated />
        <Refusal error=row_error />
        <FlashNotices flash />

        <form method="get" action="/endpoints" class="search" id="endpoint-search">
            <input type="search" name="q" value=q placeholder="Extension, name or id" maxlength="64" aria-label="Search" />
            <button type="submit">"Search"</button>
        </form>

        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Ok(page) => {
                        let query_part = q().map(|q| format!("q={}&", url_encode(&q))).unwrap_or_default();
                        let first = cursor().is_some().then(|| {
                            let href = format!("/endpoints?{query_part}");
                            view! { <a href=href>"← First page"</a> }
                        });
                        let next = page.next_cursor.clone().map(|n| {
                            let href = format!("/endpoints?{query_part}cursor={}", url_encode(&n));
                            view! { <a href=href id="next-page">"Next page →"</a> }
                        });
                        let shown = page.items.len();
                        let empty = (shown == 0).then(|| {
                            let text = if q().is_some() {
                                "No endpoint matches the search."
                            } else {
                                "No endpoints yet."
                            };
                            view! { <p class="hint" id="no-endpoints">{text}</p> }
                        });
                        view! {
                            {empty}
                            <table class="list" id="endpoint-table">
                                <thead><tr>
                                    <th>"Extension"</th><th>"Name"</th><th>"Id / auth name"</th><th>"Class"</th>
                                    <th>"Networks"</th><th>"Calls"</th><th>"Codecs"</th><th>"Transport"</th><th>"State"</th>
                                    <th></th>
                                </tr></thead>
                                <tbody>
                                    {page.items.into_iter().map(|e| {
                                        let href = endpoint_page(&e.id);
                                        let id = e.id.clone();
                                        let id2 = e.id.clone();
                                        let named = if e.display_name.is_empty() {
                                            e.extension.clone()
                                        } else {
                                            format!("{} ({})", e.extension, e.display_name)
                                        };
                                        let (ext_rotate, ext_delete) = (named.clone(), named);
                                        view! {
                                            <tr data-extension=e.extension.clone()>
                                                <td>{e.extension.clone()}</td>
                                                <td><A href=href>{e.display_name.clone()}</A></td>
                                                <td><code>{e.id.clone()}</code></td>
                                                <td>{e.calling_class.clone()}</td>
                                                <td>{e.permit.join(", ")}</td>
                                                <td>{e.max_calls}</td>
                                                <td>{e.codecs.join(", ")}</td>
                                                <td>{e.transport.clone()}</td>
                                                <td>{if e.enabled { "enabled" } else { "disabled" }}</td>
                                                <td class="actions">
                                                    {admin.then(|| view! {
                                                        <Confirm label="New secret" class="rotate" question=format!("Give extension {} a new secret? The phone stops registering until it is provisioned with the new one.", ext_rotate)>
                                                            <ActionForm action=rotate attr:class="inline rotate">
                                                                <input type="hidden" name="csrf" value=csrf() />
                                                                <input type="hidden" name="id" value=id />
                                                                <button type="submit" class="secondary">"Yes, new secret"</button>
                                                            </ActionForm>
                                                        </Confirm>
                                                        <Confirm label="Delete" class="danger delete" question=format!("Delete extension {}? Its phone stops working after the next apply.", ext_delete)>
                                                            <ActionForm action=delete attr:class="inline delete">
                                                                <input type="hidden" name="csrf" value=csrf() />
                                                                <input type="hidden" name="id" value=id2 />
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
                            <p class="pager">
                                {first}
                                " " {shown} " shown of " <span id="endpoint-total">{page.total}</span> " "
                                {next}
                            </p>
                        }.into_any()
                    }
                    Err(e) => view! { <Refusal error=Signal::derive(move || Some(e.clone())) /> }.into_any(),
                }
            })}
        </Suspense>

        {if admin {
            view! {
                <h2>"New endpoint"</h2>
                <p class="hint">
                    "The id and auth name are generated (never the extension), and so is the secret unless you type one. "
                    "The secret is shown once after creation."
                </p>
                <Refusal error=last.error("create", create) />
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let (error, form) = refused_form(flash.await);
                        let initial = match form {
                            Some(TypedForm::Endpoint(form)) => form,
                            _ => EndpointForm::new_defaults(),
                        };
                        view! {
                            <Refusal error />
                            <ActionForm action=create node_ref=created_form attr:id="endpoint-create" attr:class="panel">
                                <input type="hidden" name="csrf" value=csrf() />
                                <EndpointFields initial creating=true />
                                <label>"Secret (optional: generated when empty, checked for strength when typed)"
                                    <input type="password" name="secret" autocomplete="new-password" maxlength="128" />
                                </label>
                                <button type="submit">"Create endpoint"</button>
                            </ActionForm>
                        }
                    })}
                </Suspense>
            }.into_any()
        } else {
            view! { <p class="hint">"Viewers can read the PBX model; administrators change it."</p> }.into_any()
        }}
    }
}
