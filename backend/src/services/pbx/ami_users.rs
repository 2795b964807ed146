//! AMI users: listing, reading, creating, changing, rotating the secret, deleting.

use super::{
    Action, Admin, AmiUser, AmiUserView, ConnectionTrait, Core, DatabaseConnection, Internal,
    InvalidField, NewAmiUser, Order, OsRng, Page, PbxError, Set, Utc, WithSecret, ami_user,
    audit_detail, audited, check_version, checked_rows, corrupt, find_row, page, replace, rfc3339,
    strings, to_json, write,
};
use sea_orm::EntityTrait;

pub(super) fn ami_view(u: &AmiUser, row: &ami_user::Model) -> AmiUserView {
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

pub(super) fn parse_ami_user(row: &ami_user::Model) -> Result<AmiUser, Internal> {
    serde_json::from_str(&row.body).map_err(|e| corrupt("ami_users", &row.name, &e))
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

pub(super) async fn ami_row(
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

/// Stores a new AMI user's row (the caller checked it against the others).
pub(super) async fn insert_ami_user(
    txn: &impl ConnectionTrait,
    u: &AmiUser,
) -> Result<ami_user::Model, PbxError> {
    let now = Utc::now();
    let row = ami_user::Entity::insert(ami_user::ActiveModel {
        name: Set(u.name().to_string()),
        body: Set(to_json(u)?),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_with_returning(txn)
    .await?;
    Ok(row)
}

/// Creates an AMI user; the response carries its secret this once.
pub async fn create_ami_user(
    core: &Core,
    admin: &Admin,
    new: NewAmiUser,
) -> Result<WithSecret<AmiUserView>, PbxError> {
    let what = audit_detail("AMI user", &new.name);
    let outcome = write(core, move |txn, mut stored| {
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
            let row = insert_ami_user(txn, &u).await?;
            let view = WithSecret {
                object: ami_view(&u, &row),
                secret: plain.reveal(),
            };
            stored.ami_users.push(u);
            Ok((stored, view))
        })
    })
    .await;
    audited(core, admin, Action::AmiUserCreate, what, outcome).await
}

/// Replaces an AMI user's ACL and classes (name and secret stay; rotate the secret apart).
pub async fn update_ami_user(
    core: &Core,
    admin: &Admin,
    name: &str,
    new: NewAmiUser,
    expected: Option<i32>,
) -> Result<AmiUserView, PbxError> {
    let key = name.to_owned();
    let outcome = write(core, move |txn, mut stored| {
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
        core,
        admin,
        Action::AmiUserUpdate,
        audit_detail("AMI user", name),
        outcome,
    )
    .await
}

/// A new secret for an AMI user (generated unless `typed`); returned this once.
pub async fn rotate_ami_secret(
    core: &Core,
    admin: &Admin,
    name: &str,
    typed: Option<String>,
) -> Result<WithSecret<AmiUserView>, PbxError> {
    let key = name.to_owned();
    let outcome = write(core, move |txn, mut stored| {
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
        core,
        admin,
        Action::AmiUserRotateSecret,
        audit_detail("AMI user", name),
        outcome,
    )
    .await
}

pub(super) async fn save_ami_user(
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
pub async fn delete_ami_user(core: &Core, admin: &Admin, name: &str) -> Result<(), PbxError> {
    let key = name.to_owned();
    let outcome = write(core, move |txn, mut stored| {
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
        core,
        admin,
        Action::AmiUserDelete,
        audit_detail("AMI user", name),
        outcome,
    )
    .await
}
