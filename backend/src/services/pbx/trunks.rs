//! Trunks (ITSPs): listing, reading, creating, changing, deleting.

use super::{
    Action, Admin, ConnectionTrait, Core, DatabaseConnection, DidView, Internal, InvalidField,
    NewTrunk, Order, Page, PbxError, Set, Trunk, TrunkView, Utc, audit_detail, audited,
    check_version, checked_rows, corrupt, find_row, page, replace, rfc3339, strings, to_json,
    trunk, write,
};
use sea_orm::EntityTrait;

pub(super) fn trunk_view(t: &Trunk, row: &trunk::Model) -> TrunkView {
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

pub(super) fn parse_trunk(row: &trunk::Model) -> Result<Trunk, Internal> {
    serde_json::from_str(&row.body).map_err(|e| corrupt("trunks", &row.name, &e))
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

pub(super) async fn trunk_row(
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

/// Creates a trunk.
pub async fn create_trunk(
    core: &Core,
    admin: &Admin,
    new: NewTrunk,
) -> Result<TrunkView, PbxError> {
    let what = audit_detail("trunk", &new.name);
    let outcome = write(core, move |txn, mut stored| {
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
    audited(core, admin, Action::TrunkCreate, what, outcome).await
}

/// Replaces a trunk (its name stays).
pub async fn update_trunk(
    core: &Core,
    admin: &Admin,
    name: &str,
    mut new: NewTrunk,
    expected: Option<i32>,
) -> Result<TrunkView, PbxError> {
    let key = name.to_owned();
    let outcome = write(core, move |txn, mut stored| {
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
        core,
        admin,
        Action::TrunkUpdate,
        audit_detail("trunk", name),
        outcome,
    )
    .await
}

/// Deletes a trunk.
pub async fn delete_trunk(core: &Core, admin: &Admin, name: &str) -> Result<(), PbxError> {
    let key = name.to_owned();
    let outcome = write(core, move |txn, mut stored| {
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
        core,
        admin,
        Action::TrunkDelete,
        audit_detail("trunk", name),
        outcome,
    )
    .await
}
