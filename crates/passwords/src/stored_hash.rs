//! Reading a stored hash: which scheme wrote it, whether it is current, and
//! whether a password matches it.

use argon2::password_hash::Error as PhcError;
use argon2::password_hash::phc::Output;
use argon2::{Algorithm, Argon2, Params, PasswordVerifier, Version};
use latch_ports::HashError;
use subtle::ConstantTimeEq;

use crate::floor::CostClass;
use crate::memory::BlockPool;
use crate::pbkdf2_sha256::{DJANGO_PREFIX, PASSLIB_PREFIX, Pbkdf2Sha256};

/// bcrypt only ever looks at this many bytes of a password.
const BCRYPT_MAX_PASSWORD_BYTES: usize = 72;
// A stored hash's own parameters set the work of every login against it, so
// they are capped: a planted or mistyped hash must not make each attempt hold
// a blocking thread for seconds to days, or allocate gigabytes. The ceilings
// sit well above what the libraries we migrate from write by default.

/// bcrypt costs verified: the crate's minimum up to 16 (2^16 rounds, about
/// 16x Python bcrypt's default of 12; 31 would take days).
const BCRYPT_COSTS: std::ops::RangeInclusive<u32> = 4..=16;
/// Most argon2 memory verified, in KiB (1 GiB; argon2-cffi's default is 64 MiB).
pub(crate) const ARGON2_MAX_M_COST_KIB: u32 = 1_048_576;
/// Most argon2 passes verified (argon2-cffi's default is 3).
pub(crate) const ARGON2_MAX_T_COST: u32 = 100;

const ARGON2_PREFIXES: [&str; 3] = ["$argon2id$", "$argon2i$", "$argon2d$"];
// `$2x$` (crypt_blowfish's buggy-hash marker) is deliberately not accepted.
const BCRYPT_PREFIXES: [&str; 3] = ["$2a$", "$2b$", "$2y$"];

/// A stored hash, parsed and checked far enough that `matches` only fails on a
/// hash that is really malformed, never on one `parse` let through by design.
#[derive(Debug)]
pub(crate) enum StoredHash {
    /// A PHC string of any argon2 variant, and its cost parameters.
    Argon2(Box<argon2::PasswordHash>, Params),
    /// A bcrypt modular-crypt string, as Python's bcrypt and passlib write
    /// them, and its cost.
    Bcrypt(String, u32),
    /// Django's `pbkdf2_sha256$…` (its default hasher).
    DjangoPbkdf2Sha256(Pbkdf2Sha256),
    /// passlib's `$pbkdf2-sha256$…`.
    PasslibPbkdf2Sha256(Pbkdf2Sha256),
}

impl StoredHash {
    /// Recognises the scheme by prefix and checks the format and parameters
    /// without hashing; an unknown scheme, a malformed string or parameters
    /// `matches` would refuse are `UnsupportedFormat`.
    pub(crate) fn parse(hash: &str) -> Result<Self, HashError> {
        if ARGON2_PREFIXES.iter().any(|prefix| hash.starts_with(prefix)) {
            parse_argon2(hash).map(|(phc, params)| Self::Argon2(Box::new(phc), params))
        } else if BCRYPT_PREFIXES.iter().any(|prefix| hash.starts_with(prefix)) {
            bcrypt_cost(hash).map(|cost| Self::Bcrypt(hash.to_owned(), cost))
        } else if hash.starts_with(DJANGO_PREFIX) {
            Pbkdf2Sha256::parse_django(hash).map(Self::DjangoPbkdf2Sha256)
        } else if hash.starts_with(PASSLIB_PREFIX) {
            Pbkdf2Sha256::parse_passlib(hash).map(Self::PasslibPbkdf2Sha256)
        } else {
            Err(HashError::UnsupportedFormat)
        }
    }

    /// Whether a successful login should replace this hash with a fresh one.
    pub(crate) fn needs_rehash(&self, current: &Params) -> bool {
        match self {
            Self::Bcrypt(..) | Self::DjangoPbkdf2Sha256(_) | Self::PasslibPbkdf2Sha256(_) => true,
            Self::Argon2(phc, _) => !is_current_argon2id(phc, current),
        }
    }

    /// The scheme and cost parameters that set how long verifying takes.
    pub(crate) fn cost_class(&self) -> CostClass {
        match self {
            Self::Argon2(_, params) => CostClass::Argon2 {
                m_cost: params.m_cost(),
                t_cost: params.t_cost(),
                p_cost: params.p_cost(),
            },
            Self::Bcrypt(_, cost) => CostClass::Bcrypt { cost: *cost },
            Self::DjangoPbkdf2Sha256(pbkdf2) | Self::PasslibPbkdf2Sha256(pbkdf2) => CostClass::Pbkdf2Sha256 {
                iterations: pbkdf2.iterations(),
            },
        }
    }

    /// [`StoredHash::matches`], hashing in `memory`'s reused blocks when the
    /// hash is argon2id at the `current` cost (the pool's cost).
    pub(crate) fn matches_in(
        &self,
        password: &[u8],
        current: &Params,
        memory: &BlockPool,
    ) -> Result<bool, HashError> {
        let Self::Argon2(phc, _) = self else {
            return self.matches(password);
        };
        let (Some(salt), Some(expected)) = (&phc.salt, &phc.hash) else {
            return Err(HashError::UnsupportedFormat);
        };
        if !is_current_argon2id(phc, current) {
            return self.matches(password);
        }
        let mut buffer = [0u8; Output::MAX_LENGTH];
        let out = buffer
            .get_mut(..expected.len())
            .ok_or(HashError::UnsupportedFormat)?;
        memory
            .with(|blocks| {
                Argon2::new(Algorithm::Argon2id, Version::V0x13, current.clone())
                    .hash_password_into_with_memory(password, salt, out, blocks)
            })
            .map_err(|_| HashError::UnsupportedFormat)?;
        Ok(bool::from(out.ct_eq(expected.as_bytes())))
    }

    /// Checks `password` against the hash: CPU-heavy, call it on a blocking thread.
    /// A hash whose body turns out to be malformed is `UnsupportedFormat`.
    pub(crate) fn matches(&self, password: &[u8]) -> Result<bool, HashError> {
        match self {
            Self::Argon2(phc, _) => match Argon2::default().verify_password(password, phc.as_ref()) {
                Ok(()) => Ok(true),
                Err(PhcError::PasswordInvalid) => Ok(false),
                Err(_) => Err(HashError::UnsupportedFormat),
            },
            Self::Bcrypt(mcf, _) => {
                let matched = bcrypt::verify(password, mcf).map_err(|_| HashError::UnsupportedFormat)?;
                // bcrypt ignores bytes past the 72nd, so a longer password would match the
                // hash of its prefix. Refuse it, but only after doing the same work as any
                // other attempt, so the answer takes no less time.
                Ok(matched && password.len() <= BCRYPT_MAX_PASSWORD_BYTES)
            }
            Self::DjangoPbkdf2Sha256(pbkdf2) | Self::PasslibPbkdf2Sha256(pbkdf2) => {
                Ok(pbkdf2.matches(password))
            }
        }
    }
}

/// A PHC string whose version, parameters, salt and output argon2 accepts,
/// at a cost within the ceilings, and those parameters.
fn parse_argon2(hash: &str) -> Result<(argon2::PasswordHash, Params), HashError> {
    let phc = argon2::PasswordHash::new(hash).map_err(|_| HashError::UnsupportedFormat)?;
    let version_ok = phc.version.is_none_or(|v| Version::try_from(v).is_ok());
    let salt_ok = phc
        .salt
        .as_ref()
        .is_some_and(|salt| (argon2::MIN_SALT_LEN..=argon2::MAX_SALT_LEN).contains(&salt.len()));
    let params = Params::try_from(&phc)
        .ok()
        .filter(|params| params.m_cost() <= ARGON2_MAX_M_COST_KIB && params.t_cost() <= ARGON2_MAX_T_COST);
    match params {
        Some(params)
            if Algorithm::try_from(phc.algorithm.as_str()).is_ok()
                && version_ok
                && salt_ok
                && phc.hash.is_some() =>
        {
            Ok((phc, params))
        }
        _ => Err(HashError::UnsupportedFormat),
    }
}

/// The cost of 60 characters in bcrypt's layout and base64, if within the ceiling.
fn bcrypt_cost(hash: &str) -> Result<u32, HashError> {
    match hash.parse::<bcrypt::HashParts>() {
        Ok(parts) if BCRYPT_COSTS.contains(&parts.get_cost()) => Ok(parts.get_cost()),
        _ => Err(HashError::UnsupportedFormat),
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
