//! Shows why a form failed: from the server function's typed error when JavaScript ran the
//! form, or from `?error=<code>` after a plain form post.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::form::ConsoleError;

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
