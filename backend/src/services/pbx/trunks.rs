//! Trunks (ITSPs): listing, reading, creating, changing, replacing a registration's secret,
//! deleting.
//!
//! A registering trunk's provider password is stored in its own column beside the body (see
//! migration 14) and leaves this module only towards the renderer: no view carries it.

use super::{
    Action, Admin, ConnectionTrait, Core, DatabaseConnection, DidView, Internal, InvalidField,
    NewTrunk, Order, Page, PbxError, Set, Trunk, TrunkView, Utc, audit_detail, audited,
    check_version, checked_rows, find_row, page, replace, rfc3339, strings, to_json, trunk, write,
};
use sea_orm::EntityTrait;
use wire::pbx::RegistrationView;

fn registration_view(t: &Trunk) -> Option<RegistrationView> {
    t.registration().map(|r| RegistrationView {
        username: r.username().to_string(),
        auth_username: r.auth_username().map(ToString::to_string),
        contact_user: r.contact_user().map(ToString::to_string),
        retry_interval: r.retry_interval(),
        forbidden_retry_interval: r.forbidden_retry_interval(),
        expiration: r.expiration(),
        outbound_auth: r.outbound_auth(),
        status: None,
    })
}

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
        registration: registration_view(t),
        version: row.version,
        updated_at: rfc3339(row.updated_at),
    }
}

/// The trunk of a row: its body with the stored secret put back, checked again.
pub(super) fn parse_trunk(row: &trunk::Model) -> Result<Trunk, Internal> {
    let corrupt = |why: String| {
        Internal::Corrupt(format!(
            "trunks row '{}' no longer passes its checks: {why}",
            row.name
        ))
    };
    let mut new: NewTrunk = serde_json::from_str(&row.body).map_err(|e| corrupt(e.to_string()))?;
    if let Some(registration) = &mut new.registration {
        registration.secret.clone_from(&row.registration_secret);
    }
    // The error names the field and rule, never the value (it may be the secret).
    Trunk::new(new).map_err(|e| corrupt(e.to_string()))
}

/// What a trunk's row holds: the body without the secret, and the secret apart.
fn stored_columns(t: &Trunk) -> Result<(String, Option<String>), Internal> {
    let body = to_json(&NewTrunk::from(t.clone()))?;
    let secret = t.registration().map(|r| r.secret().expose().to_owned());
    Ok((body, secret))
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

/// One trunk, with its registration's state as Asterisk reports it now (`unknown`, and
/// why, when Asterisk cannot be asked).
pub async fn get_trunk(core: &Core, name: &str) -> Result<TrunkView, PbxError> {
    let (row, t) = trunk_row(&core.db, name).await?;
    let mut view = trunk_view(&t, &row);
    if let Some(registration) = &mut view.registration {
        let (policy, _) = super::load_policy(&core.db).await?;
        registration.status = Some(
            crate::services::registrations::registration_status(core, &policy, t.name().as_str())
                .await,
        );
    }
    Ok(view)
}

/// Stores a new trunk's row (the caller checked it against the others).
pub(super) async fn insert_trunk(
    txn: &impl ConnectionTrait,
    t: &Trunk,
) -> Result<trunk::Model, PbxError> {
    let now = Utc::now();
    let (body, secret) = stored_columns(t)?;
    let row = trunk::Entity::insert(trunk::ActiveModel {
        name: Set(t.name().to_string()),
        body: Set(body),
        registration_secret: Set(secret),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_with_returning(txn)
    .await?;
    Ok(row)
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
            let row = insert_trunk(txn, &t).await?;
            let view = trunk_view(&t, &row);
            stored.trunks.push(t);
            Ok((stored, view))
        })
    })
    .await;
    audited(core, admin, Action::TrunkCreate, what, outcome).await
}

/// Replaces a trunk (its name stays). A registration without a secret keeps the stored one;
/// with one, the secret is replaced.
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
            if let (Some(registration), Some(kept)) =
                (&mut new.registration, current.registration())
                && registration.secret.is_none()
            {
                registration.secret = Some(kept.secret().expose().to_owned());
            }
            let t = Trunk::new(new)?;
            let view = save_trunk(txn, &row, &t).await?;
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

/// Replaces the provider's password of a registering trunk, nothing else. The answer does
/// not carry it: the administrator typed it, and it is never shown again.
pub async fn replace_trunk_secret(
    core: &Core,
    admin: &Admin,
    name: &str,
    secret: String,
) -> Result<TrunkView, PbxError> {
    let key = name.to_owned();
    let outcome = write(core, move |txn, mut stored| {
        Box::pin(async move {
            let (row, current) = trunk_row(txn, &key).await?;
            let mut new = NewTrunk::from(current);
            let Some(registration) = &mut new.registration else {
                return Err(InvalidField::new(
                    "registration",
                    "this trunk does not register; add a registration first",
                )
                .into());
            };
            registration.secret = Some(secret);
            let t = Trunk::new(new)?;
            let view = save_trunk(txn, &row, &t).await?;
            replace(&mut stored.trunks, t, |a, b| a.name() == b.name());
            Ok((stored, view))
        })
    })
    .await;
    audited(
        core,
        admin,
        Action::TrunkReplaceSecret,
        audit_detail("trunk", name),
        outcome,
    )
    .await
}

async fn save_trunk(
    txn: &impl ConnectionTrait,
    row: &trunk::Model,
    t: &Trunk,
) -> Result<TrunkView, PbxError> {
    let (body, secret) = stored_columns(t)?;
    let saved = trunk::Entity::update(trunk::ActiveModel {
        name: Set(row.name.clone()),
        body: Set(body),
        registration_secret: Set(secret),
        version: Set(row.version + 1),
        created_at: Set(row.created_at),
        updated_at: Set(Utc::now()),
    })
    .exec(txn)
    .await?;
    Ok(trunk_view(t, &saved))
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
