//! sea-orm entities, one per table. Persistence only: services convert them at the boundary.

pub mod alarm_acknowledgement;
pub mod alert;
pub mod alert_delivery;
pub mod allow_entry;
pub mod ami_user;
pub mod api_token;
pub mod audit_log;
pub mod ban;
pub mod call_record;
pub mod config_revision;
pub mod endpoint;
pub mod event_rollup;
pub mod firewall_policy;
pub mod fraud_finding;
pub mod fraud_history;
pub mod fraud_lock;
pub mod fraud_policy;
pub mod fraud_rates;
pub mod guard_event;
pub mod guard_known_source;
pub mod guard_policy;
pub mod pbx_policy;
pub mod recovery_code;
pub mod session;
pub mod trunk;
pub mod user;
