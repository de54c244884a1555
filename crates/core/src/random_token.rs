//! Random bearer tokens — the secret of an emailed link, a login's
//! `mfa_token`: 256 random bits, URL-safe, stored only as their SHA-256.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latch_domain::TokenHash;
use sha2::{Digest, Sha256};

/// Length of a token: 32 bytes in unpadded base64url.
const ENCODED_LEN: usize = 43;

/// One random bearer token.
pub(crate) struct RandomToken([u8; 32]);

impl RandomToken {
    /// 256 fresh random bits from the OS-seeded CSPRNG.
    pub(crate) fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::fill(&mut bytes[..]);
        Self(bytes)
    }

    /// Parses a presented token; `None` for anything not shaped like ours
    /// (answered exactly like an unknown token).
    pub(crate) fn parse(token: &str) -> Option<Self> {
        if token.len() != ENCODED_LEN {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    /// The token as the client gets it (URL-safe as is).
    pub(crate) fn encoded(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// The stored form.
    pub(crate) fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0).into())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_token_round_trips_and_is_url_safe() {
        let token = RandomToken::generate();
        let encoded = token.encoded();
        assert_eq!(encoded.len(), ENCODED_LEN);
        assert!(
            encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(RandomToken::parse(&encoded).unwrap().hash(), token.hash());
    }

    #[test]
    fn foreign_shapes_are_refused() {
        let encoded = RandomToken::generate().encoded();
        assert!(RandomToken::parse(&encoded[1..]).is_none());
        assert!(RandomToken::parse(&format!("{encoded}A")).is_none());
        assert!(RandomToken::parse(&"!".repeat(ENCODED_LEN)).is_none());
        assert!(RandomToken::parse("").is_none());
    }

    #[test]
    fn two_tokens_differ() {
        assert_ne!(RandomToken::generate().hash(), RandomToken::generate().hash());
    }
}
