//! The shared key ring: one row per signing key, the private half sealed by
//! the master key. `active` is TRUE on the one key that signs and NULL on
//! retired ones, so a unique index allows one active key at most (both
//! databases let NULLs repeat in a unique index).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let table = Table::create()
            .table(SigningKeys::Table)
            .if_not_exists()
            .col(string_len(SigningKeys::Kid, 64).primary_key())
            .col(string_len(SigningKeys::Algorithm, 16))
            .col(text(SigningKeys::PublicJwk))
            .col(blob(SigningKeys::SealedPrivateKey))
            .col(timestamp_with_time_zone(SigningKeys::CreatedAt))
            .col(timestamp_with_time_zone_null(SigningKeys::RetiredAt))
            .col(boolean_null(SigningKeys::Active))
            .to_owned();
        manager.create_table(table).await?;
        let one_active = Index::create()
            .if_not_exists()
            .name("idx_signing_keys_one_active")
            .table(SigningKeys::Table)
            .col(SigningKeys::Active)
            .unique()
            .to_owned();
        manager.create_index(one_active).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let drop = Table::drop().table(SigningKeys::Table).to_owned();
        manager.drop_table(drop).await
    }
}

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    Kid,
    Algorithm,
    PublicJwk,
    SealedPrivateKey,
    CreatedAt,
    RetiredAt,
    Active,
}
