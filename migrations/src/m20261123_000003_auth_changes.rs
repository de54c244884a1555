//! The change log behind the in-process session cache: one row per write
//! that can end a session or change a user, numbered without gaps by the
//! single-row counter in `auth_version`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuthVersion::Table)
                    .if_not_exists()
                    .col(small_integer(AuthVersion::Id).primary_key())
                    .col(big_integer(AuthVersion::Version))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(AuthVersion::Table)
                    .columns([AuthVersion::Id, AuthVersion::Version])
                    .values_panic([1.into(), 0i64.into()])
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuthChanges::Table)
                    .if_not_exists()
                    .col(big_integer(AuthChanges::Version).primary_key())
                    // No foreign keys: a change outlives a purged session.
                    .col(uuid_null(AuthChanges::UserId))
                    .col(uuid_null(AuthChanges::SessionId))
                    .col(timestamp_with_time_zone(AuthChanges::RecordedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuthChanges::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(AuthVersion::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum AuthVersion {
    Table,
    Id,
    Version,
}

#[derive(DeriveIden)]
enum AuthChanges {
    Table,
    Version,
    UserId,
    SessionId,
    RecordedAt,
}
