//! The firewall: its policy (one row), the bans the API and the guard made, and the
//! temporary allowlist entries ("trust my current address").
//!
//! The kernel's sets vanish with a reboot; these rows are what start-up puts back, each with
//! the time it has left.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum FirewallPolicy {
    Table,
    Id,
    Body,
    Version,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Bans {
    Table,
    Address,
    Reason,
    Origin,
    Actor,
    CreatedAt,
    ExpiresAt,
    Offences,
}

#[derive(DeriveIden)]
enum Allowlist {
    Table,
    Address,
    Note,
    Actor,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(FirewallPolicy::Table)
                    // One row: the CHECK makes a second policy impossible.
                    .col(
                        ColumnDef::new(FirewallPolicy::Id)
                            .integer()
                            .not_null()
                            .primary_key()
                            .check(Expr::col(FirewallPolicy::Id).eq(1)),
                    )
                    .col(ColumnDef::new(FirewallPolicy::Body).text().not_null())
                    .col(ColumnDef::new(FirewallPolicy::Version).integer().not_null())
                    .col(
                        ColumnDef::new(FirewallPolicy::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Bans::Table)
                    // The canonical address text (IPv4-mapped IPv6 stored as IPv4).
                    .col(
                        ColumnDef::new(Bans::Address)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Bans::Reason).text().not_null())
                    // api | guard
                    .col(ColumnDef::new(Bans::Origin).string().not_null())
                    .col(ColumnDef::new(Bans::Actor).string().null())
                    .col(
                        ColumnDef::new(Bans::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    // NULL: until lifted.
                    .col(
                        ColumnDef::new(Bans::ExpiresAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    // How many times this source was banned: repeat offenders get longer bans.
                    .col(
                        ColumnDef::new(Bans::Offences)
                            .integer()
                            .not_null()
                            .default(1),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("bans_expires_at")
                    .table(Bans::Table)
                    .col(Bans::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Allowlist::Table)
                    .col(
                        ColumnDef::new(Allowlist::Address)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Allowlist::Note).text().not_null())
                    .col(ColumnDef::new(Allowlist::Actor).string().not_null())
                    .col(
                        ColumnDef::new(Allowlist::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Allowlist::ExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
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
