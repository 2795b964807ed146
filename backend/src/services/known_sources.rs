//! The guard's memory of addresses that logged in ("known" addresses: protected from unproven
//! evidence, in the firewall's generous rate tier), kept across restarts.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use policy::firewall::TimedAddress;
use policy::guard::{KnownSource, Timestamp};

use crate::db::entities::guard_known_source;
use crate::services::Internal;

fn to_time(t: Timestamp) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(i64::try_from(t.0).unwrap_or(i64::MAX)).unwrap_or_default()
}

/// The known addresses stored that are still known now.
pub async fn known_sources(
    db: &impl sea_orm::ConnectionTrait,
) -> Result<Vec<KnownSource>, Internal> {
    let rows = guard_known_source::Entity::find()
        .filter(guard_known_source::Column::KnownUntil.gt(Utc::now()))
        .all(db)
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some(KnownSource {
                source: r.address.parse().ok()?,
                until: Timestamp(u64::try_from(r.known_until.timestamp_millis()).ok()?),
                account: None,
            })
        })
        .collect())
}

/// The known addresses as the firewall's `known` sets take them, with the seconds left.
pub async fn known_for_kernel(
    db: &impl sea_orm::ConnectionTrait,
) -> Result<Vec<TimedAddress>, Internal> {
    let now = Utc::now();
    Ok(known_sources(db)
        .await?
        .iter()
        .filter_map(|k| {
            let left = (to_time(k.until) - now).num_seconds();
            let left = u32::try_from(left).ok().filter(|s| *s > 0)?;
            Some(TimedAddress::expiring(k.source, left))
        })
        .collect())
}

/// Records addresses that logged in (a later end wins) and forgets the ones that ended.
pub async fn store_known(
    db: &impl sea_orm::ConnectionTrait,
    known: &[KnownSource],
) -> Result<(), Internal> {
    if !known.is_empty() {
        let rows = known.iter().map(|k| guard_known_source::ActiveModel {
            address: Set(k.source.to_canonical().to_string()),
            known_until: Set(to_time(k.until)),
        });
        guard_known_source::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::column(guard_known_source::Column::Address)
                    .value(
                        guard_known_source::Column::KnownUntil,
                        Expr::cust("max(known_until, excluded.known_until)"),
                    )
                    .to_owned(),
            )
            .exec(db)
            .await?;
    }
    guard_known_source::Entity::delete_many()
        .filter(guard_known_source::Column::KnownUntil.lte(Utc::now()))
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn known_addresses_are_kept_with_the_later_end_and_forgotten_when_it_passes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = crate::db::open_and_migrate(&dir.path().join("t.sqlite3"))
            .await
            .expect("database");
        let now = Utc::now().timestamp_millis() as u64;
        let ip = |s: &str| s.parse().expect("an address");
        store_known(
            &db,
            &[
                KnownSource {
                    source: ip("198.51.100.20"),
                    until: Timestamp(now + 86_400_000),
                    account: None,
                },
                KnownSource {
                    source: ip("198.51.100.21"),
                    until: Timestamp(now - 1000),
                    account: None,
                },
            ],
        )
        .await
        .expect("stored");
        // An earlier end does not shorten a later one.
        store_known(
            &db,
            &[KnownSource {
                source: ip("::ffff:198.51.100.20"),
                until: Timestamp(now + 1000),
                account: None,
            }],
        )
        .await
        .expect("stored again");
        let known = known_sources(&db).await.expect("read");
        assert_eq!(known.len(), 1);
        assert_eq!(known[0].source, ip("198.51.100.20"));
        assert!(known[0].until.0 >= now + 86_399_000);
        let kernel = known_for_kernel(&db).await.expect("read");
        assert!(
            kernel[0]
                .timeout_secs
                .is_some_and(|s| (86_300..=86_400).contains(&s))
        );
    }
}
