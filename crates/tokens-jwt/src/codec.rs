//! [`JwtTokenCodec`]: the `TokenCodec` port on top of `jsonwebtoken`.

use std::sync::Arc;

use arc_swap::ArcSwap;
use jsonwebtoken::errors::{Error as JwtError, ErrorKind};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Header, Validation};
use latch_ports::{AccessClaims, TokenCodec, TokenError, TokenIssuer};

use crate::claims::{IncomingClaims, OutgoingClaims};
use crate::key_set::{ACCESS_TOKEN_TYP, KeySet};
use crate::verified::{Known, VerifiedTokens};
use crate::{Algorithm, KeyError, SigningKey, TokenSettings};

/// Accepted tokens remembered (see `verified.rs`): about 1 KiB each.
const VERIFIED_TOKENS_KEPT: usize = 65_536;

/// The same `typ` written as a full media type, which RFC 9068 §4 also accepts.
const ACCESS_TOKEN_MEDIA_TYPE: &str = "application/at+jwt";

/// Signs and verifies Latch access tokens with one algorithm: signs with the
/// active key, accepts tokens of the active key and of the retired keys it
/// was given (by `kid`), and publishes them all in the JWKS.
///
/// The signer (parsed key and encoded header), validation rules and JWKS
/// document are built once per key set; an `issue` call only serialises the
/// claims and signs, a `verify` call only parses, checks the signature and
/// compares. [`Self::install`] swaps in a new key set (after a rotation)
/// while requests go on.
#[derive(Debug)]
pub struct JwtTokenCodec {
    algorithm: Algorithm,
    keys: ArcSwap<KeySet>,
    validation: Validation,
    issuer: String,
    audience: String,
    verified: VerifiedTokens,
}

impl JwtTokenCodec {
    /// A codec for `settings`, signing with `key` (and accepting no other).
    ///
    /// # Errors
    /// [`KeyError::AlgorithmMismatch`] if `key` is not for `settings.algorithm`;
    /// [`KeyError::Jwk`] if the public key cannot be published.
    pub fn new(settings: TokenSettings, key: SigningKey) -> Result<Self, KeyError> {
        Self::with_retired(settings, &key, &[])
    }

    /// A codec for `settings` signing with `active`, and accepting tokens of
    /// the `retired` keys too (public JWKs with their `kid`).
    ///
    /// # Errors
    /// As [`Self::new`], and [`KeyError::Jwk`] for an unusable retired key.
    pub fn with_retired(
        settings: TokenSettings,
        active: &SigningKey,
        retired: &[Jwk],
    ) -> Result<Self, KeyError> {
        check_algorithm(settings.algorithm, active)?;
        let alg = settings.algorithm.to_jwt();

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

        Ok(Self {
            algorithm: settings.algorithm,
            keys: ArcSwap::from_pointee(KeySet::new(active, retired)?),
            validation,
            issuer: settings.issuer,
            audience: settings.audience,
            verified: VerifiedTokens::new(VERIFIED_TOKENS_KEPT),
        })
    }

    /// Signs with `active` from now on, and accepts tokens of `active` and of
    /// the `retired` keys only. Returns whether anything changed (installing
    /// the same keys again is free). Tokens verified before stay accepted
    /// until they expire: a key is retired, not revoked.
    ///
    /// # Errors
    /// [`KeyError::AlgorithmMismatch`] if `active` is for another algorithm;
    /// [`KeyError::Jwk`] for an unusable retired key. Nothing changes then.
    pub fn install(&self, active: &SigningKey, retired: &[Jwk]) -> Result<bool, KeyError> {
        check_algorithm(self.algorithm, active)?;
        let keys = KeySet::new(active, retired)?;
        if keys.fingerprint == self.keys.load().fingerprint {
            return Ok(false);
        }
        self.keys.store(Arc::new(keys));
        Ok(true)
    }

    /// The `kid` issued tokens carry now.
    pub fn kid(&self) -> String {
        self.keys.load().active_kid.clone()
    }

    /// The one algorithm tokens are signed and accepted with.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Header checks that `jsonwebtoken` leaves to the caller. Runs after the
    /// signature check, so it only ever sees headers signed with our keys.
    fn check_header(header: &Header) -> Result<(), TokenError> {
        if !is_access_token_typ(header.typ.as_deref()) {
            return Err(reject("typ is not at+jwt"));
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
        self.keys
            .load()
            .signer
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
        self.keys.load().jwks.clone()
    }

    fn issuer(&self) -> TokenIssuer {
        TokenIssuer {
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            algorithm: self.algorithm.as_str(),
        }
    }
}

impl JwtTokenCodec {
    /// The full check: signature, header and claims.
    fn verify_signed(&self, token: &str) -> Result<AccessClaims, TokenError> {
        // The `kid` only chooses among our own keys; a token naming no key
        // of ours is refused before any signature check.
        let kid = jsonwebtoken::decode_header(token).map_err(rejected)?.kid;
        let keys = self.keys.load();
        let key = kid
            .and_then(|kid| keys.verifying.get(&kid))
            .ok_or_else(|| reject("unknown kid"))?;
        // `decode` rejects any `alg` but ours (so `none` and HS256-with-a-public-key
        // never reach a verifier) and never looks at `jwk`/`jku`/`x5u`.
        let data = jsonwebtoken::decode::<IncomingClaims>(token, key, &self.validation).map_err(rejected)?;
        Self::check_header(&data.header)?;
        data.claims.into_access_claims().ok_or(TokenError::Invalid)
    }
}

fn check_algorithm(configured: Algorithm, key: &SigningKey) -> Result<(), KeyError> {
    if configured == key.algorithm() {
        Ok(())
    } else {
        Err(KeyError::AlgorithmMismatch {
            configured,
            key: key.algorithm(),
        })
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
