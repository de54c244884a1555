use std::collections::HashSet;
use std::sync::LazyLock;

use secrecy::{ExposeSecret, SecretString};
use unicode_normalization::UnicodeNormalization;

use crate::ValidationError;

/// The most common passwords (about 20,000, lower-case, most frequent first;
/// provenance in `data/README.md`), checked in O(1) through a set built on first use.
static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| include_str!("../data/common-passwords.txt").lines().collect());

/// Identifiers shorter than this are too generic to forbid inside a password.
const MIN_PERSONAL_FRAGMENT: usize = 4;

/// The rules a new password must satisfy. Lengths count characters after NFKC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Fewest characters a new password may have.
    pub min_length: usize,
    /// Most characters any password may have; longer ones are refused before hashing.
    pub max_length: usize,
    /// How many of the classes lowercase, uppercase, digit and other a new
    /// password must mix; 0 or 1 = no complexity rule.
    pub min_character_classes: u8,
    /// Refuse passwords on the bundled list of the most common ones.
    pub reject_common: bool,
    /// Refuse passwords containing the user's own email, username or name.
    pub reject_personal: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 8,
            max_length: 128,
            min_character_classes: 0,
            reject_common: true,
            reject_personal: true,
        }
    }
}

/// What is known about the user choosing a password, so it can be kept out of it.
#[derive(Debug, Clone, Copy, Default)]
pub struct PersonalInfo<'a> {
    /// The account's email address.
    pub email: Option<&'a str>,
    /// The account's username.
    pub username: Option<&'a str>,
    /// The account's display name.
    pub name: Option<&'a str>,
}

impl PersonalInfo<'_> {
    /// Lower-case fragments a password must not contain: the email, its local
    /// part, the username, the name and each word of the name.
    fn fragments(&self) -> Vec<String> {
        let mut fragments = Vec::new();
        if let Some(email) = self.email {
            fragments.push(email.to_lowercase());
            if let Some((local, _)) = email.split_once('@') {
                fragments.push(local.to_lowercase());
            }
        }
        fragments.extend(self.username.map(str::to_lowercase));
        if let Some(name) = self.name {
            fragments.push(name.to_lowercase());
            fragments.extend(name.split_whitespace().map(str::to_lowercase));
        }
        fragments.retain(|f| f.chars().count() >= MIN_PERSONAL_FRAGMENT);
        fragments
    }
}

/// A plaintext password, NFKC-normalised. Deliberately has no `Debug`,
/// `Display` or `Clone`: it should not be logged or kept around.
pub struct Password(SecretString);

impl Password {
    /// A password chosen by a user (signup, password change): must satisfy
    /// `policy`, which may also keep `personal` out of it. Each refusal names
    /// its rule: `too_short`, `too_long`, `too_few_character_classes`,
    /// `too_common` or `contains_personal_info`.
    pub fn new_choice(
        raw: &str,
        policy: &PasswordPolicy,
        personal: &PersonalInfo<'_>,
    ) -> Result<Self, ValidationError> {
        let broken = |rule, message: String| ValidationError::of_rule("password", rule, message);
        // Counted on the raw input first so a huge body is never normalised.
        if raw.chars().count() > policy.max_length.saturating_mul(4) {
            return Err(broken(
                "too_long",
                format!("must be at most {} characters", policy.max_length),
            ));
        }
        let normalized: String = raw.nfkc().collect();
        let len = normalized.chars().count();
        if len < policy.min_length {
            return Err(broken(
                "too_short",
                format!("must be at least {} characters", policy.min_length),
            ));
        }
        if len > policy.max_length {
            return Err(broken(
                "too_long",
                format!("must be at most {} characters", policy.max_length),
            ));
        }
        if character_classes(&normalized) < policy.min_character_classes {
            return Err(broken(
                "too_few_character_classes",
                format!(
                    "must mix at least {} of: lowercase letters, uppercase letters, digits, other characters",
                    policy.min_character_classes
                ),
            ));
        }
        let lowered = normalized.to_lowercase();
        if policy.reject_common && COMMON_PASSWORDS.contains(lowered.as_str()) {
            return Err(broken(
                "too_common",
                "is one of the most commonly used passwords".into(),
            ));
        }
        if policy.reject_personal && personal.fragments().iter().any(|f| lowered.contains(f.as_str())) {
            return Err(broken(
                "contains_personal_info",
                "must not contain your email, username or name".into(),
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

/// How many of lowercase, uppercase, digit and other characters `password` uses.
fn character_classes(password: &str) -> u8 {
    let has = |test: fn(char) -> bool| u8::from(password.chars().any(test));
    has(char::is_lowercase)
        + has(char::is_uppercase)
        + has(|c| c.is_numeric())
        + has(|c| !c.is_lowercase() && !c.is_uppercase() && !c.is_numeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOBODY: PersonalInfo<'static> = PersonalInfo {
        email: None,
        username: None,
        name: None,
    };

    fn rule_of(raw: &str, policy: &PasswordPolicy, personal: &PersonalInfo<'_>) -> Option<&'static str> {
        match Password::new_choice(raw, policy, personal) {
            Ok(_) => None,
            Err(err) => {
                assert_eq!(err.field, "password");
                Some(err.rule.unwrap_or("no rule named"))
            }
        }
    }

    #[test]
    fn enforces_length_in_characters() {
        let policy = PasswordPolicy::default();
        assert_eq!(rule_of("short", &policy, &NOBODY), Some("too_short"));
        assert_eq!(rule_of("long enough", &policy, &NOBODY), None);
        // 8 characters, 16 bytes: counts characters, not bytes.
        assert_eq!(rule_of("ééééééée", &policy, &NOBODY), None);
        assert_eq!(rule_of(&"x".repeat(129), &policy, &NOBODY), Some("too_long"));
        assert_eq!(rule_of(&"xy".repeat(64), &policy, &NOBODY), None);
        assert_eq!(rule_of(&"x".repeat(100_000), &policy, &NOBODY), Some("too_long"));
    }

    #[test]
    fn normalises_to_nfkc() {
        let policy = PasswordPolicy::default();
        // U+FB01 LATIN SMALL LIGATURE FI becomes "fi".
        let Ok(pw) = Password::new_choice("\u{FB01}rstpassword", &policy, &NOBODY) else {
            unreachable!("a valid password")
        };
        assert_eq!(pw.expose(), "firstpassword");
    }

    #[test]
    fn complexity_counts_character_classes_when_asked() {
        let policy = PasswordPolicy {
            min_character_classes: 3,
            ..PasswordPolicy::default()
        };
        assert_eq!(
            rule_of("onlylowercase", &policy, &NOBODY),
            Some("too_few_character_classes")
        );
        assert_eq!(
            rule_of("lower and 42", &policy, &NOBODY),
            None,
            "space counts as other"
        );
        assert_eq!(rule_of("Lower1234", &policy, &NOBODY), None);
        assert_eq!(
            rule_of("onlylowercase", &PasswordPolicy::default(), &NOBODY),
            None
        );
    }

    #[test]
    fn common_passwords_are_refused_in_any_case() {
        let policy = PasswordPolicy::default();
        assert!(COMMON_PASSWORDS.len() >= 10_000);
        for common in ["password", "PASSWORD1", "12345678", "iloveyou", "Qwertyuiop"] {
            assert_eq!(rule_of(common, &policy, &NOBODY), Some("too_common"), "{common}");
        }
        assert_eq!(rule_of("correct horse battery staple", &policy, &NOBODY), None);
        let lenient = PasswordPolicy {
            reject_common: false,
            ..PasswordPolicy::default()
        };
        assert_eq!(rule_of("password", &lenient, &NOBODY), None);
    }

    #[test]
    fn personal_info_is_kept_out() {
        let policy = PasswordPolicy::default();
        let ada = PersonalInfo {
            email: Some("ada.lovelace@example.com"),
            username: Some("countess"),
            name: Some("Ada Lovelace"),
        };
        for leaky in [
            "ada.lovelace!!",
            "my countess 1815",
            "LOVELACE-1815",
            "xx ada lovelace",
        ] {
            assert_eq!(
                rule_of(leaky, &policy, &ada),
                Some("contains_personal_info"),
                "{leaky}"
            );
        }
        // "Ada" alone is too short to forbid.
        assert_eq!(rule_of("ada rides horses", &policy, &ada), None);
        let lenient = PasswordPolicy {
            reject_personal: false,
            ..PasswordPolicy::default()
        };
        assert_eq!(rule_of("my countess 1815", &lenient, &ada), None);
    }

    #[test]
    fn attempt_refuses_overlong_input_but_not_short() {
        let policy = PasswordPolicy::default();
        assert!(Password::attempt("x", &policy).is_some());
        assert!(Password::attempt(&"x".repeat(129), &policy).is_none());
    }
}
