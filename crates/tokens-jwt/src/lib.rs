//! The JWT adapter of Latch's `TokenCodec` port.
//!
//! Owns everything about access tokens as JWTs: signing keys (EdDSA, RS256
//! or HS256; parsed from PEM or a secret, or kept in the shared key ring),
//! the RFC 9068 header and claims, strict verification (one algorithm, our
//! `kid`s, typed `exp`, issuer and audience), and the JWKS that resource
//! servers verify with. The key ring (`ring.rs`) keeps Ed25519 keys through
//! the `SigningKeyRepository` port, sealed with `latch-sealing`; a codec
//! swaps in a rotated key set while serving. It depends only on
//! `latch-domain`, `latch-ports`, `latch-sealing` and crypto/serialisation
//! crates — never on `latch-core`, another adapter, a web framework or a
//! database.

mod claims;
mod codec;
mod jwks;
mod key_set;
mod keys;
mod ring;
mod settings;
mod signer;
mod verified;

pub use codec::JwtTokenCodec;
pub use keys::{KeyError, SigningKey};
pub use ring::{KeyRing, RingError, RingKeys, Rotation};
pub use settings::{Algorithm, TokenSettings, UnknownAlgorithm};
