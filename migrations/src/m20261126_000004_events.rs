//! The guard's events and their per-minute rollups.
//!
//! Events are kept for a retention period and up to a row cap (oldest go first); rollups are
//! small (one row per minute and kind) and outlive them, so charts over weeks never scan
//! events.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    AtMs,
    Kind,
    Source,
    Transport,
    Account,
    Method,
    UserAgent,
    Detector,
    Evidence,
    Outcome,
}

#[derive(DeriveIden)]
enum EventRollups {
    Table,
    Minute,
    Kind,
    Count,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Events::Table)
                    .col(
                        ColumnDef::new(Events::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    // Milliseconds since the Unix epoch, as the guard counts time.
                    .col(ColumnDef::new(Events::AtMs).big_integer().not_null())
                    .col(ColumnDef::new(Events::Kind).string().not_null())
                    .col(ColumnDef::new(Events::Source).string().not_null())
                    .col(ColumnDef::new(Events::Transport).string().not_null())
                    .col(ColumnDef::new(Events::Account).string().null())
                    .col(ColumnDef::new(Events::Method).string().null())
                    .col(ColumnDef::new(Events::UserAgent).string().null())
                    .col(ColumnDef::new(Events::Detector).string().not_null())
                    .col(ColumnDef::new(Events::Evidence).text().not_null())
                    .col(ColumnDef::new(Events::Outcome).string().not_null())
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("events_at", Events::AtMs),
            ("events_source", Events::Source),
            ("events_account", Events::Account),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Events::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("events_kind_id")
                    .table(Events::Table)
                    .col(Events::Kind)
                    .col(Events::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EventRollups::Table)
                    // Minutes since the Unix epoch.
                    .col(
                        ColumnDef::new(EventRollups::Minute)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(EventRollups::Kind).string().not_null())
                    .col(ColumnDef::new(EventRollups::Count).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(EventRollups::Minute)
                            .col(EventRollups::Kind),
                    )
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
