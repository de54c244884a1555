//! [`KeyRing`]: the signing keys every instance shares, kept through the
//! `SigningKeyRepository` port with each private key sealed by the master
//! key. The ring holds one active key (which signs) and the keys it
//! replaced, published until every token they signed has expired.
//!
//! Ring keys are Ed25519. A rotation makes a new key active and retires the
//! old one in one compare-and-swap write, so instances racing to rotate (or
//! to make the first key) end with one active key; the losers read it.

use std::sync::Arc;

use chrono::Duration;
use jsonwebtoken::jwk::Jwk;
use latch_domain::Timestamp;
use latch_ports::{ActivateKeyError, RepositoryError, SigningKeyRepository, StoredSigningKey};
use latch_sealing::{MasterKey, SealError};

use crate::{Algorithm, KeyError, SigningKey};

/// Why the ring could not be read or changed. Messages name what to fix.
#[derive(Debug, thiserror::Error)]
pub enum RingError {
    /// The store failed.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
    /// A private key does not open with the configured master key.
    #[error(
        "signing key {kid} does not open with the configured master key (keys.master_key): was it changed?"
    )]
    Sealed {
        /// The key.
        kid: String,
        /// Why it did not open.
        source: SealError,
    },
    /// A key could not be sealed.
    #[error("could not seal a new signing key: {0}")]
    Seal(#[source] SealError),
    /// A stored key is not usable as it is.
    #[error("signing key {kid} in the key ring is unusable: {reason}")]
    Stored {
        /// The key.
        kid: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Key material could not be made or used.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The active key changed while this rotation ran (another instance
    /// rotated at the same moment); nothing was written.
    #[error("the key ring changed during the rotation (another rotation won); nothing was written")]
    Conflict,
}

/// What a codec needs from the ring: the key to sign with, and the public
/// halves of the other keys it publishes (retired keys whose tokens may still
/// be live, and a new key published ahead of signing).
#[derive(Debug, Clone)]
pub struct RingKeys {
    /// The key to sign with now.
    pub signer: SigningKey,
    /// The other published keys, accepted for verification.
    pub published: Vec<Jwk>,
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The new active key.
    pub kid: String,
    /// The key it replaced, now retired; `None` if the ring was empty.
    pub retired: Option<String>,
    /// Retired keys deleted because no token they signed can be live.
    pub deleted: u64,
}

/// The shared key ring.
pub struct KeyRing {
    store: Arc<dyn SigningKeyRepository>,
    master: MasterKey,
    retention: Duration,
    publish_ahead: Duration,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

impl KeyRing {
    /// A ring kept in `store`, sealed by `master`. A retired key stays
    /// published for `retention` after it stopped signing: the longest an
    /// access token lives, plus the verifiers' leeway.
    pub fn new(store: Arc<dyn SigningKeyRepository>, master: MasterKey, retention: Duration) -> Self {
        Self {
            store,
            master,
            retention,
            publish_ahead: Duration::zero(),
        }
    }

    /// A new active key is published this long before it signs, so that
    /// every instance and every verifier's key cache has it before the first
    /// token it signs arrives; the key it replaces signs meanwhile. (The
    /// retention must cover this too.)
    #[must_use]
    pub fn with_publish_ahead(mut self, ahead: Duration) -> Self {
        self.publish_ahead = ahead;
        self
    }

    /// How long a new key is published before it signs.
    pub fn publish_ahead(&self) -> Duration {
        self.publish_ahead
    }

    /// The ring's keys as of `now`. An empty ring is given its first key:
    /// `first` when given (a key the instance signed with before the ring
    /// existed, so its tokens stay valid), else a new one.
    ///
    /// # Errors
    /// [`RingError`]: the store failed, or a stored key is unusable.
    pub async fn load(&self, first: Option<&SigningKey>, now: Timestamp) -> Result<RingKeys, RingError> {
        // Two rounds at most: if another instance makes the first key
        // between our read and our write, the second read finds it.
        for _ in 0..2 {
            let keys = self.store.list().await?;
            if keys.iter().any(StoredSigningKey::is_active) {
                return self.open(&keys, now);
            }
            let key = match first {
                Some(key) => key.clone(),
                None => SigningKey::generate_ed25519()?,
            };
            match self.store.activate(&self.stored(&key, now)?, None).await {
                Ok(()) | Err(ActivateKeyError::Conflict) => {}
                Err(ActivateKeyError::Repository(err)) => return Err(err.into()),
            }
        }
        let keys = self.store.list().await?;
        self.open(&keys, now)
    }

    /// Makes a new key active and retires the active one; deletes the
    /// retired keys no live token can have been signed with.
    ///
    /// # Errors
    /// [`RingError::Conflict`] if another rotation won the race.
    pub async fn rotate(&self, now: Timestamp) -> Result<Rotation, RingError> {
        let keys = self.store.list().await?;
        let current = keys.iter().find(|k| k.is_active()).map(|k| k.kid.clone());
        self.rotate_from(current, now).await
    }

    /// Rotates if the active key is at least `age` old (or the ring is
    /// empty); `None` if it is younger or another instance rotated first.
    ///
    /// # Errors
    /// [`RingError`] if the store fails.
    pub async fn rotate_if_older_than(
        &self,
        age: Duration,
        now: Timestamp,
    ) -> Result<Option<Rotation>, RingError> {
        let keys = self.store.list().await?;
        let active = keys.iter().find(|k| k.is_active());
        if active.is_some_and(|k| k.created_at + age > now) {
            return Ok(None);
        }
        match self.rotate_from(active.map(|k| k.kid.clone()), now).await {
            Err(RingError::Conflict) => Ok(None),
            other => other.map(Some),
        }
    }

    /// How long a retired key stays published after it stopped signing.
    pub fn retention(&self) -> Duration {
        self.retention
    }

    /// Every key kept, newest first (what `latch keys list` shows).
    ///
    /// # Errors
    /// The store's failure.
    pub async fn list(&self) -> Result<Vec<StoredSigningKey>, RepositoryError> {
        self.store.list().await
    }

    async fn rotate_from(&self, current: Option<String>, now: Timestamp) -> Result<Rotation, RingError> {
        let key = SigningKey::generate_ed25519()?;
        match self
            .store
            .activate(&self.stored(&key, now)?, current.as_deref())
            .await
        {
            Ok(()) => {}
            Err(ActivateKeyError::Conflict) => return Err(RingError::Conflict),
            Err(ActivateKeyError::Repository(err)) => return Err(err.into()),
        }
        let deleted = self.store.delete_retired_before(now - self.retention).await?;
        Ok(Rotation {
            kid: key.kid().to_owned(),
            retired: current,
            deleted,
        })
    }

    /// `key` as the ring stores it, its private half sealed for its `kid`.
    fn stored(&self, key: &SigningKey, now: Timestamp) -> Result<StoredSigningKey, RingError> {
        let public = key.public_jwk().filter(|_| key.algorithm() == Algorithm::EdDSA);
        let Some(public) = public else {
            return Err(RingError::Stored {
                kid: key.kid().to_owned(),
                reason: format!("ring keys are EdDSA, not {}", key.algorithm()),
            });
        };
        let public_jwk = serde_json::to_string(public).map_err(|e| KeyError::Jwk(e.to_string()))?;
        let sealed_private_key = self
            .master
            .seal(key.encoding().as_bytes(), key.kid().as_bytes())
            .map_err(RingError::Seal)?;
        Ok(StoredSigningKey {
            kid: key.kid().to_owned(),
            algorithm: Algorithm::EdDSA.as_str().to_owned(),
            public_jwk,
            sealed_private_key,
            created_at: now,
            retired_at: None,
        })
    }

    /// Opens the key that signs now and reads the other published keys.
    ///
    /// The active key signs once it has been published for `publish_ahead`;
    /// until then the key it replaced (the last retired) signs, and the
    /// active key is only published.
    fn open(&self, keys: &[StoredSigningKey], now: Timestamp) -> Result<RingKeys, RingError> {
        let active = keys
            .iter()
            .find(|k| k.is_active())
            .ok_or_else(|| RingError::Stored {
                kid: String::new(),
                reason: "the ring has no active key".to_owned(),
            })?;
        let published: Vec<&StoredSigningKey> = keys
            .iter()
            .filter(|k| k.retired_at.is_some_and(|at| at + self.retention > now))
            .collect();
        let predecessor = published.iter().copied().max_by_key(|k| k.retired_at);
        let signer = match predecessor {
            Some(previous) if active.created_at + self.publish_ahead > now => previous,
            _ => active,
        };
        let signing = self.private_key(signer)?;
        let published = published
            .into_iter()
            .chain(std::iter::once(active))
            .filter(|k| k.kid != signer.kid)
            .map(public_jwk)
            .collect::<Result<_, _>>()?;
        Ok(RingKeys {
            signer: signing,
            published,
        })
    }

    /// Opens `stored`'s private key, checked to be the key its `kid` names.
    fn private_key(&self, stored: &StoredSigningKey) -> Result<SigningKey, RingError> {
        let der = self
            .master
            .open(&stored.sealed_private_key, stored.kid.as_bytes())
            .map_err(|source| RingError::Sealed {
                kid: stored.kid.clone(),
                source,
            })?;
        let key = SigningKey::ed25519_from_der(&der)?;
        if key.kid() != stored.kid {
            return Err(unusable(stored, "its kid is not its key's thumbprint"));
        }
        Ok(key)
    }
}

/// The published half of a retired key, checked to carry its own `kid`.
fn public_jwk(stored: &StoredSigningKey) -> Result<Jwk, RingError> {
    let jwk: Jwk = serde_json::from_str(&stored.public_jwk).map_err(|e| unusable(stored, e))?;
    if jwk.common.key_id.as_deref() != Some(stored.kid.as_str()) {
        return Err(unusable(stored, "its public JWK names another kid"));
    }
    Ok(jwk)
}

fn unusable(stored: &StoredSigningKey, reason: impl std::fmt::Display) -> RingError {
    RingError::Stored {
        kid: stored.kid.clone(),
        reason: reason.to_string(),
    }
}
