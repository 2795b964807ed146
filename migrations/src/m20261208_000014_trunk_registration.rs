//! Registration trunks (#16): the provider's password of a trunk that registers.
//!
//! It lives in a column of its own, beside the trunk's JSON body rather than inside it:
//! the body is the trunk's input form (`policy::asterisk::NewTrunk`), the shape the API
//! shows and accepts, and keeping the password out of it means no code path that stores,
//! compares or returns a body can carry the password along. Asterisk needs the password
//! in plain text, so it is kept as it is, like the AMI secrets: in this database, which
//! only sipwarden's user may read. NULL for a trunk that does not register.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Trunks {
    Table,
    RegistrationSecret,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Trunks::Table)
                    .add_column(ColumnDef::new(Trunks::RegistrationSecret).string().null())
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
