//! Second factors: a user's TOTP enrolment and recovery codes, the flags on
//! users and sessions that say a second factor is on or was passed, and the
//! pending second steps of logins (`mfa_token`s), stored by their hash.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per ALTER: SQLite adds no more in one statement.
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(boolean(Users::MfaEnabled).default(false))
                    .to_owned(),
            )
            .await?;
        // Every session before this migration was opened by a password alone.
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .add_column(text(Sessions::AuthMethods).default("pwd"))
                    .to_owned(),
            )
            .await?;

        let enrolments = Table::create()
            .table(TotpEnrolments::Table)
            .if_not_exists()
            // One per user: a new pending enrolment replaces the old one.
            .col(uuid(TotpEnrolments::UserId).primary_key())
            // Sealed with the master key; never stored in the clear.
            .col(blob(TotpEnrolments::SealedSecret))
            .col(timestamp_with_time_zone(TotpEnrolments::CreatedAt))
            .col(timestamp_with_time_zone_null(TotpEnrolments::ConfirmedAt))
            .col(big_integer_null(TotpEnrolments::LastUsedStep))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_totp_enrolments_user")
                    .from(TotpEnrolments::Table, TotpEnrolments::UserId)
                    .to(Users::Table, Users::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned();
        manager.create_table(enrolments).await?;

        let codes = Table::create()
            .table(RecoveryCodes::Table)
            .if_not_exists()
            .col(uuid(RecoveryCodes::UserId))
            // SHA-256 of the code's canonical form.
            .col(blob(RecoveryCodes::CodeHash))
            .col(timestamp_with_time_zone(RecoveryCodes::CreatedAt))
            .col(timestamp_with_time_zone_null(RecoveryCodes::UsedAt))
            // Leads with the user: it is also the index every lookup by user uses.
            .primary_key(
                Index::create()
                    .name("pk_recovery_codes")
                    .col(RecoveryCodes::UserId)
                    .col(RecoveryCodes::CodeHash),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_recovery_codes_user")
                    .from(RecoveryCodes::Table, RecoveryCodes::UserId)
                    .to(Users::Table, Users::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned();
        manager.create_table(codes).await?;

        let challenges = Table::create()
            .table(MfaChallenges::Table)
            .if_not_exists()
            .col(blob(MfaChallenges::TokenHash).primary_key())
            .col(uuid(MfaChallenges::UserId))
            // What the password check found: the session is stored only if
            // the account still has this hash.
            .col(text(MfaChallenges::PasswordHash))
            .col(text_null(MfaChallenges::Rehash))
            .col(string_len_null(MfaChallenges::UserAgent, 512))
            .col(string_len_null(MfaChallenges::Ip, 64))
            .col(timestamp_with_time_zone(MfaChallenges::CreatedAt))
            .col(timestamp_with_time_zone(MfaChallenges::ExpiresAt))
            .col(integer(MfaChallenges::AttemptsLeft))
            .col(timestamp_with_time_zone_null(MfaChallenges::SpentAt))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_mfa_challenges_user")
                    .from(MfaChallenges::Table, MfaChallenges::UserId)
                    .to(Users::Table, Users::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned();
        manager.create_table(challenges).await?;
        // The purge deletes challenges that expired before a cutoff.
        let expiry = Index::create()
            .if_not_exists()
            .name("idx_mfa_challenges_expires_at")
            .table(MfaChallenges::Table)
            .col(MfaChallenges::ExpiresAt)
            .to_owned();
        manager.create_index(expiry).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            MfaChallenges::Table.into_iden(),
            RecoveryCodes::Table.into_iden(),
            TotpEnrolments::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .drop_column(Sessions::AuthMethods)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::MfaEnabled)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    MfaEnabled,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    AuthMethods,
}

#[derive(DeriveIden)]
enum TotpEnrolments {
    Table,
    UserId,
    SealedSecret,
    CreatedAt,
    ConfirmedAt,
    LastUsedStep,
}

#[derive(DeriveIden)]
enum RecoveryCodes {
    Table,
    UserId,
    CodeHash,
    CreatedAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum MfaChallenges {
    Table,
    TokenHash,
    UserId,
    PasswordHash,
    Rehash,
    UserAgent,
    Ip,
    CreatedAt,
    ExpiresAt,
    AttemptsLeft,
    SpentAt,
}
