//! `Argon2Hasher` against the `PasswordHasher` contract, at a reduced cost and
//! at the production (OWASP) cost.

#![allow(clippy::expect_used)]

use latch_passwords::{Argon2Hasher, HasherConfig};

mod reduced_cost {
    use super::*;

    fn hasher() -> Argon2Hasher {
        let config = HasherConfig {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 2,
            max_queue: 16,
            // Failures wait only for what this hasher has verified itself.
            assume_legacy_costs: false,
        };
        Argon2Hasher::new(config).expect("valid config")
    }

    latch_testkit::password_hasher_contract!(hasher());
}

mod default_cost {
    use super::*;

    latch_testkit::password_hasher_contract!(
        Argon2Hasher::new(HasherConfig::default()).expect("valid config")
    );
}
