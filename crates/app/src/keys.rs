//! Where the token signing keys come from: configured key material (a PEM
//! file or an HS256 secret), or the shared key ring in the database, sealed
//! by the master key.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Duration;
use latch_sealing::{MasterKey, SealError};
use latch_store_sql::SqlStore;
use latch_tokens_jwt::{
    Algorithm, JwtTokenCodec, KeyError, KeyRing, RingError, RingKeys, SigningKey, TokenSettings,
};
use secrecy::ExposeSecret;

use crate::settings::Settings;

/// File name of the Ed25519 key earlier versions generated into `data_dir`;
/// an empty key ring starts with it, so the tokens it signed stay valid.
pub const GENERATED_KEY_FILE: &str = "jwt-ed25519.pem";

/// File name of the master key generated into `data_dir` when none is configured.
pub const MASTER_KEY_FILE: &str = "master.key";

/// Why no signing key could be had. Messages name the setting to fix.
#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    /// The algorithm needs key material that is not configured.
    #[error("{0} must be set when tokens.algorithm = {1}")]
    Missing(&'static str, Algorithm),
    /// A configured key file cannot be read.
    #[error("{key}: cannot read {}: {source}", path.display())]
    Read {
        /// The setting naming the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The key material is unusable.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The master key is malformed or its file unusable.
    #[error("keys.master_key: {0}")]
    MasterKey(#[from] SealError),
    /// The key ring could not be read or changed.
    #[error("key ring: {0}")]
    Ring(#[from] RingError),
    /// The command needs the key ring, and the settings configure keys instead.
    #[error("the key ring is not in use: {0} is configured (replace that key material to rotate)")]
    NoRing(&'static str),
}

/// Whether the settings sign with the shared key ring (EdDSA with no key file).
pub fn uses_key_ring(settings: &Settings) -> bool {
    settings.tokens.algorithm == Algorithm::EdDSA && settings.tokens.eddsa_private_key_path.is_none()
}

/// The codec the settings describe, and the key ring behind it when they
/// use one (loaded, and given its first key if it had none).
pub async fn token_codec(
    settings: &Settings,
    store: &SqlStore,
) -> Result<(Arc<JwtTokenCodec>, Option<Arc<KeyRing>>), SigningKeyError> {
    let tokens = &settings.tokens;
    let token_settings = TokenSettings::new(tokens.algorithm, tokens.issuer.clone(), tokens.audience.clone());
    if !uses_key_ring(settings) {
        let codec = JwtTokenCodec::new(token_settings, configured_key(settings)?)?;
        return Ok((Arc::new(codec), None));
    }
    let (ring, keys) = loaded_ring(settings, store).await?;
    let codec = JwtTokenCodec::with_retired(token_settings, &keys.signer, &keys.published)?;
    Ok((Arc::new(codec), Some(Arc::new(ring))))
}

/// The key ring on `store`, sealed by the configured master key, holding an
/// active key (an empty ring starts with the key an earlier version
/// generated into `data_dir`, if any, else a new one).
///
/// # Errors
/// [`SigningKeyError::NoRing`] when the settings configure key material.
pub async fn key_ring(settings: &Settings, store: &SqlStore) -> Result<KeyRing, SigningKeyError> {
    Ok(loaded_ring(settings, store).await?.0)
}

async fn loaded_ring(settings: &Settings, store: &SqlStore) -> Result<(KeyRing, RingKeys), SigningKeyError> {
    if !uses_key_ring(settings) {
        let setting = match settings.tokens.algorithm {
            Algorithm::EdDSA => "tokens.eddsa_private_key_path",
            Algorithm::RS256 => "tokens.rs256_private_key_path",
            Algorithm::HS256 => "tokens.hs256_secret",
        };
        return Err(SigningKeyError::NoRing(setting));
    }
    let ring = KeyRing::new(
        Arc::new(store.signing_keys()),
        master_key(settings)?,
        retention(settings),
    )
    .with_publish_ahead(publish_ahead(settings));
    let keys = ring
        .load(legacy_generated_key(settings)?.as_ref(), chrono::Utc::now())
        .await?;
    Ok((ring, keys))
}

/// How long a new key is published before it signs (`keys.publish_ahead_seconds`).
fn publish_ahead(settings: &Settings) -> Duration {
    Duration::seconds(i64::from(settings.keys.publish_ahead_seconds))
}

/// How long a retired key stays published: it may sign for the publish-ahead
/// time after it is retired, then its tokens live an access token's lifetime
/// plus the verifiers' leeway.
fn retention(settings: &Settings) -> Duration {
    let leeway = i64::try_from(TokenSettings::DEFAULT_LEEWAY_SECONDS).unwrap_or(i64::MAX);
    publish_ahead(settings)
        + Duration::seconds(i64::from(settings.tokens.access_ttl_seconds))
        + Duration::seconds(leeway)
}

/// `keys.master_key`, or the key generated into `data_dir` (its generation
/// is logged once). It seals the key ring's private keys and the users'
/// TOTP secrets.
pub fn master_key(settings: &Settings) -> Result<MasterKey, SigningKeyError> {
    if let Some(text) = &settings.keys.master_key {
        return Ok(MasterKey::from_base64(text.expose_secret())?);
    }
    let path = settings.data_dir.join(MASTER_KEY_FILE);
    let (key, generated) = MasterKey::load_or_generate(&path)?;
    if generated {
        tracing::warn!(
            path = %path.display(),
            "generated a master key (it seals the key ring and TOTP secrets); configure keys.master_key for production"
        );
    }
    Ok(key)
}

/// The Ed25519 key an earlier version generated into `data_dir`, if any.
fn legacy_generated_key(settings: &Settings) -> Result<Option<SigningKey>, SigningKeyError> {
    let path = settings.data_dir.join(GENERATED_KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(pem) => Ok(Some(SigningKey::from_pem(Algorithm::EdDSA, &pem)?)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(SigningKeyError::Read {
            key: "data_dir",
            path,
            source,
        }),
    }
}

/// The configured key material (a PEM file or an HS256 secret).
fn configured_key(settings: &Settings) -> Result<SigningKey, SigningKeyError> {
    let tokens = &settings.tokens;
    let algorithm = tokens.algorithm;
    let key = match algorithm {
        Algorithm::EdDSA => {
            let path = tokens
                .eddsa_private_key_path
                .as_ref()
                .ok_or(SigningKeyError::Missing(
                    "tokens.eddsa_private_key_path",
                    algorithm,
                ))?;
            SigningKey::from_pem(algorithm, &read(path, "tokens.eddsa_private_key_path")?)?
        }
        Algorithm::RS256 => {
            let path = tokens
                .rs256_private_key_path
                .as_ref()
                .ok_or(SigningKeyError::Missing(
                    "tokens.rs256_private_key_path",
                    algorithm,
                ))?;
            SigningKey::from_pem(algorithm, &read(path, "tokens.rs256_private_key_path")?)?
        }
        Algorithm::HS256 => {
            let secret = tokens
                .hs256_secret
                .as_ref()
                .ok_or(SigningKeyError::Missing("tokens.hs256_secret", algorithm))?;
            SigningKey::hs256(secret.expose_secret().as_bytes())?
        }
    };
    Ok(key)
}

fn read(path: &Path, key: &'static str) -> Result<String, SigningKeyError> {
    std::fs::read_to_string(path).map_err(|source| SigningKeyError::Read {
        key,
        path: path.to_owned(),
        source,
    })
}
