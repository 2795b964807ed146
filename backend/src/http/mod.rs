//! The HTTP front door: one axum router for the REST API, health, the console's server
//! functions and its pages.

pub mod api;
pub mod console;
pub mod error;
pub mod extract;
pub mod health;
pub mod list_cache;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod rate_limit;
pub mod request_id;
pub mod state;
pub mod streams;

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use leptos::prelude::*;
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};

pub use state::HttpState;

/// Largest request body accepted anywhere but at an upload (the console's forms and the API
/// are small).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Where larger bodies are accepted: uploaded configuration archives, and the fraud rules'
/// rate table (up to 100,000 prefixes) over the API and from the console's form.
const UPLOADS: [&str; 4] = [
    "/api/v1/audit/config",
    "/api/v1/import/config",
    "/api/v1/fraud/rates",
    "/fn/upload_fraud_rates",
];

/// The largest body a request to `path` may carry.
#[must_use]
pub fn body_limit(path: &str) -> usize {
    if UPLOADS.contains(&path) {
        crate::config_audit::archive::MAX_UPLOAD_BYTES
    } else {
        MAX_BODY_BYTES
    }
}

/// The console's routes, computed once per process: `generate_route_list` sets a
/// process-global flag, and calling it concurrently (several routers in one test binary)
/// can hang (leptos issue #4773).
static ROUTES: LazyLock<Vec<AxumRouteListing>> = LazyLock::new(|| generate_route_list(app::App));

/// Builds the whole application.
pub fn router(state: HttpState) -> Router {
    let service = Arc::new(console::ConsoleService::new(state.clone()));
    let console: Arc<dyn app::ssr::Console> = service.clone();
    let firewall_console: Arc<dyn app::ssr::firewall::FirewallConsole> = service.clone();
    let guard_console: Arc<dyn app::ssr::guard::GuardConsole> = service.clone();
    let fraud_console: Arc<dyn app::ssr::fraud::FraudConsole> = service.clone();
    let alerts_console: Arc<dyn app::ssr::alerts::AlertsConsole> = service.clone();
    let users_console: Arc<dyn app::ssr::users::UsersConsole> = service.clone();
    let pbx_console: Arc<dyn app::ssr::pbx::PbxConsole> = service;
    let context = {
        let state = state.clone();
        move || {
            provide_context(state.clone());
            provide_context(console.clone());
            provide_context(firewall_console.clone());
            provide_context(guard_console.clone());
            provide_context(fraud_console.clone());
            provide_context(pbx_console.clone());
            provide_context(alerts_console.clone());
            provide_context(users_console.clone());
        }
    };
    let shell_options = state.leptos_options.clone();

    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(metrics::metrics))
        .route("/api/openapi.json", get(openapi::openapi_json))
        .route("/api/docs", get(openapi::docs_page))
        .route("/api/docs/docs.js", get(openapi::docs_script))
        .route("/api/docs/docs.css", get(openapi::docs_style))
        .nest("/api/v1", api::routes())
        // Also registers every server function (under /fn/, apart from the REST API so
        // neither shadows the other) with the same context.
        .leptos_routes_with_context(&state, ROUTES.clone(), context.clone(), {
            let options = shell_options.clone();
            move || app::shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            HttpState,
            _,
        >(context, app::shell))
        .layer(axum::middleware::from_fn(middleware::server_fn_status))
        .layer(axum::middleware::from_fn(middleware::require_enrolment))
        .layer(axum::middleware::from_fn(
            middleware::require_sign_in_for_pages,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit_api,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::load_session,
        ))
        .layer(axum::middleware::from_fn(middleware::reject_cross_site))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::security_headers,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::count_requests,
        ))
        // Outside everything that asks who the client is (session, rate limit, throttle).
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            extract::resolve_client,
        ))
        // Every body arrives here already read by `body_deadline`, within its path's
        // `body_limit`: one limit, in one place (an extractor's own would be a second).
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::body_deadline,
        ))
        // Outermost, so that every log line of the request, the other layers' included, is
        // written in its span.
        .layer(axum::middleware::from_fn(request_id::trace_requests))
        .with_state(state)
}
