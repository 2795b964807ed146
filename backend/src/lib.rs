//! sipwarden's server: CLI, configuration, database, HTTP (REST API, health, console), and
//! the runtimes that will apply configuration and guard the PBX.
//!
//! The rules live in the `policy` crate and in [`services`]; everything else is a door to
//! them.

pub mod asterisk;
pub mod auth;
pub mod caps;
pub mod cli;
pub mod config;
pub mod config_audit;
pub mod config_import;
pub mod core;
pub mod db;
pub mod firewall;
pub mod fraud;
pub mod guard;
pub mod http;
pub mod plain;
pub mod priority;
pub mod server;
pub mod services;
pub mod sync;
pub mod telemetry;
pub mod tls;

/// This build's version, shown on the dashboard and in `/healthz`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
