//! Email verification: mail a link to the account's address; following it
//! marks the address verified.

use latch_domain::{AuditAction, Email, LinkPurpose, User};
use latch_ports::{LimitedAction, LinkAction};

use super::{EmailConfig, EmailFlowError, LinkDispatch, LinkMail};
use crate::email_templates::EmailKind;
use crate::{AuthService, Client, Unexpected};

impl AuthService {
    /// Admits a request for a verification mail to `email`, within the
    /// client's and the address's budgets. The returned dispatch mails a link
    /// if the address belongs to an active, unverified account, and does
    /// nothing otherwise; the caller answers the same either way.
    #[tracing::instrument(skip_all)]
    pub async fn request_verification(
        &self,
        email: &str,
        client: &Client,
    ) -> Result<LinkDispatch, EmailFlowError> {
        let email = self
            .admit_link_request(LimitedAction::VerificationRequest, email, client)
            .await?;
        let (service, client) = (self.clone(), client.clone());
        Ok(LinkDispatch::new(async move {
            service.dispatch_verification(email, client).await;
        }))
    }

    async fn dispatch_verification(&self, email: Email, client: Client) {
        let Some(config) = self.config.email.as_ref() else {
            return;
        };
        let Some(user) = self.account_at(&email).await else {
            tracing::info!("verification requested for an address with no account");
            return;
        };
        if !user.can_authenticate() || user.email_verified {
            tracing::info!(user_id = %user.id, "verification requested for an account that needs none");
            return;
        }
        match self.issue_verification(config, &user).await {
            Ok(()) => {
                self.audit(AuditAction::VerificationRequested, None, Some(user.id), &client)
                    .await;
            }
            Err(err) => {
                tracing::error!(user_id = %user.id, error = %latch_ports::ErrorChain(&err), "could not queue the verification mail");
            }
        }
    }

    /// Stores a verification link for `user` and queues its mail.
    pub(super) async fn issue_verification(
        &self,
        config: &EmailConfig,
        user: &User,
    ) -> Result<(), Unexpected> {
        self.issue_link(
            config,
            LinkMail {
                user,
                purpose: LinkPurpose::VerifyEmail,
                address: &user.email,
                kind: EmailKind::VerifyEmail,
                notices: Vec::new(),
            },
        )
        .await
    }

    /// Follows a verification link: the account's email is verified.
    #[tracing::instrument(skip_all)]
    pub async fn confirm_verification(&self, token: &str, client: &Client) -> Result<User, EmailFlowError> {
        self.follow_link(token, LinkAction::VerifyEmail, AuditAction::EmailVerified, client)
            .await
    }
}
