//! sipwarden's console: pages, components and thin server functions.
//!
//! This crate is compiled twice: for the server (`ssr`) and for the browser (`hydrate`). The
//! browser build must stay small and free of I/O, so nothing here knows about the database:
//! server functions reach the backend's services through the [`ssr::Console`] trait object the
//! server puts in Leptos context.

#![recursion_limit = "256"]

pub mod api;
pub mod components;
pub mod form;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{SsrMode, path};

use crate::components::layout::ConsoleLayout;
use crate::pages::{
    account::AccountPage, alerts::AlertsPage, allowlist::AllowlistPage, ami_user::AmiUserPage,
    ami_users::AmiUsersPage, audit::AuditPage, bans::BansPage, config::ConfigPage,
    dashboard::DashboardPage, endpoint::EndpointPage, endpoints::EndpointsPage, events::EventsPage,
    firewall::FirewallPage, fraud::FraudPage, guard::GuardPage, login::LoginPage,
    not_found::NotFound, pbx_audit::PbxAuditPage, policy::PolicyPage, setup::SetupPage,
    trunk::TrunkPage, trunks::TrunksPage, users::UsersPage,
};

/// The HTML document around the app, rendered only on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="stylesheet" href="/sipwarden.css" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The console's routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    #[cfg(feature = "ssr")]
    ssr::set_content_security_policy();
    #[cfg(feature = "ssr")]
    provide_context(ssr::form::TakenFlashes::default());
    view! {
        <Title text="sipwarden" />
        <Router>
            <Routes fallback=NotFound>
                // Async: the server sends each page complete, so it reads the same without
                // JavaScript (out-of-order streaming would leave "Loading…" placeholders that only
                // a script fills in).
                <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async />
                <Route path=path!("/setup") view=SetupPage ssr=SsrMode::Async />
                <ParentRoute path=path!("") view=ConsoleLayout ssr=SsrMode::Async>
                    <Route path=path!("") view=DashboardPage ssr=SsrMode::Async />
                    <Route path=path!("events") view=EventsPage ssr=SsrMode::Async />
                    <Route path=path!("guard") view=GuardPage ssr=SsrMode::Async />
                    <Route path=path!("fraud") view=FraudPage ssr=SsrMode::Async />
                    <Route path=path!("firewall") view=FirewallPage ssr=SsrMode::Async />
                    <Route path=path!("bans") view=BansPage ssr=SsrMode::Async />
                    <Route path=path!("allowlist") view=AllowlistPage ssr=SsrMode::Async />
                    <Route path=path!("alerts") view=AlertsPage ssr=SsrMode::Async />
                    <Route path=path!("audit") view=AuditPage ssr=SsrMode::Async />
                    <Route path=path!("users") view=UsersPage ssr=SsrMode::Async />
                    <Route path=path!("account") view=AccountPage ssr=SsrMode::Async />
                    <Route path=path!("endpoints") view=EndpointsPage ssr=SsrMode::Async />
                    <Route path=path!("endpoints/:id") view=EndpointPage ssr=SsrMode::Async />
                    <Route path=path!("trunks") view=TrunksPage ssr=SsrMode::Async />
                    <Route path=path!("trunks/:name") view=TrunkPage ssr=SsrMode::Async />
                    <Route path=path!("ami-users") view=AmiUsersPage ssr=SsrMode::Async />
                    <Route path=path!("ami-users/:name") view=AmiUserPage ssr=SsrMode::Async />
                    <Route path=path!("policy") view=PolicyPage ssr=SsrMode::Async />
                    <Route path=path!("config") view=ConfigPage ssr=SsrMode::Async />
                    <Route path=path!("pbx-audit") view=PbxAuditPage ssr=SsrMode::Async />
                </ParentRoute>
            </Routes>
        </Router>
    }
}
