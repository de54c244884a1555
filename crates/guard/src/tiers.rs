//! Tier limits: each tier allows so many requests per period to a path (and
//! the paths below it), counted per user in this process.
//!
//! The limits come from code ([`TierLimits::fixed`]) or from Latch's
//! `GET /api/v1/auth/tiers` ([`TierLimits::from_latch`]), read again once
//! they are older than the refresh period; if Latch cannot be reached the
//! last limits read stay in force.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex, RwLock};
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;
use uuid::Uuid;

use crate::GuardError;

/// Most (user, path) counters kept; past it the full ones are forgotten.
const MAX_COUNTERS: usize = 100_000;

/// At most `limit` requests per `period` to `path` and the paths below it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PathLimit {
    /// `/reports` limits `/reports` and `/reports/...`, not `/reportsX`.
    pub path: String,
    /// Requests allowed per period (also the burst).
    pub limit: u32,
    /// The period, in seconds.
    pub period_seconds: u32,
}

impl PathLimit {
    /// `limit` requests per `period_seconds` to `path`.
    pub fn new(path: impl Into<String>, limit: u32, period_seconds: u32) -> Self {
        Self {
            path: path.into(),
            limit,
            period_seconds,
        }
    }

    fn covers(&self, path: &str) -> bool {
        let prefix = self.path.trim_end_matches('/');
        path == self.path
            || prefix.is_empty()
            || path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

/// Per-tier limits by tier name.
type Table = HashMap<String, Vec<PathLimit>>;

/// Where the limits come from.
pub struct TierLimits {
    source: Source,
    counters: StdMutex<HashMap<(Uuid, String), Bucket>>,
}

enum Source {
    Fixed(Arc<Table>),
    Latch(LatchTiers),
}

impl TierLimits {
    /// Limits given in code: `(tier, limits)` pairs. A tier not listed is unlimited.
    pub fn fixed(tiers: impl IntoIterator<Item = (impl Into<String>, Vec<PathLimit>)>) -> Self {
        let table = tiers
            .into_iter()
            .map(|(name, limits)| (name.into(), limits))
            .collect();
        Self::with_source(Source::Fixed(Arc::new(table)))
    }

    /// Limits read from Latch's `GET /api/v1/auth/tiers` (with the guard's
    /// introspection credentials), read again after `refresh`.
    pub fn from_latch(refresh: Duration) -> Self {
        Self::with_source(Source::Latch(LatchTiers {
            refresh,
            client: None,
            table: RwLock::new(None),
            fetching: Mutex::new(()),
        }))
    }

    fn with_source(source: Source) -> Self {
        Self {
            source,
            counters: StdMutex::new(HashMap::new()),
        }
    }

    /// Connects a Latch source to Latch (done by the guard's builder).
    pub(crate) fn connect(&mut self, client: LatchClient) {
        if let Source::Latch(latch) = &mut self.source {
            latch.client = Some(client);
        }
    }

    /// Counts a request by `user` of `tier` to `path`.
    ///
    /// # Errors
    /// [`GuardError::RateLimited`] once the limit covering `path` is spent.
    pub(crate) async fn admit(&self, user: Uuid, tier: &str, path: &str) -> Result<(), GuardError> {
        let table = match &self.source {
            Source::Fixed(table) => table.clone(),
            Source::Latch(latch) => latch.table().await?,
        };
        // The most specific limit covering the path applies.
        let Some(limit) = table
            .get(tier)
            .into_iter()
            .flatten()
            .filter(|limit| limit.covers(path))
            .max_by_key(|limit| limit.path.len())
        else {
            return Ok(());
        };
        if limit.limit == 0 || limit.period_seconds == 0 {
            return Ok(());
        }
        let period = Duration::from_secs(u64::from(limit.period_seconds));
        let now = Instant::now();
        let mut counters = self
            .counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if counters.len() >= MAX_COUNTERS {
            counters.retain(|_, bucket| !bucket.is_full(now));
        }
        let bucket = counters
            .entry((user, limit.path.clone()))
            .or_insert_with(|| Bucket::full(limit.limit, period, now));
        bucket
            .take(limit.limit, period, now)
            .map_err(|retry_after| GuardError::RateLimited {
                limit: limit.limit,
                window: period,
                retry_after,
            })
    }
}

/// A token bucket: `limit` tokens, refilled one every `period / limit`.
struct Bucket {
    tokens: f64,
    at: Instant,
    capacity: f64,
    per_second: f64,
}

impl Bucket {
    fn full(limit: u32, period: Duration, now: Instant) -> Self {
        Self {
            tokens: f64::from(limit),
            at: now,
            capacity: f64::from(limit),
            per_second: f64::from(limit) / period.as_secs_f64(),
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.at = now;
    }

    /// Takes a token, or says how long until one is there.
    fn take(&mut self, limit: u32, period: Duration, now: Instant) -> Result<(), Duration> {
        // The limit may have changed since the bucket was made.
        self.capacity = f64::from(limit);
        self.per_second = f64::from(limit) / period.as_secs_f64();
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.per_second))
        }
    }

    fn is_full(&self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens + elapsed * self.per_second >= self.capacity
    }
}

/// How the guard reaches Latch's tiers route.
pub(crate) struct LatchClient {
    pub(crate) url: String,
    pub(crate) http: reqwest::Client,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
}

struct LatchTiers {
    refresh: Duration,
    client: Option<LatchClient>,
    table: RwLock<Option<(Instant, Arc<Table>)>>,
    fetching: Mutex<()>,
}

#[derive(Deserialize)]
struct TiersBody {
    items: Vec<TierBody>,
}

#[derive(Deserialize)]
struct TierBody {
    name: String,
    limits: Vec<PathLimit>,
}

impl LatchTiers {
    fn current(&self) -> Option<(Instant, Arc<Table>)> {
        self.table
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The limits, read again when older than `refresh` (one reader at a
    /// time; the others use the limits held meanwhile).
    async fn table(&self) -> Result<Arc<Table>, GuardError> {
        if let Some((at, table)) = self.current()
            && at.elapsed() < self.refresh
        {
            return Ok(table);
        }
        let _reading = self.fetching.lock().await;
        if let Some((at, table)) = self.current()
            && at.elapsed() < self.refresh
        {
            return Ok(table);
        }
        match self.fetch().await {
            Ok(table) => {
                let table = Arc::new(table);
                *self
                    .table
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Some((Instant::now(), table.clone()));
                Ok(table)
            }
            Err(err) => {
                tracing::warn!(error = %err, "could not read the tiers from Latch");
                // Keep enforcing the last limits read; with none, refuse.
                self.current()
                    .map(|(_, table)| table)
                    .ok_or(GuardError::Unavailable)
            }
        }
    }

    async fn fetch(&self) -> Result<Table, String> {
        let client = self
            .client
            .as_ref()
            .ok_or("TierLimits::from_latch needs Guard introspection credentials")?;
        let body: TiersBody = client
            .http
            .get(&client.url)
            .basic_auth(&client.client_id, Some(&client.client_secret))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        Ok(body
            .items
            .into_iter()
            .map(|tier| (tier.name, tier.limits))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_covers_its_path_and_the_paths_below_it_only() {
        let limit = PathLimit::new("/reports", 1, 1);
        assert!(limit.covers("/reports"));
        assert!(limit.covers("/reports/42"));
        assert!(!limit.covers("/reportsX"));
        assert!(!limit.covers("/other"));
        assert!(PathLimit::new("/", 1, 1).covers("/anything"));
    }

    #[tokio::test]
    async fn the_most_specific_limit_applies_per_user() {
        let limits = TierLimits::fixed([(
            "free",
            vec![PathLimit::new("/", 100, 60), PathLimit::new("/reports", 2, 60)],
        )]);
        let (ada, bob) = (Uuid::new_v4(), Uuid::new_v4());
        limits.admit(ada, "free", "/reports/1").await.unwrap();
        limits.admit(ada, "free", "/reports/2").await.unwrap();
        let refused = limits.admit(ada, "free", "/reports").await.unwrap_err();
        assert!(
            matches!(refused, GuardError::RateLimited { limit: 2, .. }),
            "{refused:?}"
        );
        limits.admit(ada, "free", "/elsewhere").await.unwrap();
        limits.admit(bob, "free", "/reports").await.unwrap();
        limits.admit(ada, "unlisted", "/reports").await.unwrap();
    }
}
