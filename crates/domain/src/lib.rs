//! Latch's domain: the entities, value objects and rules of user authentication.
//!
//! Owns what a user, a session and a refresh token *are* and which values are
//! valid. Must not depend on I/O, an async runtime, a web framework or an ORM.

mod audit;
mod authorization;
mod email;
mod error;
mod password;
mod profile;
mod session;
mod text_value;
mod tier;
mod user;
mod username;

pub use audit::{AuditAction, AuditEvent};
pub use authorization::{
    PolicyViolation, StandingChange, check_standing_change, is_active_superuser, require_administrator,
};
pub use email::Email;
pub use error::ValidationError;
pub use password::{Password, PasswordPolicy, PersonalInfo};
pub use profile::{AvatarUrl, DisplayName};
pub use session::{RefreshTokenRecord, Session, SessionId, TokenHash};
pub use tier::{RateLimit, Tier, TierName, validate_tier_fields};
pub use user::{DEFAULT_TIER, ProfilePatch, User, UserId};
pub use username::Username;

/// Timestamps are UTC everywhere in Latch.
pub type Timestamp = chrono::DateTime<chrono::Utc>;
