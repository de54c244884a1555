//! `EmailOutbox` on SQL: the mails in `email_outbox`, claimed by workers of
//! every instance.
//!
//! A claim is a conditional UPDATE per message that re-checks that it is
//! still due and moves its next attempt to the lease's end: of two claimers
//! exactly one changes the row, on PostgreSQL (the other waits for the row
//! lock, then finds it no longer due) and on SQLite alike, without `SKIP
//! LOCKED`, which SQLite lacks.

use async_trait::async_trait;
use latch_domain::Timestamp;
use latch_ports::{ClaimedEmail, EmailMessage, EmailOutbox, QueuedEmail, RepositoryError};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use crate::bounded::BoundedPool;
use crate::entities::{email_links, email_outbox};
use crate::error::unexpected;

/// The most rows one purge deletes from a table, whatever `limit` asks:
/// keeps the key list under every backend's bind-parameter limit.
const MAX_BATCH: u64 = 10_000;

/// The longest error text kept with a message, in characters.
const MAX_ERROR_CHARS: usize = 1000;

/// The mail queue in `email_outbox`; its purge also deletes finished links.
#[derive(Debug, Clone)]
pub struct SqlEmailOutbox {
    db: BoundedPool,
}

impl SqlEmailOutbox {
    pub(crate) fn new(db: BoundedPool) -> Self {
        Self { db }
    }
}

/// `message` as a row, due at once with no attempt made (also written by
/// `EmailLinkRepository::issue`).
pub(crate) fn queued_row(message: &QueuedEmail) -> email_outbox::ActiveModel {
    email_outbox::ActiveModel {
        id: Set(message.id),
        recipient: Set(message.message.to.clone()),
        subject: Set(message.message.subject.clone()),
        text_body: Set(message.message.text.clone()),
        html_body: Set(message.message.html.clone()),
        queued_at: Set(message.queued_at),
        deliver_until: Set(message.deliver_until),
        next_attempt_at: Set(message.queued_at),
        attempts: Set(0),
        last_error: Set(None),
        sent_at: Set(None),
        given_up_at: Set(None),
    }
}

/// A claimed row (its `attempts` already counting this claim) for the port.
fn claimed(row: email_outbox::Model) -> ClaimedEmail {
    ClaimedEmail {
        attempts: u32::try_from(row.attempts.saturating_sub(1)).unwrap_or(0),
        email: QueuedEmail {
            id: row.id,
            message: EmailMessage {
                to: row.recipient,
                subject: row.subject,
                text: row.text_body,
                html: row.html_body,
            },
            queued_at: row.queued_at,
            deliver_until: row.deliver_until,
        },
    }
}

/// Messages neither sent nor given up.
fn unfinished() -> Condition {
    Condition::all()
        .add(email_outbox::Column::SentAt.is_null())
        .add(email_outbox::Column::GivenUpAt.is_null())
}

/// Messages that may be claimed at `now`.
fn due(now: Timestamp) -> Condition {
    unfinished().add(email_outbox::Column::NextAttemptAt.lte(now))
}

/// `error` cut to [`MAX_ERROR_CHARS`] characters.
fn kept_error(error: &str) -> String {
    error.chars().take(MAX_ERROR_CHARS).collect()
}

/// `limit` as a row count for one statement.
fn batch(limit: u64) -> u64 {
    Ord::min(limit, MAX_BATCH)
}

impl SqlEmailOutbox {
    /// Records an outcome: never claimed again, subject and bodies erased.
    async fn finish(
        &self,
        id: Uuid,
        outcome: email_outbox::Column,
        at: Timestamp,
        error: Option<&str>,
    ) -> Result<(), RepositoryError> {
        let mut update = email_outbox::Entity::update_many()
            .col_expr(outcome, Expr::value(Some(at)))
            .col_expr(email_outbox::Column::Subject, Expr::value(""))
            .col_expr(email_outbox::Column::TextBody, Expr::value(""))
            .col_expr(email_outbox::Column::HtmlBody, Expr::value(""));
        if let Some(error) = error {
            update = update.col_expr(email_outbox::Column::LastError, Expr::value(kept_error(error)));
        }
        update
            .filter(email_outbox::Column::Id.eq(id))
            .exec(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(())
    }

    /// Deletes at most `limit` messages finished before `cutoff`.
    async fn purge_messages(&self, cutoff: Timestamp, limit: u64) -> Result<u64, RepositoryError> {
        let finished = Condition::any()
            .add(email_outbox::Column::SentAt.lt(cutoff))
            .add(email_outbox::Column::GivenUpAt.lt(cutoff));
        let ids: Vec<Uuid> = email_outbox::Entity::find()
            .select_only()
            .column(email_outbox::Column::Id)
            .filter(finished)
            .limit(batch(limit))
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(unexpected)?;
        if ids.is_empty() {
            return Ok(0);
        }
        let deleted = email_outbox::Entity::delete_many()
            .filter(email_outbox::Column::Id.is_in(ids))
            .exec(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(deleted.rows_affected)
    }

    /// Deletes at most `limit` links spent or expired before `cutoff`.
    async fn purge_links(&self, cutoff: Timestamp, limit: u64) -> Result<u64, RepositoryError> {
        let finished = Condition::any()
            .add(email_links::Column::SpentAt.lt(cutoff))
            .add(email_links::Column::ExpiresAt.lt(cutoff));
        let hashes: Vec<Vec<u8>> = email_links::Entity::find()
            .select_only()
            .column(email_links::Column::TokenHash)
            .filter(finished)
            .limit(batch(limit))
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(unexpected)?;
        if hashes.is_empty() {
            return Ok(0);
        }
        let deleted = email_links::Entity::delete_many()
            .filter(email_links::Column::TokenHash.is_in(hashes))
            .exec(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(deleted.rows_affected)
    }
}

#[async_trait]
impl EmailOutbox for SqlEmailOutbox {
    async fn claim_due(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<ClaimedEmail>, RepositoryError> {
        let ids: Vec<Uuid> = email_outbox::Entity::find()
            .select_only()
            .column(email_outbox::Column::Id)
            .filter(due(now))
            .order_by_asc(email_outbox::Column::NextAttemptAt)
            .order_by_asc(email_outbox::Column::Id)
            .limit(u64::from(limit))
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(unexpected)?;
        let mut claims = Vec::with_capacity(ids.len());
        for id in ids {
            // Re-checks "due": another claimer may have taken it since the select.
            let rows = email_outbox::Entity::update_many()
                .col_expr(email_outbox::Column::NextAttemptAt, Expr::value(lease_until))
                .col_expr(
                    email_outbox::Column::Attempts,
                    Expr::col(email_outbox::Column::Attempts).add(1),
                )
                .filter(email_outbox::Column::Id.eq(id))
                .filter(due(now))
                .exec_with_returning(&self.db)
                .await
                .map_err(unexpected)?;
            claims.extend(rows.into_iter().map(claimed));
        }
        Ok(claims)
    }

    async fn mark_sent(&self, id: Uuid, at: Timestamp) -> Result<(), RepositoryError> {
        self.finish(id, email_outbox::Column::SentAt, at, None).await
    }

    async fn retry_later(&self, id: Uuid, retry_at: Timestamp, error: &str) -> Result<(), RepositoryError> {
        email_outbox::Entity::update_many()
            .col_expr(email_outbox::Column::NextAttemptAt, Expr::value(retry_at))
            .col_expr(email_outbox::Column::LastError, Expr::value(kept_error(error)))
            .filter(email_outbox::Column::Id.eq(id))
            .exec(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(())
    }

    async fn give_up(&self, id: Uuid, at: Timestamp, error: &str) -> Result<(), RepositoryError> {
        self.finish(id, email_outbox::Column::GivenUpAt, at, Some(error))
            .await
    }

    async fn pending(&self) -> Result<u64, RepositoryError> {
        email_outbox::Entity::find()
            .filter(unfinished())
            .count(&self.db)
            .await
            .map_err(unexpected)
    }

    async fn purge(&self, cutoff: Timestamp, limit: u64) -> Result<u64, RepositoryError> {
        // `limit` bounds the call, both tables together: messages first.
        let messages = self.purge_messages(cutoff, limit).await?;
        let links = match limit.saturating_sub(messages) {
            0 => 0,
            left => self.purge_links(cutoff, left).await?,
        };
        Ok(messages + links)
    }
}

#[cfg(test)]
mod tests {
    use latch_domain::LinkPurpose;
    use latch_ports::{Clock, EmailLinkRepository, EmailOutbox, UserRepository};
    use latch_testkit::FixedClock;
    use latch_testkit::databases::TestDatabase;
    use latch_testkit::email_links::{new_link, queued_email};
    use latch_testkit::users::new_user;
    use sea_orm::{Database, EntityTrait};

    use crate::SqlStore;
    use crate::entities::email_outbox;

    /// What the port cannot show: a finished mail keeps no subject or body
    /// (they may hold a link), and a long error is cut on a character boundary.
    async fn finished_mails_keep_no_bodies(database: TestDatabase) {
        let db = Database::connect(database.url()).await.unwrap();
        let store = SqlStore::from_connection(db.clone());
        store.migrate().await.unwrap();
        let now = FixedClock::new().now();
        let ada = store
            .users()
            .create(new_user("ada@example.com", None, now))
            .await
            .unwrap();
        let link = new_link(ada.id, LinkPurpose::VerifyEmail, "ada@example.com", now);
        let mails = [
            queued_email("ada@example.com", now),
            queued_email("ada@example.com", now),
        ];
        store.email_links().issue(&link, &mails).await.unwrap();
        let outbox = store.outbox();
        outbox.mark_sent(mails[0].id, now).await.unwrap();
        outbox.give_up(mails[1].id, now, &"é".repeat(1500)).await.unwrap();

        let sent = email_outbox::Entity::find_by_id(mails[0].id)
            .all(&db)
            .await
            .unwrap();
        let given_up = email_outbox::Entity::find_by_id(mails[1].id)
            .all(&db)
            .await
            .unwrap();
        for row in sent.iter().chain(&given_up) {
            assert_eq!(
                (
                    row.subject.as_str(),
                    row.text_body.as_str(),
                    row.html_body.as_str()
                ),
                ("", "", "")
            );
            assert_eq!(row.recipient, "ada@example.com");
        }
        assert_eq!(sent[0].sent_at, Some(now));
        assert_eq!(sent[0].last_error, None);
        assert_eq!(given_up[0].given_up_at, Some(now));
        assert_eq!(given_up[0].last_error.as_deref(), Some("é".repeat(1000).as_str()));
    }

    #[tokio::test]
    async fn sqlite_finished_mails_keep_no_bodies() {
        finished_mails_keep_no_bodies(TestDatabase::sqlite()).await;
    }

    #[tokio::test]
    async fn postgres_finished_mails_keep_no_bodies() {
        if let Some(database) = TestDatabase::postgres().await {
            finished_mails_keep_no_bodies(database).await;
        }
    }
}
