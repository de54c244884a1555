//! Latch's attempt budgets and login backoff counted in Redis:
//! [`RedisRateLimiter`], an adapter of the [`latch_ports::RateLimiter`] port
//! that every instance shares, so N instances allow what one does.
//!
//! Each budget is a GCRA bucket (one key holding its "theoretical arrival
//! time"), each account's backoff a small hash; both updated by one Lua
//! script per call, on Redis's own clock, with a TTL so idle keys disappear.
//! Which addresses count as one client (an IPv6 /64 does) is
//! `latch-rate-limit`'s rule, used as is.
//!
//! **When Redis cannot be reached** the limiter counts in this process
//! instead (the in-memory adapter, same budgets), logs that it does, and goes
//! back to Redis once it answers: limits hold per instance meanwhile, neither
//! failing open (no limits while an attacker has Redis down) nor closed (no
//! logins at all).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use latch_ports::{LimitedAction, RateLimited, RateLimiter, Subject};
use latch_rate_limit::{GovernorRateLimiter, RateLimitConfig, ip_key};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};

/// How long one Redis call may take before the in-process count is used.
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(250);

/// Takes one attempt from a GCRA bucket. KEYS[1]: the bucket; ARGV: the
/// emission interval and the window, in microseconds. Returns 0, or the
/// microseconds until an attempt can succeed.
const ADMIT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local next_tat = tat + interval
if next_tat - now > window then
  return next_tat - now - window
end
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1)
return 0
";

/// The backoff left for an account. KEYS[1]: its hash; ARGV: free failures,
/// base and cap in milliseconds. Returns the milliseconds left, or 0.
const BACKOFF_LEFT: &str = r"
local v = redis.call('HMGET', KEYS[1], 'count', 'last')
if not v[1] then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local past = tonumber(v[1]) - math.max(tonumber(ARGV[1]), 1)
if past < 0 then return 0 end
local wait = math.min(tonumber(ARGV[2]) * 2 ^ math.min(past, 62), tonumber(ARGV[3]))
local left = wait - (now - tonumber(v[2]))
if left > 0 then return left end
return 0
";

/// Counts a failed login. KEYS[1]: the account's hash; ARGV[1]: the cap in
/// milliseconds (an account idle that long starts afresh).
const RECORD_FAILURE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = redis.call('HMGET', KEYS[1], 'count', 'last')
local count = 1
if v[1] and now - tonumber(v[2]) < tonumber(ARGV[1]) then count = tonumber(v[1]) + 1 end
redis.call('HSET', KEYS[1], 'count', count, 'last', now)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return count
";

/// [`RateLimiter`] on Redis, falling back to counting in this process while
/// Redis is unreachable.
pub struct RedisRateLimiter {
    config: RateLimitConfig,
    connection: ConnectionManager,
    prefix: String,
    admit: Script,
    backoff_left: Script,
    record_failure: Script,
    fallback: GovernorRateLimiter,
    degraded: AtomicBool,
}

impl std::fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateLimiter")
            .field("prefix", &self.prefix)
            .field("degraded", &self.degraded)
            .finish_non_exhaustive()
    }
}

/// Why the limiter could not be made.
#[derive(Debug, thiserror::Error)]
#[error("rate_limit.redis_url: {0}")]
pub struct InvalidRedisUrl(#[from] redis::RedisError);

impl RedisRateLimiter {
    /// A limiter on the Redis at `url` (`redis://host:6379/0`), its keys
    /// under `prefix` (`latch:`). Connects on first use, and again after a
    /// failure; nothing is checked here but the URL.
    ///
    /// # Errors
    /// [`InvalidRedisUrl`] for a URL the client cannot use.
    pub fn new(
        url: &str,
        config: RateLimitConfig,
        prefix: impl Into<String>,
    ) -> Result<Self, InvalidRedisUrl> {
        let client = Client::open(url)?;
        let settings = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(RESPONSE_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(1);
        let connection = ConnectionManager::new_lazy_with_config(client, settings)?;
        Ok(Self {
            fallback: GovernorRateLimiter::new(config.clone()),
            config,
            connection,
            prefix: prefix.into(),
            admit: Script::new(ADMIT),
            backoff_left: Script::new(BACKOFF_LEFT),
            record_failure: Script::new(RECORD_FAILURE),
            degraded: AtomicBool::new(false),
        })
    }

    /// Whether the last call counted in this process because Redis did not answer.
    pub fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    /// Notes how the last call went, logging each change once.
    fn note<T>(&self, outcome: redis::RedisResult<T>) -> Option<T> {
        match outcome {
            Ok(value) => {
                if self.degraded.swap(false, Ordering::Relaxed) {
                    tracing::warn!("Redis answers again: rate limits are shared again");
                }
                Some(value)
            }
            Err(err) => {
                if !self.degraded.swap(true, Ordering::Relaxed) {
                    tracing::error!(error = %err, "Redis unreachable: rate limits are counted per instance until it answers");
                }
                None
            }
        }
    }

    fn account_key(&self, account: &str) -> String {
        format!("{}backoff:{account}", self.prefix)
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn admit(&self, action: LimitedAction, subject: Subject<'_>) -> Result<(), RateLimited> {
        if !self.config.enabled {
            return Ok(());
        }
        let (budget, kind, key) = match subject {
            Subject::Ip(ip) => (self.config.per_ip.get(action), "ip", ip_key(ip).into_owned()),
            Subject::Account(account) => (self.config.per_account.get(action), "account", account.to_owned()),
        };
        if budget.is_unlimited() {
            return Ok(());
        }
        let window = budget.window.min(Duration::from_secs(365 * 24 * 3600));
        let interval = window / budget.attempts;
        let bucket = format!("{}budget:{}:{kind}:{key}", self.prefix, action.as_str());
        let outcome = self
            .admit
            .key(bucket)
            .arg(micros(interval))
            .arg(micros(window))
            .invoke_async::<u64>(&mut self.connection.clone())
            .await;
        let Some(wait_micros) = self.note(outcome) else {
            return self.fallback.admit(action, subject).await;
        };
        if wait_micros == 0 {
            return Ok(());
        }
        Err(RateLimited {
            retry_after: Duration::from_micros(wait_micros).max(Duration::from_millis(1)),
            limit: budget.attempts,
            window: budget.window,
        })
    }

    async fn login_backoff(&self, account: &str) -> Result<(), RateLimited> {
        if !self.config.enabled {
            return Ok(());
        }
        let outcome = self
            .backoff_left
            .key(self.account_key(account))
            .arg(self.config.free_failures)
            .arg(millis(self.config.backoff_base))
            .arg(millis(self.config.backoff_max))
            .invoke_async::<u64>(&mut self.connection.clone())
            .await;
        let Some(left) = self.note(outcome) else {
            return self.fallback.login_backoff(account).await;
        };
        if left == 0 {
            return Ok(());
        }
        Err(RateLimited {
            retry_after: Duration::from_millis(left),
            limit: self.config.free_failures,
            window: self.config.backoff_max,
        })
    }

    async fn record_login_failure(&self, account: &str) {
        if !self.config.enabled {
            return;
        }
        let outcome = self
            .record_failure
            .key(self.account_key(account))
            .arg(millis(self.config.backoff_max).max(1))
            .invoke_async::<u64>(&mut self.connection.clone())
            .await;
        if self.note(outcome).is_none() {
            self.fallback.record_login_failure(account).await;
        }
    }

    async fn record_login_success(&self, account: &str) {
        if !self.config.enabled {
            return;
        }
        let outcome = redis::cmd("DEL")
            .arg(self.account_key(account))
            .query_async::<u64>(&mut self.connection.clone())
            .await;
        if self.note(outcome).is_none() {
            self.fallback.record_login_success(account).await;
        }
    }
}
