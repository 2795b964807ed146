//! Alerts may reach internal addresses (loopback, link-local, the host's own) only when an
//! administrator says so per alert (#18 L3). Existing alerts start without that permission:
//! one that pointed at such an address says why in its next delivery instead of sending.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "ALTER TABLE alerts ADD COLUMN allow_internal BOOLEAN NOT NULL DEFAULT FALSE",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE alerts DROP COLUMN allow_internal")
            .await?;
        Ok(())
    }
}
