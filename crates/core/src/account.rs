//! Self-service account management: password change, account deletion, and
//! the caller's own sessions.

use latch_domain::{AuditAction, Password, PersonalInfo, Session, SessionId, ValidationError};
use latch_ports::{DeleteUserError, HashError, LimitedAction, RateLimited, Verification};

use crate::throttle::account_key;
use crate::{AuthService, Client, Principal, Unexpected};

/// Why a password check on a self-service action failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The password given to confirm the action is not the account's password.
    #[error("{field} is incorrect")]
    WrongPassword {
        /// The request field that carried it.
        field: &'static str,
    },
    /// A new value breaks a rule.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The caller is the last active superuser, who may not leave.
    #[error("this would leave no active superuser")]
    LastSuperuser,
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

/// The caller's session, or another of theirs, as listed to them.
#[derive(Debug, Clone)]
pub struct SessionView {
    /// The session.
    pub session: Session,
    /// Whether it is the session making the request.
    pub current: bool,
}

/// Why a session could not be revoked.
#[derive(Debug, thiserror::Error)]
pub enum RevokeSessionError {
    /// No session of the caller has this id (someone else's is not revealed).
    #[error("session not found")]
    NotFound,
    /// Not the client's fault.
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

impl AuthService {
    /// Changes the caller's password after checking the current one. Every
    /// other session of the caller is revoked; the calling one keeps working.
    ///
    /// The check is budgeted and feeds the account's login backoff
    /// ([`Self::confirm_password`]).
    #[tracing::instrument(skip_all, fields(user_id = %principal.user.id))]
    pub async fn change_password(
        &self,
        principal: &Principal,
        current_password: &str,
        new_password: &str,
        client: &Client,
    ) -> Result<(), AccountError> {
        let account = self.admit_confirmation(principal, client).await?;
        let user = &principal.user;
        let personal = PersonalInfo {
            email: Some(user.email.as_str()),
            username: user.username.as_deref(),
            name: user.name.as_deref(),
        };
        let new_password = Password::new_choice(new_password, &self.config.password_policy, &personal)
            .map_err(|err| ValidationError {
                field: "new_password",
                ..err
            })?;
        self.confirm_password(principal, &account, current_password, "current_password")
            .await?;
        let hash = self.ports.hasher.hash(&new_password).await?;
        let now = self.ports.clock.now();
        self.ports
            .users
            .set_password_hash(principal.user.id, &hash, now)
            .await
            .map_err(Unexpected::from)?;
        let ended = self
            .ports
            .sessions
            .revoke_all_for_user(principal.user.id, Some(principal.session.id), now)
            .await
            .map_err(Unexpected::from)?;
        tracing::info!(ended, "password changed; other sessions revoked");
        self.audit_own(AuditAction::PasswordChanged, principal).await;
        Ok(())
    }

    /// Soft-deletes the caller's account after checking the password: the data
    /// is kept, every session ends, and login fails like a wrong password.
    /// The check is budgeted and feeds the login backoff, as for a password
    /// change. The last active superuser may not delete themself.
    #[tracing::instrument(skip_all, fields(user_id = %principal.user.id))]
    pub async fn delete_account(
        &self,
        principal: &Principal,
        password: &str,
        client: &Client,
    ) -> Result<(), AccountError> {
        let account = self.admit_confirmation(principal, client).await?;
        self.confirm_password(principal, &account, password, "password")
            .await?;
        let now = self.ports.clock.now();
        self.ports
            .users
            .soft_delete(principal.user.id, now)
            .await
            .map_err(|err| match err {
                DeleteUserError::LastSuperuser => AccountError::LastSuperuser,
                DeleteUserError::Repository(err) => AccountError::Unexpected(err.into()),
            })?;
        self.ports
            .sessions
            .revoke_all_for_user(principal.user.id, None, now)
            .await
            .map_err(Unexpected::from)?;
        tracing::info!("account soft-deleted; all sessions revoked");
        self.audit_own(AuditAction::AccountDeleted, principal).await;
        Ok(())
    }

    /// The caller's live sessions, newest first, the calling one marked.
    pub async fn list_sessions(&self, principal: &Principal) -> Result<Vec<SessionView>, Unexpected> {
        let now = self.ports.clock.now();
        let sessions = self
            .ports
            .sessions
            .list_live_for_user(principal.user.id, now)
            .await?;
        Ok(sessions
            .into_iter()
            .map(|session| SessionView {
                current: session.id == principal.session.id,
                session,
            })
            .collect())
    }

    /// Revokes one of the caller's own sessions.
    #[tracing::instrument(skip_all, fields(user_id = %principal.user.id, %session_id))]
    pub async fn revoke_session(
        &self,
        principal: &Principal,
        session_id: SessionId,
    ) -> Result<(), RevokeSessionError> {
        let session = self
            .ports
            .sessions
            .find(session_id)
            .await
            .map_err(Unexpected::from)?;
        if session.is_none_or(|s| s.user_id != principal.user.id) {
            return Err(RevokeSessionError::NotFound);
        }
        let now = self.ports.clock.now();
        self.ports
            .sessions
            .revoke(session_id, now)
            .await
            .map_err(Unexpected::from)?;
        tracing::info!("session revoked by its owner");
        self.audit_own(AuditAction::SessionRevoked, principal).await;
        Ok(())
    }

    /// Records something the caller did to their own account.
    pub(crate) async fn audit_own(&self, action: AuditAction, principal: &Principal) {
        let user = Some(principal.user.id);
        self.audit(action, user, user, &Client::of_session(&principal.session))
            .await;
    }

    /// Lets a password confirmation by the caller go ahead: the account must
    /// not be backing off, and the attempt must fit the client's and the
    /// account's budgets. Returns the account's throttle key.
    pub(crate) async fn admit_confirmation(
        &self,
        principal: &Principal,
        client: &Client,
    ) -> Result<String, AccountError> {
        let account = account_key(principal.user.id);
        self.backoff(LimitedAction::PasswordChange, &account).await?;
        self.admit(LimitedAction::PasswordChange, client, Some(&account))
            .await?;
        Ok(account)
    }

    /// Checks `password` against the caller's stored hash. A wrong password
    /// counts as a failed login of `account` (the same backoff), so a stolen
    /// access token is no faster a way to guess the password than the login.
    pub(crate) async fn confirm_password(
        &self,
        principal: &Principal,
        account: &str,
        password: &str,
        field: &'static str,
    ) -> Result<(), AccountError> {
        let checked = self.check_own_password(principal, password, field).await;
        match &checked {
            Ok(()) => self.ports.limiter.record_login_success(account).await,
            Err(AccountError::WrongPassword { .. }) => self.ports.limiter.record_login_failure(account).await,
            Err(_) => {}
        }
        checked
    }

    /// Whether `password` is the caller's password.
    async fn check_own_password(
        &self,
        principal: &Principal,
        password: &str,
        field: &'static str,
    ) -> Result<(), AccountError> {
        let wrong = AccountError::WrongPassword { field };
        let Some(password) = Password::attempt(password, &self.config.password_policy) else {
            return Err(wrong);
        };
        let credentials = self
            .ports
            .users
            .find_credentials(principal.user.email.as_str())
            .await
            .map_err(Unexpected::from)?;
        let Some(credentials) = credentials.filter(|c| c.user.id == principal.user.id) else {
            return Err(AccountError::Unexpected(Unexpected::new(
                "the caller's account vanished",
            )));
        };
        match self
            .ports
            .hasher
            .verify(&password, &credentials.password_hash)
            .await
        {
            Ok(Verification::Match { .. }) => Ok(()),
            Ok(Verification::Mismatch) | Err(HashError::UnsupportedFormat) => Err(wrong),
            Err(err) => Err(err.into()),
        }
    }
}
