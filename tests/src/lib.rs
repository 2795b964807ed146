//! End-to-end test support: real parts, no mocks.
//!
//! - [`agi`]: Asterisk's side of the FastAGI exchange of the pre-call fraud decision.
//! - [`api`]: a signed-in REST client.
//! - [`root`]: skip-or-fail rules for tests that need root and system tools.
//! - [`process`]: external commands with deadlines and informative errors.
//! - [`netns`]: network namespaces and a small routed [`netns::Lab`] of them.
//! - [`server`]: the real sipwarden process on port 0 with a fresh data directory.
//! - [`browser`]: headless Debian Chromium driven over WebDriver.
//! - [`console`]: a signed-in console session over plain HTTP (form posts, typed calls).
//! - [`asterisk`]: a real Asterisk 22 from a cached Debian sid tree, inside a lab namespace.
//! - [`sipvicious`]: the SIPVicious attack tools, as shipped or disguised.
//! - [`webhook`]: a local HTTP receiver for alert deliveries, answering as scripted.

pub mod agi;
pub mod api;
pub mod appliance;
pub mod asterisk;
pub mod browser;
pub mod console;
pub mod corpus;
pub mod netns;
pub mod process;
pub mod root;
pub mod server;
pub mod sip;
pub mod sip_call;
pub mod sipvicious;
pub mod streams;
pub mod webhook;
