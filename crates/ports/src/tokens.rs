use latch_domain::{AuthMethods, SessionId, UserId};
use uuid::Uuid;

/// The claims of a Latch access token, minus `iss`/`aud`, which the codec adds
/// and checks from its own configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    /// The user (`sub`).
    pub sub: UserId,
    /// The session (`sid`).
    pub sid: SessionId,
    /// Unique token id (`jti`).
    pub jti: Uuid,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at, seconds since the epoch.
    pub exp: i64,
    /// The user's email.
    pub email: String,
    /// The user's display name.
    pub name: Option<String>,
    /// The user's avatar URL.
    pub avatar_url: Option<String>,
    /// Superuser flag.
    pub is_superuser: bool,
    /// Staff flag.
    pub is_staff: bool,
    /// Rate-limit tier.
    pub tier: String,
    /// How the session's user authenticated (`amr`, RFC 8176).
    pub amr: AuthMethods,
}

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Well-formed and correctly signed, but past `exp` (plus leeway).
    #[error("token expired")]
    Expired,
    /// Anything else a client could have sent: malformed, bad signature,
    /// wrong algorithm, unknown `kid`, wrong issuer or audience, ...
    #[error("token invalid")]
    Invalid,
    /// The codec itself failed (bad key material); not the client's fault.
    #[error("token codec failure: {0}")]
    Unexpected(String),
}

/// Signs and verifies access tokens. Verification MUST accept only the
/// configured algorithm and keys (chosen by `kid`), never `alg: none` or a key
/// named by the token itself, and MUST require a typed `exp`.
pub trait TokenCodec: Send + Sync + 'static {
    /// Signs `claims` into a compact JWT with `typ: at+jwt` and `kid`.
    fn issue(&self, claims: &AccessClaims) -> Result<String, TokenError>;

    /// Verifies a compact JWT and returns its claims.
    fn verify(&self, token: &str) -> Result<AccessClaims, TokenError>;

    /// The public keys as a JWKS JSON document (never a symmetric secret).
    fn jwks_json(&self) -> String;

    /// Who issues the tokens, for whom, and how they are signed: what
    /// discovery and introspection tell resource servers.
    fn issuer(&self) -> TokenIssuer;
}

/// The fixed facts of every token a codec issues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenIssuer {
    /// `iss`.
    pub issuer: String,
    /// `aud`.
    pub audience: String,
    /// The JOSE `alg` of the signatures (`EdDSA`, `RS256`, `HS256`).
    pub algorithm: &'static str,
}
