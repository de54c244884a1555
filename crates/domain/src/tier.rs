//! Tiers: named sets of per-path rate limits that users are assigned to.

use crate::{Timestamp, ValidationError};

const NAME_MAX: usize = 64;
const DESCRIPTION_MAX: usize = 500;
const PATH_MAX: usize = 512;
/// More limits than this per tier is a configuration mistake, not a need.
const LIMITS_MAX: usize = 100;

/// A tier name: 1–64 of `[A-Za-z0-9_.-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TierName(String);

impl TierName {
    /// Parses a tier name.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let valid = !raw.is_empty()
            && raw.len() <= NAME_MAX
            && raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ValidationError::new(
                "tier",
                format!("must be 1 to {NAME_MAX} of letters, digits, '_', '.' and '-'"),
            ))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for TierName {
    /// The tier a new user gets unless configured otherwise ([`crate::DEFAULT_TIER`]).
    fn default() -> Self {
        Self(crate::DEFAULT_TIER.to_owned())
    }
}

/// At most `limit` requests to `path` per `period_seconds`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// The request path it applies to (starts with `/`).
    pub path: String,
    /// Requests allowed per period.
    pub limit: u32,
    /// Period length in seconds.
    pub period_seconds: u32,
}

impl RateLimit {
    /// Checks a limit's values.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if !self.path.starts_with('/')
            || self.path.len() > PATH_MAX
            || self.path.chars().any(char::is_whitespace)
        {
            return Err(ValidationError::new(
                "limits",
                format!("path must start with '/', have no spaces and be at most {PATH_MAX} bytes"),
            ));
        }
        if self.limit == 0 || self.period_seconds == 0 {
            return Err(ValidationError::new(
                "limits",
                "limit and period_seconds must be at least 1",
            ));
        }
        Ok(())
    }
}

/// Validates a tier's description and limits.
pub fn validate_tier_fields(description: &str, limits: &[RateLimit]) -> Result<(), ValidationError> {
    if description.chars().count() > DESCRIPTION_MAX {
        return Err(ValidationError::new(
            "description",
            format!("must be at most {DESCRIPTION_MAX} characters"),
        ));
    }
    if limits.len() > LIMITS_MAX {
        return Err(ValidationError::new(
            "limits",
            format!("at most {LIMITS_MAX} limits per tier"),
        ));
    }
    limits.iter().try_for_each(RateLimit::validate)
}

/// A tier as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    /// Unique name; what users and tokens refer to.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Its per-path limits.
    pub limits: Vec<RateLimit>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

crate::text_value::text_value!(TierName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_tier_is_a_valid_name() {
        assert_eq!(TierName::parse(crate::DEFAULT_TIER), Ok(TierName::default()));
    }

    fn limit(path: &str, limit: u32, period_seconds: u32) -> RateLimit {
        RateLimit {
            path: path.into(),
            limit,
            period_seconds,
        }
    }

    #[test]
    fn names() {
        assert!(TierName::parse("pro-2026").is_ok());
        for bad in ["", "has space", "ünï", &"x".repeat(65)] {
            assert!(TierName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn limits() {
        assert!(validate_tier_fields("", &[limit("/api/v1/things", 10, 60)]).is_ok());
        assert!(validate_tier_fields("", &[limit("api", 10, 60)]).is_err());
        assert!(validate_tier_fields("", &[limit("/x", 0, 60)]).is_err());
        assert!(validate_tier_fields("", &[limit("/x", 1, 0)]).is_err());
        assert!(validate_tier_fields(&"d".repeat(501), &[]).is_err());
    }
}
