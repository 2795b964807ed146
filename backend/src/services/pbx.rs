//! The PBX model in the database: endpoints, trunks, AMI users and the hardening policy.
//!
//! Every write takes the PBX write lock, loads the whole model, applies the change and checks
//! it with [`PbxModel::new`] before anything is stored: a change that would make the model
//! inconsistent (a DID routed to a deleted extension, a realm that no stored digest was made
//! for, two objects with one name) is refused with the reasons and nothing is written.
//! Secrets leave this module only in the one response that creates or rotates them.

use chrono::Utc;
use rand::rngs::OsRng;
use sea_orm::sea_query::{Alias, Expr, LikeExpr, OnConflict};
use sea_orm::{
    ActiveValue::Set, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, Order,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use app::model::Page;
use app::model::pbx::{AmiUserView, DidView, EndpointList, EndpointView, TrunkView, WithSecret};
use policy::asterisk::{
    AmiUser, Endpoint, GlobalPolicy, InvalidField, ModelError, NewAmiUser, NewEndpoint, NewTrunk,
    PbxModel, PolicySettings, Trunk,
};

use crate::auth::Admin;
use crate::db::entities::{ami_user, endpoint, pbx_policy, trunk};
use crate::services::audit::{self, Action, Record};
use crate::services::{Internal, page, rfc3339};
use crate::state::AppState;

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

// ---------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------

fn endpoint_view(e: &Endpoint, row: &endpoint::Model) -> EndpointView {
    EndpointView {
        id: e.id().to_string(),
        extension: e.extension().to_string(),
        display_name: e.display_name().to_string(),
        mac: e.mac().map(ToString::to_string),
        permit: strings(e.acl().permit()),
        deny: strings(e.acl().deny()),
        max_calls: e.max_calls().get(),
        calling_class: e.calling_class().as_str().to_owned(),
        codecs: e
            .codecs()
            .as_slice()
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect(),
        transport: e.transport().as_str().to_owned(),
        max_contacts: e.max_contacts().get(),
        enabled: e.enabled(),
        realm: e.credentials().realm().to_string(),
        version: row.version,
        updated_at: rfc3339(row.updated_at),
    }
}

fn trunk_view(t: &Trunk, row: &trunk::Model) -> TrunkView {
    TrunkView {
        name: t.name().to_string(),
        peer: t.peer().to_string(),
        port: t.port(),
        sources: strings(t.sources().permit()),
        dids: t
            .dids()
            .iter()
            .map(|d| DidView {
                did: d.did().to_string(),
                extension: d.extension().to_string(),
            })
            .collect(),
        transport: t.transport().as_str().to_owned(),
        codecs: t
            .codecs()
            .as_slice()
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect(),
        outbound: t.outbound(),
        context: t.context(),
        version: row.version,
        updated_at: rfc3339(row.updated_at),
    }
}

fn ami_view(u: &AmiUser, row: &ami_user::Model) -> AmiUserView {
    let as_strs = |v: &[policy::asterisk::AmiClass]| {
        v.iter().map(|c| c.as_str().to_owned()).collect::<Vec<_>>()
    };
    AmiUserView {
        name: u.name().to_string(),
        permit: strings(u.acl().permit()),
        deny: strings(u.acl().deny()),
        read: as_strs(u.read()),
        write: as_strs(u.write()),
        allow_dangerous: !u.dangerous_classes().is_empty(),
        dangerous: as_strs(&u.dangerous_classes()),
        version: row.version,
        updated_at: rfc3339(row.updated_at),
    }
}

fn parse_endpoint(row: &endpoint::Model) -> Result<Endpoint, Internal> {
    serde_json::from_str(&row.body).map_err(|e| corrupt("endpoints", &row.id, &e))
}

fn parse_trunk(row: &trunk::Model) -> Result<Trunk, Internal> {
    serde_json::from_str(&row.body).map_err(|e| corrupt("trunks", &row.name, &e))
}

fn parse_ami_user(row: &ami_user::Model) -> Result<AmiUser, Internal> {
    serde_json::from_str(&row.body).map_err(|e| corrupt("ami_users", &row.name, &e))
}

/// The stored policy, created with defaults (and freshly generated secrets for sipwarden's
/// own AMI accounts) on first use.
pub async fn load_policy(db: &impl ConnectionTrait) -> Result<(GlobalPolicy, i32), Internal> {
    if let Some(row) = pbx_policy::Entity::find_by_id(1).one(db).await? {
        let settings: PolicySettings = serde_json::from_str(&row.body)
            .map_err(|e| Internal::Corrupt(format!("pbx_policy: {e}")))?;
        let policy = GlobalPolicy::new(settings, &mut OsRng)
            .map_err(|e| Internal::Corrupt(format!("pbx_policy: {e}")))?;
        return Ok((policy, row.version));
    }
    let policy = GlobalPolicy::new(PolicySettings::default(), &mut OsRng)
        .map_err(|e| Internal::Corrupt(format!("default policy: {e}")))?;
    let row = pbx_policy::ActiveModel {
        id: Set(1),
        body: Set(to_json(&policy.settings())?),
        version: Set(1),
        updated_at: Set(Utc::now()),
    };
    // Two first readers racing: the second insert is ignored and both read the winner.
    pbx_policy::Entity::insert(row)
        .on_conflict(
            OnConflict::column(pbx_policy::Column::Id)
                .do_nothing()
                .to_owned(),
        )
        .do_nothing()
        .exec(db)
        .await?;
    Box::pin(load_policy(db)).await
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

/// Endpoints ordered by extension (numerically), optionally filtered by a search over the
/// extension, the name and the id; `cursor` is the `next_cursor` of the previous page.
pub async fn list_endpoints(
    db: &DatabaseConnection,
    search: Option<&str>,
    cursor: Option<&str>,
    limit: u64,
) -> Result<EndpointList, PbxError> {
    let mut filter = Condition::all();
    if let Some(term) = search.map(str::trim).filter(|t| !t.is_empty()) {
        if term.len() > 64 {
            return Err(InvalidField::new("q", "a search is at most 64 characters").into());
        }
        let escaped = term
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = format!("%{escaped}%");
        let like = |col: endpoint::Column| {
            Expr::col(col).like(LikeExpr::new(pattern.clone()).escape('\\'))
        };
        filter = filter.add(
            Condition::any()
                .add(like(endpoint::Column::Extension))
                .add(like(endpoint::Column::DisplayName))
                .add(like(endpoint::Column::Id)),
        );
    }
    let total = endpoint::Entity::find()
        .filter(filter.clone())
        .count(db)
        .await?;
    // The generated, indexed `number_key` column (see the `endpoint_order` migration) orders
    // extensions as numbers; the cursor is the key of the page's last endpoint.
    let number_key = || Expr::col(Alias::new("number_key"));
    let mut page_filter = filter;
    if let Some(cursor) = cursor {
        if cursor.len() < 3 || cursor.len() > 17 || !cursor.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidField::new("cursor", "not a cursor of this list").into());
        }
        page_filter = page_filter.add(number_key().gt(cursor));
    }
    let limit = limit.clamp(1, page::MAX_LIMIT);
    let rows = endpoint::Entity::find()
        .filter(page_filter)
        .order_by(number_key(), Order::Asc)
        .limit(page::fetch(limit))
        .all(db)
        .await?;
    let checked = checked_rows(rows, parse_endpoint)?;
    let page = page::split(
        checked,
        limit,
        |(e, _)| number_key_of(e.extension().as_str()),
        |(e, row)| endpoint_view(&e, &row),
    );
    Ok(EndpointList {
        items: page.items,
        total,
        next_cursor: page.next_cursor,
    })
}

/// What the `number_key` column holds for an extension: its length in two digits, then it.
fn number_key_of(extension: &str) -> String {
    format!("{:02}{extension}", extension.len())
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

async fn endpoint_row(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<(endpoint::Model, Endpoint), PbxError> {
    find_row::<endpoint::Entity, _>(db, id, "endpoint", parse_endpoint).await
}

/// One endpoint.
pub async fn get_endpoint(db: &DatabaseConnection, id: &str) -> Result<EndpointView, PbxError> {
    let (row, e) = endpoint_row(db, id).await?;
    Ok(endpoint_view(&e, &row))
}

/// Trunks by name, a page at a time from `cursor` (the previous page's last name).
pub async fn list_trunks(
    db: &DatabaseConnection,
    cursor: Option<&str>,
    limit: u64,
) -> Result<Page<TrunkView>, PbxError> {
    let rows = page::rows(
        db,
        trunk::Entity::find(),
        trunk::Column::Name,
        Order::Asc,
        cursor,
        limit,
    )
    .await?;
    let checked = checked_rows(rows, parse_trunk)?;
    Ok(page::split(
        checked,
        limit,
        |(_, row)| row.name.clone(),
        |(t, row)| trunk_view(&t, &row),
    ))
}

async fn trunk_row(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<(trunk::Model, Trunk), PbxError> {
    find_row::<trunk::Entity, _>(db, name, "trunk", parse_trunk).await
}

/// One trunk.
pub async fn get_trunk(db: &DatabaseConnection, name: &str) -> Result<TrunkView, PbxError> {
    let (row, t) = trunk_row(db, name).await?;
    Ok(trunk_view(&t, &row))
}

/// AMI users by name, a page at a time from `cursor` (the previous page's last name).
pub async fn list_ami_users(
    db: &DatabaseConnection,
    cursor: Option<&str>,
    limit: u64,
) -> Result<Page<AmiUserView>, PbxError> {
    let rows = page::rows(
        db,
        ami_user::Entity::find(),
        ami_user::Column::Name,
        Order::Asc,
        cursor,
        limit,
    )
    .await?;
    let checked = checked_rows(rows, parse_ami_user)?;
    Ok(page::split(
        checked,
        limit,
        |(_, row)| row.name.clone(),
        |(u, row)| ami_view(&u, &row),
    ))
}

async fn ami_row(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<(ami_user::Model, AmiUser), PbxError> {
    find_row::<ami_user::Entity, _>(db, name, "AMI user", parse_ami_user).await
}

/// One AMI user.
pub async fn get_ami_user(db: &DatabaseConnection, name: &str) -> Result<AmiUserView, PbxError> {
    let (row, u) = ami_row(db, name).await?;
    Ok(ami_view(&u, &row))
}

/// The policy as the API shows it: sipwarden's own AMI secrets are left out (a `PUT` without
/// them keeps them).
pub async fn get_policy(db: &DatabaseConnection) -> Result<(PolicySettings, i32), PbxError> {
    let (policy, version) = load_policy(db).await?;
    let mut settings = policy.settings();
    settings.guard_ami_secret = None;
    settings.apply_ami_secret = None;
    Ok((settings, version))
}

// ---------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------

type BoxFuture<'t, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 't>>;

/// Runs `change` on the loaded model under the write lock, in one transaction that commits
/// only when the changed model passes [`PbxModel::new`] and `store` succeeds.
async fn write<T, F>(state: &AppState, change: F) -> Result<T, PbxError>
where
    F: for<'t> FnOnce(
        &'t sea_orm::DatabaseTransaction,
        Stored,
    ) -> BoxFuture<'t, Result<(Stored, T), PbxError>>,
{
    let _guard = state.pbx_lock.lock().await;
    let txn = crate::db::begin_write(&state.db).await?;
    let stored = load_all(&txn).await?;
    let (changed, out) = change(&txn, stored).await?;
    changed.into_model()?;
    txn.commit().await?;
    state.model.bump();
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
    state: &AppState,
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
        &state.db,
        Record::by_caller(admin.caller(), action, outcome.is_ok(), &detail),
    )
    .await?;
    outcome
}

/// Creates an endpoint; the response carries its secret this once.
pub async fn create_endpoint(
    state: &AppState,
    admin: &Admin,
    new: NewEndpoint,
) -> Result<WithSecret<EndpointView>, PbxError> {
    let what = audit_detail("endpoint", &new.extension);
    let outcome = write(state, move |txn, mut stored| {
        Box::pin(async move {
            let provisioned = Endpoint::provision(new, &stored.policy, &mut OsRng)?;
            let e = provisioned.endpoint;
            if stored.endpoints.iter().any(|o| o.id() == e.id()) {
                return Err(PbxError::Conflict(vec![format!(
                    "an endpoint for this MAC address already exists ({})",
                    e.id()
                )]));
            }
            if stored
                .endpoints
                .iter()
                .any(|o| o.extension() == e.extension())
            {
                return Err(PbxError::Conflict(vec![format!(
                    "extension {} already exists",
                    e.extension()
                )]));
            }
            let now = Utc::now();
            let row = endpoint::ActiveModel {
                id: Set(e.id().to_string()),
                extension: Set(e.extension().to_string()),
                display_name: Set(e.display_name().to_string()),
                body: Set(to_json(&e)?),
                version: Set(1),
                created_at: Set(now),
                updated_at: Set(now),
            };
            let row = endpoint::Entity::insert(row)
                .exec_with_returning(txn)
                .await?;
            let view = WithSecret {
                object: endpoint_view(&e, &row),
                secret: provisioned.secret.reveal(),
            };
            stored.endpoints.push(e);
            Ok((stored, view))
        })
    })
    .await;
    let what = match &outcome {
        Ok(v) => audit_detail(
            "endpoint",
            &format!("{} ({})", v.object.extension, v.object.id),
        ),
        Err(_) => what,
    };
    audited(state, admin, Action::EndpointCreate, what, outcome).await
}

/// Replaces the editable fields of an endpoint.
pub async fn update_endpoint(
    state: &AppState,
    admin: &Admin,
    id: &str,
    changes: NewEndpoint,
    expected: Option<i32>,
) -> Result<EndpointView, PbxError> {
    let key = id.to_owned();
    let outcome = write(state, move |txn, mut stored| {
        Box::pin(async move {
            let (row, current) = endpoint_row(txn, &key).await?;
            check_version(expected, row.version)?;
            let edited = current.edited(changes, &stored.policy)?;
            if stored
                .endpoints
                .iter()
                .any(|o| o.id() != edited.id() && o.extension() == edited.extension())
            {
                return Err(PbxError::Conflict(vec![format!(
                    "extension {} already exists",
                    edited.extension()
                )]));
            }
            let saved = save_endpoint(txn, &row, &edited).await?;
            let view = endpoint_view(&edited, &saved);
            replace(&mut stored.endpoints, edited, |a, b| a.id() == b.id());
            Ok((stored, view))
        })
    })
    .await;
    audited(
        state,
        admin,
        Action::EndpointUpdate,
        audit_detail("endpoint", id),
        outcome,
    )
    .await
}

/// A new secret for an endpoint (generated unless `typed`); returned this once.
pub async fn rotate_endpoint_secret(
    state: &AppState,
    admin: &Admin,
    id: &str,
    typed: Option<String>,
) -> Result<WithSecret<EndpointView>, PbxError> {
    let key = id.to_owned();
    let outcome = write(state, move |txn, mut stored| {
        Box::pin(async move {
            let (row, current) = endpoint_row(txn, &key).await?;
            let provisioned =
                current.with_new_secret(typed.as_deref(), &stored.policy, &mut OsRng)?;
            let e = provisioned.endpoint;
            let saved = save_endpoint(txn, &row, &e).await?;
            let view = WithSecret {
                object: endpoint_view(&e, &saved),
                secret: provisioned.secret.reveal(),
            };
            replace(&mut stored.endpoints, e, |a, b| a.id() == b.id());
            Ok((stored, view))
        })
    })
    .await;
    audited(
        state,
        admin,
        Action::EndpointRotateSecret,
        audit_detail("endpoint", id),
        outcome,
    )
    .await
}

/// Deletes an endpoint (refused while a trunk routes a DID to it).
pub async fn delete_endpoint(state: &AppState, admin: &Admin, id: &str) -> Result<(), PbxError> {
    let key = id.to_owned();
    let outcome = write(state, move |txn, mut stored| {
        Box::pin(async move {
            let (row, _) = endpoint_row(txn, &key).await?;
            endpoint::Entity::delete_by_id(row.id.clone())
                .exec(txn)
                .await?;
            stored.endpoints.retain(|e| e.id().as_str() != row.id);
            Ok((stored, ()))
        })
    })
    .await;
    audited(
        state,
        admin,
        Action::EndpointDelete,
        audit_detail("endpoint", id),
        outcome,
    )
    .await
}

async fn save_endpoint(
    txn: &impl ConnectionTrait,
    row: &endpoint::Model,
    e: &Endpoint,
) -> Result<endpoint::Model, PbxError> {
    let updated = endpoint::ActiveModel {
        id: Set(row.id.clone()),
        extension: Set(e.extension().to_string()),
        display_name: Set(e.display_name().to_string()),
        body: Set(to_json(e)?),
        version: Set(row.version + 1),
        created_at: Set(row.created_at),
        updated_at: Set(Utc::now()),
    };
    Ok(endpoint::Entity::update(updated).exec(txn).await?)
}

/// Puts `with` in place of the item that `same` says it replaces.
fn replace<T>(items: &mut [T], with: T, same: impl Fn(&T, &T) -> bool) {
    if let Some(slot) = items.iter_mut().find(|i| same(i, &with)) {
        *slot = with;
    }
}

/// Creates a trunk.
pub async fn create_trunk(
    state: &AppState,
    admin: &Admin,
    new: NewTrunk,
) -> Result<TrunkView, PbxError> {
    let what = audit_detail("trunk", &new.name);
    let outcome = write(state, move |txn, mut stored| {
        Box::pin(async move {
            let t = Trunk::new(new)?;
            if stored.trunks.iter().any(|o| o.name() == t.name()) {
                return Err(PbxError::Conflict(vec![format!(
                    "trunk {} already exists",
                    t.name()
                )]));
            }
            let now = Utc::now();
            let row = trunk::Entity::insert(trunk::ActiveModel {
                name: Set(t.name().to_string()),
                body: Set(to_json(&t)?),
                version: Set(1),
                created_at: Set(now),
                updated_at: Set(now),
            })
            .exec_with_returning(txn)
            .await?;
            let view = trunk_view(&t, &row);
            stored.trunks.push(t);
            Ok((stored, view))
        })
    })
    .await;
    audited(state, admin, Action::TrunkCreate, what, outcome).await
}

/// Replaces a trunk (its name stays).
pub async fn update_trunk(
    state: &AppState,
    admin: &Admin,
    name: &str,
    mut new: NewTrunk,
    expected: Option<i32>,
) -> Result<TrunkView, PbxError> {
    let key = name.to_owned();
    let outcome = write(state, move |txn, mut stored| {
        Box::pin(async move {
            let (row, current) = trunk_row(txn, &key).await?;
            check_version(expected, row.version)?;
            if new.name.is_empty() {
                new.name = current.name().to_string();
            } else if new.name != current.name().as_str() {
                return Err(
                    InvalidField::new("name", "cannot change; create a new trunk instead").into(),
                );
            }
            let t = Trunk::new(new)?;
            let saved = trunk::Entity::update(trunk::ActiveModel {
                name: Set(row.name.clone()),
                body: Set(to_json(&t)?),
                version: Set(row.version + 1),
                created_at: Set(row.created_at),
                updated_at: Set(Utc::now()),
            })
            .exec(txn)
            .await?;
            let view = trunk_view(&t, &saved);
            replace(&mut stored.trunks, t, |a, b| a.name() == b.name());
            Ok((stored, view))
        })
    })
    .await;
    audited(
        state,
        admin,
        Action::TrunkUpdate,
        audit_detail("trunk", name),
        outcome,
    )
    .await
}

/// Deletes a trunk.
pub async fn delete_trunk(state: &AppState, admin: &Admin, name: &str) -> Result<(), PbxError> {
    let key = name.to_owned();
    let outcome = write(state, move |txn, mut stored| {
        Box::pin(async move {
            let (row, _) = trunk_row(txn, &key).await?;
            trunk::Entity::delete_by_id(row.name.clone())
                .exec(txn)
                .await?;
            stored.trunks.retain(|t| t.name().as_str() != row.name);
            Ok((stored, ()))
        })
    })
    .await;
    audited(
        state,
        admin,
        Action::TrunkDelete,
        audit_detail("trunk", name),
        outcome,
    )
    .await
}

/// Creates an AMI user; the response carries its secret this once.
pub async fn create_ami_user(
    state: &AppState,
    admin: &Admin,
    new: NewAmiUser,
) -> Result<WithSecret<AmiUserView>, PbxError> {
    let what = audit_detail("AMI user", &new.name);
    let outcome = write(state, move |txn, mut stored| {
        Box::pin(async move {
            let (u, plain) = AmiUser::create(new, &mut OsRng)?;
            if stored
                .ami_users
                .iter()
                .any(|o| o.name().as_str().eq_ignore_ascii_case(u.name().as_str()))
            {
                return Err(PbxError::Conflict(vec![format!(
                    "AMI user {} already exists",
                    u.name()
                )]));
            }
            let now = Utc::now();
            let row = ami_user::Entity::insert(ami_user::ActiveModel {
                name: Set(u.name().to_string()),
                body: Set(to_json(&u)?),
                version: Set(1),
                created_at: Set(now),
                updated_at: Set(now),
            })
            .exec_with_returning(txn)
            .await?;
            let view = WithSecret {
                object: ami_view(&u, &row),
                secret: plain.reveal(),
            };
            stored.ami_users.push(u);
            Ok((stored, view))
        })
    })
    .await;
    audited(state, admin, Action::AmiUserCreate, what, outcome).await
}

/// Replaces an AMI user's ACL and classes (name and secret stay; rotate the secret apart).
pub async fn update_ami_user(
    state: &AppState,
    admin: &Admin,
    name: &str,
    new: NewAmiUser,
    expected: Option<i32>,
) -> Result<AmiUserView, PbxError> {
    let key = name.to_owned();
    let outcome = write(state, move |txn, mut stored| {
        Box::pin(async move {
            let (row, current) = ami_row(txn, &key).await?;
            check_version(expected, row.version)?;
            if new.secret.is_some() {
                return Err(InvalidField::new(
                    "secret",
                    "cannot be set by an edit; rotate the secret instead",
                )
                .into());
            }
            if !new.name.is_empty() && new.name != current.name().as_str() {
                return Err(InvalidField::new(
                    "name",
                    "cannot change; create a new AMI user instead",
                )
                .into());
            }
            let changed = NewAmiUser {
                name: current.name().to_string(),
                secret: Some(current.secret().as_str().to_owned()),
                ..new
            };
            let u = AmiUser::try_from(changed)?;
            let view = save_ami_user(txn, &row, &u).await?;
            replace(&mut stored.ami_users, u, |a, b| a.name() == b.name());
            Ok((stored, view))
        })
    })
    .await;
    audited(
        state,
        admin,
        Action::AmiUserUpdate,
        audit_detail("AMI user", name),
        outcome,
    )
    .await
}

/// A new secret for an AMI user (generated unless `typed`); returned this once.
pub async fn rotate_ami_secret(
    state: &AppState,
    admin: &Admin,
    name: &str,
    typed: Option<String>,
) -> Result<WithSecret<AmiUserView>, PbxError> {
    let key = name.to_owned();
    let outcome = write(state, move |txn, mut stored| {
        Box::pin(async move {
            let (row, current) = ami_row(txn, &key).await?;
            let mut raw = NewAmiUser::from(current);
            raw.secret = typed;
            let (u, plain) = AmiUser::create(raw, &mut OsRng)?;
            let view = WithSecret {
                object: save_ami_user(txn, &row, &u).await?,
                secret: plain.reveal(),
            };
            replace(&mut stored.ami_users, u, |a, b| a.name() == b.name());
            Ok((stored, view))
        })
    })
    .await;
    audited(
        state,
        admin,
        Action::AmiUserRotateSecret,
        audit_detail("AMI user", name),
        outcome,
    )
    .await
}

async fn save_ami_user(
    txn: &impl ConnectionTrait,
    row: &ami_user::Model,
    u: &AmiUser,
) -> Result<AmiUserView, PbxError> {
    let saved = ami_user::Entity::update(ami_user::ActiveModel {
        name: Set(row.name.clone()),
        body: Set(to_json(u)?),
        version: Set(row.version + 1),
        created_at: Set(row.created_at),
        updated_at: Set(Utc::now()),
    })
    .exec(txn)
    .await?;
    Ok(ami_view(u, &saved))
}

/// Deletes an AMI user.
pub async fn delete_ami_user(state: &AppState, admin: &Admin, name: &str) -> Result<(), PbxError> {
    let key = name.to_owned();
    let outcome = write(state, move |txn, mut stored| {
        Box::pin(async move {
            let (row, _) = ami_row(txn, &key).await?;
            ami_user::Entity::delete_by_id(row.name.clone())
                .exec(txn)
                .await?;
            stored.ami_users.retain(|u| u.name().as_str() != row.name);
            Ok((stored, ()))
        })
    })
    .await;
    audited(
        state,
        admin,
        Action::AmiUserDelete,
        audit_detail("AMI user", name),
        outcome,
    )
    .await
}

/// Replaces the policy. Secrets of sipwarden's own AMI accounts that are left out are kept.
/// A realm change is refused while endpoints hold digests made for the old realm.
pub async fn update_policy(
    state: &AppState,
    admin: &Admin,
    mut settings: PolicySettings,
    expected: Option<i32>,
) -> Result<(PolicySettings, i32), PbxError> {
    let outcome = write(state, move |txn, mut stored| {
        Box::pin(async move {
            let current = stored.policy.settings();
            if settings.guard_ami_secret.is_none() {
                settings.guard_ami_secret = current.guard_ami_secret;
            }
            if settings.apply_ami_secret.is_none() {
                settings.apply_ami_secret = current.apply_ami_secret;
            }
            let policy = GlobalPolicy::new(settings, &mut OsRng)?;
            let row = pbx_policy::Entity::find_by_id(1)
                .one(txn)
                .await?
                .ok_or_else(|| Internal::Corrupt("pbx_policy row vanished".to_owned()))?;
            check_version(expected, row.version)?;
            let version = row.version + 1;
            pbx_policy::Entity::update(pbx_policy::ActiveModel {
                id: Set(1),
                body: Set(to_json(&policy.settings())?),
                version: Set(version),
                updated_at: Set(Utc::now()),
            })
            .exec(txn)
            .await?;
            let mut shown = policy.settings();
            shown.guard_ami_secret = None;
            shown.apply_ami_secret = None;
            stored.policy = policy;
            Ok((stored, (shown, version)))
        })
    })
    .await;
    audited(
        state,
        admin,
        Action::PolicyUpdate,
        "policy".to_owned(),
        outcome,
    )
    .await
}
