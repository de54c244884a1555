//! Writing and reading the audit trail.

use latch_domain::{AuditAction, AuditEvent, UserId, require_administrator};
use latch_ports::{AuditPage, ErrorChain};
use uuid::Uuid;

use crate::admin::check_page;
use crate::{AdminError, AuthService, Client, Principal, Unexpected};

impl AuthService {
    /// Appends to the audit trail. A failure to record is logged loudly but
    /// does not undo or fail the action, which has already happened.
    pub(crate) async fn audit(
        &self,
        action: AuditAction,
        actor_id: Option<UserId>,
        target_id: Option<UserId>,
        client: &Client,
    ) {
        let event = AuditEvent {
            id: Uuid::now_v7(),
            at: self.ports.clock.now(),
            action,
            actor_id,
            target_id,
            ip: client.ip.clone(),
            user_agent: client.stored_user_agent(),
        };
        if let Err(err) = self.ports.audit.record(&event).await {
            tracing::error!(action = action.as_str(), error = %ErrorChain(&err), "could not record an audit event");
        }
    }

    /// The audit trail, newest first; with `user`, entries where that user
    /// acted or was acted upon.
    pub async fn admin_list_audit(
        &self,
        actor: &Principal,
        user: Option<UserId>,
        page: u64,
        per_page: u64,
    ) -> Result<AuditPage, AdminError> {
        require_administrator(&actor.user)?;
        check_page(page, per_page)?;
        Ok(self
            .ports
            .audit
            .list(user, page, per_page)
            .await
            .map_err(Unexpected::from)?)
    }
}
