//! What resource servers ask: token introspection (RFC 7662), is this access
//! token live right now?, and the tiers' limits. Answered only to the client
//! holding the introspection credentials; introspection says nothing of a
//! token it does not accept.

use std::fmt;

use latch_domain::Tier;
use latch_ports::{LimitedAction, RateLimited, TokenIssuer};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{AuthService, AuthenticateError, Client, Principal, Unexpected};

/// The one client allowed to introspect: `introspection.client_id` and
/// `introspection.client_secret`. Only a hash of the secret is kept, so the
/// comparison takes the same time whatever was presented.
#[derive(Clone)]
pub struct IntrospectionClient {
    id: String,
    secret_hash: [u8; 32],
}

impl IntrospectionClient {
    /// The client `id` with `secret`.
    pub fn new(id: impl Into<String>, secret: &SecretString) -> Self {
        Self {
            id: id.into(),
            secret_hash: Sha256::digest(secret.expose_secret().as_bytes()).into(),
        }
    }

    /// Whether `presented` are this client's credentials (constant time in the secret).
    fn accepts(&self, presented: &ClientCredentials) -> bool {
        let secret = Sha256::digest(presented.secret.expose_secret().as_bytes());
        let secret_matches: bool = secret.as_slice().ct_eq(&self.secret_hash).into();
        // Both halves are always compared: the id is not secret, but an early
        // return would tell a prober which half was wrong.
        let id_matches: bool = presented.id.as_bytes().ct_eq(self.id.as_bytes()).into();
        secret_matches & id_matches
    }
}

impl fmt::Debug for IntrospectionClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectionClient")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Credentials a caller presented (HTTP Basic).
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    /// The client id.
    pub id: String,
    /// The client secret.
    pub secret: SecretString,
}

/// What introspection says of a token.
#[derive(Debug, Clone)]
pub enum Introspection {
    /// Accepted: its signature, claims, session and user are all live.
    Active {
        /// The token's caller, as authentication found them.
        principal: Box<Principal>,
        /// The fixed `iss`, `aud` and algorithm of Latch's tokens.
        issuer: TokenIssuer,
    },
    /// Anything else: expired, revoked, foreign, malformed, a refresh token.
    Inactive,
}

/// Why an introspection request was refused.
#[derive(Debug, thiserror::Error)]
pub enum IntrospectError {
    /// No credentials, wrong ones, or introspection is not configured.
    #[error("introspection client not authenticated")]
    ClientRefused,
    /// The client IP's budget is spent.
    #[error(transparent)]
    RateLimited(#[from] RateLimited),
    /// Not the client's fault.
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

impl AuthService {
    /// Introspects `token` for a resource server presenting `credentials`.
    ///
    /// Every call spends from the client IP's introspection budget before the
    /// secret is compared. An accepted token is checked exactly as a request
    /// bearing it would be, so a logout shows at once.
    ///
    /// # Errors
    /// [`IntrospectError::ClientRefused`] unless `credentials` are the
    /// configured client's; a spent budget; storage failures.
    pub async fn introspect(
        &self,
        client: &Client,
        credentials: Option<&ClientCredentials>,
        token: &str,
    ) -> Result<Introspection, IntrospectError> {
        self.admit_resource_server(client, credentials).await?;
        match self.authenticate(token).await {
            Ok(principal) => Ok(Introspection::Active {
                principal: Box::new(principal),
                issuer: self.ports.tokens.issuer(),
            }),
            Err(AuthenticateError::Expired | AuthenticateError::Invalid) => Ok(Introspection::Inactive),
            Err(AuthenticateError::Unexpected(err)) => Err(err.into()),
        }
    }

    /// Every tier with its per-path limits, for a resource server enforcing
    /// them (budgeted and authenticated as introspection is).
    ///
    /// # Errors
    /// As [`Self::introspect`].
    pub async fn resource_server_tiers(
        &self,
        client: &Client,
        credentials: Option<&ClientCredentials>,
    ) -> Result<Vec<Tier>, IntrospectError> {
        self.admit_resource_server(client, credentials).await?;
        Ok(self.ports.tiers.list().await.map_err(Unexpected::from)?)
    }

    /// Spends the client IP's budget, then checks the client's credentials.
    async fn admit_resource_server(
        &self,
        client: &Client,
        credentials: Option<&ClientCredentials>,
    ) -> Result<(), IntrospectError> {
        self.admit(LimitedAction::Introspect, client, None).await?;
        let allowed = self.config.introspection_client.as_ref();
        let accepted = allowed
            .zip(credentials)
            .is_some_and(|(allowed, presented)| allowed.accepts(presented));
        if !accepted {
            tracing::info!(
                client_id = credentials.map(|c| c.id.as_str()),
                "resource server client refused"
            );
            return Err(IntrospectError::ClientRefused);
        }
        Ok(())
    }

    /// Who issues Latch's tokens, for whom, and how they are signed.
    pub fn token_issuer(&self) -> TokenIssuer {
        self.ports.tokens.issuer()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials(id: &str, secret: &str) -> ClientCredentials {
        ClientCredentials {
            id: id.to_owned(),
            secret: secret.to_owned().into(),
        }
    }

    #[test]
    fn only_the_configured_id_and_secret_are_accepted() {
        let client = IntrospectionClient::new("api", &"s3cret".to_owned().into());
        assert!(client.accepts(&credentials("api", "s3cret")));
        assert!(!client.accepts(&credentials("api", "s3cret ")));
        assert!(!client.accepts(&credentials("api", "")));
        assert!(!client.accepts(&credentials("other", "s3cret")));
        assert!(!client.accepts(&credentials("", "s3cret")));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let client = IntrospectionClient::new("api", &"s3cret".to_owned().into());
        assert!(!format!("{client:?}").contains("s3cret"));
    }
}
