//! Tiers, users, their sessions, and each session's refresh-token rotation chain.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tiers::Table)
                    .if_not_exists()
                    .col(string_len(Tiers::Name, 64).primary_key())
                    .col(text(Tiers::Description))
                    // JSON array of {path, limit, period_seconds}; read and written whole.
                    .col(text(Tiers::Limits))
                    .col(timestamp_with_time_zone(Tiers::CreatedAt))
                    .col(timestamp_with_time_zone(Tiers::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // New users get `free` unless configured otherwise; it must exist for
        // the foreign key below. (The service creates a configured default tier
        // at start-up if it is missing.)
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(Tiers::Table)
                    .columns([
                        Tiers::Name,
                        Tiers::Description,
                        Tiers::Limits,
                        Tiers::CreatedAt,
                        Tiers::UpdatedAt,
                    ])
                    .values_panic([
                        "free".into(),
                        "The default tier".into(),
                        "[]".into(),
                        Expr::current_timestamp(),
                        Expr::current_timestamp(),
                    ])
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .if_not_exists()
                    .col(uuid(Users::Id).primary_key())
                    .col(string_len(Users::Email, 254))
                    // Lower-cased copies carry the case-insensitive uniqueness,
                    // the same way on every database.
                    .col(string_len_uniq(Users::EmailNormalized, 254))
                    .col(string_len_null(Users::Username, 32))
                    .col(string_len_null(Users::UsernameNormalized, 32).unique_key())
                    .col(string_len_null(Users::Name, 100))
                    .col(text_null(Users::AvatarUrl))
                    .col(text(Users::PasswordHash))
                    .col(boolean(Users::IsActive).default(true))
                    .col(boolean(Users::IsStaff).default(false))
                    .col(boolean(Users::IsSuperuser).default(false))
                    .col(string_len(Users::Tier, 64))
                    .col(boolean(Users::EmailVerified).default(false))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Users::LastLoginAt))
                    .col(timestamp_with_time_zone_null(Users::DeletedAt))
                    // A tier in use cannot be deleted.
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_users_tier")
                            .from(Users::Table, Users::Tier)
                            .to(Tiers::Table, Tiers::Name)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .if_not_exists()
                    .col(uuid(Sessions::Id).primary_key())
                    .col(uuid(Sessions::UserId))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .col(timestamp_with_time_zone(Sessions::LastUsedAt))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Sessions::RevokedAt))
                    .col(string_len_null(Sessions::UserAgent, 512))
                    .col(string_len_null(Sessions::Ip, 64))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sessions_user")
                            .from(Sessions::Table, Sessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_user_id")
                    .table(Sessions::Table)
                    .col(Sessions::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .if_not_exists()
                    .col(uuid(RefreshTokens::Id).primary_key())
                    .col(uuid(RefreshTokens::SessionId))
                    .col(blob(RefreshTokens::TokenHash).unique_key())
                    .col(uuid_null(RefreshTokens::ParentId))
                    .col(timestamp_with_time_zone(RefreshTokens::CreatedAt))
                    .col(timestamp_with_time_zone(RefreshTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::RotatedAt))
                    .col(uuid_null(RefreshTokens::SuccessorId))
                    .col(blob_null(RefreshTokens::SuccessorSealed))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_refresh_tokens_session")
                            .from(RefreshTokens::Table, RefreshTokens::SessionId)
                            .to(Sessions::Table, Sessions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_refresh_tokens_session_id")
                    .table(RefreshTokens::Table)
                    .col(RefreshTokens::SessionId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RefreshTokens::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Sessions::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Tiers::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Tiers {
    Table,
    Name,
    Description,
    Limits,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    EmailNormalized,
    Username,
    UsernameNormalized,
    Name,
    AvatarUrl,
    PasswordHash,
    IsActive,
    IsStaff,
    IsSuperuser,
    Tier,
    EmailVerified,
    CreatedAt,
    UpdatedAt,
    LastLoginAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
    RevokedAt,
    UserAgent,
    Ip,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    SessionId,
    TokenHash,
    ParentId,
    CreatedAt,
    ExpiresAt,
    RotatedAt,
    SuccessorId,
    SuccessorSealed,
}
