//! The `SecretSealer` contract: what every sealer must do, as tests.

pub use behaviours::*;

/// Expands the `SecretSealer` contract into one `#[test]` per behaviour.
/// `$make` builds a fresh sealer; `$other` one under another key.
#[macro_export]
macro_rules! secret_sealer_contract {
    ($make:expr, other_key: $other:expr) => {
        $crate::secret_sealer_contract!(@tests $make;
            a_sealed_value_opens_to_its_plaintext,
            an_empty_value_round_trips,
            sealing_twice_gives_different_bytes,
            the_plaintext_does_not_appear_in_the_sealed_bytes,
            another_context_does_not_open_it,
            any_altered_byte_stops_it_opening,
            truncated_or_empty_values_do_not_open,
        );

        #[test]
        fn another_key_does_not_open_it() {
            $crate::secret_sealer::another_key_does_not_open_it(&$make, &$other);
        }
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::secret_sealer::$name(&$make);
            }
        )*
    };
}

#[allow(clippy::unwrap_used, missing_docs)]
mod behaviours {
    use latch_ports::{SealingError, SecretSealer};

    const SEED: &[u8] = b"12345678901234567890";
    const CONTEXT: &[u8] = b"totp:0190e6a4-0000-7000-8000-000000000001";

    pub fn a_sealed_value_opens_to_its_plaintext(sealer: &dyn SecretSealer) {
        let sealed = sealer.seal(SEED, CONTEXT).unwrap();
        assert_eq!(sealer.open(&sealed, CONTEXT).unwrap(), SEED);
    }

    pub fn an_empty_value_round_trips(sealer: &dyn SecretSealer) {
        let sealed = sealer.seal(b"", CONTEXT).unwrap();
        assert_eq!(sealer.open(&sealed, CONTEXT).unwrap(), b"");
    }

    pub fn sealing_twice_gives_different_bytes(sealer: &dyn SecretSealer) {
        assert_ne!(
            sealer.seal(SEED, CONTEXT).unwrap(),
            sealer.seal(SEED, CONTEXT).unwrap()
        );
    }

    pub fn the_plaintext_does_not_appear_in_the_sealed_bytes(sealer: &dyn SecretSealer) {
        let sealed = sealer.seal(SEED, CONTEXT).unwrap();
        assert!(!sealed.windows(SEED.len()).any(|window| window == SEED));
    }

    pub fn another_context_does_not_open_it(sealer: &dyn SecretSealer) {
        let sealed = sealer.seal(SEED, CONTEXT).unwrap();
        let other = b"totp:0190e6a4-0000-7000-8000-000000000002";
        assert_eq!(sealer.open(&sealed, other), Err(SealingError::Unopenable));
        assert_eq!(sealer.open(&sealed, b""), Err(SealingError::Unopenable));
    }

    pub fn any_altered_byte_stops_it_opening(sealer: &dyn SecretSealer) {
        let sealed = sealer.seal(SEED, CONTEXT).unwrap();
        for i in 0..sealed.len() {
            let mut altered = sealed.clone();
            altered[i] ^= 0x01;
            assert_eq!(
                sealer.open(&altered, CONTEXT),
                Err(SealingError::Unopenable),
                "byte {i}"
            );
        }
    }

    pub fn truncated_or_empty_values_do_not_open(sealer: &dyn SecretSealer) {
        let sealed = sealer.seal(SEED, CONTEXT).unwrap();
        for len in [0, 1, sealed.len() / 2, sealed.len() - 1] {
            assert_eq!(
                sealer.open(&sealed[..len], CONTEXT),
                Err(SealingError::Unopenable),
                "length {len}"
            );
        }
    }

    pub fn another_key_does_not_open_it(sealer: &dyn SecretSealer, other: &dyn SecretSealer) {
        let sealed = sealer.seal(SEED, CONTEXT).unwrap();
        assert_eq!(other.open(&sealed, CONTEXT), Err(SealingError::Unopenable));
    }
}
