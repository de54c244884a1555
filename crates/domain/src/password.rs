use secrecy::{ExposeSecret, SecretString};
use unicode_normalization::UnicodeNormalization;

use crate::ValidationError;

/// Length bounds for new passwords, counted in characters after NFKC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Fewest characters a new password may have.
    pub min_length: usize,
    /// Most characters any password may have; longer ones are refused before hashing.
    pub max_length: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 8,
            max_length: 128,
        }
    }
}

/// A plaintext password, NFKC-normalised. Deliberately has no `Debug`,
/// `Display` or `Clone`: it should not be logged or kept around.
pub struct Password(SecretString);

impl Password {
    /// A password chosen by a user (signup, password change): must satisfy `policy`.
    pub fn new_choice(raw: &str, policy: &PasswordPolicy) -> Result<Self, ValidationError> {
        let normalized: String = raw.nfkc().collect();
        let len = normalized.chars().count();
        if len < policy.min_length {
            return Err(ValidationError::new(
                "password",
                format!("must be at least {} characters", policy.min_length),
            ));
        }
        if len > policy.max_length {
            return Err(ValidationError::new(
                "password",
                format!("must be at most {} characters", policy.max_length),
            ));
        }
        Ok(Self(SecretString::from(normalized)))
    }

    /// A password offered at login. Only the upper bound is checked (so that
    /// nobody can make us hash megabytes); `None` means it cannot match anything.
    pub fn attempt(raw: &str, policy: &PasswordPolicy) -> Option<Self> {
        // Count on the raw input first so a huge body is never normalised.
        if raw.chars().count() > policy.max_length.saturating_mul(4) {
            return None;
        }
        let normalized: String = raw.nfkc().collect();
        (normalized.chars().count() <= policy.max_length).then(|| Self(SecretString::from(normalized)))
    }

    /// The normalised plaintext, for a hasher.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// A second handle on the same secret, for moving into a blocking task.
    pub fn duplicate(&self) -> Self {
        Self(SecretString::from(self.expose().to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enforces_length_in_characters() {
        let policy = PasswordPolicy::default();
        assert!(Password::new_choice("short", &policy).is_err());
        assert!(Password::new_choice("long enough", &policy).is_ok());
        // 8 characters, 16 bytes: counts characters, not bytes.
        assert!(Password::new_choice("ééééééée", &policy).is_ok());
        assert!(Password::new_choice(&"x".repeat(129), &policy).is_err());
        assert!(Password::new_choice(&"x".repeat(128), &policy).is_ok());
    }

    #[test]
    fn normalises_to_nfkc() {
        let policy = PasswordPolicy::default();
        // U+FB01 LATIN SMALL LIGATURE FI becomes "fi".
        let pw = Password::new_choice("\u{FB01}rstpassword", &policy).unwrap();
        assert_eq!(pw.expose(), "firstpassword");
    }

    #[test]
    fn attempt_refuses_overlong_input_but_not_short() {
        let policy = PasswordPolicy::default();
        assert!(Password::attempt("x", &policy).is_some());
        assert!(Password::attempt(&"x".repeat(129), &policy).is_none());
    }
}
