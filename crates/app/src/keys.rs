//! Choosing the token signing key from the settings.

use std::path::{Path, PathBuf};

use latch_tokens_jwt::{Algorithm, KeyError, SigningKey, load_or_generate_ed25519};
use secrecy::ExposeSecret;

use crate::settings::Settings;

/// File name of the Ed25519 key generated into `data_dir` when none is configured.
pub const GENERATED_KEY_FILE: &str = "jwt-ed25519.pem";

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
}

/// The configured signing key. With EdDSA and no key path, a key is loaded
/// from (or generated into) `data_dir`; its generation is logged once.
pub fn signing_key(settings: &Settings) -> Result<SigningKey, SigningKeyError> {
    let tokens = &settings.tokens;
    let algorithm = tokens.algorithm;
    let key = match algorithm {
        Algorithm::EdDSA => match &tokens.eddsa_private_key_path {
            Some(path) => SigningKey::from_pem(algorithm, &read(path, "tokens.eddsa_private_key_path")?)?,
            None => {
                let path = settings.data_dir.join(GENERATED_KEY_FILE);
                let (key, generated) = load_or_generate_ed25519(&path)?;
                if generated {
                    tracing::warn!(
                        path = %path.display(),
                        kid = key.kid(),
                        "generated a new EdDSA signing key; configure tokens.eddsa_private_key_path for production"
                    );
                }
                key
            }
        },
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
