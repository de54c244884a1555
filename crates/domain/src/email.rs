use crate::ValidationError;

/// The longest address SMTP can deliver to (RFC 5321 path limit).
const MAX_LEN: usize = 254;

/// A syntactically valid email address, as the user typed it (trimmed).
///
/// Uniqueness is case-insensitive: compare and index [`Email::normalized`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Parses an address; rejects anything that is not `local@domain`.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ValidationError::new("email", "must not be empty"));
        }
        if trimmed.chars().count() > MAX_LEN {
            return Err(ValidationError::new(
                "email",
                format!("must be at most {MAX_LEN} characters"),
            ));
        }
        // `email_address` follows RFC 5322; we additionally insist on a dot-free-or-not
        // domain part being present and no display-name form ("Bob <b@x>").
        let parsed = email_address::EmailAddress::parse_with_options(
            trimmed,
            email_address::Options::default().without_display_text(),
        );
        match parsed {
            Ok(_) if !trimmed.contains(char::is_whitespace) => Ok(Self(trimmed.to_owned())),
            _ => Err(ValidationError::new("email", "is not a valid email address")),
        }
    }

    /// The address as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used for uniqueness and lookup: lower-cased.
    pub fn normalized(&self) -> String {
        normalize_login(&self.0)
    }
}

/// How emails and usernames are compared: trimmed and lower-cased.
pub(crate) fn normalize_login(raw: &str) -> String {
    raw.trim().to_lowercase()
}

crate::text_value::text_value!(Email);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_plain_address_and_trims_it() {
        let email = Email::parse("  Ada@Example.com ").unwrap();
        assert_eq!(email.as_str(), "Ada@Example.com");
        assert_eq!(email.normalized(), "ada@example.com");
    }

    #[test]
    fn rejects_garbage() {
        for raw in [
            "",
            "   ",
            "ada",
            "ada@",
            "@example.com",
            "a da@example.com",
            "Ada <ada@example.com>",
        ] {
            assert!(Email::parse(raw).is_err(), "{raw:?} was accepted");
        }
    }

    #[test]
    fn rejects_overlong_addresses() {
        let raw = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&raw).unwrap_err().field, "email");
    }
}
