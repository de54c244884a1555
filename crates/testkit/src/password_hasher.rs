//! The `PasswordHasher` contract: what every adapter of the port must do.

/// Expands the `PasswordHasher` contract into one `#[tokio::test]` per
/// behaviour. `$make` is an expression yielding a fresh hasher (any type that
/// implements the port, with room for a few concurrent callers); it is
/// evaluated once per test.
#[macro_export]
macro_rules! password_hasher_contract {
    ($make:expr) => {
        $crate::password_hasher_contract!(@tests $make;
            hash_then_verify_matches,
            wrong_password_mismatches,
            verify_refused_answers_as_verify_does,
            verify_is_exact_not_a_prefix_match,
            long_password_is_not_truncated,
            unicode_password_round_trips,
            fresh_hash_needs_no_rehash,
            hashes_are_salted,
            hash_does_not_contain_the_password,
            verify_dummy_succeeds,
            unsupported_format_is_an_error,
            malformed_hash_never_matches,
            concurrent_verifications_all_complete,
            check_stored_accepts_own_hashes,
            check_stored_refuses_garbage,
            hashes_above_the_cost_ceilings_are_refused,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[::tokio::test]
            async fn $name() {
                $crate::password_hasher::$name(&$make).await;
            }
        )*
    };
}

#[allow(clippy::expect_used, missing_docs)]
mod behaviours {
    use latch_domain::{Password, PasswordPolicy, PersonalInfo};
    use latch_ports::{HashError, PasswordHash, PasswordHasher, Verification};

    const PASSWORD: &str = "correct horse battery staple";
    const CURRENT_MATCH: Verification = Verification::Match { needs_rehash: false };

    fn password(raw: &str) -> Password {
        Password::new_choice(raw, &PasswordPolicy::default(), &PersonalInfo::default())
            .expect("contract passwords satisfy the default policy")
    }

    async fn hash_of(hasher: &dyn PasswordHasher, raw: &str) -> PasswordHash {
        hasher.hash(&password(raw)).await.expect("hashing succeeds")
    }

    async fn verify(hasher: &dyn PasswordHasher, raw: &str, hash: &PasswordHash) -> Verification {
        hasher
            .verify(&password(raw), hash)
            .await
            .expect("verifying a well-formed hash succeeds")
    }

    pub async fn hash_then_verify_matches(hasher: &dyn PasswordHasher) {
        let hash = hash_of(hasher, PASSWORD).await;
        assert!(matches!(
            verify(hasher, PASSWORD, &hash).await,
            Verification::Match { .. }
        ));
    }

    pub async fn verify_refused_answers_as_verify_does(hasher: &dyn PasswordHasher) {
        let hash = hash_of(hasher, PASSWORD).await;
        let right = hasher
            .verify_refused(&password(PASSWORD), &hash)
            .await
            .expect("verifying a well-formed hash succeeds");
        assert!(matches!(right, Verification::Match { .. }), "{right:?}");
        let wrong = hasher
            .verify_refused(&password("Correct horse battery staple"), &hash)
            .await
            .expect("verifying a well-formed hash succeeds");
        assert_eq!(wrong, Verification::Mismatch);
    }

    pub async fn wrong_password_mismatches(hasher: &dyn PasswordHasher) {
        let hash = hash_of(hasher, PASSWORD).await;
        assert_eq!(
            verify(hasher, "Correct horse battery staple", &hash).await,
            Verification::Mismatch
        );
    }

    pub async fn verify_is_exact_not_a_prefix_match(hasher: &dyn PasswordHasher) {
        let hash = hash_of(hasher, PASSWORD).await;
        assert_eq!(
            verify(hasher, "correct horse battery stapl", &hash).await,
            Verification::Mismatch
        );
        assert_eq!(
            verify(hasher, "correct horse battery staple!", &hash).await,
            Verification::Mismatch
        );
    }

    /// The longest password the default policy allows counts to its last character.
    pub async fn long_password_is_not_truncated(hasher: &dyn PasswordHasher) {
        let stored = format!("{}a", "é".repeat(127));
        let other = format!("{}b", "é".repeat(127));
        let hash = hash_of(hasher, &stored).await;
        assert_eq!(verify(hasher, &stored, &hash).await, CURRENT_MATCH);
        assert_eq!(verify(hasher, &other, &hash).await, Verification::Mismatch);
    }

    /// Passwords are compared after NFKC: a decomposed `é` and the `ﬁ` ligature
    /// match their composed and plain forms.
    pub async fn unicode_password_round_trips(hasher: &dyn PasswordHasher) {
        let hash = hash_of(hasher, "p\u{e9}ssword \u{fb01}n 日本語").await;
        assert_eq!(
            verify(hasher, "pe\u{301}ssword fin 日本語", &hash).await,
            CURRENT_MATCH
        );
        assert_eq!(
            verify(hasher, "pessword fin 日本語", &hash).await,
            Verification::Mismatch
        );
    }

    pub async fn fresh_hash_needs_no_rehash(hasher: &dyn PasswordHasher) {
        let hash = hash_of(hasher, PASSWORD).await;
        assert_eq!(verify(hasher, PASSWORD, &hash).await, CURRENT_MATCH);
    }

    pub async fn hashes_are_salted(hasher: &dyn PasswordHasher) {
        let first = hash_of(hasher, PASSWORD).await;
        let second = hash_of(hasher, PASSWORD).await;
        assert_ne!(first, second);
        assert_eq!(verify(hasher, PASSWORD, &second).await, CURRENT_MATCH);
    }

    pub async fn hash_does_not_contain_the_password(hasher: &dyn PasswordHasher) {
        let hash = hash_of(hasher, PASSWORD).await;
        assert!(!hash.0.contains("horse"));
    }

    pub async fn verify_dummy_succeeds(hasher: &dyn PasswordHasher) {
        hasher
            .verify_dummy(&password(PASSWORD))
            .await
            .expect("dummy verification succeeds");
        hasher
            .verify_dummy(&password(&"é".repeat(128)))
            .await
            .expect("dummy verification succeeds");
    }

    pub async fn unsupported_format_is_an_error(hasher: &dyn PasswordHasher) {
        for stored in ["", PASSWORD, "$unknown-scheme$v=1$c2FsdHNhbHQ$aGFzaGhhc2g"] {
            let outcome = hasher
                .verify(&password(PASSWORD), &PasswordHash(stored.to_owned()))
                .await;
            assert!(
                matches!(outcome, Err(HashError::UnsupportedFormat)),
                "{stored:?} gave {outcome:?}"
            );
        }
    }

    /// A damaged hash is a mismatch or an unsupported format, never a match or a panic.
    pub async fn malformed_hash_never_matches(hasher: &dyn PasswordHasher) {
        let hash = hash_of(hasher, PASSWORD).await.0;
        let chars: Vec<char> = hash.chars().collect();
        let cut = |n: usize| chars[..n].iter().collect::<String>();
        // Near the end but not the last character, whose low bits may be padding.
        let mut flipped = chars.clone();
        let i = flipped.len() - 5;
        flipped[i] = if flipped[i] == 'A' { 'B' } else { 'A' };
        let flipped: String = flipped.into_iter().collect();
        for damaged in [
            cut(chars.len() / 2),
            cut(chars.len() - 1),
            format!("{hash}$"),
            format!("{hash}A"),
            flipped,
        ] {
            let outcome = hasher
                .verify(&password(PASSWORD), &PasswordHash(damaged.clone()))
                .await;
            assert!(
                matches!(
                    outcome,
                    Ok(Verification::Mismatch) | Err(HashError::UnsupportedFormat)
                ),
                "{damaged:?} gave {outcome:?}"
            );
        }
    }

    pub async fn concurrent_verifications_all_complete(hasher: &dyn PasswordHasher) {
        let hash = hash_of(hasher, PASSWORD).await;
        let unknown_user = password(PASSWORD);
        let (a, b, c, d) = tokio::join!(
            verify(hasher, PASSWORD, &hash),
            verify(hasher, "wrong horse battery staple", &hash),
            verify(hasher, PASSWORD, &hash),
            hasher.verify_dummy(&unknown_user),
        );
        assert_eq!((a, b, c), (CURRENT_MATCH, Verification::Mismatch, CURRENT_MATCH));
        d.expect("dummy verification succeeds");
    }

    pub async fn check_stored_accepts_own_hashes(hasher: &dyn PasswordHasher) {
        let hash = hash_of(hasher, PASSWORD).await;
        hasher
            .check_stored(&hash)
            .expect("a hash the hasher wrote can be verified later");
    }

    /// Garbage, including strings that start like a known scheme, is refused.
    pub async fn check_stored_refuses_garbage(hasher: &dyn PasswordHasher) {
        for stored in [
            "",
            "plaintext",
            PASSWORD,
            "$argon2id$garbage",
            "pbkdf2_sha256$x$y$z",
        ] {
            let outcome = hasher.check_stored(&PasswordHash(stored.to_owned()));
            assert!(
                matches!(outcome, Err(HashError::UnsupportedFormat)),
                "{stored:?} gave {outcome:?}"
            );
        }
    }

    /// Well-formed hashes just above the port's cost ceilings: refused by
    /// `check_stored`, and by `verify` before doing the work (the argon2 one
    /// is cheap in memory, so running it would give a mismatch instead).
    pub async fn hashes_above_the_cost_ceilings_are_refused(hasher: &dyn PasswordHasher) {
        let argon2 = |costs: &str| {
            format!(
                "$argon2id$v=19${costs}$Yt56CqPdboxWIYbEUkB3Dw$np1ls29XHhaWR5pYkwurXTsindyT4EiZCDwlujsvQ9Y"
            )
        };
        let bcrypt_17 = "$2b$17$p0GgzLaBuR5TaTyoo.TAse0NeNXSOx1xuc6PHhCB4qv638fVr4l3i".to_owned();
        let cheap_but_101_passes = argon2("m=8,t=101,p=1");
        for stored in [
            bcrypt_17.clone(),
            argon2("m=1048577,t=1,p=1"),
            cheap_but_101_passes.clone(),
        ] {
            let outcome = hasher.check_stored(&PasswordHash(stored.clone()));
            assert!(
                matches!(outcome, Err(HashError::UnsupportedFormat)),
                "{stored:?} gave {outcome:?}"
            );
        }
        for stored in [bcrypt_17, cheap_but_101_passes] {
            let outcome = hasher
                .verify(&password(PASSWORD), &PasswordHash(stored.clone()))
                .await;
            assert!(
                matches!(outcome, Err(HashError::UnsupportedFormat)),
                "{stored:?} gave {outcome:?}"
            );
        }
    }
}

pub use behaviours::*;
