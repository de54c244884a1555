//! The argon2id adapter of the `PasswordHasher` port.

use std::fmt;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{Algorithm, Argon2, Params, Version};
use async_trait::async_trait;
use latch_domain::Password;
use latch_ports::{HashError, Metrics, PasswordHash, PasswordHasher, Verification};

use crate::HasherConfig;
use crate::floor::{CostClass, FailureFloor, LEGACY_DEFAULTS};
use crate::limiter::{HashingLoad, Limiter};
use crate::memory::BlockPool;
use crate::pbkdf2_sha256::Pbkdf2Sha256;
use crate::stored_hash::{ARGON2_MAX_M_COST_KIB, ARGON2_MAX_T_COST, StoredHash};

/// The password behind the dummy hash; its value does not matter.
const DUMMY_PASSWORD: &[u8] = b"latch dummy password for unknown users";

/// PBKDF2 iterations timed at start-up (a few milliseconds), to estimate
/// PBKDF2 costs before one is verified.
const PBKDF2_CALIBRATION_ITERATIONS: u32 = 10_000;
/// The bcrypt cost timed at start-up (a few milliseconds), for the same.
const BCRYPT_CALIBRATION_COST: u32 = 6;

/// Hashes new passwords with argon2id and verifies argon2, bcrypt and
/// Django/passlib PBKDF2 hashes, on blocking threads with bounded concurrency.
pub struct Argon2Hasher {
    params: Params,
    limiter: Limiter,
    /// Working memory for hashes at `params`, one set per concurrent hash.
    memory: Arc<BlockPool>,
    /// An argon2id hash at the current cost, so an unknown user costs what a wrong password costs.
    dummy: Arc<StoredHash>,
    /// The least time a failed verification takes, whatever the hash's scheme.
    floor: FailureFloor,
}

impl Argon2Hasher {
    /// A hasher for `config`; computes the dummy hash and times a small PBKDF2
    /// and bcrypt hash beside it, so it takes a little over one hash's time.
    ///
    /// # Errors
    /// `HashError::Unexpected` if the argon2 parameters are invalid or above
    /// the ceilings stored hashes are verified up to (its own hashes could not
    /// be verified), or `max_concurrent` is zero.
    pub fn new(config: HasherConfig) -> Result<Self, HashError> {
        if config.memory_kib > ARGON2_MAX_M_COST_KIB || config.iterations > ARGON2_MAX_T_COST {
            return Err(HashError::Unexpected(format!(
                "argon2 cost above the ceiling of {ARGON2_MAX_M_COST_KIB} KiB and {ARGON2_MAX_T_COST} passes"
            )));
        }
        let params = Params::new(config.memory_kib, config.iterations, config.parallelism, None)
            .map_err(|err| HashError::Unexpected(format!("invalid argon2 parameters: {err}")))?;
        let limiter = Limiter::new(config.max_concurrent, config.max_queue)?;
        let memory = Arc::new(BlockPool::new(params.block_count(), config.max_concurrent));
        // Not in the pool: a server that never sees a login keeps no block resident.
        let unpooled = BlockPool::new(params.block_count(), 0);
        let (dummy, took) = timed(|| hash_argon2id(&params, DUMMY_PASSWORD, &unpooled));
        let dummy = StoredHash::parse(&dummy?)?;
        let mut floor = FailureFloor::default();
        floor.calibrate(dummy.cost_class(), took);
        calibrate(&mut floor)?;
        floor.record(dummy.cost_class(), took);
        if config.assume_legacy_costs {
            for class in LEGACY_DEFAULTS {
                floor.expect(class);
            }
        }
        Ok(Self {
            params,
            limiter,
            memory,
            dummy: Arc::new(dummy),
            floor,
        })
    }

    /// Reports each hash's wait for a slot, its time and queue-full refusals to `metrics`.
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<dyn Metrics>) -> Self {
        self.limiter.metrics = metrics;
        self
    }

    /// How many hashes run and wait for a slot now.
    pub fn load(&self) -> HashingLoad {
        self.limiter.load()
    }

    /// How long a verification whose work took `took` waits before it
    /// answers: a failure until the floor, a match not at all.
    fn padding(&self, matched: bool, took: Duration) -> Duration {
        if matched {
            Duration::ZERO
        } else {
            self.floor.padding(took)
        }
    }

    /// Verifies `password` against `hash`, padding a failure to the floor,
    /// and a match too when `refused` (the caller will refuse it anyway).
    async fn verify_padded(
        &self,
        password: &Password,
        hash: &PasswordHash,
        refused: bool,
    ) -> Result<Verification, HashError> {
        let stored = StoredHash::parse(&hash.0)?;
        let needs_rehash = stored.needs_rehash(&self.params);
        let matched = self.check_padded(Arc::new(stored), password, refused).await?;
        Ok(if matched {
            Verification::Match { needs_rehash }
        } else {
            Verification::Mismatch
        })
    }

    /// Checks `password` against `stored` on the hashing pool, records the
    /// time it took for the floor, and waits out the floor unless it matched
    /// and is not `refused`. Whether it matched.
    async fn check_padded(
        &self,
        stored: Arc<StoredHash>,
        password: &Password,
        refused: bool,
    ) -> Result<bool, HashError> {
        let class = stored.cost_class();
        let password = password.duplicate();
        let (params, memory) = (self.params.clone(), Arc::clone(&self.memory));
        let (matched, took) = self
            .limiter
            .run(move || timed(|| stored.matches_in(password.expose().as_bytes(), &params, &memory)))
            .await?;
        let matched = matched?;
        self.floor.record(class, took);
        wait(self.padding(matched && !refused, took)).await;
        Ok(matched)
    }
}

/// Times one small hash of each legacy scheme on this thread, beside the
/// dummy argon2 hash, so that their costs can be estimated from argon2's
/// before one of them is verified.
fn calibrate(floor: &mut FailureFloor) -> Result<(), HashError> {
    let pbkdf2 = Pbkdf2Sha256::unmatchable(PBKDF2_CALIBRATION_ITERATIONS);
    let (_, took) = timed(|| black_box(pbkdf2.matches(black_box(DUMMY_PASSWORD))));
    let iterations = PBKDF2_CALIBRATION_ITERATIONS;
    floor.calibrate(CostClass::Pbkdf2Sha256 { iterations }, took);
    let (hashed, took) = timed(|| bcrypt::hash_with_salt(DUMMY_PASSWORD, BCRYPT_CALIBRATION_COST, [0; 16]));
    hashed.map_err(|err| HashError::Unexpected(format!("bcrypt failed: {err}")))?;
    let cost = BCRYPT_CALIBRATION_COST;
    floor.calibrate(CostClass::Bcrypt { cost }, took);
    Ok(())
}

/// Runs `work` and says how long it took.
fn timed<T>(work: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let outcome = work();
    (outcome, start.elapsed())
}

/// Waits `padding` without holding a hashing slot or a CPU.
async fn wait(padding: Duration) {
    if !padding.is_zero() {
        tokio::time::sleep(padding).await;
    }
}

impl fmt::Debug for Argon2Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Argon2Hasher")
            .field("params", &self.params)
            .field("limiter", &self.limiter)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    #[tracing::instrument(skip_all)]
    async fn hash(&self, password: &Password) -> Result<PasswordHash, HashError> {
        let password = password.duplicate();
        let params = self.params.clone();
        let memory = Arc::clone(&self.memory);
        let phc = self
            .limiter
            .run(move || hash_argon2id(&params, password.expose().as_bytes(), &memory))
            .await??;
        Ok(PasswordHash(phc))
    }

    #[tracing::instrument(skip_all)]
    async fn verify(&self, password: &Password, hash: &PasswordHash) -> Result<Verification, HashError> {
        self.verify_padded(password, hash, false).await
    }

    #[tracing::instrument(skip_all)]
    async fn verify_refused(
        &self,
        password: &Password,
        hash: &PasswordHash,
    ) -> Result<Verification, HashError> {
        self.verify_padded(password, hash, true).await
    }

    #[tracing::instrument(skip_all)]
    async fn verify_dummy(&self, password: &Password) -> Result<(), HashError> {
        // Padded as a failure even in the unlikely case the password is the dummy's.
        self.check_padded(Arc::clone(&self.dummy), password, true).await?;
        Ok(())
    }

    fn check_stored(&self, hash: &PasswordHash) -> Result<(), HashError> {
        let stored = StoredHash::parse(&hash.0)?;
        // A hash that may be stored may be verified: its cost counts from now on.
        self.floor.expect(stored.cost_class());
        Ok(())
    }
}

/// Salt bytes per new hash (argon2's recommended length).
const SALT_LEN: usize = argon2::RECOMMENDED_SALT_LEN;

/// A fresh argon2id PHC string with a random salt, computed in `memory`'s blocks.
fn hash_argon2id(params: &Params, password: &[u8], memory: &BlockPool) -> Result<String, HashError> {
    let failed = |err: &dyn fmt::Display| HashError::Unexpected(format!("argon2 hashing failed: {err}"));
    let mut salt = [0u8; SALT_LEN];
    rand::fill(&mut salt[..]);
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    memory
        .with(|blocks| {
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
                .hash_password_into_with_memory(password, &salt, &mut out, blocks)
        })
        .map_err(|err| failed(&err))?;
    let phc = argon2::PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|err| failed(&err))?,
        salt: Some(Salt::new(&salt).map_err(|err| failed(&err))?),
        hash: Some(Output::new(&out).map_err(|err| failed(&err))?),
    };
    Ok(phc.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use latch_domain::PasswordPolicy;
    use tokio::task::JoinSet;

    use super::*;
    use crate::limiter::tests::until;
    use argon2::{PasswordHasher as _, PasswordVerifier as _};

    // Fixtures written by real Python 3.11, for PASSWORD unless noted:
    //   BCRYPT_2B          bcrypt 5.0.0: bcrypt.hashpw(pw, bcrypt.gensalt(rounds=4))
    //   PASSLIB_2A / _2Y   passlib 1.7.4 on bcrypt 4.0.1 (passlib fails on bcrypt >= 4.1):
    //                      passlib.hash.bcrypt.using(ident="2a" / "2y", rounds=4).hash(pw)
    //   BCRYPT5_72_BYTES   bcrypt 5.0.0, password_72_bytes(); bcrypt 5 refuses 73 bytes
    //   BCRYPT4_72_BYTES   bcrypt 4.0.1, password_72_bytes(); its checkpw also accepted
    //                      password_72_bytes() + "x", silently truncated
    //   ARGON2ID_CFFI      argon2-cffi 25.1.0: argon2.PasswordHasher().hash(pw), its defaults
    //   ARGON2I/D_CFFI     argon2-cffi 25.1.0: PasswordHasher(time_cost=1, memory_cost=1024,
    //                      parallelism=1, type=Type.I / Type.D).hash(pw)
    // and by tests/fixtures/generate_legacy_hashes.py (Python 3.11.7), also in
    // tests/fixtures/legacy-hashes.json:
    //   DJANGO_PBKDF2      Django 5.2.19, after settings.configure():
    //                      django.contrib.auth.hashers.make_password(pw, hasher="pbkdf2_sha256"),
    //                      its default 1_000_000 iterations
    //   DJANGO_PBKDF2_1000 Django 5.2.19: PBKDF2PasswordHasher().encode(pw, salt, iterations=1000)
    //                      with salt = PBKDF2PasswordHasher().salt(); _UNICODE for UNICODE_PASSWORD
    //   PASSLIB_PBKDF2     passlib 1.7.4: passlib.hash.pbkdf2_sha256.hash(pw), default 29000 rounds
    //   PASSLIB_PBKDF2_1000  passlib 1.7.4: passlib.hash.pbkdf2_sha256.using(rounds=1000).hash(pw);
    //                      _UNICODE for UNICODE_PASSWORD
    const PASSWORD: &str = "correct horse battery staple";
    /// Non-ASCII and already NFKC-normal, so Python hashed the same bytes Latch verifies.
    const UNICODE_PASSWORD: &str = "pässwörd ünïcode";
    const BCRYPT_2B: &str = "$2b$04$p0GgzLaBuR5TaTyoo.TAse0NeNXSOx1xuc6PHhCB4qv638fVr4l3i";
    const PASSLIB_2A: &str = "$2a$04$LjqvnXjPtQndLAk3dtuDwep4q/QoykAdhZIiiQk0r7TPCqM5Y42XG";
    const PASSLIB_2Y: &str = "$2y$04$8JpEfdEBDfgR5d5zUeF1HOVmxb6kL7Vsj7Q4HpRLh7QuNiwnTEgAO";
    const BCRYPT5_72_BYTES: &str = "$2b$04$/eZba06XsdeOlMDVmJFy2edeFs/w5LObEEaXLYjJXs4MSvY.qT6c.";
    const BCRYPT4_72_BYTES: &str = "$2b$04$TRXFBvAZePvHjoZq.XMvNe/MATltmrExmrMecyefwP6eytaETVu6C";
    const ARGON2ID_CFFI: &str =
        "$argon2id$v=19$m=65536,t=3,p=4$p35QQptgclyg86G4SYX0bQ$mkfmoLDM1oaRUY7MjtuJe8YheYxiXXHZQGj+sJBB16k";
    const ARGON2I_CFFI: &str =
        "$argon2i$v=19$m=1024,t=1,p=1$Yt56CqPdboxWIYbEUkB3Dw$np1ls29XHhaWR5pYkwurXTsindyT4EiZCDwlujsvQ9Y";
    const ARGON2D_CFFI: &str =
        "$argon2d$v=19$m=1024,t=1,p=1$Y8B1KYnNztMM+QJa55oFrg$l7xmm7yp9NwzptPrENx0VEXMtHU+cCOl1IWpIBONCxA";
    const DJANGO_PBKDF2: &str =
        "pbkdf2_sha256$1000000$YkdMv6tdQcij1OAWTtfzRG$3OV2r26ROzUe6qyltBE+F2x25w/czRlMBnaeeFUX7qI=";
    const DJANGO_PBKDF2_1000: &str =
        "pbkdf2_sha256$1000$ImHtWGPCj8DKGp2YLkvJCh$lj4Z69ltQya1vC9V30SbPkbQX0JVpO3xeRX1F6MAc2s=";
    const DJANGO_PBKDF2_1000_UNICODE: &str =
        "pbkdf2_sha256$1000$VZ13i1VDRRHlTq0QZnw1Nc$uBLdvjdITTSnQomhCRuPlCMz5UFIMmfLU17l+A5tNlI=";
    const PASSLIB_PBKDF2: &str =
        "$pbkdf2-sha256$29000$u9c6R4gRwlir1ZpzLgWAMA$NRVJ6F2DJhInxTbduNW1tne0vpIn1scIPf4RVKeRhXU";
    const PASSLIB_PBKDF2_1000: &str =
        "$pbkdf2-sha256$1000$d.49R4iR8v4/hxCiVErpPQ$q/cZB62uDEzhwrjkhmhnSpas/NrFZ0XIXqqYAXAEetg";
    const PASSLIB_PBKDF2_1000_UNICODE: &str =
        "$pbkdf2-sha256$1000$AMAYI2RsLeWcM.b8/19rzQ$yHh8jNo5bCfoBQ8fElNY/B.1QsseFksAeJvV556DEsQ";

    const OLD_SCHEME_MATCH: Verification = Verification::Match { needs_rehash: true };

    /// 71 characters, 72 bytes in UTF-8.
    fn password_72_bytes() -> String {
        format!("{}é", "a".repeat(70))
    }

    fn password(raw: &str) -> Password {
        Password::attempt(raw, &PasswordPolicy::default()).unwrap()
    }

    fn config(memory_kib: u32, iterations: u32) -> HasherConfig {
        HasherConfig {
            memory_kib,
            iterations,
            parallelism: 1,
            max_concurrent: 2,
            max_queue: 16,
            assume_legacy_costs: false,
        }
    }

    fn cheap() -> Argon2Hasher {
        Argon2Hasher::new(config(1024, 1)).unwrap()
    }

    async fn verify(hasher: &Argon2Hasher, raw: &str, stored: &str) -> Result<Verification, HashError> {
        hasher
            .verify(&password(raw), &PasswordHash(stored.to_owned()))
            .await
    }

    #[test]
    fn default_config_is_owasp_argon2id_with_one_slot_per_cpu() {
        let config = HasherConfig::default();
        let cpus = std::thread::available_parallelism().unwrap().get();
        assert_eq!(
            config,
            HasherConfig {
                memory_kib: 19456,
                iterations: 2,
                parallelism: 1,
                max_concurrent: cpus,
                max_queue: 64 * cpus,
                assume_legacy_costs: true,
            }
        );
    }

    #[tokio::test]
    async fn default_config_writes_owasp_argon2id_phc_strings() {
        let hasher = Argon2Hasher::new(HasherConfig::default()).unwrap();
        let hash = hasher.hash(&password(PASSWORD)).await.unwrap();
        assert!(
            hash.0.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            hash.0
        );
    }

    #[test]
    fn invalid_config_is_refused() {
        for bad in [
            HasherConfig {
                memory_kib: 0,
                ..config(1024, 1)
            },
            HasherConfig {
                iterations: 0,
                ..config(1024, 1)
            },
            HasherConfig {
                parallelism: 0,
                ..config(1024, 1)
            },
            HasherConfig {
                max_concurrent: 0,
                ..config(1024, 1)
            },
        ] {
            assert!(
                matches!(Argon2Hasher::new(bad), Err(HashError::Unexpected(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn dummy_hash_has_the_current_cost() {
        let hasher = Argon2Hasher::new(config(2048, 2)).unwrap();
        assert!(!hasher.dummy.needs_rehash(&hasher.params));
    }

    #[test]
    fn a_hasher_assuming_legacy_costs_knows_the_library_defaults() {
        let hasher = Argon2Hasher::new(HasherConfig {
            assume_legacy_costs: true,
            ..config(1024, 1)
        })
        .unwrap();
        for class in LEGACY_DEFAULTS {
            assert!(hasher.floor.knows(class), "{class:?}");
        }
    }

    #[test]
    fn a_hasher_not_assuming_legacy_costs_knows_only_what_it_timed() {
        let hasher = cheap();
        for class in LEGACY_DEFAULTS {
            assert!(!hasher.floor.knows(class), "{class:?}");
        }
        assert!(hasher.floor.knows(hasher.dummy.cost_class()));
    }

    #[test]
    fn check_stored_makes_the_cost_of_a_hash_known() {
        let hasher = cheap();
        let django_default = CostClass::Pbkdf2Sha256 {
            iterations: 1_000_000,
        };
        assert!(!hasher.floor.knows(django_default));
        check_stored(&hasher, DJANGO_PBKDF2).unwrap();
        assert!(hasher.floor.knows(django_default));
    }

    #[tokio::test]
    async fn a_verification_times_the_cost_of_its_hash() {
        let hasher = cheap();
        let class = CostClass::Pbkdf2Sha256 { iterations: 1000 };
        assert!(!hasher.floor.knows(class));
        verify(&hasher, PASSWORD, DJANGO_PBKDF2_1000).await.unwrap();
        assert!(hasher.floor.knows(class));
    }

    /// What the slowest hash this hasher has verified took.
    const SLOW: Duration = Duration::from_millis(300);

    /// A cheap hasher that has seen a slow hash.
    fn hasher_that_saw_a_slow_hash() -> Argon2Hasher {
        let hasher = cheap();
        let slow = CostClass::Pbkdf2Sha256 {
            iterations: 9_000_000,
        };
        hasher.floor.record(slow, SLOW);
        hasher
    }

    #[test]
    fn a_failure_is_padded_up_to_the_slowest_hash_seen() {
        let hasher = hasher_that_saw_a_slow_hash();
        let took = Duration::from_millis(2);
        assert_eq!(hasher.padding(false, took), SLOW - took);
    }

    #[test]
    fn a_match_is_not_padded() {
        let hasher = hasher_that_saw_a_slow_hash();
        assert_eq!(hasher.padding(true, Duration::from_millis(2)), Duration::ZERO);
    }

    // Sleeping never ends early, so these lower bounds cannot flake.

    #[tokio::test]
    async fn a_mismatch_answers_no_sooner_than_the_slowest_hash_seen() {
        let hasher = hasher_that_saw_a_slow_hash();
        let start = Instant::now();
        let outcome = verify(&hasher, "correct horse battery stapler", DJANGO_PBKDF2_1000).await;
        assert_eq!(outcome.unwrap(), Verification::Mismatch);
        assert!(start.elapsed() >= SLOW, "{:?}", start.elapsed());
    }

    #[tokio::test]
    async fn a_refused_match_answers_no_sooner_than_the_slowest_hash_seen() {
        let hasher = hasher_that_saw_a_slow_hash();
        let start = Instant::now();
        let stored = PasswordHash(DJANGO_PBKDF2_1000.to_owned());
        let outcome = hasher.verify_refused(&password(PASSWORD), &stored).await;
        assert!(matches!(outcome, Ok(Verification::Match { .. })), "{outcome:?}");
        assert!(start.elapsed() >= SLOW, "{:?}", start.elapsed());
    }

    #[tokio::test]
    async fn the_dummy_answers_no_sooner_than_the_slowest_hash_seen() {
        let hasher = hasher_that_saw_a_slow_hash();
        let start = Instant::now();
        hasher.verify_dummy(&password(PASSWORD)).await.unwrap();
        assert!(start.elapsed() >= SLOW, "{:?}", start.elapsed());
    }

    #[tokio::test]
    async fn bcrypt_2b_from_python_bcrypt_matches_and_needs_rehash() {
        assert_eq!(
            verify(&cheap(), PASSWORD, BCRYPT_2B).await.unwrap(),
            OLD_SCHEME_MATCH
        );
    }

    #[tokio::test]
    async fn bcrypt_2a_from_passlib_matches_and_needs_rehash() {
        assert_eq!(
            verify(&cheap(), PASSWORD, PASSLIB_2A).await.unwrap(),
            OLD_SCHEME_MATCH
        );
    }

    #[tokio::test]
    async fn bcrypt_2y_from_passlib_matches_and_needs_rehash() {
        assert_eq!(
            verify(&cheap(), PASSWORD, PASSLIB_2Y).await.unwrap(),
            OLD_SCHEME_MATCH
        );
    }

    #[tokio::test]
    async fn bcrypt_wrong_password_mismatches() {
        assert_eq!(
            verify(&cheap(), "correct horse battery stapler", BCRYPT_2B)
                .await
                .unwrap(),
            Verification::Mismatch
        );
    }

    #[tokio::test]
    async fn bcrypt_accepts_a_password_of_exactly_72_bytes() {
        assert_eq!(
            verify(&cheap(), &password_72_bytes(), BCRYPT5_72_BYTES)
                .await
                .unwrap(),
            OLD_SCHEME_MATCH
        );
    }

    #[tokio::test]
    async fn bcrypt_refuses_a_password_longer_than_72_bytes() {
        let hasher = cheap();
        let longer = format!("{}x", password_72_bytes());
        assert_eq!(
            verify(&hasher, &password_72_bytes(), BCRYPT4_72_BYTES)
                .await
                .unwrap(),
            OLD_SCHEME_MATCH
        );
        assert_eq!(
            verify(&hasher, &longer, BCRYPT4_72_BYTES).await.unwrap(),
            Verification::Mismatch
        );
    }

    #[tokio::test]
    async fn bcrypt_2x_is_unsupported() {
        let buggy_variant = BCRYPT_2B.replacen("$2b$", "$2x$", 1);
        assert!(matches!(
            verify(&cheap(), PASSWORD, &buggy_variant).await,
            Err(HashError::UnsupportedFormat)
        ));
    }

    fn malformed_bcrypt() -> Vec<String> {
        vec![
            "$2b$".to_owned(),
            "$2b$04$tooshort".to_owned(),
            BCRYPT_2B.replacen("$04$", "$99$", 1),
            BCRYPT_2B.replacen("$04$", "$03$", 1),
            format!("{}é", &BCRYPT_2B[..58]),
            BCRYPT_2B[..59].to_owned(),
        ]
    }

    #[tokio::test]
    async fn malformed_bcrypt_is_unsupported_and_never_panics() {
        let hasher = cheap();
        for stored in &malformed_bcrypt() {
            let outcome = verify(&hasher, PASSWORD, stored).await;
            assert!(
                matches!(outcome, Err(HashError::UnsupportedFormat)),
                "{stored:?} gave {outcome:?}"
            );
        }
    }

    #[tokio::test]
    async fn argon2id_from_argon2_cffi_defaults_matches_and_needs_rehash() {
        assert_eq!(
            verify(&cheap(), PASSWORD, ARGON2ID_CFFI).await.unwrap(),
            OLD_SCHEME_MATCH
        );
    }

    #[tokio::test]
    async fn argon2i_matches_and_needs_rehash() {
        assert_eq!(
            verify(&cheap(), PASSWORD, ARGON2I_CFFI).await.unwrap(),
            OLD_SCHEME_MATCH
        );
    }

    #[tokio::test]
    async fn argon2d_matches_and_needs_rehash() {
        assert_eq!(
            verify(&cheap(), PASSWORD, ARGON2D_CFFI).await.unwrap(),
            OLD_SCHEME_MATCH
        );
    }

    #[tokio::test]
    async fn argon2id_with_old_params_needs_rehash() {
        let old = cheap().hash(&password(PASSWORD)).await.unwrap();
        let current = Argon2Hasher::new(config(1024, 2)).unwrap();
        assert_eq!(
            verify(&current, PASSWORD, &old.0).await.unwrap(),
            OLD_SCHEME_MATCH
        );
    }

    #[tokio::test]
    async fn hashes_in_reused_memory_agree_with_the_argon2_crate_both_ways() {
        let hasher = cheap();
        // Ours, checked by the crate's own verifier.
        let ours = hasher.hash(&password(PASSWORD)).await.unwrap();
        let parsed = argon2::PasswordHash::new(&ours.0).unwrap();
        assert!(
            Argon2::default()
                .verify_password(PASSWORD.as_bytes(), &parsed)
                .is_ok()
        );
        // The crate's, at the current cost, checked in reused memory, twice.
        let params = Params::new(1024, 1, 1, None).unwrap();
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(PASSWORD.as_bytes())
            .unwrap()
            .to_string();
        for _ in 0..2 {
            assert_eq!(
                verify(&hasher, PASSWORD, &theirs).await.unwrap(),
                Verification::Match { needs_rehash: false }
            );
            assert_eq!(
                verify(&hasher, "not the password at all", &theirs).await.unwrap(),
                Verification::Mismatch
            );
        }
    }

    #[tokio::test]
    async fn argon2id_with_other_output_length_needs_rehash() {
        // Same cost as `cheap()`, 16-byte output.
        let params = Params::new(1024, 1, 1, Some(16)).unwrap();
        let short = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(PASSWORD.as_bytes())
            .unwrap();
        assert_eq!(
            verify(&cheap(), PASSWORD, &short.to_string()).await.unwrap(),
            OLD_SCHEME_MATCH
        );
    }

    const MALFORMED_ARGON2: [&str; 9] = [
        "$argon2id$",
        "$argon2id$v=19$m=1024,t=1,p=1$",
        "$argon2id$v=19$m=lots,t=1,p=1$Yt56CqPdboxWIYbEUkB3Dw$np1ls29XHhaWR5pYkwurXTsindyT4EiZCDwlujsvQ9Y",
        "$argon2id$v=42$m=1024,t=1,p=1$Yt56CqPdboxWIYbEUkB3Dw$np1ls29XHhaWR5pYkwurXTsindyT4EiZCDwlujsvQ9Y",
        "$argon2id$v=19$m=1,t=1,p=1$Yt56CqPdboxWIYbEUkB3Dw$np1ls29XHhaWR5pYkwurXTsindyT4EiZCDwlujsvQ9Y",
        "$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$np1ls29XHhaWR5pYkwurXTsindyT4EiZCDwlujsvQ9Y",
        "$argon2id$v=19$m=1024,t=1,p=1$Yt56CqPdboxWIYbEUkB3Dw$é",
        "$argon2x$v=19$m=1024,t=1,p=1$Yt56CqPdboxWIYbEUkB3Dw$np1ls29XHhaWR5pYkwurXTsindyT4EiZCDwlujsvQ9Y",
        // No hash at all: a PHC "config" string.
        "$argon2id$v=19$m=1024,t=1,p=1$Yt56CqPdboxWIYbEUkB3Dw",
    ];

    #[tokio::test]
    async fn malformed_argon2_is_unsupported_and_never_panics() {
        let hasher = cheap();
        for stored in MALFORMED_ARGON2 {
            let outcome = verify(&hasher, PASSWORD, stored).await;
            assert!(
                matches!(outcome, Err(HashError::UnsupportedFormat)),
                "{stored:?} gave {outcome:?}"
            );
        }
    }

    #[tokio::test]
    async fn django_pbkdf2_at_default_iterations_matches_and_needs_rehash() {
        assert_eq!(
            verify(&cheap(), PASSWORD, DJANGO_PBKDF2).await.unwrap(),
            OLD_SCHEME_MATCH
        );
    }

    #[tokio::test]
    async fn django_pbkdf2_at_low_iterations_matches_and_needs_rehash() {
        assert_eq!(
            verify(&cheap(), PASSWORD, DJANGO_PBKDF2_1000).await.unwrap(),
            OLD_SCHEME_MATCH
        );
    }

    #[tokio::test]
    async fn passlib_pbkdf2_at_default_rounds_matches_and_needs_rehash() {
        assert_eq!(
            verify(&cheap(), PASSWORD, PASSLIB_PBKDF2).await.unwrap(),
            OLD_SCHEME_MATCH
        );
    }

    #[tokio::test]
    async fn passlib_pbkdf2_at_low_rounds_matches_and_needs_rehash() {
        assert_eq!(
            verify(&cheap(), PASSWORD, PASSLIB_PBKDF2_1000).await.unwrap(),
            OLD_SCHEME_MATCH
        );
    }

    #[tokio::test]
    async fn django_pbkdf2_wrong_password_mismatches() {
        assert_eq!(
            verify(&cheap(), "correct horse battery stapler", DJANGO_PBKDF2_1000)
                .await
                .unwrap(),
            Verification::Mismatch
        );
    }

    #[tokio::test]
    async fn passlib_pbkdf2_wrong_password_mismatches() {
        assert_eq!(
            verify(&cheap(), "correct horse battery stapler", PASSLIB_PBKDF2_1000)
                .await
                .unwrap(),
            Verification::Mismatch
        );
    }

    /// The UTF-8 bytes are hashed; a decomposed spelling matches after NFKC.
    #[tokio::test]
    async fn django_pbkdf2_unicode_password_matches() {
        let hasher = cheap();
        let decomposed = "pa\u{308}sswo\u{308}rd u\u{308}ni\u{308}code";
        for raw in [UNICODE_PASSWORD, decomposed] {
            assert_eq!(
                verify(&hasher, raw, DJANGO_PBKDF2_1000_UNICODE).await.unwrap(),
                OLD_SCHEME_MATCH
            );
        }
        assert_eq!(
            verify(&hasher, "passwords unicode", DJANGO_PBKDF2_1000_UNICODE)
                .await
                .unwrap(),
            Verification::Mismatch
        );
    }

    /// The UTF-8 bytes are hashed; a decomposed spelling matches after NFKC.
    #[tokio::test]
    async fn passlib_pbkdf2_unicode_password_matches() {
        let hasher = cheap();
        let decomposed = "pa\u{308}sswo\u{308}rd u\u{308}ni\u{308}code";
        for raw in [UNICODE_PASSWORD, decomposed] {
            assert_eq!(
                verify(&hasher, raw, PASSLIB_PBKDF2_1000_UNICODE).await.unwrap(),
                OLD_SCHEME_MATCH
            );
        }
        assert_eq!(
            verify(&hasher, "passwords unicode", PASSLIB_PBKDF2_1000_UNICODE)
                .await
                .unwrap(),
            Verification::Mismatch
        );
    }

    fn malformed_pbkdf2() -> Vec<String> {
        let django = DJANGO_PBKDF2_1000;
        let passlib = PASSLIB_PBKDF2_1000;
        vec![
            "pbkdf2_sha256$".to_owned(),
            "pbkdf2_sha256$1000$salt".to_owned(),
            "$pbkdf2-sha256$".to_owned(),
            "$pbkdf2-sha256$1000$d.49R4iR8v4/hxCiVErpPQ".to_owned(),
            // Iteration counts: zero, non-canonical, not a number, above the cap, above u32.
            django.replacen("$1000$", "$0$", 1),
            django.replacen("$1000$", "$01000$", 1),
            django.replacen("$1000$", "$+1000$", 1),
            django.replacen("$1000$", "$-1000$", 1),
            django.replacen("$1000$", "$lots$", 1),
            django.replacen("$1000$", "$10000001$", 1),
            django.replacen("$1000$", "$4294967295$", 1),
            django.replacen("$1000$", "$99999999999$", 1),
            passlib.replacen("$1000$", "$0$", 1),
            passlib.replacen("$1000$", "$4294967295$", 1),
            // Fields: missing, extra, empty salt (Django never writes one).
            format!("{django}$"),
            format!("{passlib}$extra"),
            django.replacen("$ImHtWGPCj8DKGp2YLkvJCh$", "$$", 1),
            // Keys: wrong length, padding where there should be none and vice versa,
            // the other base64 flavour, not base64 at all.
            "pbkdf2_sha256$1000$salt$AAAAAAAAAAAAAAAAAAAAAA==".to_owned(),
            django.trim_end_matches('=').to_owned(),
            format!("{passlib}="),
            passlib.replace('/', "+"),
            passlib.replace('.', "+"),
            format!("{}é", &django[..django.len() - 1]),
            format!("{}é", &passlib[..passlib.len() - 1]),
            // Near misses on the prefix.
            django.replacen("pbkdf2_sha256", "pbkdf2_sha1", 1),
            django.replacen("pbkdf2_sha256", "PBKDF2_SHA256", 1),
            passlib.replacen("$pbkdf2-sha256$", "$pbkdf2$", 1),
            passlib.replacen("$pbkdf2-sha256$", "$pbkdf2-sha512$", 1),
        ]
    }

    #[tokio::test]
    async fn malformed_pbkdf2_is_unsupported_and_never_panics() {
        let hasher = cheap();
        for stored in &malformed_pbkdf2() {
            let outcome = verify(&hasher, PASSWORD, stored).await;
            assert!(
                matches!(outcome, Err(HashError::UnsupportedFormat)),
                "{stored:?} gave {outcome:?}"
            );
        }
    }

    /// Every truncation and every single-character change of a low-cost fixture
    /// is a mismatch or unsupported, never a match or a panic.
    #[tokio::test]
    async fn damaged_pbkdf2_never_matches() {
        let hasher = cheap();
        for fixture in [DJANGO_PBKDF2_1000, PASSLIB_PBKDF2_1000] {
            let chars: Vec<char> = fixture.chars().collect();
            let mut damaged: Vec<String> = (0..chars.len()).map(|n| chars[..n].iter().collect()).collect();
            for i in 0..chars.len() {
                let mut changed = chars.clone();
                changed[i] = if changed[i] == 'A' { 'B' } else { 'A' };
                damaged.push(changed.into_iter().collect());
            }
            for stored in &damaged {
                let outcome = verify(&hasher, PASSWORD, stored).await;
                assert!(
                    matches!(
                        outcome,
                        Ok(Verification::Mismatch) | Err(HashError::UnsupportedFormat)
                    ),
                    "{stored:?} gave {outcome:?}"
                );
            }
        }
    }

    fn check_stored(hasher: &Argon2Hasher, stored: &str) -> Result<(), HashError> {
        hasher.check_stored(&PasswordHash(stored.to_owned()))
    }

    #[test]
    fn check_stored_accepts_every_fixture() {
        let hasher = cheap();
        for stored in [
            BCRYPT_2B,
            PASSLIB_2A,
            PASSLIB_2Y,
            BCRYPT5_72_BYTES,
            BCRYPT4_72_BYTES,
            ARGON2ID_CFFI,
            ARGON2I_CFFI,
            ARGON2D_CFFI,
            DJANGO_PBKDF2,
            DJANGO_PBKDF2_1000,
            DJANGO_PBKDF2_1000_UNICODE,
            PASSLIB_PBKDF2,
            PASSLIB_PBKDF2_1000,
            PASSLIB_PBKDF2_1000_UNICODE,
        ] {
            assert!(check_stored(&hasher, stored).is_ok(), "{stored:?}");
        }
    }

    #[test]
    fn check_stored_refuses_what_verify_refuses() {
        let hasher = cheap();
        let buggy_bcrypt = BCRYPT_2B.replacen("$2b$", "$2x$", 1);
        let malformed = MALFORMED_ARGON2
            .iter()
            .map(|s| (*s).to_owned())
            .chain(malformed_bcrypt())
            .chain(malformed_pbkdf2())
            .chain([buggy_bcrypt]);
        for stored in malformed {
            let outcome = check_stored(&hasher, &stored);
            assert!(
                matches!(outcome, Err(HashError::UnsupportedFormat)),
                "{stored:?} gave {outcome:?}"
            );
        }
    }

    /// `ARGON2I_CFFI` with other cost parameters: well-formed, never run here.
    fn argon2i_with(costs: &str) -> String {
        ARGON2I_CFFI.replacen("m=1024,t=1,p=1", costs, 1)
    }

    #[test]
    fn check_stored_accepts_costs_at_the_ceilings() {
        let hasher = cheap();
        for stored in [
            BCRYPT_2B.replacen("$04$", "$16$", 1),
            argon2i_with("m=1048576,t=1,p=1"),
            argon2i_with("m=1024,t=100,p=1"),
        ] {
            assert!(check_stored(&hasher, &stored).is_ok(), "{stored:?}");
        }
    }

    #[test]
    fn check_stored_refuses_costs_above_the_ceilings() {
        let hasher = cheap();
        for stored in [
            BCRYPT_2B.replacen("$04$", "$17$", 1),
            BCRYPT_2B.replacen("$04$", "$31$", 1),
            argon2i_with("m=1048577,t=1,p=1"),
            argon2i_with("m=1024,t=101,p=1"),
        ] {
            let outcome = check_stored(&hasher, &stored);
            assert!(
                matches!(outcome, Err(HashError::UnsupportedFormat)),
                "{stored:?} gave {outcome:?}"
            );
        }
    }

    /// Refused before any work: were the argon2 hash run, it would be a mismatch.
    #[tokio::test]
    async fn verify_refuses_costs_above_the_ceilings() {
        let hasher = cheap();
        for stored in [
            BCRYPT_2B.replacen("$04$", "$17$", 1),
            argon2i_with("m=8,t=101,p=1"),
        ] {
            let outcome = verify(&hasher, PASSWORD, &stored).await;
            assert!(
                matches!(outcome, Err(HashError::UnsupportedFormat)),
                "{stored:?} gave {outcome:?}"
            );
        }
    }

    #[test]
    fn config_above_the_ceilings_is_refused() {
        for bad in [
            config(ARGON2_MAX_M_COST_KIB + 1, 1),
            config(1024, ARGON2_MAX_T_COST + 1),
        ] {
            assert!(
                matches!(Argon2Hasher::new(bad), Err(HashError::Unexpected(_))),
                "{bad:?}"
            );
        }
    }

    #[tokio::test]
    async fn callers_beyond_the_queue_limit_are_overloaded() {
        let hasher = Arc::new(
            Argon2Hasher::new(HasherConfig {
                max_concurrent: 1,
                max_queue: 2,
                ..config(1024, 1)
            })
            .unwrap(),
        );
        let stored = hasher.hash(&password(PASSWORD)).await.unwrap();
        // As if a hash were running: every later call has to queue.
        let busy = hasher.limiter.occupy_all().unwrap();
        let mut queued = JoinSet::new();
        for _ in 0..2 {
            let (hasher, stored) = (Arc::clone(&hasher), stored.clone());
            queued.spawn(async move { hasher.verify(&password(PASSWORD), &stored).await });
        }
        until(|| hasher.limiter.waiting() == 2).await;

        assert!(matches!(
            hasher.hash(&password(PASSWORD)).await,
            Err(HashError::Overloaded)
        ));
        assert!(matches!(
            hasher.verify(&password(PASSWORD), &stored).await,
            Err(HashError::Overloaded)
        ));
        assert!(matches!(
            hasher.verify_dummy(&password(PASSWORD)).await,
            Err(HashError::Overloaded)
        ));

        drop(busy);
        while let Some(outcome) = queued.join_next().await {
            assert_eq!(
                outcome.unwrap().unwrap(),
                Verification::Match { needs_rehash: false }
            );
        }
    }
}
