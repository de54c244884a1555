//! PBKDF2-HMAC-SHA256 hashes as Django and passlib store them, so users
//! migrated from those stacks can log in once and be rehashed.

use std::fmt;
use std::num::NonZeroU32;

use base64::Engine as _;
use base64::alphabet::Alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use latch_ports::HashError;
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

/// Django writes `pbkdf2_sha256$<iterations>$<salt>$<base64 key>`.
pub(crate) const DJANGO_PREFIX: &str = "pbkdf2_sha256$";
/// passlib writes `$pbkdf2-sha256$<rounds>$<ab64 salt>$<ab64 key>`.
pub(crate) const PASSLIB_PREFIX: &str = "$pbkdf2-sha256$";

/// Most iterations we agree to run. The count comes from the stored string, so
/// without a cap a planted `4294967295` would hold a blocking thread for over
/// an hour per login attempt. Django 5.2 writes 1_000_000 and raises it about
/// 20% a release, passlib writes 29_000: ten million leaves years of headroom
/// and costs a few seconds at worst.
const MAX_ITERATIONS: u32 = 10_000_000;

/// Both libraries store the full SHA-256-sized output.
const KEY_LEN: usize = 32;

/// passlib's "adapted base64": the standard alphabet with `.` for `+`, unpadded.
const AB64: GeneralPurpose = GeneralPurpose::new(
    &AB64_ALPHABET,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);
const AB64_ALPHABET: Alphabet =
    match Alphabet::new("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789./") {
        Ok(alphabet) => alphabet,
        // Evaluated at compile time: a typo above fails the build, never a request.
        Err(_) => panic!("invalid ab64 alphabet"),
    };

/// A parsed PBKDF2-HMAC-SHA256 hash: cost, salt bytes and the derived key.
pub(crate) struct Pbkdf2Sha256 {
    iterations: NonZeroU32,
    salt: Vec<u8>,
    key: [u8; KEY_LEN],
}

impl Pbkdf2Sha256 {
    /// Django's format: the salt is used as its raw UTF-8 text, the key is
    /// padded standard base64. Anything else is `UnsupportedFormat`.
    pub(crate) fn parse_django(hash: &str) -> Result<Self, HashError> {
        let rest = hash
            .strip_prefix(DJANGO_PREFIX)
            .ok_or(HashError::UnsupportedFormat)?;
        let [iterations, salt, key] = split3(rest)?;
        // Django itself refuses to write an empty salt.
        if salt.is_empty() {
            return Err(HashError::UnsupportedFormat);
        }
        Ok(Self {
            iterations: parse_iterations(iterations)?,
            salt: salt.as_bytes().to_vec(),
            key: decode_key(&STANDARD, key)?,
        })
    }

    /// passlib's format: salt and key both in ab64. Anything else is `UnsupportedFormat`.
    pub(crate) fn parse_passlib(hash: &str) -> Result<Self, HashError> {
        let rest = hash
            .strip_prefix(PASSLIB_PREFIX)
            .ok_or(HashError::UnsupportedFormat)?;
        let [rounds, salt, key] = split3(rest)?;
        Ok(Self {
            iterations: parse_iterations(rounds)?,
            salt: AB64.decode(salt).map_err(|_| HashError::UnsupportedFormat)?,
            key: decode_key(&AB64, key)?,
        })
    }

    /// A hash of `iterations` (at least one) that no password matches, for
    /// timing the scheme.
    pub(crate) fn unmatchable(iterations: u32) -> Self {
        Self {
            iterations: NonZeroU32::new(iterations).unwrap_or(NonZeroU32::MIN),
            salt: b"latch timing".to_vec(),
            key: [0; KEY_LEN],
        }
    }

    /// The iteration count, which sets the cost of every verification.
    pub(crate) fn iterations(&self) -> u32 {
        self.iterations.get()
    }

    /// Derives the key for `password` and compares it in constant time.
    /// CPU-heavy (up to `MAX_ITERATIONS`): call it on a blocking thread.
    pub(crate) fn matches(&self, password: &[u8]) -> bool {
        let mut derived = [0u8; KEY_LEN];
        pbkdf2::pbkdf2_hmac::<Sha256>(password, &self.salt, self.iterations.get(), &mut derived);
        derived.ct_eq(&self.key).into()
    }
}

impl fmt::Debug for Pbkdf2Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pbkdf2Sha256")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// Exactly three `$`-separated fields.
fn split3(rest: &str) -> Result<[&str; 3], HashError> {
    let mut fields = rest.split('$');
    match (fields.next(), fields.next(), fields.next(), fields.next()) {
        (Some(a), Some(b), Some(c), None) => Ok([a, b, c]),
        _ => Err(HashError::UnsupportedFormat),
    }
}

/// Canonical decimal (no sign, no leading zero) in `1..=MAX_ITERATIONS`.
fn parse_iterations(field: &str) -> Result<NonZeroU32, HashError> {
    if field.is_empty() || field.starts_with('0') || !field.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HashError::UnsupportedFormat);
    }
    field
        .parse::<NonZeroU32>()
        .ok()
        .filter(|n| n.get() <= MAX_ITERATIONS)
        .ok_or(HashError::UnsupportedFormat)
}

fn decode_key(engine: &GeneralPurpose, field: &str) -> Result<[u8; KEY_LEN], HashError> {
    let bytes = engine.decode(field).map_err(|_| HashError::UnsupportedFormat)?;
    bytes.try_into().map_err(|_| HashError::UnsupportedFormat)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    // Fixtures from hasher.rs, password "correct horse battery staple", 1000 iterations.
    const DJANGO: &str =
        "pbkdf2_sha256$1000$ImHtWGPCj8DKGp2YLkvJCh$lj4Z69ltQya1vC9V30SbPkbQX0JVpO3xeRX1F6MAc2s=";
    const PASSLIB: &str =
        "$pbkdf2-sha256$1000$d.49R4iR8v4/hxCiVErpPQ$q/cZB62uDEzhwrjkhmhnSpas/NrFZ0XIXqqYAXAEetg";

    #[test]
    fn ab64_is_standard_base64_with_a_dot_for_plus() {
        let bytes = [0xfb, 0xef, 0xbe, 0xff];
        assert_eq!(
            AB64.encode(bytes),
            STANDARD.encode(bytes).replace('+', ".").trim_end_matches('=')
        );
        assert!(AB64.decode("++8").is_err());
    }

    #[test]
    fn fields_are_decoded() {
        let django = Pbkdf2Sha256::parse_django(DJANGO).unwrap();
        assert_eq!(django.iterations.get(), 1000);
        assert_eq!(django.salt, b"ImHtWGPCj8DKGp2YLkvJCh");
        let passlib = Pbkdf2Sha256::parse_passlib(PASSLIB).unwrap();
        assert_eq!(passlib.iterations.get(), 1000);
        assert_eq!(passlib.salt.len(), 16);
    }

    #[test]
    fn iteration_counts_must_be_canonical_and_bounded() {
        for ok in ["1", "1000", "10000000"] {
            assert_eq!(parse_iterations(ok).unwrap().to_string(), ok);
        }
        for bad in [
            "",
            "0",
            "01000",
            "+1000",
            "-1",
            " 1000",
            "1e3",
            "10000001",
            "4294967296",
            "99999999999",
        ] {
            assert!(parse_iterations(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn debug_does_not_print_salt_or_key() {
        let debug = format!("{:?}", Pbkdf2Sha256::parse_django(DJANGO).unwrap());
        assert_eq!(debug, "Pbkdf2Sha256 { iterations: 1000, .. }");
    }

    /// Every prefix and every single-character substitution parses or is refused, never panics.
    #[test]
    fn parsing_never_panics() {
        for (fixture, parse) in [
            (
                DJANGO,
                Pbkdf2Sha256::parse_django as fn(&str) -> Result<Pbkdf2Sha256, HashError>,
            ),
            (PASSLIB, Pbkdf2Sha256::parse_passlib),
        ] {
            let chars: Vec<char> = fixture.chars().collect();
            for end in 0..chars.len() {
                assert!(parse(&chars[..end].iter().collect::<String>()).is_err());
            }
            for i in 0..chars.len() {
                for replacement in ['$', '=', '.', '+', '0', 'é', '\0'] {
                    let mut garbled = chars.clone();
                    garbled[i] = replacement;
                    let _ = parse(&garbled.iter().collect::<String>());
                }
            }
        }
    }
}
