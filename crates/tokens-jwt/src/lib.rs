//! The JWT adapter of Latch's `TokenCodec` port.
//!
//! Owns everything about access tokens as JWTs: the signing key (EdDSA, RS256
//! or HS256; parsed from PEM or a secret, or an Ed25519 key generated into the
//! data directory), the RFC 9068 header and claims, strict verification (one
//! algorithm, our `kid`, typed `exp`, issuer and audience), and the JWKS that
//! resource servers verify with. It depends only on `latch-domain`,
//! `latch-ports` and crypto/serialisation crates — never on `latch-core`,
//! another adapter, a web framework or a database.

mod claims;
mod codec;
mod jwks;
mod keys;
mod settings;
mod signer;
mod verified;

pub use codec::JwtTokenCodec;
pub use keys::{KeyError, SigningKey, load_or_generate_ed25519};
pub use settings::{Algorithm, TokenSettings, UnknownAlgorithm};
