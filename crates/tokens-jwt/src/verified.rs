//! Tokens already verified, so that a client sending the same access token
//! on every request pays for one signature check, not one per request.
//!
//! Sound because verification is a function of the token's bytes and the
//! time: the signature, header, issuer, audience and `nbf` checks give the
//! same answer for the same bytes forever, so only `exp` is checked again.
//! Only accepted tokens are kept.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use latch_ports::AccessClaims;

/// A bounded map from token text to its verified claims.
pub(crate) struct VerifiedTokens {
    capacity: usize,
    entries: Mutex<HashMap<Box<str>, AccessClaims>>,
}

impl std::fmt::Debug for VerifiedTokens {
    /// Never the tokens: they are bearer credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedTokens")
            .field("capacity", &self.capacity)
            .field("len", &self.entries().len())
            .finish()
    }
}

/// What the cache knows of a token.
pub(crate) enum Known {
    /// Verified before and not yet expired.
    Valid(AccessClaims),
    /// Verified before, expired since.
    Expired,
    /// Never verified (or forgotten): check it.
    Unknown,
}

impl VerifiedTokens {
    /// An empty cache holding at most `capacity` tokens (0: none).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<Box<str>, AccessClaims>> {
        // Each critical section is a single map operation: a poisoned map is still whole.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Looks `token` up; `now` and `leeway` are seconds, as the verifier counts them.
    pub(crate) fn get(&self, token: &str, now: u64, leeway: u64) -> Known {
        let mut entries = self.entries();
        let Some(claims) = entries.get(token) else {
            return Known::Unknown;
        };
        // The verifier's rule: expired once `exp < now - leeway`.
        let exp = u64::try_from(claims.exp).unwrap_or(0);
        if exp < now.saturating_sub(leeway) {
            entries.remove(token);
            return Known::Expired;
        }
        Known::Valid(claims.clone())
    }

    /// Remembers that `token` verified to `claims`.
    pub(crate) fn insert(&self, token: &str, claims: &AccessClaims) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries();
        if entries.len() >= self.capacity {
            // Full: drop any one entry (hash order is as good as random).
            if let Some(victim) = entries.keys().next().cloned() {
                entries.remove(&victim);
            }
        }
        entries.insert(token.into(), claims.clone());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use latch_domain::{SessionId, UserId};
    use uuid::Uuid;

    use super::*;

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims {
            sub: UserId::generate(),
            sid: SessionId::generate(),
            jti: Uuid::now_v7(),
            iat: exp - 900,
            exp,
            email: "ada@example.com".into(),
            name: None,
            avatar_url: None,
            is_superuser: false,
            is_staff: false,
            tier: "free".into(),
            amr: latch_domain::AuthMethods::Password,
        }
    }

    #[test]
    fn a_remembered_token_is_valid_until_exp_plus_leeway() {
        let cache = VerifiedTokens::new(4);
        cache.insert("t", &claims(1_000));
        assert!(matches!(cache.get("t", 1_000, 30), Known::Valid(_)));
        assert!(matches!(cache.get("t", 1_030, 30), Known::Valid(_)));
        assert!(matches!(cache.get("t", 1_031, 30), Known::Expired));
        assert!(
            matches!(cache.get("t", 1_000, 30), Known::Unknown),
            "an expired entry is dropped"
        );
        assert!(matches!(cache.get("other", 1_000, 30), Known::Unknown));
    }

    #[test]
    fn the_cache_stays_within_capacity_and_never_prints_tokens() {
        let cache = VerifiedTokens::new(2);
        for token in ["secret-a", "secret-b", "secret-c"] {
            cache.insert(token, &claims(1_000));
        }
        assert_eq!(cache.entries().len(), 2);
        assert!(matches!(cache.get("secret-c", 0, 0), Known::Valid(_)));
        assert!(!format!("{cache:?}").contains("secret"));
        let none = VerifiedTokens::new(0);
        none.insert("t", &claims(1_000));
        assert!(matches!(none.get("t", 0, 0), Known::Unknown));
    }
}
