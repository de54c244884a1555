//! The access token payload as it goes over the wire (RFC 9068 names).

use latch_domain::{AuthMethods, SessionId, UserId};
use latch_ports::AccessClaims;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What `issue` signs: the port's claims plus `iss` and `aud`.
#[derive(Debug, Serialize)]
pub(crate) struct OutgoingClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: Uuid,
    sid: Uuid,
    jti: Uuid,
    iat: i64,
    exp: i64,
    email: &'a str,
    name: Option<&'a str>,
    avatar_url: Option<&'a str>,
    is_superuser: bool,
    is_staff: bool,
    tier: &'a str,
    amr: &'static [&'static str],
}

impl<'a> OutgoingClaims<'a> {
    pub(crate) fn new(issuer: &'a str, audience: &'a str, claims: &'a AccessClaims) -> Self {
        Self {
            iss: issuer,
            aud: audience,
            sub: claims.sub.0,
            sid: claims.sid.0,
            jti: claims.jti,
            iat: claims.iat,
            exp: claims.exp,
            email: &claims.email,
            name: claims.name.as_deref(),
            avatar_url: claims.avatar_url.as_deref(),
            is_superuser: claims.is_superuser,
            is_staff: claims.is_staff,
            tier: &claims.tier,
            amr: claims.amr.amr(),
        }
    }
}

/// What `verify` reads back; `iss`, `aud` and `nbf` are checked by the
/// `Validation`, so they are not repeated here. Every number is an integer:
/// a string or fractional `exp` fails to deserialize and the token is invalid.
#[derive(Debug, Deserialize)]
pub(crate) struct IncomingClaims {
    sub: Uuid,
    sid: Uuid,
    jti: Uuid,
    iat: i64,
    exp: i64,
    email: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    avatar_url: Option<String>,
    is_superuser: bool,
    is_staff: bool,
    tier: String,
    /// Absent from tokens signed before second factors existed: a password.
    #[serde(default)]
    amr: Option<Vec<String>>,
}

impl IncomingClaims {
    /// The port's claims; `None` when `amr` names a set of methods Latch
    /// never issues.
    pub(crate) fn into_access_claims(self) -> Option<AccessClaims> {
        let c = self;
        let amr = match &c.amr {
            None => AuthMethods::Password,
            Some(names) => AuthMethods::from_amr(names)?,
        };
        Some(AccessClaims {
            sub: UserId(c.sub),
            sid: SessionId(c.sid),
            jti: c.jti,
            iat: c.iat,
            exp: c.exp,
            email: c.email,
            name: c.name,
            avatar_url: c.avatar_url,
            is_superuser: c.is_superuser,
            is_staff: c.is_staff,
            tier: c.tier,
            amr,
        })
    }
}
