//! Login: exchange a password for a new session.

use latch_domain::{AuditAction, Password, RefreshTokenRecord, Session, SessionId, User, UserId};
use latch_ports::{HashError, LimitedAction, RateLimited, Verification};
use uuid::Uuid;

use crate::refresh_token::RefreshSecret;
use crate::throttle::account_key;
use crate::{AuthService, Client, TokenPair, Unexpected};

/// Longest `User-Agent` kept with a session or an audit event.
pub(crate) const USER_AGENT_MAX: usize = 512;

/// A login attempt.
#[derive(Debug, Clone, Default)]
pub struct LoginRequest {
    /// Email or username.
    pub login: String,
    /// Plaintext password.
    pub password: String,
    /// Where the request came from: kept with the session and in the audit trail.
    pub client: Client,
}

/// The outcome of a password check that did not fail for infrastructure reasons.
enum CheckedPassword {
    /// The password matched an account that may log in.
    Valid(User),
    /// It did not; `user_id` is the account the login named, if any (for the audit trail only).
    Invalid { user_id: Option<UserId> },
}

/// Why a login failed. Deliberately says nothing about which check failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown user, wrong password, inactive or deleted account.
    #[error("invalid credentials")]
    InvalidCredentials,
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
    /// verification: an unknown user is checked against a dummy hash, and
    /// whether the account may log in is only looked at once the password
    /// has matched.
    ///
    /// Before any of that, the attempt must fit the client IP's and the
    /// account's budgets and the account must not be backing off after
    /// repeated failures (`RateLimited`, decided without hashing).
    #[tracing::instrument(skip_all)]
    pub async fn login(&self, request: LoginRequest) -> Result<TokenPair, LoginError> {
        let client = request.client;
        let account = account_key(&request.login);
        // The backoff is read first: an attempt it refuses spends no budget.
        self.ports.limiter.login_backoff(&account).await?;
        self.admit(LimitedAction::Login, &client, Some(&account)).await?;
        let checked = match Password::attempt(&request.password, &self.config.password_policy) {
            Some(password) => self.check_password(&request.login, &password).await?,
            None => CheckedPassword::Invalid { user_id: None },
        };
        let user = match checked {
            CheckedPassword::Valid(user) => user,
            CheckedPassword::Invalid { user_id } => {
                self.ports.limiter.record_login_failure(&account).await;
                self.audit(AuditAction::LoginFailed, None, user_id, &client).await;
                return Err(LoginError::InvalidCredentials);
            }
        };
        self.ports.limiter.record_login_success(&account).await;
        let now = self.ports.clock.now();

        let session = Session {
            id: SessionId::generate(),
            user_id: user.id,
            created_at: now,
            last_used_at: now,
            expires_at: now + self.config.session_max_age,
            revoked_at: None,
            user_agent: client
                .user_agent
                .as_ref()
                .map(|ua| ua.chars().take(USER_AGENT_MAX).collect()),
            ip: client.ip.clone(),
        };
        let secret = RefreshSecret::generate();
        let first_token = self.refresh_record(&session, &secret, None, now);
        self.ports
            .sessions
            .create(&session, &first_token)
            .await
            .map_err(Unexpected::from)?;
        self.ports
            .users
            .record_login(user.id, now)
            .await
            .map_err(Unexpected::from)?;
        // Neither recorded nor forgotten: logins are frequent, and forgetting a
        // user scans the cache. Cached copies of this user's other sessions
        // show the new `last_login_at` within the cache's max age.
        let user = User {
            last_login_at: Some(now),
            ..user
        };

        let (access_token, access_expires_at) = self.sign_access(&user, &session, now)?;
        tracing::info!(user_id = %user.id, session_id = %session.id, "login succeeded");
        self.audit(AuditAction::LoginSucceeded, Some(user.id), Some(user.id), &client)
            .await;
        Ok(TokenPair {
            access_token,
            access_expires_at,
            refresh: Some((secret.token(), first_token.expires_at)),
            user,
            session,
        })
    }

    /// The account `login` names, if `password` is its password and it may
    /// authenticate. Rehashes outdated hashes on the way.
    async fn check_password(&self, login: &str, password: &Password) -> Result<CheckedPassword, LoginError> {
        let Some(credentials) = self
            .ports
            .users
            .find_credentials(login)
            .await
            .map_err(Unexpected::from)?
        else {
            self.ports.hasher.verify_dummy(password).await?;
            tracing::info!("login failed: unknown account");
            return Ok(CheckedPassword::Invalid { user_id: None });
        };
        let needs_rehash = match self
            .ports
            .hasher
            .verify(password, &credentials.password_hash)
            .await
        {
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
        if !user.can_authenticate() {
            tracing::info!(user_id = %user.id, "login failed: account inactive or deleted");
            return Ok(CheckedPassword::Invalid {
                user_id: Some(user.id),
            });
        }
        if needs_rehash {
            self.rehash(&user, password).await;
        }
        Ok(CheckedPassword::Valid(user))
    }

    /// Replaces an outdated hash; a failure here must not fail the login.
    async fn rehash(&self, user: &User, password: &Password) {
        let result = match self.ports.hasher.hash(password).await {
            Ok(hash) => self
                .ports
                .users
                .set_password_hash(user.id, &hash, self.ports.clock.now())
                .await
                .map_err(|err| err.to_string()),
            Err(err) => Err(err.to_string()),
        };
        match result {
            Ok(()) => tracing::info!(user_id = %user.id, "password rehashed to the current scheme"),
            Err(err) => tracing::warn!(user_id = %user.id, error = %err, "password rehash failed"),
        }
    }

    /// A refresh-token record for `secret`, expiring after the idle lifetime
    /// but never after the session.
    pub(crate) fn refresh_record(
        &self,
        session: &Session,
        secret: &RefreshSecret,
        parent_id: Option<Uuid>,
        now: latch_domain::Timestamp,
    ) -> RefreshTokenRecord {
        RefreshTokenRecord {
            id: Uuid::now_v7(),
            session_id: session.id,
            token_hash: secret.hash(),
            parent_id,
            created_at: now,
            expires_at: (now + self.config.refresh_idle_ttl).min(session.expires_at),
            rotated_at: None,
            successor_id: None,
            successor_sealed: None,
        }
    }
}
