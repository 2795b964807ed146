//! `/allowlist`: the networks the policy always trusts, the temporary entries, and
//! "trust my current address for N hours".

use leptos::prelude::*;

use crate::components::time::When;
use leptos_router::hooks::use_query_map;

use crate::api::firewall::{AddAllow, RemoveAllow, get_allowlist};
use crate::components::form::{FormError, LastAction};
use crate::pages::bans::human_secs;
use wire::{Role, SessionInfo};

/// The allowlist page.
#[component]
pub fn AllowlistPage() -> impl IntoView {
    let session = expect_context::<SessionInfo>();
    let last = LastAction::new();
    let add = last.track("add", ServerAction::<AddAllow>::new());
    let remove = last.track("remove", ServerAction::<RemoveAllow>::new());
    let list = Resource::new(
        move || (add.version().get(), remove.version().get()),
        |_| get_allowlist(),
    );
    let query = use_query_map();
    let (add_result, remove_result) = (last.outcome("add", add), last.outcome("remove", remove));
    let notice = move || {
        let q = query.read();
        let before_any = last.none();
        if matches!(add_result.get(), Some(Ok(()))) || (before_any && q.get("added").is_some()) {
            Some("Trusted.")
        } else if matches!(remove_result.get(), Some(Ok(())))
            || (before_any && q.get("removed").is_some())
        {
            Some("Trust ended.")
        } else {
            None
        }
    };
    let is_admin = session.role == Role::Admin;
    let csrf = session.csrf.clone();
    view! {
        <h1>"Allowlist"</h1>
        <p>"Allowlisted sources are never dropped by sipwarden, not even when banned."</p>
        <Show when=move || notice().is_some()>
            <p class="notice" role="status" id="allow-notice">{notice}</p>
        </Show>
        <FormError result=add_result />
        <FormError result=remove_result />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                let csrf = csrf.clone();
                Suspend::new(async move {
                    match list.await {
                        Ok(view) => {
                            let csrf_rows = csrf.clone();
                            view! {
                                {is_admin.then(|| view! {
                                    <h2>"Trust an address"</h2>
                                    <ActionForm action=add attr:id="allow-form">
                                        <input type="hidden" name="csrf" value=csrf.clone() />
                                        <label>"Address (empty: your current address, "
                                            <span id="your-address">{view.your_address.clone()}</span> ")"
                                            <input type="text" name="address" /></label>
                                        <label>"Hours (1 to 168)" <input type="number" name="hours" min="1" max="168" value="8" required /></label>
                                        <label>"Note" <input type="text" name="note" maxlength="200" /></label>
                                        <button type="submit" id="trust">"Trust"</button>
                                    </ActionForm>
                                })}
                                <h2>"Temporary"</h2>
                                {if view.temporary.is_empty() {
                                    view! { <p id="no-temporary">"No temporary entries."</p> }.into_any()
                                } else {
                                    view! {
                                        <table id="allow-table">
                                            <thead><tr><th>"Address"</th><th>"Note"</th><th>"By"</th><th>"Expires"</th><th>"Left"</th><th></th></tr></thead>
                                            <tbody>
                                                {view.temporary.into_iter().map(|e| {
                                                    let address = e.address.clone();
                                                    let csrf = csrf_rows.clone();
                                                    view! {
                                                        <tr>
                                                            <td class="address">{e.address}</td><td>{e.note}</td><td>{e.actor}</td>
                                                            <td><When at=e.expires_at /></td><td>{human_secs(e.remaining_secs)}</td>
                                                            <td>{is_admin.then(|| view! {
                                                                <ActionForm action=remove attr:class="inline">
                                                                    <input type="hidden" name="csrf" value=csrf />
                                                                    <input type="hidden" name="address" value=address />
                                                                    <button type="submit" class="untrust">"End trust"</button>
                                                                </ActionForm>
                                                            })}</td>
                                                        </tr>
                                                    }
                                                }).collect_view()}
                                            </tbody>
                                        </table>
                                    }.into_any()
                                }}
                                <h2>"Pinned by the policy"</h2>
                                {if view.pinned.is_empty() {
                                    view! { <p>"None. Add trusted or admin networks on the Firewall page."</p> }.into_any()
                                } else {
                                    view! {
                                        <ul id="pinned">
                                            {view.pinned.into_iter().map(|p| view! { <li>{p.network} " (" {p.list} ")"</li> }).collect_view()}
                                        </ul>
                                    }.into_any()
                                }}
                            }.into_any()
                        }
                        Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}
