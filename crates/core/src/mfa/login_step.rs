//! The second step of a login for an account with a second factor: the
//! password step answers with an `mfa_token`, which a code exchanges for
//! the session.

use latch_domain::{AuditAction, AuthMethods, User};
use latch_ports::{LimitedAction, LoginOutcome, MfaChallenge, RateLimited, VerifiedLogin};
use secrecy::{ExposeSecret, SecretString};

use super::FactorUsed;
use crate::login::OpenError;
use crate::random_token::RandomToken;
use crate::throttle::account_key;
use crate::{AuthService, Client, TokenPair, Unexpected};

/// The answer to a correct password for an account with a second factor:
/// no session yet, a token for the second step. Its `Debug` omits the token.
#[derive(Clone)]
pub struct MfaChallengeIssued {
    /// The `mfa_token`: single use, short-lived, good for a few codes.
    pub mfa_token: String,
    /// The second factors that complete it, as the API names them.
    pub methods: &'static [&'static str],
}

impl std::fmt::Debug for MfaChallengeIssued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaChallengeIssued")
            .field("mfa_token", &"<redacted>")
            .field("methods", &self.methods)
            .finish()
    }
}

/// The second step of a login.
#[derive(Debug, Clone, Default)]
pub struct MfaLoginRequest {
    /// The `mfa_token` the password step answered with.
    pub mfa_token: String,
    /// A TOTP code or a recovery code; its `Debug` is redacted.
    pub code: SecretString,
    /// Where the request came from.
    pub client: Client,
}

/// Why a login's second step failed.
#[derive(Debug, thiserror::Error)]
pub enum MfaLoginError {
    /// The `mfa_token` is unknown, expired, spent or out of attempts.
    #[error("the mfa_token is not valid")]
    TokenInvalid,
    /// The code is wrong, already used, or outside the time window.
    #[error("the code is not valid")]
    CodeInvalid,
    /// Too many attempts from this client or for this account; retry later.
    #[error("rate limited")]
    RateLimited(#[from] RateLimited),
    /// Not the client's fault.
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

/// The methods an `mfa_required` answer offers.
const METHODS: &[&str] = &["totp", "recovery_code"];

impl AuthService {
    /// Stores a challenge for a login whose password checked out, for an
    /// account with a second factor; the session waits for a code.
    pub(crate) async fn issue_mfa_challenge(
        &self,
        user: &User,
        verified: VerifiedLogin,
        client: &Client,
    ) -> Result<MfaChallengeIssued, Unexpected> {
        let token = RandomToken::generate();
        let now = self.ports.clock.now();
        let mfa = &self.config.mfa;
        let challenge = MfaChallenge {
            token_hash: token.hash(),
            user_id: user.id,
            login: verified,
            user_agent: client.stored_user_agent(),
            ip: client.ip.clone(),
            created_at: now,
            expires_at: now + mfa.challenge_ttl,
            attempts_left: mfa.max_attempts,
        };
        self.ports.mfa_challenges.create(&challenge).await?;
        tracing::info!(user_id = %user.id, "password accepted; waiting for the second factor");
        Ok(MfaChallengeIssued {
            mfa_token: token.encoded(),
            methods: METHODS,
        })
    }

    /// Completes a login with a code (TOTP or recovery code) and opens a
    /// session whose tokens carry `amr: ["pwd", "otp"]`.
    ///
    /// The attempt spends the login budgets of the client and the account,
    /// and is refused while the account backs off. A wrong code counts as a
    /// failed login of the account and uses up one of the token's attempts;
    /// the token is spent by the first right code.
    #[tracing::instrument(skip_all)]
    pub async fn complete_mfa_login(&self, request: MfaLoginRequest) -> Result<TokenPair, MfaLoginError> {
        let result = self.attempt_mfa_login(request).await;
        self.ports.metrics.login(match &result {
            Ok(_) => LoginOutcome::Success,
            Err(MfaLoginError::TokenInvalid) => LoginOutcome::MfaTokenInvalid,
            Err(MfaLoginError::CodeInvalid) => LoginOutcome::MfaCodeInvalid,
            Err(MfaLoginError::RateLimited(_)) => LoginOutcome::RateLimited,
            Err(MfaLoginError::Unexpected(_)) => LoginOutcome::Error,
        });
        result
    }

    /// [`Self::complete_mfa_login`], before its outcome is counted.
    async fn attempt_mfa_login(&self, request: MfaLoginRequest) -> Result<TokenPair, MfaLoginError> {
        let client = &request.client;
        let now = self.ports.clock.now();
        let token = RandomToken::parse(&request.mfa_token);
        let challenge = match &token {
            Some(token) => self
                .ports
                .mfa_challenges
                .find_live(&token.hash(), now)
                .await
                .map_err(Unexpected::from)?,
            None => None,
        };
        let (Some(token), Some(challenge)) = (token, challenge) else {
            // Guessing tokens costs the client's budget all the same.
            self.admit(LimitedAction::Login, client, None).await?;
            tracing::info!("second step refused: no live mfa_token");
            return Err(MfaLoginError::TokenInvalid);
        };
        let user_id = challenge.user_id;
        let account = account_key(user_id);
        self.backoff(LimitedAction::Login, &account).await?;
        self.admit(LimitedAction::Login, client, Some(&account)).await?;

        let Some(factor) = self
            .spend_second_factor(user_id, request.code.expose_secret())
            .await?
        else {
            let left = self
                .ports
                .mfa_challenges
                .record_failure(&token.hash(), now)
                .await
                .map_err(Unexpected::from)?;
            self.ports.limiter.record_login_failure(&account).await;
            tracing::info!(%user_id, attempts_left = left.unwrap_or(0), "second step refused: wrong code");
            self.audit(AuditAction::LoginFailed, None, Some(user_id), client)
                .await;
            return Err(MfaLoginError::CodeInvalid);
        };
        if !self
            .ports
            .mfa_challenges
            .consume(&token.hash(), now)
            .await
            .map_err(Unexpected::from)?
        {
            tracing::info!(%user_id, "second step refused: the mfa_token was spent meanwhile");
            return Err(MfaLoginError::TokenInvalid);
        }
        let user = self
            .ports
            .users
            .find_by_id(user_id)
            .await
            .map_err(Unexpected::from)?;
        let Some(user) = user.filter(User::can_authenticate) else {
            tracing::info!(%user_id, "second step refused: the account may no longer log in");
            self.audit(AuditAction::LoginFailed, None, Some(user_id), client)
                .await;
            return Err(MfaLoginError::TokenInvalid);
        };
        // The session belongs to the login attempt that checked the password.
        let session_client = Client {
            ip: challenge.ip.clone(),
            user_agent: challenge.user_agent.clone(),
        };
        let pair = match self
            .open_session(
                user,
                &challenge.login,
                &session_client,
                AuthMethods::PasswordAndOtp,
            )
            .await
        {
            Ok(pair) => pair,
            Err(OpenError::AccountChanged) => {
                tracing::info!(%user_id, "second step refused: the account changed since the password step");
                self.audit(AuditAction::LoginFailed, None, Some(user_id), client)
                    .await;
                return Err(MfaLoginError::TokenInvalid);
            }
            Err(OpenError::Unexpected(err)) => return Err(err.into()),
        };
        self.ports.limiter.record_login_success(&account).await;
        tracing::info!(%user_id, session_id = %pair.session.id, ?factor, "login succeeded with a second factor");
        if factor == FactorUsed::RecoveryCode {
            self.audit(
                AuditAction::RecoveryCodeUsed,
                Some(user_id),
                Some(user_id),
                client,
            )
            .await;
        }
        self.audit(AuditAction::LoginSucceeded, Some(user_id), Some(user_id), client)
            .await;
        Ok(pair)
    }
}
