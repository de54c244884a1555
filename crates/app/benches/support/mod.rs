//! What the timing benches share: their sample count and their quantiles.

use std::error::Error;
use std::time::Duration;

/// The `q`-quantile (0..=1) of sorted samples, in milliseconds (nearest rank).
pub fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    let last = sorted.len().saturating_sub(1);
    let index = ((last as f64) * q).round() as usize;
    sorted
        .get(index.min(last))
        .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
}

/// Samples per case: `LATCH_BENCH_SAMPLES`, else `default`.
pub fn samples_per_case(default: usize) -> Result<usize, Box<dyn Error>> {
    match std::env::var("LATCH_BENCH_SAMPLES") {
        Err(_) => Ok(default),
        Ok(value) => match value.parse() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("LATCH_BENCH_SAMPLES={value:?}: expected a positive integer").into()),
        },
    }
}
