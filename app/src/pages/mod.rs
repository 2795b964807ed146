//! One page per file.

pub mod account;
pub mod alerts;
pub mod allowlist;
pub mod ami_user;
pub mod ami_users;
pub mod audit;
pub mod bans;
pub mod config;
pub mod dashboard;
pub mod endpoint;
pub mod endpoints;
pub mod events;
pub mod firewall;
pub mod fraud;
pub mod guard;
pub mod login;
pub mod not_found;
pub mod pbx_audit;
pub mod policy;
pub mod setup;
pub mod trunk;
pub mod trunks;
pub mod users;
