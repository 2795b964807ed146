//! The guard's events in SQLite: a batched writer that keeps up with a flood, per-minute
//! rollups, retention by age and row count, queries for the API and the console, and the live
//! feed behind `events/stream`.
//!
//! Why a queue and one writer: SQLite takes one writer at a time, and a transaction per event
//! would cap the rate at a few hundred per second on a slow disk. The guard hands events to a
//! bounded queue (never waiting on the database); the writer drains it in batches of up to
//! [`BATCH`] events per transaction, one multi-row insert plus the rollup upserts. Only
//! events that are stored are published live, with their ids, so a link from the live page
//! always leads to a row.
//!
//! (Over 600 lines with its tests, which are a third of it: the writer, the rollups and
//! their retention are tested together, on one real SQLite file.)

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Statement, TransactionTrait,
};

use policy::guard::{Event, EventKind};
use wire::events::{EventFilter, EventPage, EventView};

use crate::core::events::{EventIntake, EventQueue};
use crate::db::entities::{event_rollup, guard_event};
use crate::services::{Internal, page};

/// Events per transaction at most (11 columns each stays under SQLite's variable limit).
pub const BATCH: usize = 2_000;
/// How long rollups are kept, in days (they are small: one row per minute and kind).
const ROLLUP_DAYS: i64 = 400;

/// A new event queue with its writer started on `db`. Needs a tokio runtime.
#[must_use]
pub fn spawn(db: DatabaseConnection) -> EventQueue {
    let (queue, intake) = EventQueue::new();
    tokio::spawn(write_loop(db, intake));
    queue
}

async fn write_loop(db: DatabaseConnection, intake: EventIntake) {
    let EventIntake {
        mut rx,
        live,
        stats,
    } = intake;
    let mut batch: Vec<Event> = Vec::with_capacity(BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(e) => batch.push(e),
                Err(_) => break,
            }
        }
        match store_batch(&db, &batch).await {
            Ok(views) => {
                stats.stored(views.len());
                for view in views {
                    let _ = live.send(view);
                }
            }
            Err(e) => {
                stats.failed_batch();
                tracing::error!(error = %e, events = batch.len(), "cannot store guard events");
            }
        }
        batch.clear();
    }
}

/// The serde name of a value (`EventKind::TollFraudProbe` -> `toll-fraud-probe`).
fn serde_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn at_ms(event: &Event) -> i64 {
    i64::try_from(event.time.0).unwrap_or(i64::MAX)
}

fn row_of(event: &Event) -> guard_event::ActiveModel {
    guard_event::ActiveModel {
        at_ms: Set(at_ms(event)),
        kind: Set(serde_name(&event.kind)),
        source: Set(event.source.to_string()),
        transport: Set(serde_name(&event.transport)),
        account: Set(event.account.clone()),
        method: Set(event.method.clone()),
        user_agent: Set(event.user_agent.clone()),
        detector: Set(event.detector.to_owned()),
        evidence: Set(event.evidence.clone()),
        outcome: Set(serde_name(&event.outcome)),
        proven: Set(event.proven),
        ..Default::default()
    }
}

/// Stores one batch in one transaction: the events, then the rollups. Returns the stored
/// events with their ids.
async fn store_batch(db: &DatabaseConnection, batch: &[Event]) -> Result<Vec<EventView>, Internal> {
    let txn = db.begin().await?;
    let inserted = guard_event::Entity::insert_many(batch.iter().map(row_of))
        .exec(&txn)
        .await?;
    let mut rollups: BTreeMap<(i64, String), i64> = BTreeMap::new();
    for e in batch {
        *rollups
            .entry((at_ms(e).div_euclid(60_000), serde_name(&e.kind)))
            .or_default() += 1;
    }
    for ((minute, kind), count) in rollups {
        event_rollup::Entity::insert(event_rollup::ActiveModel {
            minute: Set(minute),
            kind: Set(kind),
            count: Set(count),
        })
        .on_conflict(
            OnConflict::columns([event_rollup::Column::Minute, event_rollup::Column::Kind])
                .value(
                    event_rollup::Column::Count,
                    Expr::col((event_rollup::Entity, event_rollup::Column::Count)).add(count),
                )
                .to_owned(),
        )
        .exec(&txn)
        .await?;
    }
    store_top_rollups(&txn, batch).await?;
    txn.commit().await?;
    // One multi-row INSERT by the only writer: SQLite gives its rows consecutive ids ending
    // at the last one.
    let last = inserted.last_insert_id;
    let first = last - i64::try_from(batch.len()).unwrap_or(0) + 1;
    Ok(batch
        .iter()
        .zip(first..)
        .map(|(e, id)| view_of_event(id, e))
        .collect())
}

/// The bucket lengths of the per-source and per-account counts, in seconds, and how long each
/// is kept: four hours for the dashboard's "last day", days for its "last week". Coarse on
/// purpose: the top lists sum every bucket of the period per key, and with 5,000 sources an
/// hour apiece a day of hourly buckets was 125,000 rows (40 ms), of four-hour ones 35,000.
pub const TOP_SPANS: [(i64, i64); 2] = [(14_400, 2 * 86_400), (86_400, 8 * 86_400)];

/// What a per-key count (and a dashboard top list) ranks.
#[derive(Debug, Clone, Copy)]
pub enum TopDimension {
    Source,
    Account,
}

impl TopDimension {
    /// As stored in `event_top_rollups.dimension`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Source => "source",
            Self::Account => "account",
        }
    }
}

/// Adds the batch to the per-source and per-account counts (`event_top_rollups`), one upsert
/// statement per 1,000 counts (SQLite allows 32,766 parameters a statement).
async fn store_top_rollups(txn: &impl ConnectionTrait, batch: &[Event]) -> Result<(), Internal> {
    let mut counts: BTreeMap<(i64, &'static str, i64, String), i64> = BTreeMap::new();
    for e in batch {
        let secs = at_ms(e).div_euclid(1000);
        let address = e.source.ip().to_canonical().to_string();
        for (span, _) in TOP_SPANS {
            let bucket = secs.div_euclid(span);
            *counts
                .entry((span, TopDimension::Source.as_str(), bucket, address.clone()))
                .or_default() += 1;
            if let Some(account) = &e.account {
                *counts
                    .entry((
                        span,
                        TopDimension::Account.as_str(),
                        bucket,
                        account.clone(),
                    ))
                    .or_default() += 1;
            }
        }
    }
    let counts: Vec<_> = counts.into_iter().collect();
    for chunk in counts.chunks(1_000) {
        let mut sql = String::from(
            "INSERT INTO event_top_rollups (span, dimension, bucket, key, count) VALUES ",
        );
        let mut values: Vec<sea_orm::Value> = Vec::with_capacity(chunk.len() * 5);
        for (n, ((span, dimension, bucket, key), count)) in chunk.iter().enumerate() {
            if n > 0 {
                sql.push(',');
            }
            sql.push_str("(?, ?, ?, ?, ?)");
            values.extend([
                (*span).into(),
                (*dimension).into(),
                (*bucket).into(),
                key.clone().into(),
                (*count).into(),
            ]);
        }
        sql.push_str(
            " ON CONFLICT (span, dimension, bucket, key) DO UPDATE SET count = count + excluded.count",
        );
        txn.execute(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            sql,
            values,
        ))
        .await?;
    }
    Ok(())
}

fn rfc3339_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn address_of(source: &str) -> String {
    source
        .parse::<std::net::SocketAddr>()
        .map_or_else(|_| source.to_owned(), |s| s.ip().to_canonical().to_string())
}

fn view_of_event(id: i64, e: &Event) -> EventView {
    let source = e.source.to_string();
    EventView {
        id,
        at: rfc3339_ms(at_ms(e)),
        kind: serde_name(&e.kind),
        address: address_of(&source),
        source,
        transport: serde_name(&e.transport),
        account: e.account.clone(),
        method: e.method.clone(),
        user_agent: e.user_agent.clone(),
        detector: e.detector.to_owned(),
        evidence: e.evidence.clone(),
        outcome: serde_name(&e.outcome),
        proven: e.proven,
    }
}

pub(crate) fn view_of_row(r: guard_event::Model) -> EventView {
    EventView {
        id: r.id,
        at: rfc3339_ms(r.at_ms),
        kind: r.kind,
        address: address_of(&r.source),
        source: r.source,
        transport: r.transport,
        account: r.account,
        method: r.method,
        user_agent: r.user_agent,
        detector: r.detector,
        evidence: r.evidence,
        outcome: r.outcome,
        proven: r.proven,
    }
}

/// Why a filter was refused.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct BadFilter {
    pub field: &'static str,
    pub reason: String,
}

/// A checked filter: a known kind, an address, an account of sane length.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckedFilter {
    kind: Option<&'static str>,
    source: Option<IpAddr>,
    account: Option<String>,
}

impl CheckedFilter {
    /// Checks a filter from the API or the console.
    pub fn new(filter: &EventFilter) -> Result<Self, BadFilter> {
        let blank = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let kind = match blank(&filter.kind) {
            None => None,
            Some(k) => Some(
                EventKind::ALL
                    .iter()
                    .map(|known| known.as_str())
                    .find(|known| *known == k)
                    .ok_or_else(|| BadFilter {
                        field: "kind",
                        reason: format!(
                            "one of {}",
                            EventKind::ALL.map(EventKind::as_str).join(", ")
                        ),
                    })?,
            ),
        };
        let source = match blank(&filter.source) {
            None => None,
            Some(s) => Some(
                s.parse::<IpAddr>()
                    .map(|ip| ip.to_canonical())
                    .map_err(|_| BadFilter {
                        field: "source",
                        reason: "an IPv4 or IPv6 address".to_owned(),
                    })?,
            ),
        };
        let account = blank(&filter.account);
        if account.as_ref().is_some_and(|a| a.chars().count() > 128) {
            return Err(BadFilter {
                field: "account",
                reason: "at most 128 characters".to_owned(),
            });
        }
        Ok(Self {
            kind,
            source,
            account,
        })
    }

    /// Whether a live event passes the filter.
    #[must_use]
    pub fn matches(&self, e: &EventView) -> bool {
        self.kind.is_none_or(|k| e.kind == k)
            && self.source.is_none_or(|s| e.address == s.to_string())
            && self
                .account
                .as_ref()
                .is_none_or(|a| e.account.as_deref() == Some(a.as_str()))
    }
}

/// A page of stored events, newest first, older than `before` (an id) if given.
pub async fn page(
    db: &DatabaseConnection,
    filter: &CheckedFilter,
    before: Option<i64>,
    limit: u64,
) -> Result<EventPage, Internal> {
    let limit = limit.clamp(1, page::MAX_LIMIT);
    let mut query = guard_event::Entity::find().order_by_desc(guard_event::Column::Id);
    if let Some(before) = before {
        query = query.filter(guard_event::Column::Id.lt(before));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(guard_event::Column::Kind.eq(kind));
    }
    if let Some(source) = filter.source {
        // Stored as `ip:port` (`[v6]:port`); the address alone is the prefix before the port.
        let prefix = match source {
            IpAddr::V4(v4) => format!("{v4}:"),
            IpAddr::V6(v6) => format!("[{v6}]:"),
        };
        query = query.filter(guard_event::Column::Source.starts_with(prefix));
    }
    if let Some(account) = &filter.account {
        query = query.filter(guard_event::Column::Account.eq(account.as_str()));
    }
    let rows = query.limit(page::fetch(limit)).all(db).await?;
    Ok(page::split(rows, limit, |r| r.id.to_string(), view_of_row))
}

/// Events in the database.
pub async fn count(db: &DatabaseConnection) -> Result<u64, Internal> {
    Ok(guard_event::Entity::find().count(db).await?)
}

/// Events per minute and kind since `from_minute` (inclusive), for charts.
pub async fn rollups(
    db: &impl ConnectionTrait,
    from_minute: i64,
) -> Result<Vec<(i64, String, i64)>, Internal> {
    Ok(event_rollup::Entity::find()
        .filter(event_rollup::Column::Minute.gte(from_minute))
        .order_by_asc(event_rollup::Column::Minute)
        .all(db)
        .await?
        .into_iter()
        .map(|r| (r.minute, r.kind, r.count))
        .collect())
}

/// Deletes events older than `days` and beyond the newest `max_rows`, and rollups older than
/// a year and a month. Returns the events deleted.
pub async fn enforce_retention(
    db: &DatabaseConnection,
    days: u32,
    max_rows: u64,
) -> Result<u64, Internal> {
    let now_ms = Utc::now().timestamp_millis();
    let cutoff = now_ms - i64::from(days) * 86_400_000;
    let mut deleted = guard_event::Entity::delete_many()
        .filter(guard_event::Column::AtMs.lt(cutoff))
        .exec(db)
        .await?
        .rows_affected;
    let newest: Option<i64> = guard_event::Entity::find()
        .select_only()
        .column_as(guard_event::Column::Id.max(), "max")
        .into_tuple::<Option<i64>>()
        .one(db)
        .await?
        .flatten();
    if let Some(newest) = newest {
        let keep_from = newest - i64::try_from(max_rows).unwrap_or(i64::MAX) + 1;
        deleted += guard_event::Entity::delete_many()
            .filter(guard_event::Column::Id.lt(keep_from))
            .exec(db)
            .await?
            .rows_affected;
    }
    event_rollup::Entity::delete_many()
        .filter(event_rollup::Column::Minute.lt(now_ms / 60_000 - ROLLUP_DAYS * 1440))
        .exec(db)
        .await?;
    for (span, keep_secs) in TOP_SPANS {
        db.execute(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "DELETE FROM event_top_rollups WHERE span = ?1 AND bucket < ?2",
            [span.into(), ((now_ms / 1000 - keep_secs) / span).into()],
        ))
        .await?;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use policy::guard::{EventKind, Outcome, Timestamp, Transport};

    use super::*;

    const KIND_OF: [EventKind; 3] = [EventKind::Guessing, EventKind::Scanner, EventKind::Flood];

    fn event(i: u64, base_ms: u64) -> Event {
        Event {
            // Spread over about 40 minutes, with several events in most minutes.
            time: Timestamp(base_ms + i * 7_919 % 2_400_000),
            kind: KIND_OF[usize::try_from(i % 3).unwrap_or(0)],
            source: SocketAddrV4::new(Ipv4Addr::new(203, 0, 113, (i % 5) as u8 + 1), 5060).into(),
            transport: Transport::Udp,
            account: Some(format!("acct{}", i % 4)),
            method: Some("REGISTER".to_owned()),
            user_agent: None,
            detector: "test",
            evidence: format!("event {i}"),
            outcome: if i.is_multiple_of(10) {
                Outcome::Banned
            } else {
                Outcome::Reported
            },
            proven: i.is_multiple_of(2),
        }
    }

    use std::net::{Ipv4Addr, SocketAddrV4};

    async fn store_with(events: &[Event]) -> (tempfile::TempDir, DatabaseConnection, EventQueue) {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = crate::db::open_and_migrate(&dir.path().join("t.sqlite3"))
            .await
            .expect("database");
        let store = spawn(db.clone());
        for e in events {
            store.queue().send(e.clone()).await.expect("queue");
        }
        assert!(
            store
                .wait_stored(events.len() as u64, Duration::from_secs(30))
                .await
        );
        (dir, db, store)
    }

    #[tokio::test]
    async fn rollups_match_a_brute_force_count_of_the_stored_events() {
        let base = 1_790_000_000_000;
        let events: Vec<Event> = (0..5_000).map(|i| event(i, base)).collect();
        let (_dir, db, store) = store_with(&events).await;
        assert_eq!(store.stored(), 5_000);
        assert_eq!(count(&db).await.expect("count"), 5_000);
        let mut expected: HashMap<(i64, String), i64> = HashMap::new();
        for e in &events {
            *expected
                .entry((at_ms(e) / 60_000, serde_name(&e.kind)))
                .or_default() += 1;
        }
        let got: HashMap<(i64, String), i64> = rollups(&db, 0)
            .await
            .expect("rollups")
            .into_iter()
            .map(|(m, k, c)| ((m, k), c))
            .collect();
        assert_eq!(got, expected);
    }

    #[tokio::test]
    async fn per_source_and_account_counts_match_a_brute_force_count() {
        // Spread over three days so that buckets of both spans split the events.
        let events: Vec<Event> = (0..3_000)
            .map(|i| {
                let mut e = event(i, 1_790_000_000_000);
                e.time = Timestamp(1_790_000_000_000 + i * 86_400);
                if i % 7 == 0 {
                    e.account = None;
                }
                e
            })
            .collect();
        let (_dir, db, _store) = store_with(&events).await;
        let mut expected: HashMap<(i64, String, i64, String), i64> = HashMap::new();
        for e in &events {
            let secs = at_ms(e) / 1000;
            for (span, _) in TOP_SPANS {
                *expected
                    .entry((
                        span,
                        "source".into(),
                        secs / span,
                        e.source.ip().to_string(),
                    ))
                    .or_default() += 1;
                if let Some(a) = &e.account {
                    *expected
                        .entry((span, "account".into(), secs / span, a.clone()))
                        .or_default() += 1;
                }
            }
        }
        let rows = db
            .query_all(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT span, dimension, bucket, key, count FROM event_top_rollups",
            ))
            .await
            .expect("rollups");
        let got: HashMap<(i64, String, i64, String), i64> = rows
            .iter()
            .map(|r| {
                (
                    (
                        r.try_get_by_index(0).expect("span"),
                        r.try_get_by_index(1).expect("dimension"),
                        r.try_get_by_index(2).expect("bucket"),
                        r.try_get_by_index(3).expect("key"),
                    ),
                    r.try_get_by_index(4).expect("count"),
                )
            })
            .collect();
        assert_eq!(got, expected);
    }

    #[tokio::test]
    async fn pages_are_newest_first_filtered_and_chained_by_before() {
        let events: Vec<Event> = (0..250).map(|i| event(i, 1_790_000_000_000)).collect();
        let (_dir, db, _store) = store_with(&events).await;
        let all = CheckedFilter::default();
        let first = page(&db, &all, None, 100).await.expect("page");
        assert_eq!(first.items.len(), 100);
        assert!(first.items.windows(2).all(|w| w[0].id > w[1].id));
        let second = page(
            &db,
            &all,
            first.next_cursor.as_deref().map(|c| c.parse().expect("id")),
            100,
        )
        .await
        .expect("page");
        let third = page(
            &db,
            &all,
            second
                .next_cursor
                .as_deref()
                .map(|c| c.parse().expect("id")),
            100,
        )
        .await
        .expect("page");
        assert_eq!(third.items.len(), 50);
        assert_eq!(third.next_cursor, None);
        assert!(second.items[0].id < first.items[99].id);

        let filter = CheckedFilter::new(&EventFilter {
            kind: Some("scanner".into()),
            source: Some("203.0.113.2".into()),
            account: None,
        })
        .expect("filter");
        let got = page(&db, &filter, None, 500).await.expect("page");
        let want = events
            .iter()
            .filter(|e| e.kind == EventKind::Scanner && e.source.ip().to_string() == "203.0.113.2")
            .count();
        assert_eq!(got.items.len(), want);
        assert!(got.items.iter().all(|e| filter.matches(e)));
        // `203.0.113.2` must not also match `203.0.113.20`-like prefixes: the port separator
        // is part of the match.
        assert!(got.items.iter().all(|e| e.address == "203.0.113.2"));
    }

    #[test]
    fn bad_filters_are_refused_with_the_field() {
        for (filter, field) in [
            (
                EventFilter {
                    kind: Some("nonsense".into()),
                    ..EventFilter::default()
                },
                "kind",
            ),
            (
                EventFilter {
                    source: Some("example.org".into()),
                    ..EventFilter::default()
                },
                "source",
            ),
            (
                EventFilter {
                    account: Some("a".repeat(200)),
                    ..EventFilter::default()
                },
                "account",
            ),
        ] {
            assert_eq!(
                CheckedFilter::new(&filter).map(|_| ()).unwrap_err().field,
                field
            );
        }
        assert_eq!(
            CheckedFilter::new(&EventFilter {
                kind: Some(" ".into()),
                ..EventFilter::default()
            })
            .expect("blank means any"),
            CheckedFilter::default()
        );
    }

    #[tokio::test]
    async fn retention_keeps_the_newest_rows_and_drops_old_ones() {
        let now = u64::try_from(Utc::now().timestamp_millis()).expect("now");
        let mut events: Vec<Event> = (0..1_500).map(|i| event(i, now - 3_000_000)).collect();
        // Ten from 40 days ago.
        events.extend((0..10).map(|i| event(i, now - 40 * 86_400_000)));
        let (_dir, db, _store) = store_with(&events).await;
        let deleted = enforce_retention(&db, 30, 1_000).await.expect("retention");
        assert_eq!(deleted, 510);
        assert_eq!(count(&db).await.expect("count"), 1_000);
    }
}
