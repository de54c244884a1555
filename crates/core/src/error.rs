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

    /// Whether the cause is a store that could not be reached or did not
    /// answer in time (the adapter said so): the client may retry later.
    pub fn is_unavailable(&self) -> bool {
        let mut cause: Option<&(dyn Error + 'static)> = Some(self.0.as_ref());
        while let Some(err) = cause {
            let repository =
                err.downcast_ref::<RepositoryError>()
                    .or_else(|| match err.downcast_ref::<TierError>() {
                        // Transparent: its `source()` skips the repository error itself.
                        Some(TierError::Repository(inner)) => Some(inner),
                        _ => None,
                    });
            if repository.is_some_and(RepositoryError::is_unavailable) {
                return true;
            }
            cause = err.source();
        }
        false
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

    #[test]
    fn an_unavailable_store_is_told_apart() {
        let driver = std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer");
        let down: Unexpected = RepositoryError::unavailable(driver).into();
        assert!(down.is_unavailable());
        let tiers: Unexpected = TierError::from(RepositoryError::unavailable(Unexpected::new("x"))).into();
        assert!(tiers.is_unavailable());
        let broken: Unexpected = RepositoryError::new("a malformed row").into();
        assert!(!broken.is_unavailable());
        assert!(!Unexpected::new("no key").is_unavailable());
    }
}
