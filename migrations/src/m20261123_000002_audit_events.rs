//! The audit trail: append-only, read newest first, filtered by user.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .if_not_exists()
                    .col(uuid(AuditEvents::Id).primary_key())
                    .col(timestamp_with_time_zone(AuditEvents::At))
                    .col(string_len(AuditEvents::Action, 64))
                    // No foreign keys: the trail outlives what it describes.
                    .col(uuid_null(AuditEvents::ActorId))
                    .col(uuid_null(AuditEvents::TargetId))
                    .col(string_len_null(AuditEvents::Ip, 64))
                    .col(string_len_null(AuditEvents::UserAgent, 512))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_audit_events_at", AuditEvents::At),
            ("idx_audit_events_actor_id", AuditEvents::ActorId),
            ("idx_audit_events_target_id", AuditEvents::TargetId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(AuditEvents::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    At,
    Action,
    ActorId,
    TargetId,
    Ip,
    UserAgent,
}
