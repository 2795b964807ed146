//! Counts of guard events per source address and per account, by four hours and by day, so the
//! dashboard's top lists read a few thousand rollup rows instead of every event of the period
//! (a week of attack holds a million events; grouping them took over a second).
//!
//! `span` is the bucket length in seconds (14,400 or 86,400); `bucket` is the Unix time divided
//! by it; `dimension` is `source` or `account`. Existing events are counted in, so a database
//! from before this migration shows the same top lists.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The address part of a stored `ip:port` / `[ip]:port` source, in SQL.
const ADDRESS: &str = "CASE WHEN substr(source, 1, 1) = '[' \
    THEN substr(source, 2, instr(source, ']') - 2) \
    ELSE substr(source, 1, instr(source, ':') - 1) END";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE TABLE event_top_rollups (
                span INTEGER NOT NULL,
                dimension TEXT NOT NULL,
                bucket INTEGER NOT NULL,
                key TEXT NOT NULL,
                count INTEGER NOT NULL,
                PRIMARY KEY (span, dimension, bucket, key)
            ) WITHOUT ROWID",
        )
        .await?;
        for span in [14_400_i64, 86_400] {
            for (dimension, key) in [("source", ADDRESS), ("account", "account")] {
                db.execute_unprepared(&format!(
                    "INSERT INTO event_top_rollups (span, dimension, bucket, key, count) \
                     SELECT {span}, '{dimension}', at_ms / {ms}, {key}, COUNT(*) FROM events \
                     WHERE {key} IS NOT NULL GROUP BY 3, 4",
                    ms = span * 1000
                ))
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE event_top_rollups")
            .await?;
        Ok(())
    }
}
