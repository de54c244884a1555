use crate::ValidationError;
use crate::email::normalize_login;

const MIN_LEN: usize = 3;
const MAX_LEN: usize = 32;

/// A login name: 3–32 of `[A-Za-z0-9_.-]`, starting with a letter or digit.
///
/// It never contains `@`, so a login string is unambiguously an email or a
/// username. Uniqueness is case-insensitive ([`Username::normalized`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// Parses a username, trimming surrounding whitespace.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let trimmed = raw.trim();
        let len = trimmed.chars().count();
        if !(MIN_LEN..=MAX_LEN).contains(&len) {
            return Err(ValidationError::new(
                "username",
                format!("must be {MIN_LEN} to {MAX_LEN} characters"),
            ));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
        if !trimmed.chars().all(allowed) || !trimmed.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(ValidationError::new(
                "username",
                "may contain only letters, digits, '_', '.' and '-', and must start with a letter or digit",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The username as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used for uniqueness and lookup: lower-cased.
    pub fn normalized(&self) -> String {
        normalize_login(&self.0)
    }
}

crate::text_value::text_value!(Username);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalizes() {
        let name = Username::parse(" Ada_L ").unwrap();
        assert_eq!(name.as_str(), "Ada_L");
        assert_eq!(name.normalized(), "ada_l");
    }

    #[test]
    fn rejects_bad_shapes() {
        for raw in ["ab", "a@b.c", "_ada", "ada lovelace", &"a".repeat(33), "adé"] {
            assert!(Username::parse(raw).is_err(), "{raw:?} was accepted");
        }
    }
}
