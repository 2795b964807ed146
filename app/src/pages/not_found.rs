//! The 404 page.

use leptos::prelude::*;
use leptos_router::components::A;

/// Shown for any path the console does not have; answers with status 404.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <main class="narrow">
            <h1>"Not found"</h1>
            <p>"There is no page at this address. " <A href="/">"Go to the dashboard"</A>"."</p>
        </main>
    }
}
