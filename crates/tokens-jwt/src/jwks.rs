//! Public keys as published JWKs, and the `kid`s derived from keys.

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse, ThumbprintHash};

use crate::KeyError;

/// The RFC 7638 thumbprint (base64url SHA-256) of a public JWK.
pub(crate) fn thumbprint(jwk: &Jwk) -> Result<String, KeyError> {
    jwk.thumbprint(ThumbprintHash::SHA256)
        .map_err(|e| KeyError::Jwk(e.to_string()))
}

/// `jwk` as published: with its `kid` and `use: sig`.
pub(crate) fn publishable(mut jwk: Jwk, kid: &str) -> Jwk {
    jwk.common.key_id = Some(kid.to_owned());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    jwk
}

/// A `kid` for an HS256 secret: the RFC 7638 thumbprint of an `oct` JWK holding
/// the secret's SHA-256 rather than the secret, so the header never carries
/// anything an HMAC signature does not already commit to.
pub(crate) fn secret_kid(secret: &[u8]) -> String {
    let hidden = URL_SAFE_NO_PAD.encode(digest(&SHA256, secret));
    let canonical = format!(r#"{{"k":"{hidden}","kty":"oct"}}"#);
    URL_SAFE_NO_PAD.encode(digest(&SHA256, canonical.as_bytes()))
}
