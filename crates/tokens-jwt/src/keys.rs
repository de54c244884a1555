//! Signing keys: parsing PEM or secrets, and generating Ed25519 keys.

use std::fmt;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{DecodingKey, EncodingKey};

use crate::Algorithm;
use crate::jwks;

/// Why key material could not be loaded, generated or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The PEM text is not a private key of the expected kind.
    #[error("not a valid {algorithm} private key PEM: {reason}")]
    InvalidPem {
        /// The algorithm the key was meant for.
        algorithm: Algorithm,
        /// What the parser said.
        reason: String,
    },
    /// HS256 takes a shared secret, not a PEM key.
    #[error("{0} signs with a shared secret, not a PEM private key")]
    NotAsymmetric(Algorithm),
    /// An empty HS256 secret.
    #[error("the HS256 secret is empty")]
    EmptySecret,
    /// The random key generator failed.
    #[error("could not generate an Ed25519 key")]
    Generate,
    /// `tokens.algorithm` names a different algorithm than the key material.
    #[error("tokens.algorithm is {configured} but the signing key is for {key}")]
    AlgorithmMismatch {
        /// From the settings.
        configured: Algorithm,
        /// From the key.
        key: Algorithm,
    },
    /// The public key could not be turned into a JWK.
    #[error("cannot describe the public key as a JWK: {0}")]
    Jwk(String),
}

/// A private signing key (or HS256 secret), its verifying half and its `kid`.
///
/// `Debug` shows only the algorithm and `kid`; the key bytes are zeroised on drop
/// by `jsonwebtoken`.
#[derive(Clone)]
pub struct SigningKey {
    algorithm: Algorithm,
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// The public JWK (with `kid`); `None` for HS256, which has nothing public.
    public_jwk: Option<Jwk>,
}

impl SigningKey {
    /// A fresh random Ed25519 key.
    ///
    /// # Errors
    /// [`KeyError::Generate`] if the system random source fails.
    pub fn generate_ed25519() -> Result<Self, KeyError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| KeyError::Generate)?;
        Self::ed25519(EncodingKey::from_ed_der(pkcs8.as_ref()))
    }

    /// Parses a private key PEM: PKCS#8 for EdDSA, PKCS#1 or PKCS#8 for RS256.
    ///
    /// # Errors
    /// [`KeyError::InvalidPem`] if the PEM is not a usable private key for
    /// `algorithm` (RSA keys must be 2048 to 8192 bits), [`KeyError::NotAsymmetric`]
    /// for HS256.
    pub fn from_pem(algorithm: Algorithm, pem: &str) -> Result<Self, KeyError> {
        let invalid = |e: &dyn fmt::Display| KeyError::InvalidPem {
            algorithm,
            reason: e.to_string(),
        };
        match algorithm {
            Algorithm::EdDSA => {
                Self::ed25519(EncodingKey::from_ed_pem(pem.as_bytes()).map_err(|e| invalid(&e))?)
            }
            Algorithm::RS256 => {
                let encoding = EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| invalid(&e))?;
                // Deriving (n, e) parses the private key, so a public key or an
                // undersized RSA key fails here rather than at the first login.
                let jwk = Jwk::from_encoding_key(&encoding, algorithm.to_jwt()).map_err(|e| invalid(&e))?;
                let decoding = DecodingKey::from_jwk(&jwk).map_err(|e| invalid(&e))?;
                Self::asymmetric(algorithm, encoding, decoding, jwk)
            }
            Algorithm::HS256 => Err(KeyError::NotAsymmetric(algorithm)),
        }
    }

    /// An HS256 key from a shared secret (length policy is the caller's).
    ///
    /// # Errors
    /// [`KeyError::EmptySecret`] for an empty secret.
    pub fn hs256(secret: &[u8]) -> Result<Self, KeyError> {
        if secret.is_empty() {
            return Err(KeyError::EmptySecret);
        }
        Ok(Self {
            algorithm: Algorithm::HS256,
            kid: jwks::secret_kid(secret),
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            public_jwk: None,
        })
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The key id: the RFC 7638 thumbprint of the public key (HS256: a hash of the secret).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The private key as PEM (PKCS#8 for EdDSA, PKCS#1 for RS256); `None` for HS256.
    ///
    /// This is secret material: write it to a protected file, never to a log.
    pub fn to_pem(&self) -> Option<String> {
        let label = match self.algorithm {
            Algorithm::EdDSA => "PRIVATE KEY",
            Algorithm::RS256 => "RSA PRIVATE KEY",
            Algorithm::HS256 => return None,
        };
        Some(pem_encode(label, self.encoding.as_bytes()))
    }

    /// An Ed25519 key from its PKCS#8 DER (as the key ring stores it).
    pub(crate) fn ed25519_from_der(der: &[u8]) -> Result<Self, KeyError> {
        Self::ed25519(EncodingKey::from_ed_der(der))
    }

    pub(crate) fn encoding(&self) -> &EncodingKey {
        &self.encoding
    }

    pub(crate) fn decoding(&self) -> &DecodingKey {
        &self.decoding
    }

    pub(crate) fn public_jwk(&self) -> Option<&Jwk> {
        self.public_jwk.as_ref()
    }

    fn ed25519(encoding: EncodingKey) -> Result<Self, KeyError> {
        let invalid = |reason: String| KeyError::InvalidPem {
            algorithm: Algorithm::EdDSA,
            reason,
        };
        let pair = Ed25519KeyPair::from_pkcs8(encoding.as_bytes()).map_err(|e| invalid(e.to_string()))?;
        let decoding = DecodingKey::from_ed_der(pair.public_key().as_ref());
        let jwk = Jwk::from_decoding_key(&decoding, Some(jsonwebtoken::Algorithm::EdDSA))
            .map_err(|e| invalid(e.to_string()))?;
        Self::asymmetric(Algorithm::EdDSA, encoding, decoding, jwk)
    }

    fn asymmetric(
        algorithm: Algorithm,
        encoding: EncodingKey,
        decoding: DecodingKey,
        jwk: Jwk,
    ) -> Result<Self, KeyError> {
        let kid = jwks::thumbprint(&jwk)?;
        let public_jwk = Some(jwks::publishable(jwk, &kid));
        Ok(Self {
            algorithm,
            kid,
            encoding,
            decoding,
            public_jwk,
        })
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    // RFC 7468: 64 base64 characters per line (ASCII, so byte chunks are whole characters).
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_algorithm_and_kid_only() {
        let key = SigningKey::generate_ed25519().unwrap();
        let debug = format!("{key:?}");
        assert_eq!(
            debug,
            format!("SigningKey {{ algorithm: EdDSA, kid: {:?}, .. }}", key.kid())
        );
    }

    #[test]
    fn pem_lines_are_64_characters() {
        let pem = pem_encode("PRIVATE KEY", &[7; 100]);
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines.first(), Some(&"-----BEGIN PRIVATE KEY-----"));
        assert_eq!(lines.last(), Some(&"-----END PRIVATE KEY-----"));
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines.len(), 5);
    }
}
