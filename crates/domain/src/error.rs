use std::fmt;

/// A value a client sent that breaks a domain rule; names the field so the
/// client can show the message next to it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationError {
    /// The field as the client named it (`email`, `password`, ...).
    pub field: &'static str,
    /// What is wrong, in words a user can act on.
    pub message: String,
    /// The named rule broken (`too_common`, ...), for rules a client may
    /// want to tell apart; `None` for plain format errors.
    pub rule: Option<&'static str>,
}

impl ValidationError {
    /// A validation failure on `field`.
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
            rule: None,
        }
    }

    /// A failure of the named `rule` on `field`.
    pub fn of_rule(field: &'static str, rule: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
            rule: Some(rule),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}
