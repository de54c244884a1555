//! Latch's domain: the entities, value objects and rules of user authentication.
//!
//! Owns what a user, a session and a refresh token *are* and which values are
//! valid. Must not depend on I/O, an async runtime, a web framework or an ORM.

mod audit;
mod authorization;
mod email;
mod error;
mod link;
mod password;
mod profile;
mod recovery_code;
mod session;
mod text_value;
mod tier;
mod totp;
mod user;
mod username;

pub use audit::{AuditAction, AuditEvent};
pub use authorization::{
    PolicyViolation, StandingChange, check_standing_change, is_active_superuser, require_administrator,
};
pub use email::Email;
pub use error::ValidationError;
pub use link::LinkPurpose;
pub use password::{Password, PasswordPolicy, PersonalInfo};
pub use profile::{AvatarUrl, DisplayName};
pub use recovery_code::{RECOVERY_CODE_BYTES, RECOVERY_CODE_COUNT, RecoveryCode};
pub use session::{AuthMethods, RefreshTokenRecord, Session, SessionId, TokenHash};
pub use tier::{RateLimit, Tier, TierName, validate_tier_fields};
pub use totp::{TOTP_SECRET_LEN, TotpSecret, looks_like_totp_code, totp_step};
pub use user::{DEFAULT_TIER, ProfilePatch, User, UserId};
pub use username::Username;

/// Timestamps are UTC everywhere in Latch.
pub type Timestamp = chrono::DateTime<chrono::Utc>;
