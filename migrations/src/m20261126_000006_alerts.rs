//! Alerts: webhooks the administrator points at chosen triggers, and their delivery history.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Alerts {
    Table,
    Id,
    Name,
    Url,
    Secret,
    Triggers,
    RatePerMinute,
    Enabled,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AlertDeliveries {
    Table,
    Id,
    AlertId,
    Trigger,
    Summary,
    At,
    Attempts,
    StatusCode,
    Error,
    Outcome,
    DurationMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Alerts::Table)
                    .col(
                        ColumnDef::new(Alerts::Id)
                            .integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Alerts::Name).string().not_null())
                    // http(s) only, checked by the service.
                    .col(ColumnDef::new(Alerts::Url).string().not_null())
                    // The HMAC key, in plain: signing needs it. The database file is 0600 and
                    // holds other plain secrets already (sipwarden's own AMI secrets).
                    .col(ColumnDef::new(Alerts::Secret).string().not_null())
                    // Trigger names separated by commas (`ban,rate-spike`).
                    .col(ColumnDef::new(Alerts::Triggers).string().not_null())
                    // Events per minute above which `rate-spike` fires.
                    .col(ColumnDef::new(Alerts::RatePerMinute).integer().null())
                    .col(ColumnDef::new(Alerts::Enabled).boolean().not_null())
                    .col(ColumnDef::new(Alerts::Version).integer().not_null())
                    .col(
                        ColumnDef::new(Alerts::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Alerts::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AlertDeliveries::Table)
                    .col(
                        ColumnDef::new(AlertDeliveries::Id)
                            .integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(AlertDeliveries::AlertId)
                            .integer()
                            .not_null(),
                    )
                    // ban | rate-spike | login-after-failures | posture-high | guard-blind | test
                    .col(ColumnDef::new(AlertDeliveries::Trigger).string().not_null())
                    .col(ColumnDef::new(AlertDeliveries::Summary).string().not_null())
                    .col(
                        ColumnDef::new(AlertDeliveries::At)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AlertDeliveries::Attempts)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AlertDeliveries::StatusCode).integer().null())
                    .col(ColumnDef::new(AlertDeliveries::Error).string().null())
                    // pending | delivered | failed
                    .col(ColumnDef::new(AlertDeliveries::Outcome).string().not_null())
                    .col(
                        ColumnDef::new(AlertDeliveries::DurationMs)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(AlertDeliveries::Table, AlertDeliveries::AlertId)
                            .to(Alerts::Table, Alerts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("alert_deliveries_alert_id")
                    .table(AlertDeliveries::Table)
                    .col(AlertDeliveries::AlertId)
                    .col(AlertDeliveries::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration(
            "sipwarden migrations are forward-only; restore a backup instead".to_owned(),
        ))
    }
}
