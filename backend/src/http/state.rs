//! What the routers hold: the [`Core`] the services take, plus what only the HTTP layer
//! needs (the console's Leptos options, the sign-in throttle, the setup token, request
//! metrics, the API's rate limits, the endpoint list cache, live stream slots and the
//! HTTPS certificate's fingerprint).

use std::ops::Deref;
use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use super::list_cache::ListCache;
use super::metrics::HttpMetrics;
use super::rate_limit::RateLimiter;
use super::streams::StreamSlots;
use crate::auth::sign_in::{SetupToken, SignInThrottle};
use crate::config::Config;
use crate::core::Core;

/// Shared, cheaply clonable; handlers extract it (or its [`Core`], its options) by `FromRef`.
#[derive(Clone, Debug, FromRef)]
pub struct HttpState {
    pub core: Core,
    pub leptos_options: LeptosOptions,
    pub sign_in_throttle: Arc<SignInThrottle>,
    pub setup_token: Arc<SetupToken>,
    /// HTTP request counters for `/metrics`.
    pub http_metrics: Arc<HttpMetrics>,
    /// Buckets of the REST API's rate limits.
    pub rate_limiter: Arc<RateLimiter>,
    /// Endpoint list pages as sent, until the model next changes.
    pub endpoint_pages: Arc<ListCache>,
    /// Live streams open per session and token.
    pub stream_slots: Arc<StreamSlots>,
    /// The HTTPS certificate's fingerprint, for the setup page.
    pub tls_fingerprint: crate::tls::Fingerprint,
}

impl HttpState {
    /// The HTTP layer around `core`; the setup token is armed when no administrator exists.
    #[must_use]
    pub fn new(core: Core, leptos_options: LeptosOptions, setup_token: SetupToken) -> Self {
        let endpoint_pages = Arc::new(ListCache::following(core.model.clone()));
        let streams = usize::try_from(core.config.max_streams_per_client).unwrap_or(8);
        Self {
            core,
            leptos_options,
            sign_in_throttle: Arc::default(),
            setup_token: Arc::new(setup_token),
            http_metrics: Arc::default(),
            rate_limiter: Arc::default(),
            endpoint_pages,
            stream_slots: Arc::new(StreamSlots::new(streams)),
            tls_fingerprint: crate::tls::Fingerprint::default(),
        }
    }
}

/// A handler reaches the core's parts (`state.db`, `state.config`) and passes `&state` to a
/// service as the `&Core` it takes: the HTTP state is the core plus the layer's own parts.
impl Deref for HttpState {
    type Target = Core;

    fn deref(&self) -> &Core {
        &self.core
    }
}

impl FromRef<HttpState> for Arc<Config> {
    fn from_ref(state: &HttpState) -> Self {
        state.core.config.clone()
    }
}
