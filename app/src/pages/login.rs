//! `/login`: the sign-in form.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::api::SignIn;
use crate::components::form::FormError;

/// The sign-in page.
#[component]
pub fn LoginPage() -> impl IntoView {
    let sign_in = ServerAction::<SignIn>::new();
    let result = Signal::derive(move || sign_in.value().get());
    // Where to go back to after signing in (a page whose session had ended).
    let query = leptos_router::hooks::use_query_map();
    let next = move || {
        query
            .read()
            .get("next")
            .filter(|n| crate::form::local_path(Some(n)).is_some())
            .unwrap_or_default()
    };
    view! {
        <Title text="Sign in · sipwarden" />
        <main class="narrow">
            <h1>"sipwarden"</h1>
            <p class="lead">"Sign in to the console."</p>
            <FormError result />
            <Show when=move || !next().is_empty()>
                <p class="notice" role="status" id="signed-out-notice">"Your session ended. Sign in to go back to where you were."</p>
            </Show>
            <ActionForm action=sign_in attr:id="login-form">
                <input type="hidden" name="next" value=next />
                <label>
                    "Username"
                    <input type="text" name="username" autocomplete="username" required maxlength="64" />
                </label>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="current-password" required maxlength="1024" />
                </label>
                <label>
                    "Authentication code (if you set up an authenticator app; or a recovery code)"
                    <input type="text" name="code" autocomplete="one-time-code" inputmode="numeric" maxlength="64" />
                </label>
                <button type="submit">"Sign in"</button>
            </ActionForm>
            <p class="hint">
                "First start? " <A href="/setup">"Create the first administrator"</A>
                " with the one-time token from the server log."
            </p>
        </main>
    }
}
