//! Reading a stored hash: which scheme wrote it, whether it is current, and
//! whether a password matches it.

use argon2::password_hash::Error as PhcError;
use argon2::{Algorithm, Argon2, Params, PasswordVerifier, Version};
use latch_ports::HashError;

/// bcrypt only ever looks at this many bytes of a password.
const BCRYPT_MAX_PASSWORD_BYTES: usize = 72;

const ARGON2_PREFIXES: [&str; 3] = ["$argon2id$", "$argon2i$", "$argon2d$"];
// `$2x$` (crypt_blowfish's buggy-hash marker) is deliberately not accepted.
const BCRYPT_PREFIXES: [&str; 3] = ["$2a$", "$2b$", "$2y$"];

/// A stored hash, parsed just enough to pick the scheme.
#[derive(Debug)]
pub(crate) enum StoredHash {
    /// A PHC string of any argon2 variant.
    Argon2(Box<argon2::PasswordHash>),
    /// A bcrypt modular-crypt string, as Python's bcrypt and passlib write them.
    Bcrypt(String),
}

impl StoredHash {
    /// Recognises the scheme by prefix; an unknown scheme or an unparsable
    /// argon2 string is `UnsupportedFormat`.
    pub(crate) fn parse(hash: &str) -> Result<Self, HashError> {
        if ARGON2_PREFIXES.iter().any(|prefix| hash.starts_with(prefix)) {
            argon2::PasswordHash::new(hash)
                .map(|phc| Self::Argon2(Box::new(phc)))
                .map_err(|_| HashError::UnsupportedFormat)
        } else if BCRYPT_PREFIXES.iter().any(|prefix| hash.starts_with(prefix)) {
            Ok(Self::Bcrypt(hash.to_owned()))
        } else {
            Err(HashError::UnsupportedFormat)
        }
    }

    /// Whether a successful login should replace this hash with a fresh one.
    pub(crate) fn needs_rehash(&self, current: &Params) -> bool {
        match self {
            Self::Bcrypt(_) => true,
            Self::Argon2(phc) => !is_current_argon2id(phc, current),
        }
    }

    /// Checks `password` against the hash: CPU-heavy, call it on a blocking thread.
    /// A hash whose body turns out to be malformed is `UnsupportedFormat`.
    pub(crate) fn matches(&self, password: &[u8]) -> Result<bool, HashError> {
        match self {
            Self::Argon2(phc) => match Argon2::default().verify_password(password, phc.as_ref()) {
                Ok(()) => Ok(true),
                Err(PhcError::PasswordInvalid) => Ok(false),
                Err(_) => Err(HashError::UnsupportedFormat),
            },
            Self::Bcrypt(mcf) => {
                let matched = bcrypt::verify(password, mcf).map_err(|_| HashError::UnsupportedFormat)?;
                // bcrypt ignores bytes past the 72nd, so a longer password would match the
                // hash of its prefix. Refuse it, but only after doing the same work as any
                // other attempt, so the answer takes no less time.
                Ok(matched && password.len() <= BCRYPT_MAX_PASSWORD_BYTES)
            }
        }
    }
}

/// argon2id, version 0x13, exactly the current cost and the default output length.
fn is_current_argon2id(phc: &argon2::PasswordHash, current: &Params) -> bool {
    let Ok(params) = Params::try_from(phc) else {
        return false;
    };
    let output_len = |p: &Params| p.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    phc.algorithm == Algorithm::Argon2id.ident()
        && phc.version == Some(Version::V0x13.into())
        && params.m_cost() == current.m_cost()
        && params.t_cost() == current.t_cost()
        && params.p_cost() == current.p_cost()
        && output_len(&params) == output_len(current)
}
