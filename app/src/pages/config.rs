//! `/config`: what an apply would change (a unified diff per file), applying it (with the
//! report of what Asterisk loaded, or why not and what stayed live), the revision history
//! and rollback.

use leptos::prelude::*;

use crate::components::time::When;

use crate::api::pbx::{ApplyConfig, RollbackConfig, config_preview, list_revisions};
use crate::components::form::{
    Confirm, FlashNotices, Refusal, Report, action_error, csrf, is_admin, query_error, use_flash,
};
use wire::pbx::ApplyReport;

/// The configuration page.
#[component]
pub fn ConfigPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::ssr::form::no_store();
    let admin = is_admin();
    let flash = use_flash();
    let apply = ServerAction::<ApplyConfig>::new();
    let rollback = ServerAction::<RollbackConfig>::new();
    let versions = move || (apply.version().get(), rollback.version().get());
    let revisions = Resource::new(versions, |_| list_revisions());
    let preview = Resource::new(versions, move |_| async move {
        if admin {
            Some(config_preview().await)
        } else {
            None
        }
    });
    let (apply_error, rollback_error, code_error) =
        (action_error(apply), action_error(rollback), query_error());
    let error = Signal::derive(move || {
        apply_error
            .get()
            .or_else(|| rollback_error.get())
            .or_else(|| code_error.get())
    });
    // The newest report of this page's actions (JavaScript) …
    let latest = move || -> Option<ApplyReport> {
        let a = apply.value().get().and_then(Result::ok);
        let r = rollback.value().get().and_then(Result::ok);
        match (a, r) {
            (Some(a), Some(r)) => Some(if a.revision.number > r.revision.number {
                a
            } else {
                r
            }),
            (a, r) => a.or(r),
        }
    };

    view! {
        <h1>"Asterisk configuration"</h1>
        <Refusal error />
        <FlashNotices flash />
        {move || latest().map(|report| view! { <Report report /> })}
        // … or of a plain form post, through the flash.
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                flash.await.and_then(|f| f.report()).map(|report| view! { <Report report /> })
            })}
        </Suspense>

        {admin.then(|| view! {
            <ActionForm action=apply attr:id="apply-form" attr:class="inline">
                <input type="hidden" name="csrf" value=csrf() />
                <button type="submit">"Apply now"</button>
            </ActionForm>
            <span class="hint">" Writes the files, reloads Asterisk over AMI and checks what it loaded; on any failure the previous revision is put back."</span>
        })}

        <h2>"What an apply would change"</h2>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match preview.await {
                    None => view! { <p class="hint">"Only administrators see the preview: it names every account (its secrets are hidden)."</p> }.into_any(),
                    Some(Err(e)) => view! { <Refusal error=Signal::derive(move || Some(e.clone())) /> }.into_any(),
                    Some(Ok(p)) => {
                        let against = p.live_revision.map_or_else(
                            || "Compared with the files on disk (sipwarden has applied nothing yet).".to_owned(),
                            |n| format!("Compared with revision {n}, which Asterisk loaded."),
                        );
                        let headline = if p.changes {
                            format!("An apply would change: {}.", p.summary)
                        } else {
                            "Nothing to apply: Asterisk runs the current model.".to_owned()
                        };
                        view! {
                            <div id="preview">
                                <p id="preview-summary"><strong>{headline}</strong> " " <span class="hint">{against}</span></p>
                                {p.files.into_iter().map(|f| {
                                    // Short diffs open; a long one (a first apply writes every
                                    // account) stays folded under its line count.
                                    let lines = f.diff.lines().count();
                                    let open = f.change != "unchanged" && lines <= 60;
                                    view! {
                                        <details class="file" open=open>
                                            <summary><code>{f.name.clone()}</code> " — " <span class=format!("change {}", f.change)>{f.change.clone()}</span>
                                                {(lines > 0).then(|| view! { <span class="hint">" (" {lines} " lines)"</span> })}</summary>
                                            {(!f.diff.is_empty()).then(|| view! { <pre class="diff">{coloured(&f.diff)}</pre> })}
                                        </details>
                                    }
                                }).collect_view()}
                            </div>
                        }.into_any()
                    }
                }
            })}
        </Suspense>

        <h2>"Revisions"</h2>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match revisions.await {
                    Ok(list) if list.is_empty() => view! { <p class="hint" id="no-revisions">"Nothing has been applied yet."</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="list" id="revision-table">
                            <thead><tr>
                                <th>"#"</th><th>"When"</th><th>"By"</th><th>"Status"</th><th>"What happened"</th><th>"Files"</th><th></th>
                            </tr></thead>
                            <tbody>
                                {list.into_iter().map(|r| {
                                    let number = r.number.to_string();
                                    let restored = r.restored_from.map(|n| format!(" (restores revision {n})")).unwrap_or_default();
                                    let can_restore = admin && matches!(r.status.as_str(), "live" | "replaced");
                                    view! {
                                        <tr class=format!("status-{}", r.status)>
                                            <td>{r.number}</td>
                                            <td><When at=r.created_at.clone() /></td>
                                            <td>{r.author.clone()}</td>
                                            <td class="status">{r.status.clone()}</td>
                                            <td>{r.message.clone()}{restored}</td>
                                            <td>{r.files.join(", ")}</td>
                                            <td class="actions">
                                                {can_restore.then(|| view! {
                                                    <Confirm label="Roll back to this" class="rollback" question=format!("Make revision {number} live again? Asterisk reloads it at once; secrets and AMI users stay as they are now.")>
                                                        <ActionForm action=rollback attr:class="inline rollback">
                                                            <input type="hidden" name="csrf" value=csrf() />
                                                            <input type="hidden" name="number" value=number />
                                                            <button type="submit" class="secondary">"Yes, roll back"</button>
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
    }
}

/// A unified diff, one span per line: added, removed, hunk header or context.
fn coloured(diff: &str) -> impl IntoView + use<> {
    diff.split_inclusive('\n')
        .map(|line| {
            let class = if line.starts_with("+++") || line.starts_with("---") {
                "file"
            } else if line.starts_with('+') {
                "add"
            } else if line.starts_with('-') {
                "del"
            } else if line.starts_with("@@") {
                "hunk"
            } else {
                "ctx"
            };
            view! { <span class=class>{line.to_owned()}</span> }
        })
        .collect_view()
}
