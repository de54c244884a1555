//! Session-cache leases: per running instance, the change-log version it has
//! applied and when its lease ends (milliseconds since the Unix epoch, by the
//! database's clock). A handful of rows, one per live instance.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CacheLeases::Table)
                    .if_not_exists()
                    .col(uuid(CacheLeases::Instance).primary_key())
                    .col(big_integer(CacheLeases::AppliedVersion))
                    .col(big_integer(CacheLeases::EndsAtMs))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CacheLeases::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum CacheLeases {
    Table,
    Instance,
    AppliedVersion,
    EndsAtMs,
}
