//! The guard: how tokens are verified, and what else is asked of Latch.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::Deserialize;
use uuid::Uuid;

use crate::GuardError;
use crate::introspection::Introspector;
use crate::keys::{JwksCache, Keys};
use crate::tiers::{LatchClient, TierLimits};
use crate::user::AuthUser;

/// Verifies Latch access tokens for an actix-web service. Build one with
/// [`Guard::jwks`] or [`Guard::hs256`], add it with `App::app_data`, and take
/// [`AuthUser`] (or [`Superuser`](crate::Superuser), ...) in handlers.
///
/// Cheap to clone: clones share the key cache, introspection cache and counters.
#[derive(Clone)]
pub struct Guard {
    inner: Arc<Inner>,
}

struct Inner {
    keys: Keys,
    validation: Validation,
    introspector: Option<Introspector>,
    tier_limits: Option<TierLimits>,
    tier_order: Arc<[String]>,
    cookie: Option<String>,
}

/// Settings of a [`Guard`], with Latch's defaults.
#[must_use]
pub struct GuardBuilder {
    latch_url: Option<String>,
    keys: KeyChoice,
    algorithm: Algorithm,
    issuer: String,
    audience: String,
    leeway: Duration,
    refetch_interval: Duration,
    introspection: Option<(String, String)>,
    introspection_ttl: Duration,
    tier_limits: Option<TierLimits>,
    tier_order: Vec<String>,
    cookie: Option<String>,
    timeout: Duration,
}

enum KeyChoice {
    Jwks,
    Shared(Vec<u8>),
}

/// Why a guard could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The HTTP client could not be made.
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    /// A setting is unusable.
    #[error("{0}")]
    Invalid(&'static str),
}

impl Guard {
    /// Verifies with the keys Latch at `latch_url` (`https://auth.example.com`)
    /// publishes at `/.well-known/jwks.json`: EdDSA, the default.
    pub fn jwks(latch_url: impl Into<String>) -> GuardBuilder {
        GuardBuilder::new(Some(latch_url.into()), KeyChoice::Jwks, Algorithm::EdDSA)
    }

    /// Verifies HS256 tokens with the secret Latch signs with
    /// (`tokens.hs256_secret`). Introspection and tiers from Latch need
    /// [`GuardBuilder::latch_url`] too.
    pub fn hs256(secret: impl Into<Vec<u8>>) -> GuardBuilder {
        GuardBuilder::new(None, KeyChoice::Shared(secret.into()), Algorithm::HS256)
    }

    /// Verifies `token` offline: signature by a key Latch publishes (or the
    /// shared secret), `alg` exactly the configured one, `typ: at+jwt`, `iss`,
    /// `aud`, and `exp` with the leeway.
    ///
    /// # Errors
    /// [`GuardError::TokenExpired`], [`GuardError::InvalidToken`], or
    /// [`GuardError::Unavailable`] when Latch's keys were never fetched.
    pub async fn verify(&self, token: &str) -> Result<AuthUser, GuardError> {
        let inner = &self.inner;
        let header = jsonwebtoken::decode_header(token).map_err(|_| GuardError::InvalidToken)?;
        // Refuse before any key lookup: a junk `alg` must not cost a JWKS fetch.
        if !inner.validation.algorithms.contains(&header.alg) {
            return Err(GuardError::InvalidToken);
        }
        let key: DecodingKey = inner.keys.key(header.kid.as_deref()).await?;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &inner.validation).map_err(|err| match err
            .kind()
        {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => GuardError::TokenExpired,
            _ => GuardError::InvalidToken,
        })?;
        check_header(&data.header)?;
        Ok(data.claims.into_user(inner.tier_order.clone()))
    }

    /// Verifies `token` offline, then asks Latch whether it is still live
    /// (answers cached for the introspection TTL): a logout shows at once.
    ///
    /// # Errors
    /// As [`Self::verify`]; [`GuardError::InvalidToken`] if Latch says
    /// inactive; [`GuardError::Unavailable`] if Latch cannot be asked or no
    /// introspection credentials were configured.
    pub async fn verify_live(&self, token: &str) -> Result<AuthUser, GuardError> {
        let user = self.verify(token).await?;
        let Some(introspector) = &self.inner.introspector else {
            tracing::error!("LiveUser needs GuardBuilder::introspection credentials");
            return Err(GuardError::Unavailable);
        };
        if introspector.is_active(token).await? {
            Ok(user)
        } else {
            Err(GuardError::InvalidToken)
        }
    }

    /// Counts a request of `user` to `path` against their tier's limit.
    ///
    /// # Errors
    /// [`GuardError::RateLimited`] once it is spent.
    pub async fn admit(&self, user: &AuthUser, path: &str) -> Result<(), GuardError> {
        match &self.inner.tier_limits {
            Some(limits) => limits.admit(user.id, &user.tier, path).await,
            None => Ok(()),
        }
    }

    /// How many times Latch's JWKS has been fetched (0 with a shared secret).
    pub fn jwks_fetches(&self) -> u64 {
        match &self.inner.keys {
            Keys::Jwks(cache) => cache.fetches(),
            Keys::Shared(_) => 0,
        }
    }

    /// Fetches Latch's JWKS now, so the first request does not wait for it.
    ///
    /// # Errors
    /// The fetch's failure (the guard fetches again when a token needs it).
    pub async fn prefetch(&self) -> Result<(), reqwest::Error> {
        match &self.inner.keys {
            Keys::Jwks(cache) => cache.fetch().await,
            Keys::Shared(_) => Ok(()),
        }
    }

    /// The cookie the token may come in when no `Authorization` header is sent.
    pub(crate) fn cookie(&self) -> Option<&str> {
        self.inner.cookie.as_deref()
    }
}

impl GuardBuilder {
    fn new(latch_url: Option<String>, keys: KeyChoice, algorithm: Algorithm) -> Self {
        Self {
            latch_url: latch_url.map(|url| url.trim_end_matches('/').to_owned()),
            keys,
            algorithm,
            issuer: "latch".into(),
            audience: "latch".into(),
            leeway: Duration::from_secs(30),
            refetch_interval: Duration::from_secs(10),
            introspection: None,
            introspection_ttl: Duration::from_secs(5),
            tier_limits: None,
            tier_order: Vec::new(),
            cookie: None,
            timeout: Duration::from_secs(5),
        }
    }

    /// Latch's base URL, for introspection and tiers with a shared secret.
    pub fn latch_url(mut self, url: impl Into<String>) -> Self {
        self.latch_url = Some(url.into().trim_end_matches('/').to_owned());
        self
    }

    /// The algorithm tokens must be signed with: `EdDSA` (default with JWKS) or `RS256`.
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// The `iss` required (Latch's `tokens.issuer`; default `latch`).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self
    }

    /// The `aud` required (Latch's `tokens.audience`; default `latch`).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = audience.into();
        self
    }

    /// Clock skew allowed on `exp` (default 30 s, as Latch).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The shortest time between two JWKS fetches for unknown `kid`s (default 10 s).
    pub fn jwks_refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = interval;
        self
    }

    /// Latch's `introspection.client_id` and `client_secret`: enables
    /// [`LiveUser`](crate::LiveUser) and tiers read from Latch.
    pub fn introspection(mut self, client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        self.introspection = Some((client_id.into(), client_secret.into()));
        self
    }

    /// How long an introspection answer is reused (default 5 s): the longest
    /// a logged-out token still passes [`LiveUser`](crate::LiveUser).
    pub fn introspection_cache(mut self, ttl: Duration) -> Self {
        self.introspection_ttl = ttl;
        self
    }

    /// Per-tier, per-path limits, enforced by [`TierLimited`](crate::TierLimited).
    pub fn tier_limits(mut self, limits: TierLimits) -> Self {
        self.tier_limits = Some(limits);
        self
    }

    /// Tier names from lowest to highest, for
    /// [`AuthUser::require_tier_at_least`]; a tier not listed ranks below all.
    pub fn tier_order<S: Into<String>>(mut self, tiers: impl IntoIterator<Item = S>) -> Self {
        self.tier_order = tiers.into_iter().map(Into::into).collect();
        self
    }

    /// Also accept the token from this cookie (Latch's is `access_token`)
    /// when no `Authorization` header is sent. Off by default.
    pub fn cookie(mut self, name: impl Into<String>) -> Self {
        self.cookie = Some(name.into());
        self
    }

    /// Timeout of each request to Latch (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The guard.
    ///
    /// # Errors
    /// [`BuildError::Invalid`] for a JWKS guard without a URL, or Latch-read
    /// tiers without introspection credentials.
    pub fn build(self) -> Result<Guard, BuildError> {
        let http = reqwest::Client::builder().timeout(self.timeout).build()?;
        let keys = match self.keys {
            KeyChoice::Shared(secret) => {
                if self.algorithm != Algorithm::HS256 {
                    return Err(BuildError::Invalid("a shared secret verifies HS256 only"));
                }
                Keys::Shared(DecodingKey::from_secret(&secret))
            }
            KeyChoice::Jwks => {
                if self.algorithm == Algorithm::HS256
                    || matches!(self.algorithm, Algorithm::HS384 | Algorithm::HS512)
                {
                    return Err(BuildError::Invalid(
                        "a JWKS holds public keys: use Guard::hs256 for HS256",
                    ));
                }
                let url = self
                    .latch_url
                    .as_ref()
                    .ok_or(BuildError::Invalid("Guard::jwks needs Latch's URL"))?;
                Keys::Jwks(JwksCache::new(
                    format!("{url}/.well-known/jwks.json"),
                    http.clone(),
                    self.refetch_interval,
                ))
            }
        };
        let introspector = match (&self.introspection, &self.latch_url) {
            (Some((id, secret)), Some(url)) => Some(Introspector::new(
                format!("{url}/api/v1/auth/introspect"),
                http.clone(),
                id.clone(),
                secret.clone(),
                self.introspection_ttl,
            )),
            (Some(_), None) => {
                return Err(BuildError::Invalid("introspection needs GuardBuilder::latch_url"));
            }
            (None, _) => None,
        };
        let mut tier_limits = self.tier_limits;
        if let (Some(limits), Some((id, secret)), Some(url)) =
            (&mut tier_limits, &self.introspection, &self.latch_url)
        {
            limits.connect(LatchClient {
                url: format!("{url}/api/v1/auth/tiers"),
                http,
                client_id: id.clone(),
                client_secret: secret.clone(),
            });
        }
        Ok(Guard {
            inner: Arc::new(Inner {
                keys,
                validation: validation(self.algorithm, &self.issuer, &self.audience, self.leeway),
                introspector,
                tier_limits,
                tier_order: self.tier_order.into(),
                cookie: self.cookie,
            }),
        })
    }
}

/// Latch's checks: one algorithm, `exp`, `iss`, `aud` and `sub` required,
/// `nbf` honoured, the leeway on both.
fn validation(algorithm: Algorithm, issuer: &str, audience: &str, leeway: Duration) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.leeway = leeway.as_secs();
    validation.reject_tokens_expiring_in_less_than = 0;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = true;
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation
}

/// RFC 9068 `typ`, and no `crit` extensions (none are understood).
fn check_header(header: &Header) -> Result<(), GuardError> {
    let typ_ok = header.typ.as_deref().is_some_and(|typ| {
        typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt")
    });
    if typ_ok && header.crit.is_none() {
        Ok(())
    } else {
        Err(GuardError::InvalidToken)
    }
}

/// The claims Latch writes.
#[derive(Deserialize)]
struct Claims {
    sub: Uuid,
    sid: Uuid,
    jti: Uuid,
    exp: i64,
    email: String,
    name: Option<String>,
    avatar_url: Option<String>,
    is_superuser: bool,
    is_staff: bool,
    tier: String,
    /// Absent from tokens of Latch versions before the second factor.
    #[serde(default)]
    amr: Vec<String>,
}

impl Claims {
    fn into_user(self, tier_order: Arc<[String]>) -> AuthUser {
        AuthUser {
            id: self.sub,
            session_id: self.sid,
            token_id: self.jti,
            expires_at: self.exp,
            email: self.email,
            name: self.name,
            avatar_url: self.avatar_url,
            is_superuser: self.is_superuser,
            is_staff: self.is_staff,
            tier: self.tier,
            auth_methods: self.amr,
            tier_order,
        }
    }
}
