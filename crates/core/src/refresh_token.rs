//! Opaque refresh tokens: generation, hashing, and sealing a successor.
//!
//! A token is `latch_rt_` + base64url(32 random bytes). Only its SHA-256 is
//! stored. When a token is rotated, the successor's secret is stored XORed
//! with a pad derived from the *parent's* secret, so whoever presents the
//! parent again inside the grace window gets the very same successor back,
//! while the database alone never yields a usable token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latch_domain::TokenHash;
use sha2::{Digest, Sha256};

/// The prefix that lets secret scanners recognise a leaked Latch refresh token.
pub const REFRESH_TOKEN_PREFIX: &str = "latch_rt_";

const SEAL_LABEL: &[u8] = b"latch refresh-token successor seal v1";

/// A refresh token's secret bytes.
pub(crate) struct RefreshSecret([u8; 32]);

impl RefreshSecret {
    /// 256 fresh random bits from the OS-seeded CSPRNG.
    pub(crate) fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::fill(&mut bytes[..]);
        Self(bytes)
    }

    /// Parses a presented token; `None` for anything not shaped like ours.
    pub(crate) fn parse(token: &str) -> Option<Self> {
        let encoded = token.strip_prefix(REFRESH_TOKEN_PREFIX)?;
        if encoded.len() != 43 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(encoded).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    /// The token as handed to clients.
    pub(crate) fn token(&self) -> String {
        format!("{REFRESH_TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(self.0))
    }

    /// The stored form.
    pub(crate) fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0).into())
    }

    /// Seals `successor` so that only this secret can unseal it.
    pub(crate) fn seal(&self, successor: &RefreshSecret) -> Vec<u8> {
        xor(&successor.0, &self.pad()).to_vec()
    }

    /// Recovers the successor sealed by [`RefreshSecret::seal`].
    pub(crate) fn unseal(&self, sealed: &[u8]) -> Option<RefreshSecret> {
        let sealed: [u8; 32] = sealed.try_into().ok()?;
        Some(RefreshSecret(xor(&sealed, &self.pad())))
    }

    /// A one-time pad: each parent seals exactly one successor.
    fn pad(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(SEAL_LABEL);
        hasher.update(self.0);
        hasher.finalize().into()
    }
}

fn xor(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    std::array::from_fn(|i| a[i] ^ b[i])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trips_through_parse() {
        let secret = RefreshSecret::generate();
        let token = secret.token();
        assert!(token.starts_with("latch_rt_"));
        assert_eq!(RefreshSecret::parse(&token).unwrap().hash(), secret.hash());
    }

    #[test]
    fn rejects_foreign_shapes() {
        let token = RefreshSecret::generate().token();
        assert!(RefreshSecret::parse(&token[9..]).is_none());
        assert!(RefreshSecret::parse(&format!("{token}A")).is_none());
        assert!(RefreshSecret::parse("latch_rt_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!").is_none());
    }

    #[test]
    fn only_the_parent_unseals_the_successor() {
        let (parent, child, stranger) = (
            RefreshSecret::generate(),
            RefreshSecret::generate(),
            RefreshSecret::generate(),
        );
        let sealed = parent.seal(&child);
        assert_eq!(parent.unseal(&sealed).unwrap().hash(), child.hash());
        assert_ne!(stranger.unseal(&sealed).unwrap().hash(), child.hash());
        // The stored hash of the parent is not the pad.
        assert_ne!(parent.hash().0, parent.pad());
    }
}
