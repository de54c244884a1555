//! Emailed links (verification, password reset, email change), stored by the
//! hash of their token, and the outbox their mails wait in until a worker
//! delivers them.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let links = Table::create()
            .table(EmailLinks::Table)
            .if_not_exists()
            .col(blob(EmailLinks::TokenHash).primary_key())
            .col(uuid(EmailLinks::UserId))
            .col(string_len(EmailLinks::Purpose, 32))
            // As given (an email change stores it so); compared lower-cased.
            .col(string_len(EmailLinks::Address, 254))
            .col(string_len(EmailLinks::AddressNormalized, 254))
            .col(timestamp_with_time_zone(EmailLinks::CreatedAt))
            .col(timestamp_with_time_zone(EmailLinks::ExpiresAt))
            // Used or voided by a newer link: either way never accepted again.
            .col(timestamp_with_time_zone_null(EmailLinks::SpentAt))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_email_links_user")
                    .from(EmailLinks::Table, EmailLinks::UserId)
                    .to(Users::Table, Users::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned();
        manager.create_table(links).await?;
        // Issuing and following a link void the user's other links of the purpose.
        let by_user = Index::create()
            .if_not_exists()
            .name("idx_email_links_user_purpose")
            .table(EmailLinks::Table)
            .col(EmailLinks::UserId)
            .col(EmailLinks::Purpose)
            .to_owned();
        manager.create_index(by_user).await?;

        let outbox = Table::create()
            .table(EmailOutbox::Table)
            .if_not_exists()
            .col(uuid(EmailOutbox::Id).primary_key())
            .col(text(EmailOutbox::Recipient))
            // Subject and bodies are emptied once the mail is sent or given
            // up: they may hold a link.
            .col(text(EmailOutbox::Subject))
            .col(text(EmailOutbox::TextBody))
            .col(text(EmailOutbox::HtmlBody))
            .col(timestamp_with_time_zone(EmailOutbox::QueuedAt))
            .col(timestamp_with_time_zone(EmailOutbox::DeliverUntil))
            // When the next attempt is due; a claim moves it to the lease's end.
            .col(timestamp_with_time_zone(EmailOutbox::NextAttemptAt))
            .col(integer(EmailOutbox::Attempts).default(0))
            .col(text_null(EmailOutbox::LastError))
            .col(timestamp_with_time_zone_null(EmailOutbox::SentAt))
            .col(timestamp_with_time_zone_null(EmailOutbox::GivenUpAt))
            .to_owned();
        manager.create_table(outbox).await?;
        let due = Index::create()
            .if_not_exists()
            .name("idx_email_outbox_next_attempt_at")
            .table(EmailOutbox::Table)
            .col(EmailOutbox::NextAttemptAt)
            .to_owned();
        manager.create_index(due).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EmailOutbox::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(EmailLinks::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum EmailLinks {
    Table,
    TokenHash,
    UserId,
    Purpose,
    Address,
    AddressNormalized,
    CreatedAt,
    ExpiresAt,
    SpentAt,
}

#[derive(DeriveIden)]
enum EmailOutbox {
    Table,
    Id,
    Recipient,
    Subject,
    TextBody,
    HtmlBody,
    QueuedAt,
    DeliverUntil,
    NextAttemptAt,
    Attempts,
    LastError,
    SentAt,
    GivenUpAt,
}
