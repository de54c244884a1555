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
