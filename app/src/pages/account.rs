//! `/account`: one's own password and second factor (an authenticator app, with recovery
//! codes).

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::ChangePassword;
use crate::api::account::{
    BeginSecondFactor, ConfirmSecondFactor, RemoveSecondFactor, get_second_factor,
};
use crate::components::form::{FormError, Refusal, action_error, use_flash};
use crate::form::Flash;
use wire::SessionInfo;

/// Recovery codes, shown once.
#[component]
fn RecoveryCodes(#[prop(into)] codes: Signal<Option<Vec<String>>>) -> impl IntoView {
    move || {
        codes.get().map(|codes| {
            view! {
                <div class="secret" role="status" id="recovery-codes">
                    <p>
                        "Your authenticator app is set up. These ten recovery codes each sign you in once without the app: "
                        "keep them somewhere safe now; they are not shown again."
                    </p>
                    <ul class="codes">{codes.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}</ul>
                </div>
            }
        })
    }
}

/// The second-factor part of the page.
#[component]
fn SecondFactor(csrf: String) -> impl IntoView {
    let flash = use_flash();
    let query = use_query_map();
    let begin = ServerAction::<BeginSecondFactor>::new();
    let confirm = ServerAction::<ConfirmSecondFactor>::new();
    let remove = ServerAction::<RemoveSecondFactor>::new();
    let state = Resource::new(
        move || {
            (
                begin.version().get(),
                confirm.version().get(),
                remove.version().get(),
            )
        },
        |_| get_second_factor(),
    );
    let confirmed = Signal::derive(move || confirm.value().get().and_then(Result::ok));
    let removed = move || {
        query.read().get("removed").is_some() || matches!(remove.value().get(), Some(Ok(())))
    };
    let errors = (
        action_error(begin),
        action_error(confirm),
        action_error(remove),
    );
    let error = Signal::derive(move || {
        errors
            .0
            .get()
            .or_else(|| errors.1.get())
            .or_else(|| errors.2.get())
    });
    view! {
        <h2 id="second-factor">"Second factor"</h2>
        <RecoveryCodes codes=confirmed />
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let flash = flash.await;
                let codes = flash.as_ref().and_then(Flash::recovery_codes);
                let refused = flash.as_ref().and_then(Flash::error);
                view! {
                    <RecoveryCodes codes=Signal::derive(move || codes.clone()) />
                    <Refusal error=Signal::derive(move || refused.clone()) />
                }
            })}
        </Suspense>
        <Show when=removed><p class="notice" role="status">"Second factor removed: sign-in needs only your password."</p></Show>
        <Refusal error />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                let csrf = csrf.clone();
                Suspend::new(async move {
                    let state = match state.await {
                        Ok(state) => state,
                        Err(e) => return view! { <Refusal error=Signal::derive(move || Some(e.clone())) /> }.into_any(),
                    };
                    let status = if state.enabled {
                        format!(
                            "On: signing in needs a code from your authenticator app ({} recovery codes left).",
                            state.recovery_codes_left
                        )
                    } else if state.required {
                        "Off, but required for administrators: set it up now; the rest of the console waits until you do.".to_owned()
                    } else {
                        "Off: signing in needs only your password.".to_owned()
                    };
                    let (csrf_confirm, csrf_remove) = (csrf.clone(), csrf.clone());
                    view! {
                        <p id="second-factor-status">{status}</p>
                        {state.pending.clone().map(|p| view! {
                            <div class="panel" id="enrolment">
                                <p>"Scan this code with an authenticator app (or type the key), then enter the six-digit code it shows."</p>
                                <img src=p.qr alt="QR code of the authenticator key" width="220" height="220" />
                                <p>"Key: " <code id="totp-key">{p.key}</code></p>
                                <ActionForm action=confirm attr:id="confirm-second-factor">
                                    <input type="hidden" name="csrf" value=csrf_confirm />
                                    <label>"Code from the app" <input type="text" name="code" required autocomplete="one-time-code" inputmode="numeric" maxlength="6" /></label>
                                    <button type="submit">"Confirm"</button>
                                </ActionForm>
                            </div>
                        })}
                        <ActionForm action=begin attr:id="begin-second-factor">
                            <input type="hidden" name="csrf" value=csrf />
                            {state.enabled.then(|| view! {
                                <label>"Your password, to replace the app in use" <input type="password" name="password" required autocomplete="current-password" /></label>
                            })}
                            <button type="submit" class="secondary">
                                {if state.enabled { "Set up a new authenticator app" } else { "Set up an authenticator app" }}
                            </button>
                        </ActionForm>
                        {state.enabled.then(|| view! {
                            <ActionForm action=remove attr:id="remove-second-factor">
                                <input type="hidden" name="csrf" value=csrf_remove />
                                <label>"Your password, to remove the second factor" <input type="password" name="password" required autocomplete="current-password" /></label>
                                <button type="submit" class="danger">"Remove second factor"</button>
                            </ActionForm>
                        })}
                    }
                    .into_any()
                })
            }}
        </Suspense>
    }
}

/// The account page.
#[component]
pub fn AccountPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::ssr::form::no_store();
    let session = expect_context::<SessionInfo>();
    let change = ServerAction::<ChangePassword>::new();
    let result = Signal::derive(move || change.value().get());
    let query = use_query_map();
    let changed = move || {
        query.read().get("changed").is_some() || matches!(change.value().get(), Some(Ok(())))
    };
    view! {
        <h1>"Account"</h1>
        <p>"Signed in as " <strong>{session.username.clone()}</strong> "."</p>
        <SecondFactor csrf=session.csrf.clone() />
        <h2>"Change password"</h2>
        <Show when=changed>
            <p class="notice" role="status">"Password changed. Your other sessions were signed out."</p>
        </Show>
        <FormError result />
        <ActionForm action=change attr:id="password-form">
            <input type="hidden" name="csrf" value=session.csrf.clone() />
            <label>"Current password" <input type="password" name="current" required autocomplete="current-password" /></label>
            <label>"New password (at least 12 characters)" <input type="password" name="new" required autocomplete="new-password" /></label>
            <label>"Repeat the new password" <input type="password" name="confirm" required autocomplete="new-password" /></label>
            <button type="submit">"Change password"</button>
        </ActionForm>
    }
}
