//! One page per file.

pub mod account;
pub mod allowlist;
pub mod audit;
pub mod bans;
pub mod dashboard;
pub mod events;
pub mod firewall;
pub mod login;
pub mod not_found;
pub mod setup;
