//! [`KeySet`]: the keys a codec works with at one moment — the active key
//! that signs, every key whose tokens are still accepted, and the JWKS that
//! publishes them. A rotation builds a new set; the codec swaps it in whole.

use std::collections::HashMap;

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{DecodingKey, Header};

use crate::signer::TokenSigner;
use crate::{KeyError, SigningKey};

/// The `typ` of a JWT access token (RFC 9068 §2.1).
pub(crate) const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// The active key's signer, the verifying keys by `kid`, and the JWKS.
#[derive(Debug)]
pub(crate) struct KeySet {
    /// Names the keys this set was built from (the active `kid`, then the
    /// retired ones), so installing the same ring again changes nothing.
    pub(crate) fingerprint: String,
    pub(crate) active_kid: String,
    pub(crate) signer: TokenSigner,
    pub(crate) verifying: HashMap<String, DecodingKey>,
    pub(crate) jwks: String,
}

impl KeySet {
    /// Signs with `active`; accepts tokens of `active` and of each retired
    /// key (public JWKs carrying their `kid`), and publishes them all.
    pub(crate) fn new(active: &SigningKey, retired: &[Jwk]) -> Result<Self, KeyError> {
        let mut header = Header::new(active.algorithm().to_jwt());
        header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
        header.kid = Some(active.kid().to_owned());

        let mut fingerprint = active.kid().to_owned();
        let mut verifying = HashMap::from([(active.kid().to_owned(), active.decoding().clone())]);
        let mut published: Vec<Jwk> = active.public_jwk().into_iter().cloned().collect();
        for jwk in retired {
            let kid = jwk
                .common
                .key_id
                .clone()
                .ok_or_else(|| KeyError::Jwk("a retired key has no kid".to_owned()))?;
            let decoding = DecodingKey::from_jwk(jwk).map_err(|e| KeyError::Jwk(e.to_string()))?;
            fingerprint.push(' ');
            fingerprint.push_str(&kid);
            verifying.insert(kid, decoding);
            published.push(jwk.clone());
        }
        let jwks =
            serde_json::to_string(&JwkSet { keys: published }).map_err(|e| KeyError::Jwk(e.to_string()))?;
        Ok(Self {
            fingerprint,
            active_kid: active.kid().to_owned(),
            signer: TokenSigner::new(&header, active)?,
            verifying,
            jwks,
        })
    }
}
