use uuid::Uuid;

use crate::{Timestamp, UserId};

/// A session's id: the `sid` claim of its access tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub Uuid);

impl SessionId {
    /// A fresh, time-ordered id.
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }
}

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// How a session's user proved who they are: its access tokens' `amr`
/// claim (RFC 8176).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AuthMethods {
    /// A password alone.
    #[default]
    Password,
    /// A password, then a one-time code (TOTP or recovery code).
    PasswordAndOtp,
}

impl AuthMethods {
    /// Every value.
    pub const ALL: [Self; 2] = [Self::Password, Self::PasswordAndOtp];

    /// The RFC 8176 method names, as in the `amr` claim.
    pub fn amr(self) -> &'static [&'static str] {
        match self {
            Self::Password => &["pwd"],
            Self::PasswordAndOtp => &["pwd", "otp"],
        }
    }

    /// The stable name stored with a session.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "pwd",
            Self::PasswordAndOtp => "pwd otp",
        }
    }

    /// The value with this stable name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|methods| methods.as_str() == name)
    }

    /// The value whose `amr` claim is `amr`, in any order; `None` for any
    /// other set of methods.
    pub fn from_amr<S: AsRef<str>>(amr: &[S]) -> Option<Self> {
        let mut names: Vec<&str> = amr.iter().map(AsRef::as_ref).collect();
        names.sort_unstable();
        Self::ALL.into_iter().find(|methods| {
            let mut own = methods.amr().to_vec();
            own.sort_unstable();
            own == names
        })
    }

    /// Whether a second factor was passed.
    pub fn has_second_factor(self) -> bool {
        self == Self::PasswordAndOtp
    }
}

/// One login: the unit of revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Session id.
    pub id: SessionId,
    /// Whose session it is.
    pub user_id: UserId,
    /// When the user logged in.
    pub created_at: Timestamp,
    /// Last refresh or session check.
    pub last_used_at: Timestamp,
    /// Absolute end of the session, whatever happens.
    pub expires_at: Timestamp,
    /// Set once the session is revoked; never cleared.
    pub revoked_at: Option<Timestamp>,
    /// The client's `User-Agent` at login, truncated.
    pub user_agent: Option<String>,
    /// The client's IP at login.
    pub ip: Option<String>,
    /// How the user logged in; kept by every token the session issues.
    pub auth_methods: AuthMethods,
}

impl Session {
    /// A session is live until it is revoked or its absolute lifetime ends.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// SHA-256 of a refresh token: the only form in which one is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

/// A refresh token as stored: a link in its session's rotation chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    /// Row id.
    pub id: Uuid,
    /// The session this token renews.
    pub session_id: SessionId,
    /// Hash of the opaque token.
    pub token_hash: TokenHash,
    /// The token this one replaced, if any.
    pub parent_id: Option<Uuid>,
    /// When it was issued.
    pub created_at: Timestamp,
    /// Idle expiry: unusable after this.
    pub expires_at: Timestamp,
    /// When it was exchanged for its successor.
    pub rotated_at: Option<Timestamp>,
    /// The token that replaced it.
    pub successor_id: Option<Uuid>,
    /// The successor's secret, sealed with this token's own secret, so the
    /// same successor can be handed out again during the reuse grace window
    /// without ever storing a usable token.
    pub successor_sealed: Option<Vec<u8>>,
}

impl RefreshTokenRecord {
    /// Whether the token may still be exchanged (not yet rotated, not expired).
    pub fn is_current(&self, now: Timestamp) -> bool {
        self.rotated_at.is_none() && now < self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, Utc};

    #[test]
    fn auth_methods_round_trip_by_name_and_amr() {
        for methods in AuthMethods::ALL {
            assert_eq!(AuthMethods::parse(methods.as_str()), Some(methods));
            assert_eq!(AuthMethods::from_amr(methods.amr()), Some(methods));
        }
        assert_eq!(
            AuthMethods::from_amr(&["otp", "pwd"]),
            Some(AuthMethods::PasswordAndOtp)
        );
        assert_eq!(AuthMethods::from_amr(&["otp"]), None);
        assert_eq!(AuthMethods::from_amr::<&str>(&[]), None);
        assert_eq!(AuthMethods::parse("otp"), None);
    }

    #[test]
    fn session_liveness() {
        let now = Utc::now();
        let session = Session {
            id: SessionId::generate(),
            user_id: UserId::generate(),
            created_at: now,
            last_used_at: now,
            expires_at: now + Duration::hours(1),
            revoked_at: None,
            user_agent: None,
            ip: None,
            auth_methods: AuthMethods::Password,
        };
        assert!(session.is_live(now));
        assert!(!session.is_live(now + Duration::hours(1)));
        assert!(
            !Session {
                revoked_at: Some(now),
                ..session
            }
            .is_live(now)
        );
    }
}
