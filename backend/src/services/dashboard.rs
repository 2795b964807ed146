//! The dashboard's figures. Attacks over time come from the per-minute rollups, top sources
//! and accounts of a day or a week from the hourly and daily per-key counts, never from
//! scanning the events of the period; those of the last hour from that hour's events.

use std::net::IpAddr;

use ipnet::IpNet;

use chrono::Utc;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use wire::dashboard::{DashboardSummary, NetworkEntry, TimeSeries, TopEntry};

use crate::core::Core;
use policy::guard::EventKind;

use crate::services::events::{self, TopDimension};
use crate::services::{Internal, alarms, config, firewall, guard_status, pbx, posture};

/// Minutes the "attack rate now" is averaged over (the current one included).
const RATE_MINUTES: i64 = 5;

/// Entries of each top list.
const TOP: usize = 10;
/// Sources read to group into networks: enough that a farm of one /24 shows as one line
/// even when its addresses are not each in the top ten.
const NETWORK_SOURCES: u32 = 500;

/// The network an address is grouped under: its /24 (IPv4) or /64 (IPv6).
#[must_use]
pub fn network_of(address: &str) -> Option<String> {
    let ip = address.parse::<IpAddr>().ok()?.to_canonical();
    let prefix = if ip.is_ipv4() { 24 } else { 64 };
    Some(IpNet::new(ip, prefix).ok()?.trunc().to_string())
}

/// `sources` (most events first) grouped by network, the ten with most events.
fn networks(sources: &[(String, u64)], banned: &dyn Fn(&str) -> bool) -> Vec<NetworkEntry> {
    let mut groups: Vec<NetworkEntry> = Vec::new();
    for (address, events) in sources {
        let Some(network) = network_of(address) else {
            continue;
        };
        let i = match groups.iter().position(|g| g.network == network) {
            Some(i) => i,
            None => {
                groups.push(NetworkEntry {
                    network,
                    sources: 0,
                    events: 0,
                    banned: 0,
                });
                groups.len() - 1
            }
        };
        let group = &mut groups[i];
        group.sources += 1;
        group.events += events;
        group.banned += u64::from(banned(address));
    }
    groups.sort_by(|a, b| b.events.cmp(&a.events).then(a.network.cmp(&b.network)));
    groups.truncate(TOP);
    groups
}

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
    limit: u32,
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
                 WHERE at_ms >= ?1 AND {column} IS NOT NULL GROUP BY key ORDER BY n DESC LIMIT ?2"
            ),
            [((now_s - secs) * 1000).into(), limit.into()],
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
             GROUP BY key ORDER BY n DESC LIMIT ?4",
            [
                span.into(),
                dimension.as_str().into(),
                ((now_s - secs).div_euclid(span)).into(),
                limit.into(),
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
    let now_minute = Utc::now().timestamp() / 60;
    let recent = core
        .db
        .query_one(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT COALESCE(SUM(count), 0) FROM event_rollups WHERE minute > ?1",
            [(now_minute - RATE_MINUTES).into()],
        ))
        .await?
        .and_then(|r| r.try_get_by_index::<i64>(0).ok())
        .unwrap_or(0);
    let rate_per_minute = u64::try_from(recent)
        .unwrap_or(0)
        .div_ceil(RATE_MINUTES.unsigned_abs());
    let bans = firewall::bans(core).await?;
    let banned_set: std::collections::HashSet<&str> =
        bans.iter().map(|b| b.address.as_str()).collect();
    let banned = |address: &str| banned_set.contains(address);
    let sources = top(core, TopDimension::Source, secs, NETWORK_SOURCES).await?;
    let top_networks = networks(&sources, &banned);
    let top_sources = sources
        .into_iter()
        .take(TOP)
        .map(|(key, events)| TopEntry {
            banned: banned(&key),
            key,
            events,
            label: None,
        })
        .collect();
    let accounts = top(core, TopDimension::Account, secs, TOP as u32).await?;
    let ids: Vec<&str> = accounts.iter().map(|(k, _)| k.as_str()).collect();
    let labels = pbx::endpoint_labels(&core.db, &ids).await?;
    let top_accounts = accounts
        .into_iter()
        .map(|(key, events)| TopEntry {
            label: labels.get(&key).cloned(),
            key,
            events,
            banned: false,
        })
        .collect();
    let pending_changes = config::pending(core).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "could not compare the model with the live configuration");
        true
    });
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
        rate_per_minute,
        top_sources,
        top_networks,
        top_accounts,
        alarms: alarms::open(core).await?,
        pending_changes,
        asterisk_managed: core.config.asterisk_managed,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_group_by_slash_24_and_slash_64() {
        assert_eq!(
            network_of("203.0.113.77").as_deref(),
            Some("203.0.113.0/24")
        );
        assert_eq!(
            network_of("2001:db8:1:2:aaaa::1").as_deref(),
            Some("2001:db8:1:2::/64")
        );
        assert_eq!(
            network_of("::ffff:198.51.100.9").as_deref(),
            Some("198.51.100.0/24")
        );
        assert_eq!(network_of("not an address"), None);
    }

    #[test]
    fn a_farm_of_one_network_is_one_line_with_its_counts() {
        let sources: Vec<(String, u64)> = (1..=10)
            .map(|i| (format!("203.0.113.{i}"), 1))
            .chain([("198.51.100.5".to_owned(), 7)])
            .collect();
        let banned = |a: &str| a == "203.0.113.3" || a == "203.0.113.4";
        let groups = networks(&sources, &banned);
        assert_eq!(groups.len(), 2);
        assert_eq!(
            groups[0],
            NetworkEntry {
                network: "203.0.113.0/24".to_owned(),
                sources: 10,
                events: 10,
                banned: 2
            }
        );
        assert_eq!(groups[1].network, "198.51.100.0/24");
    }
}
