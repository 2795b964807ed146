//! sipwarden's database schema.
//!
//! One file per change, applied in order before the server listens. Migrations are
//! forward-only: a release never edits or removes a migration that has shipped, it adds a new
//! one. The server refuses to start on a database that has migrations this binary does not know
//! (a database written by a newer sipwarden), rather than guess at a schema it cannot read.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_accounts;
mod m20261125_000002_pbx;
mod m20261126_000003_firewall;
mod m20261126_000004_events;
mod m20261126_000005_api_tokens;
mod m20261126_000006_alerts;
mod m20261126_000007_endpoint_order;
mod m20261126_000008_top_rollups;
mod m20261206_000009_guard;
mod m20261207_000010_alert_internal_targets;
mod m20261207_000011_user_lifecycle;
mod m20261207_000012_second_factor;
mod m20261207_000013_alarm_acknowledgements;
mod m20261208_000014_trunk_registration;
mod m20261209_000015_fraud;

/// The ordered list of every migration this binary knows.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_accounts::Migration),
            Box::new(m20261125_000002_pbx::Migration),
            Box::new(m20261126_000003_firewall::Migration),
            Box::new(m20261126_000004_events::Migration),
            Box::new(m20261126_000005_api_tokens::Migration),
            Box::new(m20261126_000006_alerts::Migration),
            Box::new(m20261126_000007_endpoint_order::Migration),
            Box::new(m20261126_000008_top_rollups::Migration),
            Box::new(m20261206_000009_guard::Migration),
            Box::new(m20261207_000010_alert_internal_targets::Migration),
            Box::new(m20261207_000011_user_lifecycle::Migration),
            Box::new(m20261207_000012_second_factor::Migration),
            Box::new(m20261207_000013_alarm_acknowledgements::Migration),
            Box::new(m20261208_000014_trunk_registration::Migration),
            Box::new(m20261209_000015_fraud::Migration),
        ]
    }
}

/// The names of every migration this binary knows, in order.
#[must_use]
pub fn known_migration_names() -> Vec<String> {
    Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect()
}
