//! Time-based one-time passwords (RFC 6238) as authenticator apps compute
//! them: HMAC-SHA-1, 6 digits, 30-second steps.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// Bytes in a TOTP secret: 160 bits, the HMAC-SHA-1 block RFC 4226 recommends.
pub const TOTP_SECRET_LEN: usize = 20;

/// Seconds in one time step.
pub const TOTP_PERIOD_SECONDS: i64 = 30;

/// Digits in a code.
pub const TOTP_DIGITS: u32 = 6;

/// Steps accepted either side of the current one, for clock drift and a
/// code typed just as it changed.
const WINDOW_STEPS: i64 = 1;

/// RFC 4648 base32 alphabet: what authenticator apps read in `otpauth://` URIs.
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The secret an authenticator app and Latch share. `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret([u8; TOTP_SECRET_LEN]);

impl TotpSecret {
    /// A secret from its bytes (fresh random ones, or opened from storage).
    pub fn from_bytes(bytes: [u8; TOTP_SECRET_LEN]) -> Self {
        Self(bytes)
    }

    /// A secret from stored bytes; `None` unless there are exactly 20.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        Some(Self(bytes.try_into().ok()?))
    }

    /// The raw bytes, to seal for storage.
    pub fn as_bytes(&self) -> &[u8; TOTP_SECRET_LEN] {
        &self.0
    }

    /// Unpadded RFC 4648 base32: what a user types into an authenticator app.
    pub fn base32(&self) -> String {
        let mut out = String::with_capacity(self.0.len().div_ceil(5) * 8);
        let mut buffer: u32 = 0;
        let mut bits = 0;
        for &byte in &self.0 {
            buffer = (buffer << 8) | u32::from(byte);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
            }
        }
        if bits > 0 {
            out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
        }
        out
    }

    /// The `otpauth://totp/` URI an authenticator app enrols from (as a QR
    /// code or a link): labelled `issuer:account`, with the issuer repeated
    /// as a parameter and the algorithm, digits and period spelled out.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        let issuer = percent_encode(issuer);
        format!(
            "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits={TOTP_DIGITS}&period={TOTP_PERIOD_SECONDS}",
            account = percent_encode(account),
            secret = self.base32(),
        )
    }

    /// The code for time step `step`.
    pub fn code_at_step(&self, step: i64) -> String {
        let code = hotp(&self.0, step, TOTP_DIGITS);
        format!("{code:0width$}", width = TOTP_DIGITS as usize)
    }

    /// Checks a code typed at `now_unix` (seconds since the epoch). Accepts
    /// the current step and one either side, but only a step after
    /// `last_used_step`, so an accepted code is never accepted again.
    /// Returns the step the code matched, for the caller to record.
    pub fn verify(&self, code: &str, now_unix: i64, last_used_step: Option<i64>) -> Option<i64> {
        let code = normalize_code(code)?;
        let current = totp_step(now_unix);
        let mut matched = None;
        // Every candidate is computed and compared, so the time taken does
        // not say which step (if any) matched.
        for step in current - WINDOW_STEPS..=current + WINDOW_STEPS {
            let fresh = last_used_step.is_none_or(|last| step > last);
            let equal: bool = self.code_at_step(step).as_bytes().ct_eq(code.as_bytes()).into();
            if equal && fresh && matched.is_none() {
                matched = Some(step);
            }
        }
        matched
    }
}

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

/// The time step of `unix` seconds since the epoch.
pub fn totp_step(unix: i64) -> i64 {
    unix.div_euclid(TOTP_PERIOD_SECONDS)
}

/// Whether `code` is shaped like a TOTP code (6 digits, spaces allowed
/// between them), as opposed to a recovery code.
pub fn looks_like_totp_code(code: &str) -> bool {
    normalize_code(code).is_some()
}

/// The code's digits without the spaces an app shows them with; `None`
/// unless exactly 6 digits remain.
fn normalize_code(code: &str) -> Option<String> {
    let digits: String = code.chars().filter(|c| *c != ' ').collect();
    (digits.len() == TOTP_DIGITS as usize && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// HOTP (RFC 4226): HMAC-SHA-1 of the counter, dynamically truncated.
fn hotp(secret: &[u8], counter: i64, digits: u32) -> u32 {
    // Any key length is valid for HMAC, so this never fails.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else {
        return 0;
    };
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = usize::from(hash[hash.len() - 1] & 0x0f);
    let truncated = u32::from_be_bytes([hash[offset], hash[offset + 1], hash[offset + 2], hash[offset + 3]])
        & 0x7fff_ffff;
    truncated % 10u32.pow(digits)
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SHA-1 seed of RFC 6238 appendix B.
    const RFC_SEED: &[u8; 20] = b"12345678901234567890";

    #[test]
    fn rfc_6238_sha1_vectors() {
        for (time, expected) in [
            (59, 94_287_082),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            assert_eq!(hotp(RFC_SEED, totp_step(time), 8), expected, "T = {time}");
        }
    }

    #[test]
    fn six_digit_codes_are_the_vectors_last_six_digits() {
        let secret = TotpSecret::from_bytes(*RFC_SEED);
        assert_eq!(secret.code_at_step(totp_step(59)), "287082");
        assert_eq!(secret.code_at_step(totp_step(1_111_111_109)), "081804");
    }

    #[test]
    fn rfc_4648_base32() {
        assert_eq!(
            TotpSecret::from_bytes(*RFC_SEED).base32(),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        assert_eq!(TotpSecret::from_bytes([0; 20]).base32(), "A".repeat(32));
        assert_eq!(TotpSecret::from_bytes([0xff; 20]).base32(), "7".repeat(32));
    }

    #[test]
    fn one_step_either_side_is_accepted_two_are_not() {
        let secret = TotpSecret::from_bytes(*RFC_SEED);
        let now = 1_111_111_111;
        let step = totp_step(now);
        for offset in [-1, 0, 1] {
            let code = secret.code_at_step(step + offset);
            assert_eq!(
                secret.verify(&code, now, None),
                Some(step + offset),
                "offset {offset}"
            );
        }
        for offset in [-2, 2] {
            let code = secret.code_at_step(step + offset);
            assert_eq!(secret.verify(&code, now, None), None, "offset {offset}");
        }
    }

    #[test]
    fn the_window_follows_the_clock_across_a_step_boundary() {
        let secret = TotpSecret::from_bytes(*RFC_SEED);
        let boundary = 30 * 1_000;
        let code = secret.code_at_step(totp_step(boundary - 1));
        assert!(secret.verify(&code, boundary - 1, None).is_some());
        assert!(secret.verify(&code, boundary + 29, None).is_some());
        assert!(secret.verify(&code, boundary + 30, None).is_none());
    }

    #[test]
    fn an_accepted_step_or_an_earlier_one_is_never_accepted_again() {
        let secret = TotpSecret::from_bytes(*RFC_SEED);
        let now = 1_234_567_890;
        let step = totp_step(now);
        let code = secret.code_at_step(step);
        assert_eq!(secret.verify(&code, now, Some(step)), None);
        assert_eq!(
            secret.verify(&secret.code_at_step(step - 1), now, Some(step)),
            None
        );
        assert_eq!(
            secret.verify(&secret.code_at_step(step + 1), now, Some(step)),
            Some(step + 1)
        );
    }

    #[test]
    fn codes_must_be_six_digits_and_may_carry_spaces() {
        let secret = TotpSecret::from_bytes(*RFC_SEED);
        let now = 1_234_567_890;
        let code = secret.code_at_step(totp_step(now));
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert!(secret.verify(&spaced, now, None).is_some());
        for bad in [
            "",
            "12345",
            "1234567",
            "12345a",
            "１２３４５６",
            &format!("{code}0"),
        ] {
            assert_eq!(secret.verify(bad, now, None), None, "{bad:?}");
        }
        assert!(looks_like_totp_code("123 456"));
        assert!(!looks_like_totp_code("abcd-efgh"));
    }

    #[test]
    fn otpauth_uri_names_issuer_and_account() {
        let secret = TotpSecret::from_bytes(*RFC_SEED);
        assert_eq!(
            secret.otpauth_uri("Acme Corp", "ada+mfa@example.com"),
            "otpauth://totp/Acme%20Corp:ada%2Bmfa%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Acme%20Corp&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn debug_hides_the_secret() {
        let printed = format!("{:?}", TotpSecret::from_bytes(*RFC_SEED));
        assert!(!printed.contains("GEZD") && !printed.contains("49"), "{printed}");
    }

    #[test]
    fn steps_before_the_epoch_round_down() {
        assert_eq!(totp_step(-1), -1);
        assert_eq!(totp_step(0), 0);
        assert_eq!(totp_step(29), 0);
        assert_eq!(totp_step(30), 1);
    }
}
