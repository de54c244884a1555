//! Email change: with the password, ask to move the account to a new
//! address; a link goes there and a notice to the old one. The change happens
//! only when the new mailbox follows the link.

use latch_domain::{AuditAction, Email, LinkPurpose, User};
use latch_ports::LinkAction;

use super::{EmailFlowError, LinkMail};
use crate::email_templates::EmailKind;
use crate::{AccountError, AuthService, Client, Principal, Unexpected};

impl From<AccountError> for EmailFlowError {
    fn from(err: AccountError) -> Self {
        match err {
            AccountError::WrongPassword { field } => Self::WrongPassword { field },
            AccountError::Invalid(err) => Self::Invalid(err),
            AccountError::RateLimited(err) => Self::RateLimited(err),
            AccountError::Overloaded => Self::Overloaded,
            AccountError::Unexpected(err) => Self::Unexpected(err),
            AccountError::LastSuperuser => {
                Self::Unexpected(Unexpected::new("a password check reported the last superuser"))
            }
        }
    }
}

impl AuthService {
    /// Asks to move the caller's account to `new_email`, after checking
    /// their password (budgeted like a password change, and feeding the
    /// login backoff). Mails a link to the new address and a notice to the
    /// current one; nothing changes until the link is followed.
    #[tracing::instrument(skip_all, fields(user_id = %principal.user.id))]
    pub async fn request_email_change(
        &self,
        principal: &Principal,
        new_email: &str,
        password: &str,
        client: &Client,
    ) -> Result<(), EmailFlowError> {
        let config = self.email_config()?;
        let account = self.admit_confirmation(principal, client).await?;
        let new_email = Email::parse(new_email).map_err(|err| latch_domain::ValidationError {
            field: "new_email",
            ..err
        })?;
        let user = &principal.user;
        if new_email.normalized() == user.email.normalized() {
            return Err(
                latch_domain::ValidationError::new("new_email", "is already the account's email").into(),
            );
        }
        self.confirm_password(principal, &account, password, "password")
            .await?;
        let taken = self
            .ports
            .users
            .find_credentials(new_email.as_str())
            .await
            .map_err(Unexpected::from)?
            .is_some_and(|other| other.user.email.normalized() == new_email.normalized());
        if taken {
            return Err(EmailFlowError::EmailTaken);
        }
        let mail = LinkMail {
            user,
            purpose: LinkPurpose::ChangeEmail,
            address: &new_email,
            kind: EmailKind::ChangeEmail,
            notices: vec![(EmailKind::EmailChangeNotice, &user.email)],
        };
        self.issue_link(config, mail).await?;
        tracing::info!("email change requested; link mailed to the new address");
        self.audit(
            AuditAction::EmailChangeRequested,
            Some(user.id),
            Some(user.id),
            client,
        )
        .await;
        Ok(())
    }

    /// Follows an email-change link: the account's email becomes the address
    /// the link was sent to, verified. `EmailTaken` if another account took
    /// that address meanwhile.
    #[tracing::instrument(skip_all)]
    pub async fn confirm_email_change(&self, token: &str, client: &Client) -> Result<User, EmailFlowError> {
        self.follow_link(token, LinkAction::ChangeEmail, AuditAction::EmailChanged, client)
            .await
    }
}
