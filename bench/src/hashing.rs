//! The login and sign-up ceiling: what the machine's cores can hash per second
//! at Latch's default argon2id parameters (m=19456 KiB, t=2, p=1), measured
//! here with the same crate.

use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, Version};

use crate::error::BenchError;

/// Median time of one argon2id hash at the default parameters, over `samples` hashes.
pub(crate) fn median_hash_time(samples: usize) -> Result<Duration, BenchError> {
    median(hash_times(samples)?)
}

/// Runs `load` between two sets of `samples` hash timings, and returns its
/// outcome with the median of all of them: a ceiling taken around the load
/// it is compared with, as this host's hash time drifts by a third within
/// minutes (14.9 to 28.1 ms in one run).
pub(crate) fn around<T>(
    samples: usize,
    load: impl FnOnce() -> Result<T, BenchError>,
) -> Result<(T, Duration), BenchError> {
    let mut times = hash_times(samples)?;
    let outcome = load()?;
    times.extend(hash_times(samples)?);
    Ok((outcome, median(times)?))
}

/// `samples` timings of one argon2id hash at the default parameters.
fn hash_times(samples: usize) -> Result<Vec<Duration>, BenchError> {
    let params = Params::new(
        Params::DEFAULT_M_COST,
        Params::DEFAULT_T_COST,
        Params::DEFAULT_P_COST,
        None,
    )
    .map_err(|err| BenchError::Setup(format!("argon2 parameters: {err}")))?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut times = Vec::with_capacity(samples);
    // One unmeasured hash first: page faults of the first 19 MiB block.
    for i in 0..=samples {
        let started = Instant::now();
        argon2
            .hash_password(b"violet kettle under nine moons")
            .map_err(|err| BenchError::Setup(format!("argon2 hashing failed: {err}")))?;
        if i > 0 {
            times.push(started.elapsed());
        }
    }
    Ok(times)
}

fn median(mut times: Vec<Duration>) -> Result<Duration, BenchError> {
    times.sort();
    times
        .get(times.len() / 2)
        .copied()
        .ok_or_else(|| BenchError::Setup("no argon2 samples".into()))
}

/// Hashes per second all cores can do: `cores / median time of one hash`.
pub(crate) fn ceiling_per_second(cores: usize, one_hash: Duration) -> f64 {
    cores as f64 / one_hash.as_secs_f64()
}
