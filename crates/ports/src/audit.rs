use async_trait::async_trait;
use latch_domain::{AuditEvent, UserId};

use crate::RepositoryError;

/// A page of the audit trail and the number of matching entries in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPage {
    /// This page, newest first.
    pub items: Vec<AuditEvent>,
    /// All matches, across pages.
    pub total: u64,
}

/// Where the audit trail is kept. Append-only.
#[async_trait]
pub trait AuditLog: Send + Sync + 'static {
    /// Appends one entry.
    async fn record(&self, event: &AuditEvent) -> Result<(), RepositoryError>;

    /// Entries newest first (ties by id, descending); with `user`, only those
    /// where that user is the actor or the target. 1-based `page`; a page past
    /// the end is empty.
    async fn list(
        &self,
        user: Option<UserId>,
        page: u64,
        per_page: u64,
    ) -> Result<AuditPage, RepositoryError>;
}
