//! Password reset: mail a link to the account's address; following it with
//! a new password sets it, ends every session and clears the login backoff.

use latch_domain::{AuditAction, Email, LinkPurpose, Password, PersonalInfo, ValidationError};
use latch_ports::{ErrorChain, HashError, LimitedAction, LinkAction};

use super::{EmailFlowError, LinkDispatch, LinkMail};
use crate::email_templates::EmailKind;
use crate::throttle::account_key;
use crate::{AuthService, Client};

impl AuthService {
    /// Admits a request for a password-reset mail to `email`, within the
    /// client's and the address's budgets. The returned dispatch mails a link
    /// if the address belongs to an active account, and does nothing
    /// otherwise; the caller answers the same either way.
    #[tracing::instrument(skip_all)]
    pub async fn request_password_reset(
        &self,
        email: &str,
        client: &Client,
    ) -> Result<LinkDispatch, EmailFlowError> {
        let email = self
            .admit_link_request(LimitedAction::PasswordResetRequest, email, client)
            .await?;
        let service = self.clone();
        let client = client.clone();
        Ok(LinkDispatch::new(async move {
            service.dispatch_password_reset(email, client).await;
        }))
    }

    async fn dispatch_password_reset(&self, email: Email, client: Client) {
        let Some(config) = self.config.email.as_ref() else {
            return;
        };
        let Some(user) = self.account_at(&email).await else {
            tracing::info!("password reset requested for an address with no account");
            return;
        };
        if !user.can_authenticate() {
            tracing::info!(user_id = %user.id, "password reset requested for an inactive or deleted account");
            return;
        }
        let mail = LinkMail {
            user: &user,
            purpose: LinkPurpose::ResetPassword,
            address: &user.email,
            kind: EmailKind::ResetPassword,
            notices: Vec::new(),
        };
        match self.issue_link(config, mail).await {
            Ok(()) => {
                self.audit(AuditAction::PasswordResetRequested, None, Some(user.id), &client)
                    .await;
            }
            Err(err) => {
                tracing::error!(user_id = %user.id, error = %ErrorChain(&err), "could not queue the password reset mail");
            }
        }
    }

    /// Follows a password-reset link with the new password: it must pass the
    /// policy; then the password is replaced, every session of the account
    /// ends, its login backoff is cleared, and its email counts as verified.
    #[tracing::instrument(skip_all)]
    pub async fn confirm_password_reset(
        &self,
        token: &str,
        new_password: &str,
        client: &Client,
    ) -> Result<(), EmailFlowError> {
        let token = self.admit_link(token, client).await?;
        let now = self.ports.clock.now();
        // Read first, for the policy's personal-information rule; the spend
        // below checks the link again, atomically.
        let user = self
            .ports
            .email_links
            .peek(&token.hash(), LinkPurpose::ResetPassword, now)
            .await
            .map_err(crate::Unexpected::from)?
            .ok_or(EmailFlowError::LinkInvalid)?;
        let personal = PersonalInfo {
            email: Some(user.email.as_str()),
            username: user.username.as_deref(),
            name: user.name.as_deref(),
        };
        let password =
            Password::new_choice(new_password, &self.config.password_policy, &personal).map_err(|err| {
                ValidationError {
                    field: "new_password",
                    ..err
                }
            })?;
        let password_hash = self.ports.hasher.hash(&password).await.map_err(|err| match err {
            HashError::Overloaded => EmailFlowError::Overloaded,
            other => EmailFlowError::Unexpected(other.into()),
        })?;
        let now = self.ports.clock.now();
        let user = self
            .ports
            .email_links
            .consume(&token.hash(), LinkAction::ResetPassword { password_hash }, now)
            .await?;
        self.ports
            .limiter
            .record_login_success(&account_key(user.id))
            .await;
        tracing::info!(user_id = %user.id, "password reset; every session ended");
        self.audit(AuditAction::PasswordReset, Some(user.id), Some(user.id), client)
            .await;
        Ok(())
    }
}
