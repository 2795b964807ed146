//! The PBX model (endpoints, trunks, AMI users, the hardening policy) and the revisions of
//! the configuration rendered from it.
//!
//! Each object is stored as the JSON of its checked `policy` type, which re-checks every
//! field when it is read back: a hand-edited row cannot smuggle a bad value into a rendered
//! file. The columns beside it exist for uniqueness and search.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Endpoints {
    Table,
    Id,
    Extension,
    DisplayName,
    Body,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Trunks {
    Table,
    Name,
    Body,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AmiUsers {
    Table,
    Name,
    Body,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PbxPolicy {
    Table,
    Id,
    Body,
    Version,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ConfigRevisions {
    Table,
    Number,
    CreatedAt,
    Author,
    Target,
    Files,
    Hash,
    Status,
    Message,
    RestoredFrom,
}

fn object_table(
    table: impl IntoIden + 'static,
    key: impl IntoIden + 'static,
    body: impl IntoIden,
    version: impl IntoIden,
    created: impl IntoIden,
    updated: impl IntoIden,
) -> TableCreateStatement {
    Table::create()
        .table(table)
        // NOCASE: Asterisk compares section names of these objects case-insensitively
        // in places (manager.c), so "Ops" and "ops" must not both exist.
        .col(
            ColumnDef::new(key)
                .string()
                .not_null()
                .primary_key()
                .extra("COLLATE NOCASE"),
        )
        .col(ColumnDef::new(body).text().not_null())
        .col(ColumnDef::new(version).integer().not_null().default(1))
        .col(
            ColumnDef::new(created)
                .timestamp_with_time_zone()
                .not_null(),
        )
        .col(
            ColumnDef::new(updated)
                .timestamp_with_time_zone()
                .not_null(),
        )
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut endpoints = object_table(
            Endpoints::Table,
            Endpoints::Id,
            Endpoints::Body,
            Endpoints::Version,
            Endpoints::CreatedAt,
            Endpoints::UpdatedAt,
        );
        endpoints
            .col(
                ColumnDef::new(Endpoints::Extension)
                    .string()
                    .not_null()
                    .unique_key(),
            )
            .col(ColumnDef::new(Endpoints::DisplayName).string().not_null());
        manager.create_table(endpoints).await?;
        manager
            .create_table(object_table(
                Trunks::Table,
                Trunks::Name,
                Trunks::Body,
                Trunks::Version,
                Trunks::CreatedAt,
                Trunks::UpdatedAt,
            ))
            .await?;
        manager
            .create_table(object_table(
                AmiUsers::Table,
                AmiUsers::Name,
                AmiUsers::Body,
                AmiUsers::Version,
                AmiUsers::CreatedAt,
                AmiUsers::UpdatedAt,
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PbxPolicy::Table)
                    // One row: the CHECK makes a second policy impossible.
                    .col(
                        ColumnDef::new(PbxPolicy::Id)
                            .integer()
                            .not_null()
                            .primary_key()
                            .check(Expr::col(PbxPolicy::Id).eq(1)),
                    )
                    .col(ColumnDef::new(PbxPolicy::Body).text().not_null())
                    .col(ColumnDef::new(PbxPolicy::Version).integer().not_null())
                    .col(
                        ColumnDef::new(PbxPolicy::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ConfigRevisions::Table)
                    .col(
                        ColumnDef::new(ConfigRevisions::Number)
                            .integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ConfigRevisions::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ConfigRevisions::Author).string().not_null())
                    .col(ColumnDef::new(ConfigRevisions::Target).string().not_null())
                    // JSON object: file name -> contents, exactly as written.
                    .col(ColumnDef::new(ConfigRevisions::Files).text().not_null())
                    .col(ColumnDef::new(ConfigRevisions::Hash).string().not_null())
                    // pending | live | failed | replaced
                    .col(ColumnDef::new(ConfigRevisions::Status).string().not_null())
                    .col(ColumnDef::new(ConfigRevisions::Message).text().not_null())
                    .col(
                        ColumnDef::new(ConfigRevisions::RestoredFrom)
                            .integer()
                            .null(),
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
