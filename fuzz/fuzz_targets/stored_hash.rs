//! The parser of stored password hashes (argon2 PHC strings, bcrypt, Django
//! and passlib PBKDF2), the gate of the legacy-hash import
//! (`PasswordHasher::check_stored`) and of every verification.
//!
//! No panic; `check_stored` accepts exactly what verification parses; an
//! argon2 hash written out again parses to the same cost; and for hashes
//! cheap enough to verify per input, a parsed hash is one `matches` can
//! check (no error), a wrong password never matches, and the pooled argon2
//! path agrees with the plain one.

#![no_main]

use std::sync::LazyLock;

use latch_passwords::fuzzing::parse_stored_hash;
use latch_passwords::{Argon2Hasher, HasherConfig};
use latch_ports::{PasswordHash, PasswordHasher};
use libfuzzer_sys::fuzz_target;

/// The password of the seeds.
const PASSWORD: &[u8] = b"correct horse battery staple";
const WRONG: &[u8] = b"correct horse battery stapler";

static HASHER: LazyLock<Argon2Hasher> = LazyLock::new(|| {
    Argon2Hasher::new(HasherConfig {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
        max_concurrent: 1,
        max_queue: 1,
        assume_legacy_costs: true,
    })
    .expect("a hasher")
});

fuzz_target!(|data: &[u8]| {
    // Stored hashes are text columns.
    let Ok(hash) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = parse_stored_hash(hash);
    let checked = HASHER.check_stored(&PasswordHash(hash.to_owned()));
    assert_eq!(
        parsed.is_ok(),
        checked.is_ok(),
        "{hash:?}: {parsed:?} / {checked:?}"
    );
    let Ok(parsed) = parsed else {
        return;
    };
    let _ = parsed.needs_rehash();
    if let Some(written) = parsed.reformatted() {
        let again = parse_stored_hash(&written).unwrap_or_else(|err| panic!("{written:?}: {err}"));
        assert_eq!(again.cost(), parsed.cost(), "{hash:?} → {written:?}");
    }
    if !parsed.is_cheap() {
        return;
    }
    let wrong = parsed.matches(WRONG);
    assert!(matches!(wrong, Ok(false)), "{hash:?}: {wrong:?}");
    let right = parsed.matches(PASSWORD);
    assert!(right.is_ok(), "{hash:?}: {right:?}");
    if let Some(pooled) = parsed.matches_pooled(WRONG) {
        assert!(matches!(pooled, Ok(false)), "{hash:?}: {pooled:?}");
    }
    if let Some(pooled) = parsed.matches_pooled(PASSWORD) {
        assert_eq!(pooled.ok(), right.ok(), "{hash:?}");
    }
});
