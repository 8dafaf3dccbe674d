//! The limiter of this process (feature `rate-limit`): a GCRA cell per
//! budget, from the `governor` crate.

use std::sync::Arc;

use async_trait::async_trait;
use governor::{
    clock::{Clock, QuantaClock},
    middleware::StateInformationMiddleware,
    state::{InMemoryState, NotKeyed},
    Quota, RateLimiter as Gcra,
};

use super::{budget_of, RateDecision, RateLimit, RateLimiter};
use crate::store::{KeyRecord, StoreError};

/// A GCRA cell of one key: its limit, and the limiter kept for it.
struct KeyCell {
    limit: RateLimit,
    gcra: Gcra<NotKeyed, InMemoryState, QuantaClock, StateInformationMiddleware>,
}

impl KeyCell {
    fn new(limit: RateLimit, clock: &QuantaClock) -> Self {
        let burst = std::num::NonZeroU32::new(limit.burst()).unwrap_or(std::num::NonZeroU32::MIN);
        let quota = Quota::with_period(limit.interval())
            .unwrap_or_else(|| Quota::per_second(std::num::NonZeroU32::MIN))
            .allow_burst(burst);
        Self {
            limit,
            gcra: Gcra::direct_with_clock(quota, clock.clone())
                .with_middleware::<StateInformationMiddleware>(),
        }
    }

    fn check(&self, clock: &QuantaClock) -> RateDecision {
        match self.gcra.check() {
            Ok(snapshot) => RateDecision::allow(snapshot.remaining_burst_capacity()),
            Err(not_until) => RateDecision::refuse(not_until.wait_time_from(clock.now())),
        }
    }
}

/// Budgets by name, in a map whose reads take no lock.
type Cells = Arc<papaya::HashMap<Arc<str>, Arc<KeyCell>, foldhash::fast::RandomState>>;

/// Keys' limits kept in this process: one GCRA cell per key (and per owner
/// whose keys share a limit), in maps whose reads take no lock. The default
/// of every authenticator. Instances of a service each keep their own: a key
/// limited to 100/s gets 100/s from each; `RedisRateLimiter` shares one.
#[derive(Clone)]
pub struct LocalRateLimiter {
    /// Keys' budgets, by their chain's first key.
    cells: Cells,
    /// Owners' shared budgets, by owner: apart from keys', so that no key id
    /// can name an owner's budget.
    owners: Cells,
    clock: QuantaClock,
}

impl Default for LocalRateLimiter {
    fn default() -> Self {
        let cells = || {
            Arc::new(papaya::HashMap::with_hasher(
                foldhash::fast::RandomState::default(),
            ))
        };
        Self {
            cells: cells(),
            owners: cells(),
            clock: QuantaClock::default(),
        }
    }
}

impl std::fmt::Debug for LocalRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalRateLimiter")
            .field("keys", &self.cells.len())
            .finish()
    }
}

impl LocalRateLimiter {
    /// An empty limiter.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many keys it keeps a cell for.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether it keeps no cell.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    #[inline]
    fn decide(&self, key: &KeyRecord, limit: &RateLimit) -> RateDecision {
        self.decide_in(&self.cells, budget_of(key), limit)
    }

    #[inline]
    fn decide_in(&self, cells: &Cells, budget: &str, limit: &RateLimit) -> RateDecision {
        if let Some(cell) = cells.pin().get(budget) {
            if cell.limit == *limit {
                return cell.check(&self.clock);
            }
        }
        self.fresh(cells, budget, limit)
    }

    /// A budget seen for the first time (one cell, whoever of many requests
    /// at once makes it), or whose limit changed (a new cell).
    #[cold]
    fn fresh(&self, cells: &Cells, budget: &str, limit: &RateLimit) -> RateDecision {
        let cells = cells.pin();
        let budget: Arc<str> = Arc::from(budget);
        let cell = cells.get_or_insert_with(budget.clone(), || {
            Arc::new(KeyCell::new(*limit, &self.clock))
        });
        if cell.limit == *limit {
            return cell.check(&self.clock);
        }
        let cell = Arc::new(KeyCell::new(*limit, &self.clock));
        let decision = cell.check(&self.clock);
        cells.insert(budget, cell);
        decision
    }
}

#[async_trait]
impl RateLimiter for LocalRateLimiter {
    fn check_now(&self, key: &KeyRecord, limit: &RateLimit) -> Option<RateDecision> {
        Some(self.decide(key, limit))
    }

    async fn check(&self, key: &KeyRecord, limit: &RateLimit) -> Result<RateDecision, StoreError> {
        Ok(self.decide(key, limit))
    }

    fn check_owner_now(&self, owner: &str, limit: &RateLimit) -> Option<RateDecision> {
        Some(self.decide_in(&self.owners, owner, limit))
    }

    async fn check_owner(
        &self,
        owner: &str,
        limit: &RateLimit,
    ) -> Result<RateDecision, StoreError> {
        Ok(self.decide_in(&self.owners, owner, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{hash::Hasher, key::ApiKey};

    fn record(id: &str, replaces: Option<&str>) -> KeyRecord {
        let key = ApiKey::generate().unwrap();
        let mut record = KeyRecord::new(id, "k", key.prefix(), Hasher::sha256().hash(&key));
        record.replaces = replaces.map(str::to_owned);
        record
    }

    /// A rotation's new key spends what is left of the old key's budget:
    /// rotating a key that has spent its budget does not give the new key
    /// a whole one.
    #[test]
    fn a_rotation_s_new_key_spends_the_old_key_s_budget() {
        let limiter = LocalRateLimiter::new();
        let limit: RateLimit = "2/m".parse().unwrap();
        let old = record("old", None);
        let new = record("new", Some("old"));
        assert!(limiter.decide(&old, &limit).allowed);
        assert!(limiter.decide(&old, &limit).allowed);
        assert!(!limiter.decide(&new, &limit).allowed);
        assert!(!limiter.decide(&old, &limit).allowed);
        assert!(limiter.decide(&record("other", None), &limit).allowed);
    }

    /// Many first requests at once make one cell between them, not one
    /// each, as a get-then-insert would, handing each its own burst.
    #[test]
    fn first_requests_at_once_share_one_budget() {
        for _ in 0..20 {
            let limiter = LocalRateLimiter::new();
            let limit: RateLimit = "5/h".parse().unwrap();
            let key = Arc::new(record("k", None));
            let start = Arc::new(std::sync::Barrier::new(8));
            let allowed: usize = (0..8)
                .map(|_| {
                    let (limiter, key, start) = (limiter.clone(), key.clone(), start.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        (0..4)
                            .filter(|_| limiter.decide(&key, &limit).allowed)
                            .count()
                    })
                })
                .collect::<Vec<_>>()
                .into_iter()
                .map(|thread| thread.join().unwrap())
                .sum();
            assert_eq!(allowed, 5);
        }
    }
}
