//! The failure every port shares, and how to show an error with its causes.

use std::error::Error;
use std::fmt;

/// Any error, boxed so it can travel across layers with its cause chain.
pub type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// An infrastructure failure with no business meaning (database down, ...).
/// What it says and the error that caused it are for logs only, never for
/// clients: log it with [`ErrorChain`] to see the cause. An adapter marks a
/// failure to reach the store at all ([`RepositoryError::unavailable`]), so
/// callers can tell "retry later" from "something is broken".
#[derive(Debug)]
pub struct RepositoryError {
    /// What went wrong, when the adapter knows more than its cause says.
    context: Option<String>,
    /// The driver's (or parser's) error, when there is one.
    source: Option<BoxError>,
    /// The store could not be reached or did not answer in time.
    unavailable: bool,
}

impl RepositoryError {
    /// A failure described by `message` alone (a broken invariant, say).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            context: Some(message.into()),
            source: None,
            unavailable: false,
        }
    }

    /// A failure caused by `source` (a driver error, say).
    pub fn from_source(source: impl Into<BoxError>) -> Self {
        Self {
            context: None,
            source: Some(source.into()),
            unavailable: false,
        }
    }

    /// The store could not be reached or did not answer in time (connection
    /// refused or lost, pool or statement timeout): `source` says how.
    pub fn unavailable(source: impl Into<BoxError>) -> Self {
        Self {
            context: Some("the store is unavailable".into()),
            source: Some(source.into()),
            unavailable: true,
        }
    }

    /// Whether the store could not be reached or did not answer in time, as
    /// opposed to a failure that retrying will not cure.
    pub fn is_unavailable(&self) -> bool {
        self.unavailable
    }

    /// A failure described by `message` and caused by `source`.
    pub fn with_source(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self {
            context: Some(message.into()),
            source: Some(source.into()),
            unavailable: false,
        }
    }
}

impl fmt::Display for RepositoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("repository failure")?;
        match &self.context {
            Some(context) => write!(f, ": {context}"),
            None => Ok(()),
        }
    }
}

impl Error for RepositoryError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn Error + 'static))
    }
}

/// Shows an error followed by each of its causes: `outer: inner: root`.
/// A cause whose text its parent already ends with is not repeated (many
/// errors include their source's message in their own).
pub struct ErrorChain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.0.to_string();
        f.write_str(&shown)?;
        let mut cause = self.0.source();
        while let Some(err) = cause {
            let text = err.to_string();
            if !shown.ends_with(&text) {
                write!(f, ": {text}")?;
            }
            shown = text;
            cause = err.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("pool timed out")]
    struct Driver;

    #[derive(Debug, thiserror::Error)]
    #[error("connection error: pool timed out")]
    struct Wrapping(#[source] Driver);

    #[test]
    fn the_chain_shows_every_cause_once() {
        let err = RepositoryError::from_source(Driver);
        assert_eq!(err.to_string(), "repository failure");
        assert_eq!(ErrorChain(&err).to_string(), "repository failure: pool timed out");

        let err = RepositoryError::with_source("reading tier pro", Wrapping(Driver));
        assert_eq!(
            ErrorChain(&err).to_string(),
            "repository failure: reading tier pro: connection error: pool timed out"
        );
        let err = RepositoryError::new("the counter row is missing");
        assert_eq!(
            ErrorChain(&err).to_string(),
            "repository failure: the counter row is missing"
        );
        assert!(!err.is_unavailable());
    }

    #[test]
    fn an_unavailable_store_says_so_and_keeps_its_cause() {
        let err = RepositoryError::unavailable(Driver);
        assert!(err.is_unavailable());
        assert_eq!(
            ErrorChain(&err).to_string(),
            "repository failure: the store is unavailable: pool timed out"
        );
    }
}
