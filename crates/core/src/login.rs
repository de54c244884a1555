//! Login: exchange a password for a new session.

use latch_domain::{AuditAction, AuthMethods, Password, Session, SessionId, User, UserId};
use latch_ports::{
    CreateSessionError, HashError, LimitedAction, LoginOutcome, PasswordHash, RateLimited, UserCredentials,
    Verification, VerifiedLogin,
};
use secrecy::{ExposeSecret, SecretString};

use crate::mfa::MfaChallengeIssued;
use crate::refresh_token::RefreshSecret;
use crate::throttle::{account_key, typed_login_key};
use crate::{AuthService, Client, TokenPair, Unexpected};

/// A login attempt.
#[derive(Debug, Clone, Default)]
pub struct LoginRequest {
    /// Email or username.
    pub login: String,
    /// Plaintext password; its `Debug` is redacted.
    pub password: SecretString,
    /// Where the request came from: kept with the session and in the audit trail.
    pub client: Client,
}

/// The outcome of a password check that did not fail for infrastructure reasons.
enum CheckedPassword {
    /// The password matched an account that may log in, as `VerifiedLogin` saw it.
    Valid(Box<(User, VerifiedLogin)>),
    /// It did not; `user_id` is the account the login named, if any (for the audit trail only).
    Invalid { user_id: Option<UserId> },
}

/// Why a checked login's session was not opened.
pub(crate) enum OpenError {
    /// The account changed since the check.
    AccountChanged,
    /// Not the client's fault.
    Unexpected(Unexpected),
}

impl From<Unexpected> for OpenError {
    fn from(err: Unexpected) -> Self {
        Self::Unexpected(err)
    }
}

/// Why a login failed. Deliberately says nothing about which check failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown user, wrong password, inactive or deleted account.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The password is right, but the account's email must be verified
    /// first (`email.require_verified_for_login`).
    #[error("email not verified")]
    EmailNotVerified,
    /// The password is right and the account has a second factor: no
    /// session yet; the challenge's token and a code complete the login
    /// ([`AuthService::complete_mfa_login`]).
    #[error("second factor required")]
    MfaRequired(MfaChallengeIssued),
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
    /// Verifies the password and opens a session.
    ///
    /// Every failure is the same `InvalidCredentials` and costs one password
    /// verification: an unknown user is checked against a dummy hash, and an
    /// account that may not log in is verified all the same, its answer
    /// padded like a failure's.
    ///
    /// Before hashing, the attempt must fit the client IP's and the account's
    /// budgets and the account must not be backing off after repeated
    /// failures (`RateLimited`). An existing account is budgeted by its id,
    /// so its email and username share one budget; a login naming no account
    /// by the text typed.
    ///
    /// The session is stored only if the account is still the one checked
    /// (active, not deleted, same password), atomically with its storage.
    #[tracing::instrument(skip_all)]
    pub async fn login(&self, request: LoginRequest) -> Result<TokenPair, LoginError> {
        let result = self.attempt_login(request).await;
        self.ports.metrics.login(match &result {
            Ok(_) => LoginOutcome::Success,
            Err(LoginError::InvalidCredentials) => LoginOutcome::InvalidCredentials,
            Err(LoginError::EmailNotVerified) => LoginOutcome::EmailNotVerified,
            Err(LoginError::MfaRequired(_)) => LoginOutcome::MfaRequired,
            Err(LoginError::RateLimited(_)) => LoginOutcome::RateLimited,
            Err(LoginError::Overloaded) => LoginOutcome::Overloaded,
            Err(LoginError::Unexpected(_)) => LoginOutcome::Error,
        });
        result
    }

    /// [`Self::login`], before its outcome is counted.
    async fn attempt_login(&self, request: LoginRequest) -> Result<TokenPair, LoginError> {
        let client = request.client;
        let credentials = self.find_credentials(&request.login).await?;
        let account = credentials.as_ref().map_or_else(
            || typed_login_key(&request.login),
            |found| account_key(found.user.id),
        );
        // The backoff is read first: an attempt it refuses spends no budget.
        self.backoff(LimitedAction::Login, &account).await?;
        self.admit(LimitedAction::Login, &client, Some(&account)).await?;
        let Some(password) =
            Password::attempt(request.password.expose_secret(), &self.config.password_policy)
        else {
            return Err(self.login_failed(&account, None, &client).await);
        };
        let mut checked = self.check_password(credentials, &password).await?;
        // A change to the account between the check and the session's storage
        // voids the check. Once more from a fresh read: a concurrent login's
        // rehash also replaces the hash, and must not fail this one.
        let mut retried = false;
        loop {
            let (user, verified) = match checked {
                CheckedPassword::Valid(valid) => *valid,
                CheckedPassword::Invalid { user_id } => {
                    return Err(self.login_failed(&account, user_id, &client).await);
                }
            };
            let user_id = user.id;
            if self.must_verify_first(&user) {
                // Said only now that the password checked out: a wrong
                // password stays the uniform 401. The password was right, so
                // the backoff is cleared as for any correct one.
                self.ports.limiter.record_login_success(&account).await;
                tracing::info!(user_id = %user_id, "login refused: email not verified");
                self.audit(AuditAction::LoginFailed, None, Some(user_id), &client)
                    .await;
                return Err(LoginError::EmailNotVerified);
            }
            if user.mfa_enabled {
                // The backoff is cleared only once the second factor checks out.
                let issued = self.issue_mfa_challenge(&user, verified, &client).await?;
                return Err(LoginError::MfaRequired(issued));
            }
            match self
                .open_session(user, &verified, &client, AuthMethods::Password)
                .await
            {
                Err(OpenError::AccountChanged) if !retried => {
                    tracing::info!("account changed during login; checking again");
                    retried = true;
                    let fresh = self.find_credentials(&request.login).await?;
                    checked = self.check_password(fresh, &password).await?;
                }
                Err(OpenError::AccountChanged) => {
                    return Err(self.login_failed(&account, Some(user_id), &client).await);
                }
                Err(OpenError::Unexpected(err)) => return Err(err.into()),
                Ok(pair) => {
                    self.ports.limiter.record_login_success(&account).await;
                    tracing::info!(user_id = %pair.user.id, session_id = %pair.session.id, "login succeeded");
                    self.audit(
                        AuditAction::LoginSucceeded,
                        Some(pair.user.id),
                        Some(pair.user.id),
                        &client,
                    )
                    .await;
                    return Ok(pair);
                }
            }
        }
    }

    /// Whether `user` may not log in before verifying their email.
    fn must_verify_first(&self, user: &User) -> bool {
        let required = self
            .config
            .email
            .as_ref()
            .is_some_and(|email| email.require_verified_for_login);
        required && !user.email_verified
    }

    /// Counts and records a failed attempt; the error to answer with.
    async fn login_failed(&self, account: &str, user_id: Option<UserId>, client: &Client) -> LoginError {
        self.ports.limiter.record_login_failure(account).await;
        self.audit(AuditAction::LoginFailed, None, user_id, client).await;
        LoginError::InvalidCredentials
    }

    /// The account `login` names (email or username), deleted or not.
    async fn find_credentials(&self, login: &str) -> Result<Option<UserCredentials>, Unexpected> {
        Ok(self.ports.users.find_credentials(login).await?)
    }

    /// Stores a new session for `user`, if the account is still as `verified`
    /// found it (and, for a password alone, still has no second factor), and
    /// signs its tokens.
    pub(crate) async fn open_session(
        &self,
        user: User,
        verified: &VerifiedLogin,
        client: &Client,
        auth_methods: AuthMethods,
    ) -> Result<TokenPair, OpenError> {
        let now = self.ports.clock.now();
        let session = Session {
            id: SessionId::generate(),
            user_id: user.id,
            created_at: now,
            last_used_at: now,
            expires_at: now + self.config.session_max_age,
            revoked_at: None,
            user_agent: client.stored_user_agent(),
            ip: client.ip.clone(),
            auth_methods,
        };
        let secret = RefreshSecret::generate();
        let first_token = self.refresh_record(&session, &secret, None, now);
        self.ports
            .sessions
            .create(&session, &first_token, verified)
            .await
            .map_err(|err| match err {
                CreateSessionError::AccountChanged => OpenError::AccountChanged,
                CreateSessionError::Repository(err) => OpenError::Unexpected(err.into()),
            })?;
        // The store set `last_login_at` with the session: answer with it.
        let user = User {
            last_login_at: Some(now),
            ..user
        };
        let (access_token, access_expires_at) = self.sign_access(&user, &session, now)?;
        Ok(TokenPair {
            access_token,
            access_expires_at,
            refresh: Some((secret.token(), first_token.expires_at)),
            user,
            session,
        })
    }

    /// Whether `password` is the password of the account `credentials` hold
    /// and that account may authenticate. Costs one verification either way;
    /// computes a fresh hash for an outdated one.
    async fn check_password(
        &self,
        credentials: Option<UserCredentials>,
        password: &Password,
    ) -> Result<CheckedPassword, LoginError> {
        let Some(credentials) = credentials else {
            self.ports.hasher.verify_dummy(password).await?;
            tracing::info!("login failed: unknown account");
            return Ok(CheckedPassword::Invalid { user_id: None });
        };
        // An account that may not log in is refused whatever the password,
        // and its verification is padded as a failure even when it matches.
        let may_log_in = credentials.user.can_authenticate();
        let hasher = &self.ports.hasher;
        let verification = if may_log_in {
            hasher.verify(password, &credentials.password_hash).await
        } else {
            hasher.verify_refused(password, &credentials.password_hash).await
        };
        let needs_rehash = match verification {
            Ok(Verification::Match { needs_rehash }) => needs_rehash,
            Ok(Verification::Mismatch) => {
                tracing::info!(user_id = %credentials.user.id, "login failed: wrong password");
                return Ok(CheckedPassword::Invalid {
                    user_id: Some(credentials.user.id),
                });
            }
            Err(HashError::UnsupportedFormat) => {
                tracing::warn!(user_id = %credentials.user.id, "stored password hash has an unsupported format");
                return Ok(CheckedPassword::Invalid {
                    user_id: Some(credentials.user.id),
                });
            }
            Err(err) => return Err(err.into()),
        };
        let user = credentials.user;
        if !may_log_in {
            tracing::info!(user_id = %user.id, "login failed: account inactive or deleted");
            return Ok(CheckedPassword::Invalid {
                user_id: Some(user.id),
            });
        }
        let rehash = if needs_rehash {
            self.rehash(&user, password).await
        } else {
            None
        };
        let verified = VerifiedLogin {
            password_hash: credentials.password_hash,
            rehash,
        };
        Ok(CheckedPassword::Valid(Box::new((user, verified))))
    }

    /// A hash in the current scheme to replace an outdated one, stored with
    /// the session; a failure here must not fail the login.
    async fn rehash(&self, user: &User, password: &Password) -> Option<PasswordHash> {
        match self.ports.hasher.hash(password).await {
            Ok(hash) => {
                tracing::info!(user_id = %user.id, "password rehashed to the current scheme");
                Some(hash)
            }
            Err(err) => {
                tracing::warn!(user_id = %user.id, error = %err, "password rehash failed");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SignupRequest;

    #[test]
    fn requests_never_print_their_password() {
        let login = LoginRequest {
            login: "ada@example.com".into(),
            password: "hunter2 is my password".into(),
            ..LoginRequest::default()
        };
        let signup = SignupRequest {
            email: "ada@example.com".into(),
            password: "hunter2 is my password".into(),
            ..SignupRequest::default()
        };
        for printed in [format!("{login:?}"), format!("{signup:?}")] {
            assert!(printed.contains("ada@example.com"), "{printed}");
            assert!(!printed.contains("hunter2"), "{printed}");
        }
    }
}
