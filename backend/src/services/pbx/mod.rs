//! The PBX model in the database: endpoints, trunks, AMI users and the hardening policy.
//!
//! Every write takes the PBX write lock, loads the whole model, applies the change and checks
//! it with [`PbxModel::new`] before anything is stored: a change that would make the model
//! inconsistent (a DID routed to a deleted extension, a realm that no stored digest was made
//! for, two objects with one name) is refused with the reasons and nothing is written.
//! Secrets leave this module only in the one response that creates or rotates them.
//!
//! One file per kind of object (`endpoints`, `trunks`, `ami_users`) and one for the
//! hardening policy (`settings`); this file holds the error, loading the whole model and the
//! write path they all share (lock, load, change, check, store, audit).

use chrono::Utc;
use rand::rngs::OsRng;
use sea_orm::sea_query::{Alias, Expr, LikeExpr, OnConflict};
use sea_orm::{
    ActiveValue::Set, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, Order,
};

use policy::asterisk::{
    AmiUser, Endpoint, GlobalPolicy, InvalidField, ModelError, NewAmiUser, NewEndpoint, NewTrunk,
    PbxModel, PolicySettings, Trunk,
};
use wire::Page;
use wire::pbx::{AmiUserView, DidView, EndpointList, EndpointView, TrunkView, WithSecret};

use crate::auth::Admin;
use crate::core::Core;
use crate::db::entities::{ami_user, endpoint, pbx_policy, trunk};
use crate::services::audit::{self, Action, Record};
use crate::services::{Internal, page, rfc3339};

/// Why a PBX change was refused.
#[derive(Debug, thiserror::Error)]
pub enum PbxError {
    /// A field broke its rule (422).
    #[error("{0}")]
    Invalid(#[from] InvalidField),
    /// The change conflicts with other objects (409); one reason per line.
    #[error("{}", .0.join("; "))]
    Conflict(Vec<String>),
    /// No such object (404).
    #[error("{kind} '{key}' does not exist")]
    NotFound { kind: &'static str, key: String },
    /// `If-Match` named another version than the stored one (412): someone else changed it.
    #[error("the object changed meanwhile: it is at version {current}, not {expected}")]
    Stale { expected: i32, current: i32 },
    /// Not the caller's fault (500, logged).
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<sea_orm::DbErr> for PbxError {
    fn from(e: sea_orm::DbErr) -> Self {
        PbxError::Internal(Internal::Db(e))
    }
}

impl From<ModelError> for PbxError {
    fn from(e: ModelError) -> Self {
        PbxError::Conflict(e.problems().iter().map(ToString::to_string).collect())
    }
}

fn strings<T: ToString>(items: &[T]) -> Vec<String> {
    items.iter().map(ToString::to_string).collect()
}

fn corrupt(table: &str, key: &str, e: &serde_json::Error) -> Internal {
    Internal::Corrupt(format!(
        "{table} row '{key}' no longer passes its checks: {e}"
    ))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, Internal> {
    serde_json::to_string(value).map_err(|e| Internal::Corrupt(format!("serialising: {e}")))
}

/// Everything stored, checked again on the way out of the database.
#[derive(Debug, Clone)]
pub struct Stored {
    pub policy: GlobalPolicy,
    pub endpoints: Vec<Endpoint>,
    pub trunks: Vec<Trunk>,
    pub ami_users: Vec<AmiUser>,
}

impl Stored {
    /// Checks the cross-object rules.
    pub fn into_model(self) -> Result<PbxModel, ModelError> {
        PbxModel::new(self.policy, self.endpoints, self.trunks, self.ami_users)
    }
}

/// Loads the whole model.
pub async fn load_all(db: &impl ConnectionTrait) -> Result<Stored, Internal> {
    let (policy, _) = load_policy(db).await?;
    let endpoints = endpoint::Entity::find()
        .all(db)
        .await?
        .iter()
        .map(parse_endpoint)
        .collect::<Result<Vec<_>, _>>()?;
    let trunks = trunk::Entity::find()
        .all(db)
        .await?
        .iter()
        .map(parse_trunk)
        .collect::<Result<Vec<_>, _>>()?;
    let ami_users = ami_user::Entity::find()
        .all(db)
        .await?
        .iter()
        .map(parse_ami_user)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Stored {
        policy,
        endpoints,
        trunks,
        ami_users,
    })
}

/// The checked model to render. A stored model that breaks a cross-object rule (possible
/// only through hand edits of the database) is refused with the reasons.
pub async fn load_model(db: &impl ConnectionTrait) -> Result<PbxModel, PbxError> {
    Ok(load_all(db).await?.into_model()?)
}

/// Each row with the object checked out of it (a page of a list), or the first that fails.
fn checked_rows<M, T>(
    rows: Vec<M>,
    parse: fn(&M) -> Result<T, Internal>,
) -> Result<Vec<(T, M)>, Internal> {
    rows.into_iter()
        .map(|row| Ok((parse(&row)?, row)))
        .collect()
}

/// The row with primary key `key` and the checked object in it, or 404 naming `kind`.
async fn find_row<E, T>(
    db: &impl ConnectionTrait,
    key: &str,
    kind: &'static str,
    parse: fn(&E::Model) -> Result<T, Internal>,
) -> Result<(E::Model, T), PbxError>
where
    E: EntityTrait,
    <E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType: From<String>,
{
    let row = E::find_by_id(key.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| PbxError::NotFound {
            kind,
            key: key.to_owned(),
        })?;
    let parsed = parse(&row)?;
    Ok((row, parsed))
}

type BoxFuture<'t, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 't>>;

/// Runs `change` on the loaded model under the write lock, in one transaction that commits
/// only when the changed model passes [`PbxModel::new`] and `store` succeeds.
async fn write<T, F>(core: &Core, change: F) -> Result<T, PbxError>
where
    F: for<'t> FnOnce(
        &'t sea_orm::DatabaseTransaction,
        Stored,
    ) -> BoxFuture<'t, Result<(Stored, T), PbxError>>,
{
    let _guard = core.pbx_lock.lock().await;
    let txn = crate::db::begin_write(&core.db).await?;
    let stored = load_all(&txn).await?;
    let (changed, out) = change(&txn, stored).await?;
    changed.into_model()?;
    txn.commit().await?;
    core.model.bump();
    Ok(out)
}

/// Refuses a change made against an older version (`If-Match`), so two scripts cannot
/// silently overwrite each other.
fn check_version(expected: Option<i32>, current: i32) -> Result<(), PbxError> {
    match expected {
        Some(expected) if expected != current => Err(PbxError::Stale { expected, current }),
        _ => Ok(()),
    }
}

fn audit_detail(kind: &str, key: &str) -> String {
    format!("{kind} {key}")
}

async fn audited<T>(
    core: &Core,
    admin: &Admin,
    action: Action,
    what: String,
    outcome: Result<T, PbxError>,
) -> Result<T, PbxError> {
    let detail = match &outcome {
        Ok(_) => what,
        Err(e) => format!("{what}: {e}"),
    };
    audit::record(
        &core.db,
        Record::by_caller(admin.caller(), action, outcome.is_ok(), &detail),
    )
    .await?;
    outcome
}

/// Puts `with` in place of the item that `same` says it replaces.
fn replace<T>(items: &mut [T], with: T, same: impl Fn(&T, &T) -> bool) {
    if let Some(slot) = items.iter_mut().find(|i| same(i, &with)) {
        *slot = with;
    }
}

mod ami_users;
mod endpoints;
mod import;
mod settings;
mod trunks;

pub use ami_users::*;
pub use endpoints::*;
pub use import::*;
pub use settings::*;
pub use trunks::*;

/// "1001 Remote worker" for each of `ids` that is an endpoint's id (what Asterisk's events
/// name an account by); names that are no endpoint here are left out.
pub async fn endpoint_labels(
    db: &DatabaseConnection,
    ids: &[&str],
) -> Result<std::collections::HashMap<String, String>, Internal> {
    use sea_orm::{ColumnTrait, QueryFilter};
    let rows = endpoint::Entity::find()
        .filter(endpoint::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|e| {
            let label = if e.display_name.is_empty() {
                e.extension
            } else {
                format!("{} {}", e.extension, e.display_name)
            };
            (e.id, label)
        })
        .collect())
}
