//! The signed-in console: navigation around the current page, and the gate that sends anyone
//! without a session to `/login`.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{A, Outlet, Redirect};

use crate::api::pbx::pending_changes;
use crate::api::{SignOut, get_session};
use crate::components::form::sign_in_path;
use crate::components::time::Clock;
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
                    Ok(None) | Err(_) => view! { <Redirect path=back_after_sign_in() /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The sign-in page, told to come back here afterwards (without a flash token, which is
/// taken once and would be gone).
fn back_after_sign_in() -> String {
    let location = leptos_router::hooks::use_location();
    sign_in_path(
        &location.pathname.get_untracked(),
        &location.search.get_untracked(),
    )
}

/// How often a page that stays open asks whether changes are pending (which also notices a
/// session that ended: the page then goes to sign in).
#[cfg(feature = "hydrate")]
const PENDING_POLL: std::time::Duration = std::time::Duration::from_secs(15);

/// "Changes pending — apply" whenever the model differs from what Asterisk last loaded,
/// linking to the configuration page. Asked again on every navigation and every 15 s.
#[component]
fn PendingBadge() -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    let tick = RwSignal::new(0_u64);
    let pending = Resource::new(
        move || (location.pathname.get(), location.search.get(), tick.get()),
        |_| pending_changes(),
    );
    #[cfg(feature = "hydrate")]
    {
        let clock = use_context::<Clock>();
        if let Ok(handle) = set_interval_with_handle(
            move || {
                tick.update(|n| *n += 1);
                if let Some(clock) = clock {
                    clock.tick();
                }
            },
            PENDING_POLL,
        ) {
            on_cleanup(move || handle.clear());
        }
        // A session that ended (expired, signed out elsewhere, user disabled): sign in, then
        // come back here.
        Effect::new(move |_| {
            if let Some(Ok(None)) = pending.get()
                && !location.pathname.get_untracked().starts_with("/login")
                && let Some(window) = web_sys::window()
            {
                let _ = window.location().set_href(&back_after_sign_in());
            }
        });
    }
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                matches!(pending.await, Ok(Some(true))).then(|| view! {
                    <A href="/config" attr:class="badge pending" attr:id="pending-badge" attr:title="The model differs from what Asterisk loaded">"Changes pending — apply"</A>
                })
            })}
        </Transition>
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
            ("/fraud", "Toll fraud"),
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
            ("/pbx-audit", "Audit a PBX"),
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
    Clock::provide(&info);
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
            <PendingBadge />
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
