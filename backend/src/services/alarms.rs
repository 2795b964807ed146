//! The dashboard's alarm card: compromise signals (a login after failed passwords, a login
//! from outside an account's networks, a call to a forbidden number) stay on it until an
//! administrator acknowledges them, unlike the attack figures, which only count.
//!
//! An acknowledgement covers every signal up to an event id (the newest the administrator
//! saw), so a signal that arrives while they read is not acknowledged unseen.

use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement,
};

use policy::guard::EventKind;
use wire::dashboard::{Alarm, Alarms};

use crate::auth::Admin;
use crate::core::Core;
use crate::db::entities::{alarm_acknowledgement, guard_event};
use crate::services::audit::{self, Action, Record};
use crate::services::{Internal, events, pbx};

/// Signals shown on the card; the count says how many more there are.
const SHOWN: u64 = 5;

fn signal_kinds() -> Vec<&'static str> {
    EventKind::ALL
        .into_iter()
        .filter(|k| k.is_compromise_signal())
        .map(EventKind::as_str)
        .collect()
}

async fn watermark(db: &impl ConnectionTrait) -> Result<i64, Internal> {
    Ok(db
        .query_one(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT MAX(through_event_id) FROM alarm_acknowledgements",
        ))
        .await?
        .and_then(|r| r.try_get_by_index::<Option<i64>>(0).ok().flatten())
        .unwrap_or(0))
}

/// The compromise signals after event `since` (through the `(kind, id)` index).
fn signals_after(since: i64) -> sea_orm::Select<guard_event::Entity> {
    guard_event::Entity::find()
        .filter(guard_event::Column::Kind.is_in(signal_kinds()))
        .filter(guard_event::Column::Id.gt(since))
}

/// The signals not acknowledged yet, newest first.
pub async fn open(core: &Core) -> Result<Alarms, Internal> {
    let since = watermark(&core.db).await?;
    let unacknowledged = || signals_after(since);
    let total = unacknowledged().count(&core.db).await?;
    let newest = unacknowledged()
        .order_by_desc(guard_event::Column::Id)
        .limit(SHOWN)
        .all(&core.db)
        .await?;
    let accounts: Vec<&str> = newest.iter().filter_map(|e| e.account.as_deref()).collect();
    let labels = pbx::endpoint_labels(&core.db, &accounts).await?;
    Ok(Alarms {
        total,
        events: newest
            .into_iter()
            .map(|row| {
                let account_label = row.account.as_ref().and_then(|a| labels.get(a).cloned());
                Alarm {
                    event: events::view_of_row(row),
                    account_label,
                }
            })
            .collect(),
    })
}

/// Acknowledges every signal up to event `through` (at most the newest event there is).
/// Returns how many signals that took off the card.
pub async fn acknowledge(core: &Core, admin: &Admin, through: i64) -> Result<u64, Internal> {
    let newest = guard_event::Entity::find()
        .select_only()
        .column_as(guard_event::Column::Id.max(), "max")
        .into_tuple::<Option<i64>>()
        .one(&core.db)
        .await?
        .flatten()
        .unwrap_or(0);
    let through = through.clamp(0, newest);
    let since = watermark(&core.db).await?;
    // What this takes off the card: the signals between the old watermark and the new one.
    let mut cleared = 0;
    if through > since {
        cleared = signals_after(since)
            .filter(guard_event::Column::Id.lte(through))
            .count(&core.db)
            .await?;
        alarm_acknowledgement::Entity::insert(alarm_acknowledgement::ActiveModel {
            through_event_id: Set(through),
            acknowledged_by: Set(admin.caller().username.clone()),
            at: Set(Utc::now()),
            ..Default::default()
        })
        .exec(&core.db)
        .await?;
    }
    audit::record(
        &core.db,
        Record::by_caller(
            admin.caller(),
            Action::AlarmAcknowledge,
            true,
            &format!("through event {through}: {cleared} signals"),
        ),
    )
    .await?;
    Ok(cleared)
}
