//! The services: every rule lives here once. REST handlers and the console's server functions
//! only extract input, call a service and map its error.

pub mod accounts;
pub mod audit;

/// A failure inside a service that is not the caller's fault. Logged with its cause chain,
/// shown to the caller only as an opaque 500.
#[derive(Debug, thiserror::Error)]
pub enum Internal {
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("password hashing: {0}")]
    Hash(String),
}
