//! The dashboard's figures. Attacks over time come from the per-minute rollups, top sources
//! and accounts of a day or a week from the hourly and daily per-key counts, never from
//! scanning the events of the period; those of the last hour from that hour's events.

use chrono::Utc;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use wire::dashboard::{DashboardSummary, TimeSeries, TopEntry};

use crate::core::Core;
use policy::guard::EventKind;

use crate::services::events::{self, TopDimension};
use crate::services::{Internal, firewall, guard_status, posture};

/// The chart ranges: the last hour per minute, the last week per hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    Hour,
    Week,
}

impl Range {
    /// Parses `hour` or `week`.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "hour" => Some(Self::Hour),
            "week" => Some(Self::Week),
            _ => None,
        }
    }

    fn bucket_minutes(self) -> i64 {
        match self {
            Self::Hour => 1,
            Self::Week => 60,
        }
    }

    fn buckets(self) -> i64 {
        match self {
            Self::Hour => 60,
            Self::Week => 168,
        }
    }
}

/// Events per bucket and kind for `range`, ending with the current bucket.
pub async fn timeseries(core: &Core, range: Range) -> Result<TimeSeries, Internal> {
    let per = range.bucket_minutes();
    let now_minute = Utc::now().timestamp() / 60;
    let last_bucket = now_minute.div_euclid(per);
    let first_bucket = last_bucket - range.buckets() + 1;
    let rows = core
        .db
        .query_all(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT minute / ?1 AS bucket, kind, SUM(count) FROM event_rollups \
             WHERE minute >= ?2 GROUP BY bucket, kind",
            [per.into(), (first_bucket * per).into()],
        ))
        .await?;
    let width = usize::try_from(range.buckets()).unwrap_or(0);
    let mut buckets = vec![vec![0u64; EventKind::ALL.len()]; width];
    for row in rows {
        let (Ok(bucket), Ok(kind), Ok(count)) = (
            row.try_get_by_index::<i64>(0),
            row.try_get_by_index::<String>(1),
            row.try_get_by_index::<i64>(2),
        ) else {
            continue;
        };
        let (Ok(i), Some(k)) = (
            usize::try_from(bucket - first_bucket),
            EventKind::ALL
                .iter()
                .position(|known| known.as_str() == kind),
        ) else {
            continue;
        };
        if let Some(slot) = buckets.get_mut(i).and_then(|b| b.get_mut(k)) {
            *slot += u64::try_from(count).unwrap_or(0);
        }
    }
    Ok(TimeSeries {
        bucket_secs: u64::try_from(per * 60).unwrap_or(60),
        start_unix: first_bucket * per * 60,
        kinds: EventKind::ALL.map(|k| k.as_str().to_owned()).to_vec(),
        buckets,
    })
}

/// The summary periods.
#[must_use]
pub fn period_secs(period: &str) -> Option<i64> {
    match period {
        "hour" => Some(3600),
        "day" => Some(86_400),
        "week" => Some(7 * 86_400),
        _ => None,
    }
}

/// The address part of a stored `ip:port` / `[ip]:port` source, in SQL.
const ADDRESS: &str = "CASE WHEN substr(source, 1, 1) = '[' \
    THEN substr(source, 2, instr(source, ']') - 2) \
    ELSE substr(source, 1, instr(source, ':') - 1) END";

/// The ten sources or accounts with the most events in the last `secs` seconds. The last hour
/// is counted from the events themselves, through the time index (an hour's events are few
/// next to what the table holds); a day from the four-hour counts and a week from the daily
/// ones (`event_top_rollups`, see `events::TOP_SPANS`), whose first bucket may begin up to one
/// bucket before the period: the lists rank, they do not audit.
async fn top(
    core: &Core,
    dimension: TopDimension,
    secs: i64,
) -> Result<Vec<(String, u64)>, Internal> {
    let now_s = Utc::now().timestamp();
    let statement = if secs <= 3_600 {
        let column = match dimension {
            TopDimension::Source => ADDRESS,
            TopDimension::Account => "account",
        };
        Statement::from_sql_and_values(
            DbBackend::Sqlite,
            format!(
                "SELECT {column} AS key, COUNT(*) AS n FROM events INDEXED BY events_at \
                 WHERE at_ms >= ?1 AND {column} IS NOT NULL GROUP BY key ORDER BY n DESC LIMIT 10"
            ),
            [((now_s - secs) * 1000).into()],
        )
    } else {
        // The finest counts kept for the whole period (else the coarsest there are).
        let spans = events::TOP_SPANS;
        let (span, _) = spans
            .into_iter()
            .find(|&(_, kept)| kept >= secs)
            .unwrap_or(spans[spans.len() - 1]);
        Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT key, SUM(count) AS n FROM event_top_rollups \
             WHERE span = ?1 AND dimension = ?2 AND bucket >= ?3 \
             GROUP BY key ORDER BY n DESC LIMIT 10",
            [
                span.into(),
                dimension.as_str().into(),
                ((now_s - secs).div_euclid(span)).into(),
            ],
        )
    };
    let rows = core.db.query_all(statement).await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some((
                r.try_get_by_index::<String>(0).ok()?,
                u64::try_from(r.try_get_by_index::<i64>(1).ok()?).ok()?,
            ))
        })
        .collect())
}

/// The dashboard's facts for `period` (`hour`, `day` or `week`).
pub async fn summary(core: &Core, period: &str) -> Result<DashboardSummary, Internal> {
    let secs = period_secs(period).unwrap_or(86_400);
    let since_ms = (Utc::now().timestamp() - secs) * 1000;
    let since_minute = since_ms / 60_000;
    let by_kind = core
        .db
        .query_all(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT kind, SUM(count) FROM event_rollups WHERE minute >= ?1 GROUP BY kind",
            [since_minute.into()],
        ))
        .await?
        .iter()
        .filter_map(|r| {
            Some((
                r.try_get_by_index::<String>(0).ok()?,
                u64::try_from(r.try_get_by_index::<i64>(1).ok()?).ok()?,
            ))
        })
        .collect();
    let bans = firewall::bans(core).await?;
    let banned = |address: &str| bans.iter().any(|b| b.address == address);
    let top_sources = top(core, TopDimension::Source, secs)
        .await?
        .into_iter()
        .map(|(key, events)| TopEntry {
            banned: banned(&key),
            key,
            events,
        })
        .collect();
    let top_accounts = top(core, TopDimension::Account, secs)
        .await?
        .into_iter()
        .map(|(key, events)| TopEntry {
            key,
            events,
            banned: false,
        })
        .collect();
    let firewall_state = firewall::table_state(core).await;
    let live_revision = core
        .db
        .query_one(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT MAX(number) FROM config_revisions WHERE status = 'live'",
        ))
        .await?
        .and_then(|r| r.try_get_by_index::<Option<i32>>(0).ok().flatten());
    let posture = posture::posture(core).await?;
    Ok(DashboardSummary {
        period: period.to_owned(),
        events_by_kind: by_kind,
        top_sources,
        top_accounts,
        bans_active: bans.len() as u64,
        bans_expiring_soon: bans
            .iter()
            .filter(|b| b.remaining_secs.is_some_and(|s| s <= 600))
            .count() as u64,
        newest_ban: bans.into_iter().next(),
        guard: guard_status::status(core).await?,
        firewall: firewall_state,
        live_revision,
        posture_score: posture.score,
        posture_high: posture
            .findings
            .iter()
            .filter(|f| f.severity == policy::posture::Severity::High)
            .count() as u32,
    })
}
