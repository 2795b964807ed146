//! The dashboard's alarm card (#20): compromise signals stay on it until an administrator
//! acknowledges them. Each acknowledgement covers every signal up to an event id; the newest
//! row is the watermark, the older ones say who acknowledged what and when.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AlarmAcknowledgements {
    Table,
    Id,
    ThroughEventId,
    AcknowledgedBy,
    At,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AlarmAcknowledgements::Table)
                    .col(
                        ColumnDef::new(AlarmAcknowledgements::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(AlarmAcknowledgements::ThroughEventId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AlarmAcknowledgements::AcknowledgedBy)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AlarmAcknowledgements::At)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration(
            "sipwarden migrations are forward-only; restore a backup instead".to_owned(),
        ))
    }
}
