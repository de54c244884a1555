//! Sealing secrets at rest with Latch's master key.
//!
//! Latch keeps secrets in the database that it must read back in clear (the
//! key ring's private keys; later, second-factor seeds). They are stored
//! sealed: encrypted and authenticated with AES-256-GCM under a master key
//! that lives only in configuration. A sealed value is bound to a context
//! (say, the key's `kid`), so a value copied onto another row does not open.
//!
//! Owns the master key's formats (32 bytes as base64, or a file generated
//! for development) and the sealed format; knows nothing of what it seals.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use latch_ports::{SealingError, SecretSealer};

/// Bytes in a master key.
pub const MASTER_KEY_LEN: usize = 32;

/// The first byte of every sealed value: the format, so it can change later.
const FORMAT_V1: u8 = 1;

/// Why a master key could not be had, or a value not sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The configured text is not 32 bytes in base64.
    #[error(
        "the master key must be {MASTER_KEY_LEN} random bytes in base64 (e.g. `openssl rand -base64 32`)"
    )]
    InvalidKey,
    /// The master key file could not be read or written.
    #[error("master key file {}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        source: io::Error,
    },
    /// The system random source failed.
    #[error("the system random source failed")]
    Random,
    /// The sealed value is damaged, was sealed for another context, or by
    /// another master key.
    #[error("the sealed value does not open with this master key (another master key, or damaged)")]
    Unopenable,
}

/// The key that seals secrets at rest. `Debug` shows nothing of it.
pub struct MasterKey {
    key: LessSafeKey,
}

impl MasterKey {
    /// A master key from 32 bytes.
    ///
    /// # Errors
    /// [`SealError::InvalidKey`] for any other length.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SealError> {
        if bytes.len() != MASTER_KEY_LEN {
            return Err(SealError::InvalidKey);
        }
        let key = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| SealError::InvalidKey)?;
        Ok(Self {
            key: LessSafeKey::new(key),
        })
    }

    /// A master key from its base64 text (standard or URL-safe alphabet,
    /// padded or not; surrounding whitespace ignored).
    ///
    /// # Errors
    /// [`SealError::InvalidKey`] unless the text is 32 bytes in base64.
    pub fn from_base64(text: &str) -> Result<Self, SealError> {
        let text = text.trim();
        let unpadded = text.trim_end_matches('=');
        let bytes = URL_SAFE_NO_PAD
            .decode(unpadded.replace('+', "-").replace('/', "_"))
            .map_err(|_| SealError::InvalidKey)?;
        Self::from_bytes(&bytes)
    }

    /// A fresh random master key and its base64 text.
    ///
    /// # Errors
    /// [`SealError::Random`] if the system random source fails.
    pub fn generate() -> Result<(Self, String), SealError> {
        let mut bytes = [0u8; MASTER_KEY_LEN];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| SealError::Random)?;
        let text = STANDARD.encode(bytes);
        Ok((Self::from_bytes(&bytes)?, text))
    }

    /// Loads the master key at `path` (base64 text), or generates one there
    /// (mode 0600, never overwriting) if the file does not exist. The flag is
    /// `true` when the key was generated, for the caller to log once.
    ///
    /// # Errors
    /// [`SealError::File`] on I/O failures, [`SealError::InvalidKey`] if the
    /// file holds something else.
    pub fn load_or_generate(path: &Path) -> Result<(Self, bool), SealError> {
        let file_error = |source| SealError::File {
            path: path.to_owned(),
            source,
        };
        match fs::read_to_string(path) {
            Ok(text) => return Self::from_base64(&text).map(|key| (key, false)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(file_error(e)),
        }
        let (key, text) = Self::generate()?;
        match write_new_private_file(path, format!("{text}\n").as_bytes()) {
            Ok(()) => Ok((key, true)),
            // Another process sharing the data directory won the race: use its key.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let text = fs::read_to_string(path).map_err(file_error)?;
                Self::from_base64(&text).map(|key| (key, false))
            }
            Err(e) => Err(file_error(e)),
        }
    }

    /// `plaintext` sealed for `context`: format byte, random nonce, then the
    /// ciphertext and its tag.
    ///
    /// # Errors
    /// [`SealError::Random`] if no nonce could be drawn.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| SealError::Random)?;
        let mut body = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(context), &mut body)
            .map_err(|_| SealError::Random)?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + body.len());
        sealed.push(FORMAT_V1);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&body);
        Ok(sealed)
    }

    /// The plaintext of a value [`Self::seal`] made for `context`.
    ///
    /// # Errors
    /// [`SealError::Unopenable`] if it was sealed by another key or for
    /// another context, or has been altered.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, SealError> {
        let Some((&FORMAT_V1, rest)) = sealed.split_first() else {
            return Err(SealError::Unopenable);
        };
        if rest.len() < NONCE_LEN {
            return Err(SealError::Unopenable);
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Unopenable)?;
        let mut body = body.to_vec();
        let plaintext = self
            .key
            .open_in_place(nonce, Aad::from(context), &mut body)
            .map_err(|_| SealError::Unopenable)?;
        Ok(plaintext.to_vec())
    }
}

/// The master key as the core's [`SecretSealer`] port.
impl SecretSealer for MasterKey {
    fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>, SealingError> {
        Self::seal(self, plaintext, context).map_err(|err| SealingError::Failed(err.to_string()))
    }

    fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, SealingError> {
        Self::open(self, sealed, context).map_err(|_| SealingError::Unopenable)
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

/// Creates `path` (never overwriting) readable by the owner only, and writes
/// `contents`. For secrets generated into a data directory.
///
/// # Errors
/// The I/O failure; `AlreadyExists` if the file exists.
pub fn write_new_private_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key() -> MasterKey {
        MasterKey::generate().unwrap().0
    }

    #[test]
    fn a_sealed_value_opens_for_its_context_only() {
        let key = key();
        let sealed = key.seal(b"private key bytes", b"kid-1").unwrap();
        assert_eq!(key.open(&sealed, b"kid-1").unwrap(), b"private key bytes");
        assert!(matches!(key.open(&sealed, b"kid-2"), Err(SealError::Unopenable)));
    }

    #[test]
    fn the_plaintext_is_not_in_the_sealed_value_and_nonces_differ() {
        let key = key();
        let a = key.seal(b"private key bytes", b"k").unwrap();
        let b = key.seal(b"private key bytes", b"k").unwrap();
        assert_ne!(a, b, "a fresh nonce each time");
        assert!(!a.windows(7).any(|w| w == b"private"));
        assert_eq!(a.len(), 1 + NONCE_LEN + 17 + 16);
    }

    #[test]
    fn another_master_key_or_an_altered_byte_does_not_open() {
        let (a, b) = (key(), key());
        let sealed = a.seal(b"secret", b"k").unwrap();
        assert!(matches!(b.open(&sealed, b"k"), Err(SealError::Unopenable)));
        for i in 0..sealed.len() {
            let mut altered = sealed.clone();
            altered[i] ^= 1;
            assert!(a.open(&altered, b"k").is_err(), "byte {i}");
        }
        assert!(a.open(&sealed[..10], b"k").is_err());
        assert!(a.open(&[], b"k").is_err());
    }

    #[test]
    fn base64_in_either_alphabet_with_or_without_padding() {
        let bytes: Vec<u8> = (0u8..32).map(|i| i.wrapping_mul(37).wrapping_add(250)).collect();
        let sealed = MasterKey::from_bytes(&bytes).unwrap().seal(b"x", b"").unwrap();
        for text in [
            STANDARD.encode(&bytes),
            URL_SAFE_NO_PAD.encode(&bytes),
            format!("  {}\n", STANDARD.encode(&bytes)),
        ] {
            let key = MasterKey::from_base64(&text).unwrap();
            assert_eq!(key.open(&sealed, b"").unwrap(), b"x", "{text:?}");
        }
    }

    #[test]
    fn short_long_or_malformed_text_is_refused() {
        for text in ["", "c2hvcnQ=", &STANDARD.encode([0u8; 33]), "not base64 at all!"] {
            assert!(
                matches!(MasterKey::from_base64(text), Err(SealError::InvalidKey)),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_generated_file_is_private_and_loads_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/master.key");
        let (first, generated) = MasterKey::load_or_generate(&path).unwrap();
        assert!(generated);
        let (again, generated) = MasterKey::load_or_generate(&path).unwrap();
        assert!(!generated);
        let sealed = first.seal(b"x", b"k").unwrap();
        assert_eq!(again.open(&sealed, b"k").unwrap(), b"x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn debug_shows_nothing() {
        assert_eq!(format!("{:?}", key()), "MasterKey(..)");
    }
}
