//! Endpoints listed by extension number without sorting the whole table on every page.
//!
//! Extensions are digit strings ordered as numbers ("99" before "100"). Ordering by
//! `length(extension), extension` is right but no index serves it, so every page sorted every
//! row. A virtual generated column holds the same order as one string (two-digit length, then
//! the digits: "0299" < "03100") and an index on it turns a page into an index range read.
//! Virtual: nothing is stored per row and no writer has to keep it up to date.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "ALTER TABLE endpoints ADD COLUMN number_key TEXT \
             GENERATED ALWAYS AS (printf('%02d', length(extension)) || extension) VIRTUAL",
        )
        .await?;
        db.execute_unprepared("CREATE INDEX endpoints_by_number ON endpoints (number_key)")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX endpoints_by_number")
            .await?;
        db.execute_unprepared("ALTER TABLE endpoints DROP COLUMN number_key")
            .await?;
        Ok(())
    }
}
