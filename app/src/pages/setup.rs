//! `/setup`: creates the first administrator, but only with the one-time token the server
//! printed in its log. Whoever reaches the page first does not become admin by that alone.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::api::{CompleteSetup, get_setup_state};
use crate::components::form::FormError;
use wire::SetupState;

/// The first-administrator page.
#[component]
pub fn SetupPage() -> impl IntoView {
    let state = Resource::new(|| (), |()| get_setup_state());
    let setup = ServerAction::<CompleteSetup>::new();
    let result = Signal::derive(move || setup.value().get());
    view! {
        <Title text="Set up · sipwarden" />
        <main class="narrow">
            <h1>"Set up sipwarden"</h1>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match state.await {
                        Ok(SetupState::Required { tls_fingerprint }) => view! {
                            <p class="lead">
                                "Create the first administrator. The one-time setup token is in the server log."
                            </p>
                            {tls_fingerprint.map(|print| view! {
                                <p id="tls-fingerprint">
                                    "Before you type a password, check that your browser shows the SHA-256 fingerprint that the server log names for the site's certificate (the log is what proves it; this page came over the connection being checked). It should read: "
                                    <code>{print}</code>
                                </p>
                            })}
                            <FormError result />
                            <ActionForm action=setup attr:id="setup-form">
                                <label>"Setup token" <input type="text" name="token" required autocomplete="off" /></label>
                                <label>"Username" <input type="text" name="username" required maxlength="64" autocomplete="username" /></label>
                                <label>"Password (at least 12 characters)" <input type="password" name="password" required autocomplete="new-password" /></label>
                                <label>"Repeat the password" <input type="password" name="confirm" required autocomplete="new-password" /></label>
                                <button type="submit">"Create administrator"</button>
                            </ActionForm>
                        }.into_any(),
                        _ => view! {
                            <p class="lead">"Setup is complete. " <A href="/login">"Sign in"</A>"."</p>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}
