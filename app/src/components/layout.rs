//! The signed-in console: navigation around the current page, and the gate that sends anyone
//! without a session to `/login`.

use leptos::prelude::*;
use leptos_meta::Title;
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

/// The navigation, by what a page is for. Only pages that work are listed.
const NAV: [(&str, &[(&str, &str)]); 4] = [
    ("Monitor", &[("/", "Dashboard"), ("/events", "Events")]),
    (
        "Protect",
        &[
            ("/firewall", "Firewall"),
            ("/bans", "Bans"),
            ("/allowlist", "Allowlist"),
            ("/guard", "Guard"),
            ("/alerts", "Alerts"),
        ],
    ),
    (
        "PBX",
        &[
            ("/endpoints", "Endpoints"),
            ("/trunks", "Trunks"),
            ("/ami-users", "AMI users"),
            ("/policy", "Policy"),
            ("/config", "Configuration"),
        ],
    ),
    (
        "Admin",
        &[
            ("/users", "Users"),
            ("/audit", "Audit log"),
            ("/account", "Account"),
        ],
    ),
];

/// The browser tab's title of a console page: the page's name from the navigation, or its
/// section's for an object page (`/endpoints/…` is an endpoint).
#[must_use]
pub fn page_title(path: &str) -> String {
    let section = path.trim_end_matches('/');
    let exact = NAV
        .iter()
        .flat_map(|(_, links)| links.iter())
        .find(|(href, _)| *href == if section.is_empty() { "/" } else { section });
    if let Some((_, label)) = exact {
        return (*label).to_owned();
    }
    match path.split('/').nth(1).unwrap_or("") {
        "endpoints" => "Endpoint".to_owned(),
        "trunks" => "Trunk".to_owned(),
        "ami-users" => "AMI user".to_owned(),
        _ => "Not found".to_owned(),
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
    let location = leptos_router::hooks::use_location();
    let title = move || format!("{} · sipwarden", page_title(&location.pathname.get()));
    view! {
        <Title text=title />
        <header class="topbar">
            <span class="brand">"sipwarden"</span>
            // A checkbox opens the navigation on a narrow screen: no script needed.
            <input type="checkbox" id="nav-toggle" class="nav-toggle" aria-label="Show the navigation" />
            <label for="nav-toggle" class="nav-open">"Menu"</label>
            <nav aria-label="Console">
                {NAV.iter().map(|(group, links)| view! {
                    <div class="group">
                        <span class="group-name">{*group}</span>
                        {links.iter().map(|(href, label)| {
                            let exact = *href == "/";
                            view! { <A href=*href exact=exact>{*label}</A> }
                        }).collect_view()}
                    </div>
                }).collect_view()}
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
