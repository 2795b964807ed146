//! Endpoints (phones): listing, reading, creating, changing, rotating the secret, deleting.

use super::{
    Action, Admin, Alias, Condition, ConnectionTrait, Core, DatabaseConnection, Endpoint,
    EndpointList, EndpointView, Expr, Internal, InvalidField, LikeExpr, NewEndpoint, Order, OsRng,
    PbxError, Set, Utc, WithSecret, audit_detail, audited, check_version, checked_rows, corrupt,
    endpoint, find_row, page, replace, rfc3339, strings, to_json, write,
};
use sea_orm::{EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

pub(super) fn endpoint_view(e: &Endpoint, row: &endpoint::Model) -> EndpointView {
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

pub(super) fn parse_endpoint(row: &endpoint::Model) -> Result<Endpoint, Internal> {
    serde_json::from_str(&row.body).map_err(|e| corrupt("endpoints", &row.id, &e))
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
pub(super) fn number_key_of(extension: &str) -> String {
    format!("{:02}{extension}", extension.len())
}

pub(super) async fn endpoint_row(
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

/// Stores a new endpoint's row (the caller checked it against the others).
pub(super) async fn insert_endpoint(
    txn: &impl ConnectionTrait,
    e: &Endpoint,
) -> Result<endpoint::Model, PbxError> {
    let now = Utc::now();
    let row = endpoint::ActiveModel {
        id: Set(e.id().to_string()),
        extension: Set(e.extension().to_string()),
        display_name: Set(e.display_name().to_string()),
        body: Set(to_json(e)?),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Ok(endpoint::Entity::insert(row)
        .exec_with_returning(txn)
        .await?)
}

/// Creates an endpoint; the response carries its secret this once.
pub async fn create_endpoint(
    core: &Core,
    admin: &Admin,
    new: NewEndpoint,
) -> Result<WithSecret<EndpointView>, PbxError> {
    let what = audit_detail("endpoint", &new.extension);
    let outcome = write(core, move |txn, mut stored| {
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
            let row = insert_endpoint(txn, &e).await?;
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
    audited(core, admin, Action::EndpointCreate, what, outcome).await
}

/// Replaces the editable fields of an endpoint.
pub async fn update_endpoint(
    core: &Core,
    admin: &Admin,
    id: &str,
    changes: NewEndpoint,
    expected: Option<i32>,
) -> Result<EndpointView, PbxError> {
    let key = id.to_owned();
    let outcome = write(core, move |txn, mut stored| {
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
        core,
        admin,
        Action::EndpointUpdate,
        audit_detail("endpoint", id),
        outcome,
    )
    .await
}

/// A new secret for an endpoint (generated unless `typed`); returned this once.
pub async fn rotate_endpoint_secret(
    core: &Core,
    admin: &Admin,
    id: &str,
    typed: Option<String>,
) -> Result<WithSecret<EndpointView>, PbxError> {
    let key = id.to_owned();
    let outcome = write(core, move |txn, mut stored| {
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
        core,
        admin,
        Action::EndpointRotateSecret,
        audit_detail("endpoint", id),
        outcome,
    )
    .await
}

/// Deletes an endpoint (refused while a trunk routes a DID to it).
pub async fn delete_endpoint(core: &Core, admin: &Admin, id: &str) -> Result<(), PbxError> {
    let key = id.to_owned();
    let outcome = write(core, move |txn, mut stored| {
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
        core,
        admin,
        Action::EndpointDelete,
        audit_detail("endpoint", id),
        outcome,
    )
    .await
}

pub(super) async fn save_endpoint(
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
