//! sea-orm entities, one per table. Persistence only: services convert them at the boundary.

pub mod audit_log;
pub mod session;
pub mod user;
