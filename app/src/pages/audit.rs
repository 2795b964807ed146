//! `/audit`: the audit log, newest first, paginated with `?page=N`.

use leptos::prelude::*;

use crate::components::time::When;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::api::get_audit;

/// The audit log page.
#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let page = move || {
        query
            .read()
            .get("page")
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(0)
    };
    let audit = Resource::new(page, get_audit);
    view! {
        <h1>"Audit log"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match audit.await {
                    Ok(data) => {
                        let has_next = data.has_next();
                        let current = data.page;
                        view! {
                            <table class="audit" id="audit-table">
                                <thead><tr>
                                    <th>"When"</th><th>"Who"</th><th>"From"</th>
                                    <th>"Action"</th><th>"Outcome"</th><th>"Detail"</th>
                                </tr></thead>
                                <tbody>
                                    {data.entries.into_iter().map(|e| view! {
                                        <tr class=if e.success { "ok" } else { "failed" }>
                                            <td><When at=e.at /></td>
                                            <td>{e.actor.unwrap_or_else(|| "—".into())}</td>
                                            <td>{e.source_ip.unwrap_or_else(|| "—".into())}</td>
                                            <td>{e.action}</td>
                                            <td>{if e.success { "success" } else { "failure" }}</td>
                                            <td>{e.detail}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <p class="pager">
                                {(current > 0).then(|| view! {
                                    <A href=format!("/audit?page={}", current - 1)>"← Newer"</A>
                                })}
                                " Page " {current + 1} " · " {data.total} " entries "
                                {has_next.then(|| view! {
                                    <A href=format!("/audit?page={}", current + 1)>"Older →"</A>
                                })}
                            </p>
                        }.into_any()
                    }
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}
