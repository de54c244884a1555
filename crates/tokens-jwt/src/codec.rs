//! [`JwtTokenCodec`]: the `TokenCodec` port on top of `jsonwebtoken`.

use jsonwebtoken::errors::{Error as JwtError, ErrorKind};
use jsonwebtoken::{Header, Validation};
use latch_ports::{AccessClaims, TokenCodec, TokenError};

use crate::claims::{IncomingClaims, OutgoingClaims};
use crate::signer::TokenSigner;
use crate::verified::{Known, VerifiedTokens};
use crate::{Algorithm, KeyError, SigningKey, TokenSettings, jwks};

/// Accepted tokens remembered (see `verified.rs`): about 1 KiB each.
const VERIFIED_TOKENS_KEPT: usize = 65_536;

/// The `typ` of a JWT access token (RFC 9068 §2.1).
const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// The same `typ` written as a full media type, which RFC 9068 §4 also accepts.
const ACCESS_TOKEN_MEDIA_TYPE: &str = "application/at+jwt";

/// Signs and verifies Latch access tokens with one key and one algorithm.
///
/// The signer (parsed key and encoded header), validation rules and JWKS
/// document are built once here; an `issue` call only serialises the claims
/// and signs, a `verify` call only parses, checks the signature and compares.
#[derive(Debug)]
pub struct JwtTokenCodec {
    key: SigningKey,
    signer: TokenSigner,
    validation: Validation,
    issuer: String,
    audience: String,
    jwks: String,
    verified: VerifiedTokens,
}

impl JwtTokenCodec {
    /// A codec for `settings`, signing with `key`.
    ///
    /// # Errors
    /// [`KeyError::AlgorithmMismatch`] if `key` is not for `settings.algorithm`;
    /// [`KeyError::Jwk`] if the public key cannot be published.
    pub fn new(settings: TokenSettings, key: SigningKey) -> Result<Self, KeyError> {
        if settings.algorithm != key.algorithm() {
            return Err(KeyError::AlgorithmMismatch {
                configured: settings.algorithm,
                key: key.algorithm(),
            });
        }
        let alg = key.algorithm().to_jwt();

        let mut header = Header::new(alg);
        header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
        header.kid = Some(key.kid().to_owned());

        // Every knob set explicitly: the library defaults (60 s leeway, no nbf
        // check, only `exp` required) are not what the design asks for.
        let mut validation = Validation::new(alg);
        validation.leeway = settings.leeway_seconds;
        validation.reject_tokens_expiring_in_less_than = 0;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);

        let jwks = jwks::jwks_json(&key)?;
        Ok(Self {
            signer: TokenSigner::new(&header, &key)?,
            key,
            validation,
            issuer: settings.issuer,
            audience: settings.audience,
            jwks,
            verified: VerifiedTokens::new(VERIFIED_TOKENS_KEPT),
        })
    }

    /// The `kid` every issued token carries and every accepted token must carry.
    pub fn kid(&self) -> &str {
        self.key.kid()
    }

    /// The one algorithm tokens are signed and accepted with.
    pub fn algorithm(&self) -> Algorithm {
        self.key.algorithm()
    }

    /// Header checks that `jsonwebtoken` leaves to the caller. Runs after the
    /// signature check, so it only ever sees headers signed with our key.
    fn check_header(&self, header: &Header) -> Result<(), TokenError> {
        if !is_access_token_typ(header.typ.as_deref()) {
            return Err(reject("typ is not at+jwt"));
        }
        if header.kid.as_deref() != Some(self.key.kid()) {
            return Err(reject("unknown kid"));
        }
        // RFC 7515 §4.1.11: we understand no extensions, so any `crit` is fatal.
        if header.crit.is_some() {
            return Err(reject("crit header present"));
        }
        Ok(())
    }
}

impl TokenCodec for JwtTokenCodec {
    fn issue(&self, claims: &AccessClaims) -> Result<String, TokenError> {
        let claims = OutgoingClaims::new(&self.issuer, &self.audience, claims);
        self.signer
            .sign(&claims)
            .map_err(|e| TokenError::Unexpected(format!("signing failed: {e}")))
    }

    fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let now = jsonwebtoken::get_current_timestamp();
        match self.verified.get(token, now, self.validation.leeway) {
            Known::Valid(claims) => return Ok(claims),
            Known::Expired => return Err(TokenError::Expired),
            Known::Unknown => {}
        }
        let claims = self.verify_signed(token)?;
        self.verified.insert(token, &claims);
        Ok(claims)
    }

    fn jwks_json(&self) -> String {
        self.jwks.clone()
    }
}

impl JwtTokenCodec {
    /// The full check: signature, header and claims.
    fn verify_signed(&self, token: &str) -> Result<AccessClaims, TokenError> {
        // `decode` rejects any `alg` but ours (so `none` and HS256-with-a-public-key
        // never reach a verifier) and never looks at `jwk`/`jku`/`x5u`.
        let data = jsonwebtoken::decode::<IncomingClaims>(token, self.key.decoding(), &self.validation)
            .map_err(rejected)?;
        self.check_header(&data.header)?;
        Ok(data.claims.into())
    }
}

/// RFC 9068 §4: `typ` must be `at+jwt` or `application/at+jwt`; media types ignore case.
fn is_access_token_typ(typ: Option<&str>) -> bool {
    typ.is_some_and(|typ| {
        typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYP) || typ.eq_ignore_ascii_case(ACCESS_TOKEN_MEDIA_TYPE)
    })
}

/// Maps a `jsonwebtoken` failure to the port's error. Everything a client can
/// cause is `Invalid` except a correctly signed token past `exp` + leeway; the
/// key was checked when the codec was built, so none of these are our fault.
fn rejected(err: JwtError) -> TokenError {
    match err.kind() {
        ErrorKind::ExpiredSignature => TokenError::Expired,
        _ => reject(&err),
    }
}

fn reject(reason: impl std::fmt::Display) -> TokenError {
    tracing::debug!(%reason, "access token rejected");
    TokenError::Invalid
}
