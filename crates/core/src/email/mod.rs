//! The email flows — verification, password reset, email change — and the
//! delivery of their mails from the outbox.
//!
//! A request route admits the attempt (rate limits) and answers at once; the
//! account lookup and the writing of the link and its mail happen after the
//! answer, in a [`LinkDispatch`] the caller runs, so the answer is the same,
//! in the same time, whether or not the address has an account. The mail is
//! queued in the outbox in the same transaction as its link, and delivered
//! by [`EmailDelivery`].

mod delivery;
mod email_change;
mod password_reset;
mod verification;

use std::future::Future;
use std::pin::Pin;

use chrono::Duration;
use latch_domain::{AuditAction, Email, LinkPurpose, User, ValidationError};
use latch_ports::{
    ConsumeLinkError, ErrorChain, LimitedAction, LinkAction, NewEmailLink, QueuedEmail, RateLimited,
};
use uuid::Uuid;

pub use delivery::{DeliveryRound, EmailDelivery};

use crate::email_templates::{EmailKind, EmailTemplates, TemplateValues};
use crate::random_token::RandomToken;
use crate::throttle::typed_login_key;
use crate::{AuthService, Client, Unexpected};

/// How the email flows behave. Absent from [`crate::AuthConfig`] when email
/// is off (`email.transport = "none"`).
#[derive(Debug, Clone)]
pub struct EmailConfig {
    /// Links are `{link_base_url}/verify-email?token=…` and so on (no trailing slash).
    pub link_base_url: String,
    /// How long a verification link works.
    pub verification_ttl: Duration,
    /// How long a password-reset link works (an email-change link too).
    pub reset_ttl: Duration,
    /// Mail a verification link on signup.
    pub send_verification_on_signup: bool,
    /// Refuse the login of an account whose email is not verified (403),
    /// once its password has checked out.
    pub require_verified_for_login: bool,
    /// The mails' texts.
    pub templates: EmailTemplates,
}

/// Why an email flow was refused.
#[derive(Debug, thiserror::Error)]
pub enum EmailFlowError {
    /// The email flows are off (`email.transport = "none"`).
    #[error("email is not configured")]
    Disabled,
    /// A field breaks a rule (a malformed address, a new password the policy refuses).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The link is unknown, spent, voided, expired or of another purpose.
    #[error("the link is not valid")]
    LinkInvalid,
    /// An email change's address belongs to another account.
    #[error("email already taken")]
    EmailTaken,
    /// The password given to confirm an email change is not the account's.
    #[error("{field} is incorrect")]
    WrongPassword {
        /// The request field that carried it.
        field: &'static str,
    },
    /// Too many attempts from this client or for this address; retry later.
    #[error("rate limited")]
    RateLimited(#[from] RateLimited),
    /// Too many password hashes in flight; retry later.
    #[error("overloaded")]
    Overloaded,
    /// Not the client's fault.
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

impl From<ConsumeLinkError> for EmailFlowError {
    fn from(err: ConsumeLinkError) -> Self {
        match err {
            ConsumeLinkError::Invalid => Self::LinkInvalid,
            ConsumeLinkError::EmailTaken => Self::EmailTaken,
            ConsumeLinkError::Repository(err) => Self::Unexpected(err.into()),
        }
    }
}

/// The work of an admitted link request — looking the account up, storing
/// the link and queuing its mail — to be run after the client has its answer.
#[must_use = "a dispatch does nothing until it is run"]
pub struct LinkDispatch(Pin<Box<dyn Future<Output = ()> + Send + 'static>>);

impl LinkDispatch {
    /// Does the work. Failures are logged: the client was answered already.
    pub async fn run(self) {
        self.0.await;
    }

    fn new(work: impl Future<Output = ()> + Send + 'static) -> Self {
        Self(Box::pin(work))
    }
}

impl std::fmt::Debug for LinkDispatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkDispatch")
    }
}

/// A link to mail: to whom, for what, and what else goes out with it.
struct LinkMail<'a> {
    user: &'a User,
    purpose: LinkPurpose,
    /// The address the link goes to (a change's new address).
    address: &'a Email,
    kind: EmailKind,
    /// Mails without the link sent in the same transaction (a change's notice to the old address).
    notices: Vec<(EmailKind, &'a Email)>,
}

impl AuthService {
    /// The email configuration, or `Disabled`.
    fn email_config(&self) -> Result<&EmailConfig, EmailFlowError> {
        self.config.email.as_ref().ok_or(EmailFlowError::Disabled)
    }

    /// Stores a new link for `mail.user` (voiding older ones of its purpose)
    /// and queues its mail, and any notices, in one transaction.
    async fn issue_link(&self, config: &EmailConfig, mail: LinkMail<'_>) -> Result<(), Unexpected> {
        let now = self.ports.clock.now();
        let (ttl, path) = match mail.purpose {
            LinkPurpose::VerifyEmail => (config.verification_ttl, "verify-email"),
            LinkPurpose::ResetPassword => (config.reset_ttl, "reset-password"),
            LinkPurpose::ChangeEmail => (config.reset_ttl, "confirm-email"),
        };
        let token = RandomToken::generate();
        let link_url = format!("{}/{path}?token={}", config.link_base_url, token.encoded());
        let valid_for = describe_duration(ttl);
        let user = mail.user;
        let new_email = (mail.purpose == LinkPurpose::ChangeEmail).then(|| mail.address.as_str());
        let values = |link| TemplateValues {
            link,
            email: user.email.as_str(),
            new_email,
            name: user.name.as_deref(),
            valid_for: Some(&valid_for),
        };
        let expires_at = now + ttl;
        let queue = |kind, to: &Email, link| QueuedEmail {
            id: Uuid::now_v7(),
            message: config.templates.render(kind, to.as_str(), &values(link)),
            queued_at: now,
            deliver_until: expires_at,
        };
        let mut messages = vec![queue(mail.kind, mail.address, Some(link_url.as_str()))];
        messages.extend(mail.notices.iter().map(|(kind, to)| queue(*kind, to, None)));
        let link = NewEmailLink {
            token_hash: token.hash(),
            user_id: user.id,
            purpose: mail.purpose,
            address: mail.address.clone(),
            created_at: now,
            expires_at,
        };
        self.ports.email_links.issue(&link, &messages).await?;
        tracing::info!(user_id = %user.id, purpose = mail.purpose.as_str(), "email link issued");
        Ok(())
    }

    /// Admits a link request for `email` (the request routes): email must be
    /// on, the address well formed, and the attempt within the client's and
    /// the address's budgets for `action`.
    async fn admit_link_request(
        &self,
        action: LimitedAction,
        email: &str,
        client: &Client,
    ) -> Result<Email, EmailFlowError> {
        self.email_config()?;
        let email = Email::parse(email)?;
        self.admit(action, client, Some(&typed_login_key(email.as_str())))
            .await?;
        Ok(email)
    }

    /// The account whose address is `email`, if any; a failed lookup is
    /// logged and counts as none (the client was answered already).
    async fn account_at(&self, email: &Email) -> Option<User> {
        match self.ports.users.find_credentials(email.as_str()).await {
            // The login lookup also matches usernames: only the account
            // whose address this is gets mail.
            Ok(found) => found
                .map(|credentials| credentials.user)
                .filter(|user| user.email.normalized() == email.normalized()),
            Err(err) => {
                tracing::error!(error = %ErrorChain(&err), "link request: account lookup failed");
                None
            }
        }
    }

    /// Admits a confirm route's attempt (a check of a secret, within the
    /// client's budget) and reads its token; `LinkInvalid` for a malformed one.
    async fn admit_link(&self, token: &str, client: &Client) -> Result<RandomToken, EmailFlowError> {
        self.email_config()?;
        self.admit(LimitedAction::LinkConfirm, client, None).await?;
        RandomToken::parse(token).ok_or(EmailFlowError::LinkInvalid)
    }

    /// Follows a link that needs nothing but its token, and records `audited`.
    async fn follow_link(
        &self,
        token: &str,
        action: LinkAction,
        audited: AuditAction,
        client: &Client,
    ) -> Result<User, EmailFlowError> {
        let token = self.admit_link(token, client).await?;
        let now = self.ports.clock.now();
        let user = self.ports.email_links.consume(&token.hash(), action, now).await?;
        tracing::info!(user_id = %user.id, action = audited.as_str(), "email link followed");
        self.audit(audited, Some(user.id), Some(user.id), client).await;
        Ok(user)
    }

    /// Mails a verification link on signup, when configured to. A failure is
    /// logged, not returned: the account exists, and the user can ask again.
    pub(crate) async fn mail_verification_on_signup(&self, user: &User) {
        let Some(config) = self.config.email.as_ref() else {
            return;
        };
        if !config.send_verification_on_signup || user.email_verified {
            return;
        }
        if let Err(err) = self.issue_verification(config, user).await {
            tracing::error!(user_id = %user.id, error = %ErrorChain(&err), "could not queue the verification mail");
        }
    }
}

/// `ttl` as a mail says it: "24 hours", "1 hour", "30 minutes".
fn describe_duration(ttl: Duration) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    let minutes = ttl.num_minutes();
    if minutes >= 60 * 48 && minutes % (60 * 24) == 0 {
        plural(minutes / (60 * 24), "day")
    } else if minutes >= 60 && minutes % 60 == 0 {
        plural(minutes / 60, "hour")
    } else {
        plural(minutes.max(1), "minute")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_a_person_would_say_them() {
        assert_eq!(describe_duration(Duration::seconds(86_400)), "24 hours");
        assert_eq!(describe_duration(Duration::seconds(3_600)), "1 hour");
        assert_eq!(describe_duration(Duration::seconds(172_800)), "2 days");
        assert_eq!(describe_duration(Duration::seconds(1_800)), "30 minutes");
        assert_eq!(describe_duration(Duration::seconds(60)), "1 minute");
        assert_eq!(describe_duration(Duration::seconds(5_400)), "90 minutes");
    }
}
