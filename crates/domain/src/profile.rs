use crate::ValidationError;

const NAME_MAX: usize = 100;
const URL_MAX: usize = 2048;

/// A person's display name: at most 100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// Parses a display name (trimmed).
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let trimmed = raw.trim();
        if trimmed.chars().count() > NAME_MAX {
            return Err(ValidationError::new(
                "name",
                format!("must be at most {NAME_MAX} characters"),
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "name",
                "must not contain control characters",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The name as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A link to an avatar image: an absolute `https://` or `http://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvatarUrl(String);

impl AvatarUrl {
    /// Parses an avatar URL.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let trimmed = raw.trim();
        let has_scheme = ["https://", "http://"].iter().any(|scheme| {
            // `get`, not indexing: the prefix may end inside a character.
            trimmed.len() > scheme.len()
                && trimmed
                    .get(..scheme.len())
                    .is_some_and(|prefix| prefix.eq_ignore_ascii_case(scheme))
        });
        if !has_scheme
            || trimmed.len() > URL_MAX
            || trimmed.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(ValidationError::new(
                "avatar_url",
                format!("must be an http(s) URL of at most {URL_MAX} characters"),
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The URL as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

crate::text_value::text_value!(DisplayName, AvatarUrl);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_avatar_url_starting_with_wide_characters_is_refused_not_a_panic() {
        // Found by schemathesis: byte 7 fell inside a four-byte character.
        assert!(AvatarUrl::parse("\u{b9}\u{d995c}\u{fabb1}\u{9d}\u{10}").is_err());
        assert!(AvatarUrl::parse("ht\u{fabb1}ps://example.com/a.png").is_err());
        assert!(AvatarUrl::parse("HTTPS://example.com/a.png").is_ok());
    }

    #[test]
    fn name_bounds() {
        assert_eq!(DisplayName::parse(" Ada ").unwrap().as_str(), "Ada");
        assert!(DisplayName::parse(&"a".repeat(101)).is_err());
        assert!(DisplayName::parse("a\u{0}b").is_err());
    }

    #[test]
    fn avatar_needs_http_scheme() {
        assert!(AvatarUrl::parse("https://img.example/a.png").is_ok());
        assert!(AvatarUrl::parse("javascript:alert(1)").is_err());
        assert!(AvatarUrl::parse("https://").is_err());
        assert!(AvatarUrl::parse("https://a b").is_err());
    }
}
