//! Toll-fraud protection (#15): the fraud policy (one versioned row, like the guard's), the
//! rate table the spend rules price calls with (one row, the CSV as uploaded), the accounts
//! a rule locked (until an administrator unlocks them; a lock survives a restart), the
//! findings (every call attempt a rule fired on, report-only ones included, so report-only
//! mode records what would have happened), the call records of external calls, and what
//! each endpoint did before (the countries it called, the networks it called from).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum FraudPolicy {
    Table,
    Id,
    Body,
    Version,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum FraudRates {
    Table,
    Id,
    Body,
    Prefixes,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CallRecords {
    Table,
    Id,
    Uniqueid,
    EndpointId,
    Trunk,
    Source,
    Number,
    Region,
    StartedAt,
    EndedAt,
    DialStatus,
    AnsweredSecs,
    CostMicros,
}

#[derive(DeriveIden)]
enum FraudHistory {
    Table,
    EndpointId,
    Seen,
    FirstAt,
}

#[derive(DeriveIden)]
enum FraudLocks {
    Table,
    EndpointId,
    Rule,
    Reason,
    LockedAt,
}

#[derive(DeriveIden)]
enum FraudFindings {
    Table,
    Id,
    At,
    EndpointId,
    Trunk,
    Number,
    Region,
    Outcome,
    Rule,
    Mode,
    Reason,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(FraudPolicy::Table)
                    // One row: the CHECK makes a second policy impossible.
                    .col(
                        ColumnDef::new(FraudPolicy::Id)
                            .integer()
                            .not_null()
                            .primary_key()
                            .check(Expr::col(FraudPolicy::Id).eq(1)),
                    )
                    .col(ColumnDef::new(FraudPolicy::Body).text().not_null())
                    .col(ColumnDef::new(FraudPolicy::Version).integer().not_null())
                    .col(
                        ColumnDef::new(FraudPolicy::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FraudLocks::Table)
                    .col(
                        ColumnDef::new(FraudLocks::EndpointId)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(FraudLocks::Rule).string().not_null())
                    .col(ColumnDef::new(FraudLocks::Reason).text().not_null())
                    .col(
                        ColumnDef::new(FraudLocks::LockedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FraudFindings::Table)
                    .col(
                        ColumnDef::new(FraudFindings::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(FraudFindings::At)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(FraudFindings::EndpointId)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(FraudFindings::Trunk).string().not_null())
                    .col(ColumnDef::new(FraudFindings::Number).string().not_null())
                    .col(ColumnDef::new(FraudFindings::Region).string().not_null())
                    .col(ColumnDef::new(FraudFindings::Outcome).string().not_null())
                    .col(ColumnDef::new(FraudFindings::Rule).string().not_null())
                    .col(ColumnDef::new(FraudFindings::Mode).string().not_null())
                    .col(ColumnDef::new(FraudFindings::Reason).text().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FraudRates::Table)
                    .col(
                        ColumnDef::new(FraudRates::Id)
                            .integer()
                            .not_null()
                            .primary_key()
                            .check(Expr::col(FraudRates::Id).eq(1)),
                    )
                    .col(ColumnDef::new(FraudRates::Body).text().not_null())
                    .col(ColumnDef::new(FraudRates::Prefixes).integer().not_null())
                    .col(
                        ColumnDef::new(FraudRates::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CallRecords::Table)
                    .col(
                        ColumnDef::new(CallRecords::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(CallRecords::Uniqueid).string().not_null())
                    .col(ColumnDef::new(CallRecords::EndpointId).string().not_null())
                    .col(ColumnDef::new(CallRecords::Trunk).string().not_null())
                    .col(ColumnDef::new(CallRecords::Source).string().not_null())
                    .col(ColumnDef::new(CallRecords::Number).string().not_null())
                    .col(ColumnDef::new(CallRecords::Region).string().not_null())
                    .col(
                        ColumnDef::new(CallRecords::StartedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CallRecords::EndedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(CallRecords::DialStatus).string().not_null())
                    .col(
                        ColumnDef::new(CallRecords::AnsweredSecs)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CallRecords::CostMicros)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("call_records_endpoint")
                    .table(CallRecords::Table)
                    .col(CallRecords::EndpointId)
                    .col(CallRecords::Id)
                    .to_owned(),
            )
            .await?;
        // The dashboard's last day, by time.
        manager
            .create_index(
                Index::create()
                    .name("call_records_started_at")
                    .table(CallRecords::Table)
                    .col(CallRecords::StartedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("fraud_findings_at")
                    .table(FraudFindings::Table)
                    .col(FraudFindings::At)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FraudHistory::Table)
                    .col(ColumnDef::new(FraudHistory::EndpointId).string().not_null())
                    // `region FR`, `network 198.51.100.0/24`.
                    .col(ColumnDef::new(FraudHistory::Seen).string().not_null())
                    .col(
                        ColumnDef::new(FraudHistory::FirstAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(FraudHistory::EndpointId)
                            .col(FraudHistory::Seen),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("fraud_findings_endpoint")
                    .table(FraudFindings::Table)
                    .col(FraudFindings::EndpointId)
                    .col(FraudFindings::Id)
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
