//! Alerts in the database: creating, listing, changing, deleting, testing, and their delivery
//! history.

use super::{
    Action, Admin, AlertError, AlertView, AlertsPage, CheckedAlert, Core, CreatedAlert,
    DatabaseConnection, DeliveryView, Expr, Internal, MAX_ALERTS, NewAlert, Notice, Page, Record,
    SECRET_PREFIX, Set, TEST_TIMEOUT, Target, Utc, alert, alert_delivery, audit, deliver,
    delivery_view, join_triggers, new_token, page, rate_column, view, webhook,
};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

/// Creates an alert; its secret is in the answer and nowhere else.
pub async fn create(core: &Core, admin: &Admin, new: NewAlert) -> Result<CreatedAlert, AlertError> {
    let checked = CheckedAlert::check(&new)?;
    may_reach_inside(admin, &checked)?;
    if alert::Entity::find().count(&core.db).await? >= MAX_ALERTS {
        return Err(AlertError::TooMany);
    }
    let secret = format!("{SECRET_PREFIX}{}", new_token());
    let now = Utc::now();
    let row = alert::ActiveModel {
        name: Set(checked.name.clone()),
        url: Set(checked.url.to_string()),
        secret: Set(secret.clone()),
        triggers: Set(join_triggers(&checked.triggers)),
        rate_per_minute: Set(rate_column(checked.rate_per_minute)),
        enabled: Set(checked.enabled),
        allow_internal: Set(checked.allow_internal),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&core.db)
    .await?;
    core.alerts.alerts_changed();
    let detail = format!(
        "alert {} '{}' -> {} on {}",
        row.id,
        row.name,
        host_of(&checked.url),
        row.triggers
    );
    audit::record(
        &core.db,
        Record::by_caller(admin.caller(), Action::AlertCreate, true, &detail),
    )
    .await?;
    Ok(CreatedAlert {
        view: view(&row),
        secret,
    })
}

/// Refuses an alert that may reach internal addresses unless its maker manages access (a
/// `write` token changes the PBX, but must not gain a way into the host).
fn may_reach_inside(admin: &Admin, checked: &CheckedAlert) -> Result<(), AlertError> {
    if checked.allow_internal && !admin.caller().manages_access {
        return Err(AlertError::InternalTargetsNeedAccess);
    }
    Ok(())
}

/// The host (and port) of a URL, for the audit log: the path may carry the receiver's token.
pub(super) fn host_of(url: &reqwest::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{}://{h}:{p}", url.scheme()),
        (Some(h), None) => format!("{}://{h}", url.scheme()),
        _ => url.scheme().to_owned(),
    }
}

/// One page of alerts, oldest first, after the alert `after`.
pub async fn list(
    db: &DatabaseConnection,
    after: Option<i64>,
    limit: u64,
) -> Result<Page<AlertView>, Internal> {
    let rows = page::rows(
        db,
        alert::Entity::find(),
        alert::Column::Id,
        sea_orm::Order::Asc,
        after,
        limit,
    )
    .await?;
    Ok(page::split(rows, limit, |r| r.id.to_string(), |r| view(&r)))
}

pub(super) async fn row(db: &DatabaseConnection, id: i32) -> Result<alert::Model, AlertError> {
    alert::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AlertError::NotFound(id))
}

/// One alert.
pub async fn get(db: &DatabaseConnection, id: i32) -> Result<AlertView, AlertError> {
    Ok(view(&row(db, id).await?))
}

/// Replaces an alert's settings (its secret stays); with `expected`, only that version.
pub async fn update(
    core: &Core,
    admin: &Admin,
    id: i32,
    new: NewAlert,
    expected: Option<i32>,
) -> Result<AlertView, AlertError> {
    let checked = CheckedAlert::check(&new)?;
    may_reach_inside(admin, &checked)?;
    let current = row(&core.db, id).await?;
    let base = expected.unwrap_or(current.version);
    if base != current.version {
        return Err(AlertError::Stale {
            expected: base,
            current: current.version,
        });
    }
    // Conditional on the version read: a change that lands in between makes this one stale
    // instead of overwriting it.
    let done = alert::Entity::update_many()
        .col_expr(alert::Column::Name, Expr::value(checked.name.clone()))
        .col_expr(alert::Column::Url, Expr::value(checked.url.to_string()))
        .col_expr(
            alert::Column::Triggers,
            Expr::value(join_triggers(&checked.triggers)),
        )
        .col_expr(
            alert::Column::RatePerMinute,
            Expr::value(rate_column(checked.rate_per_minute)),
        )
        .col_expr(alert::Column::Enabled, Expr::value(checked.enabled))
        .col_expr(
            alert::Column::AllowInternal,
            Expr::value(checked.allow_internal),
        )
        .col_expr(alert::Column::Version, Expr::value(base.saturating_add(1)))
        .col_expr(alert::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(alert::Column::Id.eq(id))
        .filter(alert::Column::Version.eq(base))
        .exec(&core.db)
        .await?;
    if done.rows_affected == 0 {
        let now = row(&core.db, id).await?;
        return Err(AlertError::Stale {
            expected: base,
            current: now.version,
        });
    }
    core.alerts.alerts_changed();
    let updated = row(&core.db, id).await?;
    let detail = format!(
        "alert {id} '{}' -> {} on {} ({})",
        updated.name,
        host_of(&checked.url),
        updated.triggers,
        if updated.enabled {
            "enabled"
        } else {
            "disabled"
        }
    );
    audit::record(
        &core.db,
        Record::by_caller(admin.caller(), Action::AlertUpdate, true, &detail),
    )
    .await?;
    Ok(view(&updated))
}

/// Deletes an alert and its delivery history.
pub async fn delete(core: &Core, admin: &Admin, id: i32) -> Result<(), AlertError> {
    let existing = row(&core.db, id).await?;
    alert_delivery::Entity::delete_many()
        .filter(alert_delivery::Column::AlertId.eq(id))
        .exec(&core.db)
        .await?;
    alert::Entity::delete_by_id(id).exec(&core.db).await?;
    core.alerts.alerts_changed();
    let detail = format!("alert {id} '{}'", existing.name);
    audit::record(
        &core.db,
        Record::by_caller(admin.caller(), Action::AlertDelete, true, &detail),
    )
    .await?;
    Ok(())
}

/// Sends a test notice to one alert now: a single attempt within [`TEST_TIMEOUT`], recorded
/// in the history like any delivery.
pub async fn test(core: &Core, admin: &Admin, id: i32) -> Result<DeliveryView, AlertError> {
    let row = row(&core.db, id).await?;
    let target = Target::from(&row);
    let notice = Notice::new(
        None,
        format!("test delivery requested by {}", admin.caller().username),
        serde_json::json!({ "requested_by": admin.caller().username }),
    );
    let once = webhook::Backoff {
        attempts: 1,
        ..webhook::SCHEDULE
    };
    // In a task of its own: a caller that hangs up must not leave the delivery pending.
    let db = core.db.clone();
    let delivered =
        tokio::spawn(async move { deliver(&db, &target, &notice, once, TEST_TIMEOUT).await })
            .await
            .map_err(|e| Internal::Corrupt(format!("test delivery task: {e}")))??;
    let detail = format!(
        "alert {id} '{}': {}{}",
        row.name,
        delivered.outcome,
        delivered
            .status_code
            .map(|s| format!(" (HTTP {s})"))
            .unwrap_or_default()
    );
    audit::record(
        &core.db,
        Record::by_caller(admin.caller(), Action::AlertTest, true, &detail),
    )
    .await?;
    Ok(delivered)
}

/// One page of deliveries, newest first, before the delivery `before`: of one alert, or of
/// all.
pub async fn deliveries(
    db: &DatabaseConnection,
    alert_id: Option<i32>,
    before: Option<i64>,
    limit: u64,
) -> Result<Page<DeliveryView>, AlertError> {
    let mut query = alert_delivery::Entity::find();
    if let Some(id) = alert_id {
        row(db, id).await?;
        query = query.filter(alert_delivery::Column::AlertId.eq(id));
    }
    let rows = page::rows(
        db,
        query,
        alert_delivery::Column::Id,
        sea_orm::Order::Desc,
        before,
        limit,
    )
    .await?;
    Ok(page::split(
        rows,
        limit,
        |r| r.id.to_string(),
        |r| delivery_view(&r),
    ))
}

/// Deliveries the console shows.
pub(super) const PAGE_DELIVERIES: u64 = 50;

/// The console's page: the alerts, the latest deliveries and the drop count.
pub async fn alerts_page(core: &Core) -> Result<AlertsPage, AlertError> {
    Ok(AlertsPage {
        alerts: list(&core.db, None, MAX_ALERTS).await?.items,
        deliveries: deliveries(&core.db, None, None, PAGE_DELIVERIES)
            .await?
            .items,
        dropped: core.alerts.dropped(),
    })
}
