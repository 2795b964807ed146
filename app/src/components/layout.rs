//! The signed-in console: navigation around the current page, and the gate that sends anyone
//! without a session to `/login`.

use leptos::prelude::*;
use leptos_router::components::{A, Outlet, Redirect};

use crate::api::{SignOut, get_session};
use wire::{Role, SessionInfo};

/// Layout of every page behind sign-in. Provides the [`SessionInfo`] to the pages.
#[component]
pub fn ConsoleLayout() -> impl IntoView {
    let session = Resource::new(|| (), |()| get_session());
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match session.await {
                    Ok(Some(info)) => view! { <SignedIn info /> }.into_any(),
                    Ok(None) | Err(_) => view! { <Redirect path="/login" /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn SignedIn(info: SessionInfo) -> impl IntoView {
    provide_context(info.clone());
    let sign_out = ServerAction::<SignOut>::new();
    let role = match info.role {
        Role::Admin => "administrator",
        Role::Viewer => "viewer",
    };
    view! {
        <header class="topbar">
            <span class="brand">"sipwarden"</span>
            // Only pages that work are listed.
            <nav>
                <A href="/" exact=true>"Dashboard"</A>
                <A href="/endpoints">"Endpoints"</A>
                <A href="/trunks">"Trunks"</A>
                <A href="/ami-users">"AMI users"</A>
                <A href="/policy">"Policy"</A>
                <A href="/config">"Configuration"</A>
                <A href="/events">"Events"</A>
                <A href="/guard">"Guard"</A>
                <A href="/firewall">"Firewall"</A>
                <A href="/bans">"Bans"</A>
                <A href="/allowlist">"Allowlist"</A>
                <A href="/alerts">"Alerts"</A>
                <A href="/users">"Users"</A>
                <A href="/audit">"Audit log"</A>
                <A href="/account">"Account"</A>
            </nav>
            <span class="who">{info.username.clone()} " (" {role} ")"</span>
            <ActionForm action=sign_out attr:class="inline">
                <input type="hidden" name="csrf" value=info.csrf.clone() />
                <button type="submit" id="sign-out">"Sign out"</button>
            </ActionForm>
        </header>
        <main>
            <Outlet />
        </main>
    }
}
