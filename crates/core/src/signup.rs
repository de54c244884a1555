//! Signup: create an account.

use latch_domain::{
    AvatarUrl, DisplayName, Email, Password, PersonalInfo, User, UserId, Username, ValidationError,
};
use latch_ports::{CreateUserError, LimitedAction, NewUser, RateLimited};

use latch_domain::AuditAction;
use secrecy::{ExposeSecret, SecretString};

use crate::throttle::typed_login_key;
use crate::{AuthService, Client, Unexpected};

/// A signup as the client sent it; validated here.
#[derive(Debug, Clone, Default)]
pub struct SignupRequest {
    /// Email address.
    pub email: String,
    /// Chosen password (plaintext, dropped after hashing); its `Debug` is redacted.
    pub password: SecretString,
    /// Optional display name.
    pub name: Option<String>,
    /// Optional login name.
    pub username: Option<String>,
    /// Optional avatar URL.
    pub avatar_url: Option<String>,
    /// Where the request came from (for the audit trail).
    pub client: Client,
}

/// Why a signup failed.
#[derive(Debug, thiserror::Error)]
pub enum SignupError {
    /// A field breaks a rule.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The email belongs to another account.
    #[error("email already taken")]
    EmailTaken,
    /// The username belongs to another account.
    #[error("username already taken")]
    UsernameTaken,
    /// Too many attempts from this client or for this account; retry later.
    #[error("rate limited")]
    RateLimited(#[from] RateLimited),
    /// Too many password hashes in flight; retry later.
    #[error("overloaded")]
    Overloaded,
    /// Not the client's fault.
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

impl AuthService {
    /// Creates an ordinary account (no privileges, default tier), within the
    /// client's and the email's signup budgets, and mails it a verification
    /// link when email is on and configured to.
    #[tracing::instrument(skip_all)]
    pub async fn signup(&self, request: SignupRequest) -> Result<User, SignupError> {
        let account = typed_login_key(&request.email);
        self.admit(LimitedAction::Signup, &request.client, Some(&account))
            .await?;
        let user = self.create_user(request, false).await?;
        self.mail_verification_on_signup(&user).await;
        Ok(user)
    }

    /// Creates a superuser account (for `latch create-superuser`).
    #[tracing::instrument(skip_all)]
    pub async fn create_superuser(&self, request: SignupRequest) -> Result<User, SignupError> {
        self.create_user(request, true).await
    }

    async fn create_user(&self, request: SignupRequest, superuser: bool) -> Result<User, SignupError> {
        let request_client = request.client.clone();
        // Validate everything before the expensive hash.
        let email = Email::parse(&request.email)?;
        let username = request.username.as_deref().map(Username::parse).transpose()?;
        let name = request.name.as_deref().map(DisplayName::parse).transpose()?;
        let avatar_url = request.avatar_url.as_deref().map(AvatarUrl::parse).transpose()?;
        let personal = PersonalInfo {
            email: Some(email.as_str()),
            username: username.as_ref().map(Username::as_str),
            name: name.as_ref().map(DisplayName::as_str),
        };
        let password = Password::new_choice(
            request.password.expose_secret(),
            &self.config.password_policy,
            &personal,
        )?;
        let password_hash = self.ports.hasher.hash(&password).await?;

        let new = NewUser {
            id: UserId::generate(),
            email,
            username,
            name: name.filter(|n| !n.as_str().is_empty()),
            avatar_url,
            password_hash,
            is_superuser: superuser,
            is_staff: superuser,
            tier: self.config.default_tier.clone(),
            now: self.ports.clock.now(),
        };
        let user = self.ports.users.create(new).await.map_err(|err| match err {
            CreateUserError::EmailTaken => SignupError::EmailTaken,
            CreateUserError::UsernameTaken => SignupError::UsernameTaken,
            CreateUserError::Repository(err) => SignupError::Unexpected(err.into()),
        })?;
        tracing::info!(user_id = %user.id, superuser, "user signed up");
        self.audit(AuditAction::Signup, Some(user.id), Some(user.id), &request_client)
            .await;
        Ok(user)
    }
}
