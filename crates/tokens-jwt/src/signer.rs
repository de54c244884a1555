//! [`TokenSigner`]: signs access tokens with key material parsed once.
//!
//! `jsonwebtoken::encode` builds a signer from the key bytes on every call.
//! For Ed25519 that derives the public key again, a scalar multiplication
//! costing about as much as the signature itself (callgrind: 98k of the 245k
//! instructions one token took). For RS256 it parses and checks the RSA key
//! on every call. Here the key is parsed once, and the header's JSON and
//! base64 are computed once. The output is byte for byte what
//! `jsonwebtoken::encode` gives with the same header and key (tested below).

use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, Ed25519KeyPair, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Header;
use serde::Serialize;

use crate::{Algorithm, KeyError, SigningKey};

/// Why a token could not be signed (never the client's doing).
#[derive(Debug, thiserror::Error)]
pub(crate) enum SignError {
    /// The claims did not serialise.
    #[error("claims did not serialise: {0}")]
    Claims(#[from] serde_json::Error),
    /// The crypto library refused to sign.
    #[error("the {0} signature failed")]
    Crypto(Algorithm),
}

/// The parsed private key, ready to sign.
enum Key {
    Ed25519(Ed25519KeyPair),
    Rs256 {
        pair: RsaKeyPair,
        rng: SystemRandom,
    },
    /// Boxed: the key schedule is 1.2 KB, the other variants a few dozen bytes.
    Hs256(Box<hmac::Key>),
}

impl Key {
    fn algorithm(&self) -> Algorithm {
        match self {
            Self::Ed25519(_) => Algorithm::EdDSA,
            Self::Rs256 { .. } => Algorithm::RS256,
            Self::Hs256(_) => Algorithm::HS256,
        }
    }

    /// Bytes in a signature: 64 for Ed25519, the modulus for RSA, 32 for HMAC-SHA256.
    fn signature_len(&self) -> usize {
        match self {
            Self::Ed25519(_) => 64,
            Self::Rs256 { pair, .. } => pair.public_modulus_len(),
            Self::Hs256(_) => 32,
        }
    }
}

/// A JWS compact serialiser for one header and one key.
pub(crate) struct TokenSigner {
    /// `BASE64URL(UTF8(JSON(header)))`, the token's first segment.
    encoded_header: String,
    key: Key,
}

impl TokenSigner {
    /// Parses `key` once; every token will carry `header`.
    pub(crate) fn new(header: &Header, key: &SigningKey) -> Result<Self, KeyError> {
        let algorithm = key.algorithm();
        let invalid = |reason: String| KeyError::InvalidPem { algorithm, reason };
        let der = key.encoding().as_bytes();
        let parsed = match algorithm {
            Algorithm::EdDSA => {
                Key::Ed25519(Ed25519KeyPair::from_pkcs8(der).map_err(|e| invalid(e.to_string()))?)
            }
            // PKCS#1 DER, as `EncodingKey::from_rsa_pem` keeps it.
            Algorithm::RS256 => Key::Rs256 {
                pair: RsaKeyPair::from_der(der).map_err(|e| invalid(e.to_string()))?,
                rng: SystemRandom::new(),
            },
            Algorithm::HS256 => Key::Hs256(Box::new(hmac::Key::new(hmac::HMAC_SHA256, der))),
        };
        // A header is strings and options only; this cannot fail in practice.
        let header_json = serde_json::to_vec(header)
            .map_err(|e| invalid(format!("the JWT header did not serialise: {e}")))?;
        Ok(Self {
            encoded_header: URL_SAFE_NO_PAD.encode(header_json),
            key: parsed,
        })
    }

    /// `header.claims.signature`, each segment base64url without padding.
    pub(crate) fn sign(&self, claims: &impl Serialize) -> Result<String, SignError> {
        let claims_json = serde_json::to_vec(claims)?;
        let b64_len = |bytes: usize| base64::encoded_len(bytes, false).unwrap_or(0);
        let mut token = String::with_capacity(
            self.encoded_header.len()
                + 1
                + b64_len(claims_json.len())
                + 1
                + b64_len(self.key.signature_len()),
        );
        token.push_str(&self.encoded_header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims_json, &mut token);
        let signature = self.signature(token.as_bytes())?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }

    fn signature(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        match &self.key {
            Key::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
            Key::Rs256 { pair, rng } => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, rng, message, &mut signature)
                    .map_err(|_| SignError::Crypto(Algorithm::RS256))?;
                Ok(signature)
            }
            Key::Hs256(key) => Ok(hmac::sign(key, message).as_ref().to_vec()),
        }
    }
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("algorithm", &self.key.algorithm())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Claims shaped like Latch's, with a nested value and a non-ASCII string.
    #[derive(Serialize)]
    struct Claims {
        sub: &'static str,
        exp: u64,
        aud: &'static str,
        name: &'static str,
        roles: Vec<&'static str>,
    }

    fn claims() -> Claims {
        Claims {
            sub: "01a2359e-64a5-76ed-becd-bf175e2f03ac",
            exp: 1_796_195_800,
            aud: "latch",
            name: "Zoë Ærø",
            roles: vec!["staff"],
        }
    }

    fn header(key: &SigningKey) -> Header {
        let mut header = Header::new(key.algorithm().to_jwt());
        header.typ = Some("at+jwt".to_owned());
        header.kid = Some(key.kid().to_owned());
        header
    }

    /// All three algorithms sign deterministically, so the strings must be equal.
    fn assert_same_as_jsonwebtoken(key: &SigningKey) {
        let header = header(key);
        let ours = TokenSigner::new(&header, key).unwrap().sign(&claims()).unwrap();
        let theirs = jsonwebtoken::encode(&header, &claims(), key.encoding()).unwrap();
        assert_eq!(ours, theirs, "{}", key.algorithm());
    }

    #[test]
    fn eddsa_tokens_equal_jsonwebtokens() {
        assert_same_as_jsonwebtoken(&SigningKey::generate_ed25519().unwrap());
    }

    #[test]
    fn rs256_tokens_equal_jsonwebtokens() {
        for pem in [
            include_str!("../tests/fixtures/rs256-test-key.pem"),
            include_str!("../tests/fixtures/rs256-test-key.pkcs1.pem"),
        ] {
            assert_same_as_jsonwebtoken(&SigningKey::from_pem(Algorithm::RS256, pem).unwrap());
        }
    }

    #[test]
    fn hs256_tokens_equal_jsonwebtokens() {
        assert_same_as_jsonwebtoken(&SigningKey::hs256(b"a shared secret of some length").unwrap());
    }

    #[test]
    fn debug_shows_no_key_material() {
        let key = SigningKey::hs256(b"a shared secret of some length").unwrap();
        let signer = TokenSigner::new(&header(&key), &key).unwrap();
        assert_eq!(format!("{signer:?}"), "TokenSigner { algorithm: HS256, .. }");
    }
}
