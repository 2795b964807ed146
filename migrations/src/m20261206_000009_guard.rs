//! The guard's own settings and memory: its policy (one row, like the firewall's), the
//! addresses that logged in (a NAT office must stay protected across a restart), and whether
//! an event's evidence proved its source address.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum GuardPolicy {
    Table,
    Id,
    Body,
    Version,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum GuardKnownSources {
    Table,
    Address,
    KnownUntil,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Proven,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(GuardPolicy::Table)
                    // One row: the CHECK makes a second policy impossible.
                    .col(
                        ColumnDef::new(GuardPolicy::Id)
                            .integer()
                            .not_null()
                            .primary_key()
                            .check(Expr::col(GuardPolicy::Id).eq(1)),
                    )
                    .col(ColumnDef::new(GuardPolicy::Body).text().not_null())
                    .col(ColumnDef::new(GuardPolicy::Version).integer().not_null())
                    .col(
                        ColumnDef::new(GuardPolicy::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(GuardKnownSources::Table)
                    // The canonical address text (IPv4-mapped IPv6 stored as IPv4).
                    .col(
                        ColumnDef::new(GuardKnownSources::Address)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(GuardKnownSources::KnownUntil)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Events::Table)
                    .add_column(
                        ColumnDef::new(Events::Proven)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Events::Table)
                    .drop_column(Events::Proven)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(GuardKnownSources::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(GuardPolicy::Table).to_owned())
            .await?;
        Ok(())
    }
}
