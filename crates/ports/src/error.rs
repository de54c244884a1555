//! The failure every port shares, and how to show an error with its causes.

use std::error::Error;
use std::fmt;

/// Any error, boxed so it can travel across layers with its cause chain.
pub type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// An infrastructure failure with no business meaning (database down, ...).
/// What it says and the error that caused it are for logs only, never for
/// clients: log it with [`ErrorChain`] to see the cause.
#[derive(Debug)]
pub struct RepositoryError {
    /// What went wrong, when the adapter knows more than its cause says.
    context: Option<String>,
    /// The driver's (or parser's) error, when there is one.
    source: Option<BoxError>,
}

impl RepositoryError {
    /// A failure described by `message` alone (a broken invariant, say).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            context: Some(message.into()),
            source: None,
        }
    }

    /// A failure caused by `source` (a driver error, say).
    pub fn from_source(source: impl Into<BoxError>) -> Self {
        Self {
            context: None,
            source: Some(source.into()),
        }
    }

    /// A failure described by `message` and caused by `source`.
    pub fn with_source(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self {
            context: Some(message.into()),
            source: Some(source.into()),
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
    }
}
