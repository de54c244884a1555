//! What the codec is configured with: the algorithm, issuer, audience and leeway.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

/// The signing algorithms Latch supports (`tokens.algorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(try_from = "String")]
pub enum Algorithm {
    /// Ed25519 signatures (the default): small keys, fast, deterministic.
    #[default]
    EdDSA,
    /// RSASSA-PKCS1-v1_5 with SHA-256, for resource servers that only speak RSA.
    RS256,
    /// HMAC-SHA256 with a shared secret: no JWKS, every verifier holds the secret.
    HS256,
}

impl Algorithm {
    /// The name used in the JWT header, JWKS and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EdDSA => "EdDSA",
            Self::RS256 => "RS256",
            Self::HS256 => "HS256",
        }
    }

    pub(crate) fn to_jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::EdDSA => jsonwebtoken::Algorithm::EdDSA,
            Self::RS256 => jsonwebtoken::Algorithm::RS256,
            Self::HS256 => jsonwebtoken::Algorithm::HS256,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The configured algorithm name is not one Latch supports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown token algorithm {0:?}: expected EdDSA, RS256 or HS256")]
pub struct UnknownAlgorithm(pub String);

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    /// Parses `EdDSA`, `RS256` or `HS256`, ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::EdDSA, Self::RS256, Self::HS256]
            .into_iter()
            .find(|alg| alg.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownAlgorithm(s.to_owned()))
    }
}

impl TryFrom<String> for Algorithm {
    type Error = UnknownAlgorithm;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// Everything about tokens except the key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSettings {
    /// The only algorithm tokens are signed and accepted with.
    pub algorithm: Algorithm,
    /// The `iss` claim written and required.
    pub issuer: String,
    /// The `aud` claim written and required.
    pub audience: String,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    pub leeway_seconds: u64,
}

impl TokenSettings {
    /// The leeway used unless configured otherwise.
    pub const DEFAULT_LEEWAY_SECONDS: u64 = 30;

    /// Settings for `algorithm`, `issuer` and `audience` with the default leeway.
    pub fn new(algorithm: Algorithm, issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            algorithm,
            issuer: issuer.into(),
            audience: audience.into(),
            leeway_seconds: Self::DEFAULT_LEEWAY_SECONDS,
        }
    }
}

impl Default for TokenSettings {
    /// The documented defaults: EdDSA, issuer and audience `latch`, 30 s leeway.
    fn default() -> Self {
        Self::new(Algorithm::EdDSA, "latch", "latch")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_parses_ignoring_case() {
        assert_eq!("eddsa".parse(), Ok(Algorithm::EdDSA));
        assert_eq!("RS256".parse(), Ok(Algorithm::RS256));
        assert_eq!("hs256".parse(), Ok(Algorithm::HS256));
    }

    #[test]
    fn unknown_algorithm_error_names_the_input_and_the_choices() {
        let err = "none".parse::<Algorithm>().unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"unknown token algorithm "none": expected EdDSA, RS256 or HS256"#
        );
    }

    #[test]
    fn algorithm_displays_as_its_jose_name() {
        assert_eq!(Algorithm::EdDSA.to_string(), "EdDSA");
    }
}
