//! The one failure every use case shares: something that is not the
//! client's fault. It keeps the error that caused it, for logs only (show it
//! with `latch_ports::ErrorChain`).

use std::error::Error;
use std::fmt;

use latch_ports::{BoxError, HashError, RepositoryError, TierError, TokenError};

/// An infrastructure failure (database, key material, ...): shows as the
/// error that caused it, whose causes follow as its sources.
#[derive(Debug)]
pub struct Unexpected(BoxError);

impl Unexpected {
    /// A failure described by `message` alone.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into().into())
    }
}

impl fmt::Display for Unexpected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Error for Unexpected {
    // Transparent: the cause's own causes come next.
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source()
    }
}

/// Each error an adapter reports as unexpected, kept whole.
macro_rules! unexpected_from {
    ($($error:ty),+ $(,)?) => {$(
        impl From<$error> for Unexpected {
            fn from(err: $error) -> Self {
                Self(Box::new(err))
            }
        }
    )+};
}

unexpected_from!(RepositoryError, TokenError, HashError, TierError);

/// Hashing failures as use-case errors: overload is for the client to retry
/// later, anything else is ours.
macro_rules! from_hash_error {
    ($($error:ty),+ $(,)?) => {$(
        impl From<HashError> for $error {
            fn from(err: HashError) -> Self {
                match err {
                    HashError::Overloaded => Self::Overloaded,
                    other => Self::Unexpected(other.into()),
                }
            }
        }
    )+};
}

from_hash_error!(crate::SignupError, crate::LoginError, crate::AccountError);

#[cfg(test)]
mod tests {
    use latch_ports::ErrorChain;

    use super::*;

    #[test]
    fn the_cause_survives_into_the_use_case_error() {
        let driver = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let err: Unexpected = RepositoryError::from_source(driver).into();
        assert_eq!(
            ErrorChain(&err).to_string(),
            "repository failure: connection refused"
        );
        let err = crate::AccountError::from(err);
        assert!(err.source().is_some(), "the use-case error hides its cause");
    }
}
