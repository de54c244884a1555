//! The one failure every use case shares: something that is not the
//! client's fault. Its message is for logs only.

use latch_ports::{HashError, RepositoryError, TokenError};

/// An infrastructure failure (database, key material, ...).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unexpected(pub String);

impl From<RepositoryError> for Unexpected {
    fn from(err: RepositoryError) -> Self {
        Self(err.to_string())
    }
}

impl From<TokenError> for Unexpected {
    fn from(err: TokenError) -> Self {
        Self(err.to_string())
    }
}

impl From<HashError> for Unexpected {
    fn from(err: HashError) -> Self {
        Self(err.to_string())
    }
}

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
