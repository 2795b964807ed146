//! `/account`: change one's own password.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::ChangePassword;
use crate::components::form::FormError;
use wire::SessionInfo;

/// The account page.
#[component]
pub fn AccountPage() -> impl IntoView {
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
