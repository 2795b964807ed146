//! The form framework's pieces on the page (see [`crate::form`]): the flash of a plain form
//! post, refusals next to their form (naming the field) or the fixed message of a code,
//! secrets shown once, apply reports, and the hidden CSRF field.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
#[cfg(feature = "hydrate")]
use wasm_bindgen::JsCast;

use crate::api::take_flash;
use crate::form::ConsoleError;
use crate::form::{ActionError, Flash, ShownSecret, TypedForm};
use wire::pbx::ApplyReport;
use wire::{Role, SessionInfo};

/// The flash named by `?flash=<token>`, taken from the server once (see
/// [`crate::form`]). Without the parameter, or with a stale or forged token: `None`.
pub fn use_flash() -> Resource<Option<Flash>> {
    let query = use_query_map();
    Resource::new(
        move || query.read().get("flash"),
        |token| async move {
            match token {
                Some(token) if !token.is_empty() => take_flash(token).await.ok().flatten(),
                _ => None,
            }
        },
    )
}

/// The fixed message for `?error=<code>` (codes are looked up, never echoed).
pub fn query_error() -> Signal<Option<ActionError>> {
    let query = use_query_map();
    Signal::derive(move || {
        query
            .read()
            .get("error")
            .and_then(|code| ConsoleError::from_code(&code))
            .map(ActionError::Console)
    })
}

/// Which of a page's actions finished last. A page shows that one's outcome only, so
/// "Banned." does not stay after an unban, nor "reverts unless confirmed" after confirming;
/// until an action finished here, what a plain form post's redirect said (`?banned=1`)
/// stands.
#[derive(Clone, Copy)]
pub struct LastAction(RwSignal<Option<&'static str>>);

impl LastAction {
    #[must_use]
    pub fn new() -> Self {
        Self(RwSignal::new(None))
    }

    /// Follows `action` under `name`; returns `action` for chaining.
    pub fn track<T, R>(self, name: &'static str, action: ServerAction<T>) -> ServerAction<T>
    where
        T: leptos::server_fn::ServerFn<Output = R> + Clone + Send + Sync + 'static,
        R: Clone + Send + Sync + 'static,
    {
        Effect::new(move |_| {
            // The version counts finished runs; the first run of the effect only reads it.
            if action.version().get() > 0 {
                self.0.set(Some(name));
            }
        });
        action
    }

    /// Whether `name` finished last.
    #[must_use]
    pub fn is(self, name: &str) -> bool {
        self.0.get() == Some(name)
    }

    /// Whether no tracked action has finished on this page yet.
    #[must_use]
    pub fn none(self) -> bool {
        self.0.get().is_none()
    }

    /// `action`'s outcome while it is the one that finished last.
    pub fn outcome<T, R, E>(
        self,
        name: &'static str,
        action: ServerAction<T>,
    ) -> Signal<Option<Result<R, E>>>
    where
        T: leptos::server_fn::ServerFn<Output = R, Error = E> + Clone + Send + Sync + 'static,
        R: Clone + Send + Sync + 'static,
        E: Clone + Send + Sync + 'static,
    {
        Signal::derive(move || {
            if self.is(name) {
                action.value().get()
            } else {
                None
            }
        })
    }
}

impl LastAction {
    /// `action`'s refusal while it is the one that finished last.
    pub fn error<T, R>(
        self,
        name: &'static str,
        action: ServerAction<T>,
    ) -> Signal<Option<ActionError>>
    where
        T: leptos::server_fn::ServerFn<Output = R, Error = ActionError>
            + Clone
            + Send
            + Sync
            + 'static,
        R: Clone + Send + Sync + 'static,
    {
        Signal::derive(move || {
            if self.is(name) {
                action.value().get().and_then(Result::err)
            } else {
                None
            }
        })
    }
}

/// What a list page with create, new-secret and delete actions shows, of the last one only:
/// the new secret (of a creation or a rotation), a row action's refusal (or the code of a
/// plain form post's), and whether the last deletion went through.
pub struct SecretListOutcomes {
    pub created: Signal<Option<ShownSecret>>,
    pub rotated: Signal<Option<ShownSecret>>,
    pub row_error: Signal<Option<ActionError>>,
    pub deleted: Signal<bool>,
}

impl SecretListOutcomes {
    /// Tracks the three actions on `last` (as `create`, `rotate` and `delete`).
    pub fn new<C, R, D>(
        last: LastAction,
        create: ServerAction<C>,
        rotate: ServerAction<R>,
        delete: ServerAction<D>,
    ) -> Self
    where
        C: leptos::server_fn::ServerFn<Output = ShownSecret, Error = ActionError>
            + Clone
            + Send
            + Sync
            + 'static,
        R: leptos::server_fn::ServerFn<Output = ShownSecret, Error = ActionError>
            + Clone
            + Send
            + Sync
            + 'static,
        D: leptos::server_fn::ServerFn<Output = (), Error = ActionError>
            + Clone
            + Send
            + Sync
            + 'static,
    {
        let (create, rotate, delete) = (
            last.track("create", create),
            last.track("rotate", rotate),
            last.track("delete", delete),
        );
        // A secret shown once stays on screen after other actions (a delete, a refusal): only
        // a newer secret replaces it, or leaving the page. So the two secret actions have a
        // last action of their own.
        let secrets = LastAction::new();
        let (created, rotated, removed) = (
            secrets.outcome("create", secrets.track("create", create)),
            secrets.outcome("rotate", secrets.track("rotate", rotate)),
            last.outcome("delete", delete),
        );
        let (delete_error, rotate_error, code_error) = (
            last.error("delete", delete),
            last.error("rotate", rotate),
            query_error(),
        );
        let query = use_query_map();
        Self {
            created: Signal::derive(move || created.get().and_then(Result::ok)),
            rotated: Signal::derive(move || rotated.get().and_then(Result::ok)),
            row_error: Signal::derive(move || {
                delete_error
                    .get()
                    .or_else(|| rotate_error.get())
                    .or_else(|| code_error.get().filter(|_| last.none()))
            }),
            deleted: Signal::derive(move || {
                matches!(removed.get(), Some(Ok(())))
                    || (last.none() && query.read().get("deleted").is_some())
            }),
        }
    }
}

impl Default for LastAction {
    fn default() -> Self {
        Self::new()
    }
}

/// The error of an action's last run, if it failed.
pub fn action_error<T, R>(action: ServerAction<T>) -> Signal<Option<ActionError>>
where
    T: leptos::server_fn::ServerFn<Output = R, Error = ActionError> + Clone + Send + Sync + 'static,
    R: Clone + Send + Sync + 'static,
{
    Signal::derive(move || action.value().get().and_then(Result::err))
}

/// A form that goes back to its initial values once `action` succeeded (with JavaScript), so
/// a second press does not send the same new object again. Without JavaScript the redirect
/// brings a fresh form anyway.
pub fn reset_on_success<T, R>(action: ServerAction<T>) -> NodeRef<leptos::html::Form>
where
    T: leptos::server_fn::ServerFn<Output = R, Error = ActionError> + Clone + Send + Sync + 'static,
    R: Clone + Send + Sync + 'static,
{
    let form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if matches!(action.value().get(), Some(Ok(_)))
            && let Some(form) = form.get()
        {
            form.reset();
        }
    });
    form
}

/// The message for the last failure of `action`, or for the `error` query parameter.
#[component]
pub fn FormError<T>(result: Signal<Option<Result<T, ConsoleError>>>) -> impl IntoView
where
    T: Send + Sync + Clone + 'static,
{
    let query = use_query_map();
    let message = move || {
        let from_action = result.get().and_then(Result::err);
        let from_query = query
            .read()
            .get("error")
            .and_then(|code| ConsoleError::from_code(&code));
        from_action.or(from_query).map(|e| e.to_string())
    };
    view! {
        <Show when=move || message().is_some()>
            <p class="error" role="alert">{message}</p>
        </Show>
    }
}

/// Whether the signed-in user may change things (the server checks again).
#[must_use]
pub fn is_admin() -> bool {
    use_context::<SessionInfo>().is_some_and(|s| s.role == Role::Admin)
}

/// The session's CSRF token, for the hidden field of every form.
#[must_use]
pub fn csrf() -> String {
    use_context::<SessionInfo>()
        .map(|s| s.csrf)
        .unwrap_or_default()
}

/// What a plain form post left that does not belong beside a form: a new secret, or the
/// refusal of a button (delete, rotate, apply).
#[component]
pub fn FlashNotices(flash: Resource<Option<Flash>>) -> impl IntoView {
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let flash = flash.await;
                let secret = flash.as_ref().and_then(Flash::secret);
                let error = flash
                    .as_ref()
                    .filter(|f| f.form().is_none())
                    .and_then(Flash::error);
                view! {
                    <SecretOnce secret=Signal::derive(move || secret.clone()) />
                    <Refusal error=Signal::derive(move || error.clone()) />
                }
            })}
        </Suspense>
    }
}

/// The refusal of a form and what was typed into it, from a flash.
#[must_use]
pub fn refused_form(flash: Option<Flash>) -> (Signal<Option<ActionError>>, Option<TypedForm>) {
    match flash {
        Some(Flash::Refused {
            error,
            form: Some(form),
        }) => (Signal::derive(move || Some(error.clone())), Some(*form)),
        _ => (Signal::derive(|| None), None),
    }
}

/// Why a PBX action was refused, next to its form.
#[component]
pub fn Refusal(#[prop(into)] error: Signal<Option<ActionError>>) -> impl IntoView {
    move || {
        let error = error.get();
        // A refusal that went away takes its mark along (a refusal shown now marks its
        // field after this, in the next frame).
        #[cfg(feature = "hydrate")]
        if error.is_none() {
            clear_invalid();
        }
        error.map(|e| match e {
            ActionError::Conflict(problems) => view! {
                <div class="error" role="alert">
                    <p>"The change was refused:"</p>
                    <ul>{problems.into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}</ul>
                </div>
            }
            .into_any(),
            ActionError::Invalid {
                field,
                reason,
                label,
            } => {
                #[cfg(feature = "hydrate")]
                mark_invalid(&field);
                let label = label.unwrap_or_else(|| crate::form::labels::field_label(&field));
                view! {
                    <p class="error" role="alert" data-field=field.clone()>
                        "Check " <strong class="field">{label}</strong> ": " {reason}
                    </p>
                }
                .into_any()
            }
            other => view! { <p class="error" role="alert">{other.to_string()}</p> }.into_any(),
        })
    }
}

/// Marks the refused input (`aria-invalid`, which the stylesheet draws with a red border)
/// and puts the cursor in it, after the page drew the refusal; earlier marks are cleared.
#[cfg(feature = "hydrate")]
fn mark_invalid(name: &str) {
    let name = name.to_owned();
    request_animation_frame(move || {
        let Some(document) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        clear_invalid();
        // Names are sipwarden's own input names (letters, `_`, `.`), safe in a selector; the
        // policy form writes `tls.cert_file` as `tls_cert_file`.
        let base = name.split('[').next().unwrap_or(&name).to_owned();
        let found = [base.clone(), base.replace('.', "_")]
            .into_iter()
            .find_map(|n| {
                let all = document
                    .query_selector_all(&format!("form [name=\"{n}\"]:not([type=hidden])"))
                    .ok()?;
                (0..all.length())
                    .filter_map(|i| all.item(i)?.dyn_into::<web_sys::HtmlElement>().ok())
                    // The one on screen: a folded row form has no layout box.
                    .find(|el| el.offset_parent().is_some())
                    .map(web_sys::Element::from)
            });
        if let Some(el) = found {
            let _ = el.set_attribute("aria-invalid", "true");
            if let Ok(input) = el.dyn_into::<web_sys::HtmlElement>() {
                let _ = input.focus();
            }
        }
    });
}

/// Takes every refusal's mark off the page's inputs.
#[cfg(feature = "hydrate")]
fn clear_invalid() {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    if let Ok(marked) = document.query_selector_all("[aria-invalid=true]") {
        for i in 0..marked.length() {
            if let Some(el) = marked
                .item(i)
                .and_then(|n| n.dyn_into::<web_sys::Element>().ok())
            {
                let _ = el.remove_attribute("aria-invalid");
            }
        }
    }
}

/// A secret shown this once, with what it belongs to and what its phone or client needs.
/// It takes the focus (its field, selected, so Ctrl+C copies it) and scrolls into view
/// wherever the user was on the page; with JavaScript, buttons copy the secret or the whole
/// block. Without JavaScript the field has `autofocus` on the page the form post returns to.
#[component]
pub fn SecretOnce(#[prop(into)] secret: Signal<Option<ShownSecret>>) -> impl IntoView {
    move || {
        secret.get().map(|s| {
            let label = if s.label.is_empty() {
                String::new()
            } else {
                format!(" ({})", s.label)
            };
            let field = NodeRef::<leptos::html::Input>::new();
            #[cfg(feature = "hydrate")]
            Effect::new(move |_| {
                if let Some(input) = field.get() {
                    input.scroll_into_view_with_bool(false);
                    let _ = input.focus();
                    input.select();
                }
            });
            let block = std::iter::once(format!("Secret: {}", s.secret))
                .chain(s.provisioning.iter().map(|(k, v)| format!("{k}: {v}")))
                .collect::<Vec<_>>()
                .join("\n");
            let secret_text = s.secret.clone();
            view! {
                <section class="secret" role="status" aria-label="New secret">
                    <p>
                        "New secret of " {s.kind} " " <code class="secret-key">{s.key}</code> {label}
                        ". It is shown this once: copy it now. sipwarden keeps only a digest."
                    </p>
                    <p class="secret-line">
                        <input type="text" readonly class="secret-value" aria-label="The secret" autofocus
                               autocomplete="off" spellcheck="false" value=s.secret.clone() node_ref=field />
                        <CopyButton text=secret_text label="Copy secret" />
                        {(!s.provisioning.is_empty()).then(|| view! { <CopyButton text=block label="Copy all" /> })}
                    </p>
                    {(!s.provisioning.is_empty()).then(|| view! {
                        <dl class="facts provisioning">
                            {s.provisioning.into_iter().map(|(k, v)| view! { <dt>{k}</dt><dd><code>{v}</code></dd> }).collect_view()}
                        </dl>
                    })}
                </section>
            }
        })
    }
}

/// A button that puts `text` on the clipboard; shown only once the page runs JavaScript
/// (without it the button could do nothing).
#[component]
fn CopyButton(text: String, label: &'static str) -> impl IntoView {
    let hydrated = RwSignal::new(false);
    let copied = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(window) = web_sys::window() {
            let _ = window.navigator().clipboard().write_text(&text);
            copied.set(true);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &text;
    };
    view! {
        <Show when=move || hydrated.get()>
            <button type="button" class="secondary copy" on:click=copy.clone()>
                {move || if copied.get() { "Copied" } else { label }}
            </button>
        </Show>
    }
}

/// What an apply or rollback did.
#[component]
pub fn Report(report: ApplyReport) -> impl IntoView {
    let r = report.revision;
    let live = report
        .live_revision
        .map_or_else(|| "none".to_owned(), |n| format!("revision {n}"));
    let class = if report.applied {
        "notice report"
    } else {
        "error report"
    };
    let headline = if report.applied {
        format!("Revision {} is live: Asterisk loaded it.", r.number)
    } else {
        format!(
            "Revision {} was not applied ({}). sipwarden fell back; live now: {live}.",
            r.number, r.status
        )
    };
    view! {
        <div class=class id="apply-report" role="status">
            <p><strong>{headline}</strong></p>
            <p class="report-message">{r.message}</p>
            {(!report.checks.is_empty()).then(|| view! {
                <ul class="checks">
                    {report.checks.into_iter().map(|c| view! { <li>{c}</li> }).collect_view()}
                </ul>
            })}
        </div>
    }
}

/// The sign-in page, told to come back to `path?query` afterwards: without a flash token
/// (taken once, it would be gone), and only to a local path (see
/// [`crate::form::local_path`]); the dashboard, where signing in goes anyway, needs no
/// `next`. The server's gate and the console's layout both send here.
#[must_use]
pub fn sign_in_path(path: &str, query: &str) -> String {
    let kept: Vec<&str> = query
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("flash="))
        .collect();
    let mut here = path.to_owned();
    if !kept.is_empty() {
        here.push('?');
        here.push_str(&kept.join("&"));
    }
    match crate::form::local_path(Some(&here)) {
        Some(_) if here != "/" => format!("/login?next={}", url_encode(&here)),
        _ => "/login".to_owned(),
    }
}

/// `s` fit for a URL's query value.
#[must_use]
pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encode_keeps_only_unreserved_characters() {
        assert_eq!(url_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(url_encode("1001"), "1001");
    }
}

/// A destructive action that asks first: its button opens a question naming the object,
/// and only the question's own button (the form in `children`) acts. Plain HTML
/// (`details`), so it asks the same with and without JavaScript.
#[component]
pub fn Confirm(
    /// The opening button's words.
    label: &'static str,
    /// The question, naming the object and what happens to it.
    #[prop(into)]
    question: String,
    /// `danger` for what cannot be undone; also names the action for tests and styles.
    class: &'static str,
    children: Children,
) -> impl IntoView {
    view! {
        <details class=format!("confirm {class}")>
            <summary>{label}"…"</summary>
            <div class="question" role="group" aria-label=label>
                <p>{question}</p>
                {children()}
            </div>
        </details>
    }
}
