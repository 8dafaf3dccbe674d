//! Keys' rate limits shared through Redis (features `rate-limit` and `redis`).

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use redis::Script;

use api_key_auth_core::rate_limit::{budget_of, RateDecision, RateLimiter};

use crate::{
    rate_limit::RateLimit,
    store::{KeyRecord, StoreError},
    RedisConnection, RedisStore,
};

/// One request against a key's limit, as a GCRA on Redis's clock, in
/// microseconds.
///
/// KEYS: the key's state (its theoretical arrival time). ARGV: the interval
/// between requests, the burst. Answers allowed (1 or 0), how many more may
/// come at once, and the wait before the next.
const GCRA: &str = r"
redis.replicate_commands()
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = tonumber(ARGV[1])
local tolerance = interval * (tonumber(ARGV[2]) - 1)
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then
  tat = now
end
if now < tat - tolerance then
  return {0, 0, tat - tolerance - now}
end
local next_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1)
return {1, math.floor((now + tolerance - next_tat) / interval) + 1, 0}
";

/// Keys' rate limits held in Redis, shared by every instance that asks the same
/// Redis under the same namespace: three servers enforce one limit between
/// them.
///
/// One script per request (a GCRA on Redis's own clock, so the instances'
/// clocks need not agree); state under `ns:rate:<key id>` (for a rotation's new
/// key, the replaced key's id: the two share one budget), gone once the budget
/// is whole again. On a Redis Cluster each key's state is in the slot of its
/// own name (no hash tag), so the writes every request makes spread over the
/// primaries.
///
/// ```no_run
/// use api_key_auth::{rate_limit::RedisRateLimiter, store::redis::RedisStore, Authenticator};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let store = RedisStore::connect("redis://127.0.0.1:6379").await?;
/// let auth = Authenticator::builder(store.clone())
///     .rate_limiter(RedisRateLimiter::new(&store))
///     .build()?;
/// # let _ = auth; Ok(()) }
/// ```
///
/// A Redis that does not answer is a 503 for a rate-limited key, never
/// a pass without a limit.
#[derive(Clone)]
pub struct RedisRateLimiter {
    connection: RedisConnection,
    namespace: Arc<str>,
    gcra: Arc<Script>,
}

impl std::fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateLimiter")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl RedisRateLimiter {
    /// A rate limiter on `store`'s Redis and namespace, to pass to
    /// [`AuthenticatorBuilder::rate_limiter`](api_key_auth_core::AuthenticatorBuilder::rate_limiter).
    pub fn new(store: &RedisStore) -> Self {
        let (connection, namespace) = store.connection();
        Self {
            connection,
            namespace,
            gcra: Arc::new(Script::new(GCRA)),
        }
    }
}

impl RedisRateLimiter {
    /// One request against the budget kept at `budget` (a Redis key).
    async fn spend(&self, budget: String, limit: &RateLimit) -> Result<RateDecision, StoreError> {
        let interval = u64::try_from(limit.interval().as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        let (allowed, remaining, wait): (i64, i64, i64) = self
            .gcra
            .key(budget)
            .arg(interval)
            .arg(limit.burst())
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::unavailable)?;
        Ok(if allowed == 1 {
            RateDecision::allow(u32::try_from(remaining.max(0)).unwrap_or(u32::MAX))
        } else {
            RateDecision::refuse(Duration::from_micros(
                u64::try_from(wait.max(0)).unwrap_or(0),
            ))
        })
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn check(&self, key: &KeyRecord, limit: &RateLimit) -> Result<RateDecision, StoreError> {
        self.spend(format!("{}:rate:{}", self.namespace, budget_of(key)), limit)
            .await
    }

    /// An owner's budget, under `ns:owner-rate:` (apart from keys').
    async fn check_owner(
        &self,
        owner: &str,
        limit: &RateLimit,
    ) -> Result<RateDecision, StoreError> {
        self.spend(format!("{}:owner-rate:{owner}", self.namespace), limit)
            .await
    }
}
