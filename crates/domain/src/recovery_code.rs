//! Recovery codes: single-use second factors for a user without their
//! authenticator app.
//!
//! A code is 80 random bits written as 16 characters of Crockford's base32
//! in groups of four (`7kq2-m9xd-...`), so a stolen hash of one cannot be
//! reversed by search. Reading a code forgives what people get wrong when
//! copying: case, spaces, missing hyphens, and `i`/`l`/`o` for `1`/`1`/`0`.

/// How many codes one set holds.
pub const RECOVERY_CODE_COUNT: usize = 10;

/// Random bytes in one code.
pub const RECOVERY_CODE_BYTES: usize = 10;

/// Crockford's base32, lower case: no `i`, `l`, `o` or `u`.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Characters in a code, hyphens aside.
const CODE_CHARS: usize = RECOVERY_CODE_BYTES * 8 / 5;

/// One recovery code in its canonical form: 16 lower-case characters of the
/// alphabet, no hyphens. `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(String);

impl RecoveryCode {
    /// The code for 10 random bytes.
    pub fn from_bytes(bytes: [u8; RECOVERY_CODE_BYTES]) -> Self {
        let mut out = String::with_capacity(CODE_CHARS);
        let mut buffer: u32 = 0;
        let mut bits = 0;
        for byte in bytes {
            buffer = (buffer << 8) | u32::from(byte);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
            }
        }
        Self(out)
    }

    /// Reads a code as a user typed it; `None` unless it is 16 characters
    /// of the alphabet once case, spaces and hyphens are set aside.
    pub fn parse(typed: &str) -> Option<Self> {
        let mut out = String::with_capacity(CODE_CHARS);
        for c in typed.chars() {
            let c = match c.to_ascii_lowercase() {
                '-' | ' ' => continue,
                'i' | 'l' => '1',
                'o' => '0',
                c => c,
            };
            if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
                return None;
            }
            out.push(c);
        }
        (out.len() == CODE_CHARS).then_some(Self(out))
    }

    /// The canonical form, the input to the stored hash.
    pub fn canonical(&self) -> &str {
        &self.0
    }

    /// The form shown to the user: groups of four joined by hyphens.
    pub fn display(&self) -> String {
        let groups: Vec<&str> = self
            .0
            .as_bytes()
            .chunks(4)
            .filter_map(|chunk| std::str::from_utf8(chunk).ok())
            .collect();
        groups.join("-")
    }
}

impl std::fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryCode(<redacted>)")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_sixteen_characters_in_four_groups() {
        let code = RecoveryCode::from_bytes([0xa5; RECOVERY_CODE_BYTES]);
        assert_eq!(code.canonical().len(), 16);
        let shown = code.display();
        assert_eq!(shown.len(), 19);
        assert_eq!(shown.split('-').map(str::len).collect::<Vec<_>>(), [4, 4, 4, 4]);
        assert_eq!(RecoveryCode::parse(&shown).unwrap(), code);
    }

    #[test]
    fn every_bit_reaches_the_code() {
        assert_eq!(RecoveryCode::from_bytes([0; 10]).canonical(), "0".repeat(16));
        assert_eq!(RecoveryCode::from_bytes([0xff; 10]).canonical(), "z".repeat(16));
        let mut one = [0; 10];
        one[9] = 1;
        assert_eq!(
            RecoveryCode::from_bytes(one).canonical(),
            format!("{}1", "0".repeat(15))
        );
    }

    #[test]
    fn reading_forgives_case_spacing_and_look_alikes() {
        let code = RecoveryCode::parse("7kq2-m9xd-0a1b-cdef").unwrap();
        for typed in [
            "7KQ2-M9XD-0A1B-CDEF",
            "7kq2m9xd0a1bcdef",
            " 7kq2 m9xd 0a1b cdef ",
            "7kq2-m9xd-Oalb-cdef",
        ] {
            assert_eq!(RecoveryCode::parse(typed).as_ref(), Some(&code), "{typed:?}");
        }
    }

    #[test]
    fn other_shapes_are_refused() {
        for typed in [
            "",
            "123456",
            "7kq2-m9xd-0a1b-cde",
            "7kq2-m9xd-0a1b-cdefg",
            "7kq2-m9xd-0a1b-cdeu",
            "7kq2-m9xd-0a1b-cdé",
        ] {
            assert!(RecoveryCode::parse(typed).is_none(), "{typed:?}");
        }
    }

    #[test]
    fn debug_hides_the_code() {
        let code = RecoveryCode::parse("7kq2-m9xd-0a1b-cdef").unwrap();
        assert!(!format!("{code:?}").contains("7kq2"));
    }
}
