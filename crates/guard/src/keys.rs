//! The keys tokens are verified with: Latch's JWKS, fetched and cached, or a
//! shared HS256 secret.
//!
//! An unknown `kid` triggers a refetch (Latch has rotated), at most once per
//! `refetch_interval` and one fetch at a time, so a flood of junk `kid`s
//! costs Latch one request per interval, not one per token.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::JwkSet;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::GuardError;

/// Where verification keys come from.
pub(crate) enum Keys {
    /// One shared HS256 secret (no `kid` needed).
    Shared(DecodingKey),
    /// Latch's published keys, by `kid`.
    Jwks(JwksCache),
}

impl Keys {
    /// The key for a token whose header names `kid`.
    pub(crate) async fn key(&self, kid: Option<&str>) -> Result<DecodingKey, GuardError> {
        match self {
            Self::Shared(key) => Ok(key.clone()),
            Self::Jwks(cache) => cache.key(kid.ok_or(GuardError::InvalidToken)?).await,
        }
    }
}

/// Latch's JWKS, cached by `kid`.
pub(crate) struct JwksCache {
    url: String,
    http: reqwest::Client,
    refetch_interval: Duration,
    keys: RwLock<Arc<HashMap<String, DecodingKey>>>,
    /// When the last fetch started; held while fetching (single flight).
    last_fetch: Mutex<Option<Instant>>,
    /// Whether a fetch has ever succeeded.
    loaded: std::sync::atomic::AtomicBool,
    fetches: AtomicU64,
}

impl JwksCache {
    pub(crate) fn new(url: String, http: reqwest::Client, refetch_interval: Duration) -> Self {
        Self {
            url,
            http,
            refetch_interval,
            keys: RwLock::new(Arc::default()),
            last_fetch: Mutex::new(None),
            loaded: std::sync::atomic::AtomicBool::new(false),
            fetches: AtomicU64::new(0),
        }
    }

    /// How many times the JWKS was fetched.
    pub(crate) fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    fn cached(&self, kid: &str) -> Option<DecodingKey> {
        let keys = self
            .keys
            .read()
            .map_or_else(|poisoned| poisoned.into_inner().clone(), |k| k.clone());
        keys.get(kid).cloned()
    }

    /// The key named `kid`, fetching the JWKS again if it is unknown and the
    /// last fetch is older than the refetch interval.
    async fn key(&self, kid: &str) -> Result<DecodingKey, GuardError> {
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        let mut last_fetch = self.last_fetch.lock().await;
        // Another request may have fetched while this one waited.
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        if last_fetch.is_some_and(|at| at.elapsed() < self.refetch_interval) {
            return Err(self.unknown());
        }
        *last_fetch = Some(Instant::now());
        if let Err(err) = self.fetch().await {
            tracing::warn!(url = %self.url, error = %err, "could not fetch Latch's JWKS");
        }
        drop(last_fetch);
        self.cached(kid).ok_or_else(|| self.unknown())
    }

    /// Fetches the JWKS now, replacing the cached keys (so keys Latch no
    /// longer publishes stop verifying).
    pub(crate) async fn fetch(&self) -> Result<(), reqwest::Error> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let set: JwkSet = self
            .http
            .get(&self.url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let keys: HashMap<String, DecodingKey> = set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                DecodingKey::from_jwk(jwk).ok().map(|key| (kid, key))
            })
            .collect();
        tracing::debug!(keys = keys.len(), "fetched Latch's JWKS");
        *self
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(keys);
        self.loaded.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// An unknown `kid` is an invalid token once the keys are known; before
    /// any fetch succeeded nothing can be verified, which is not the token's fault.
    fn unknown(&self) -> GuardError {
        if self.loaded.load(Ordering::Relaxed) {
            GuardError::InvalidToken
        } else {
            GuardError::Unavailable
        }
    }
}
