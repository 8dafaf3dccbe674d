//! Throttling failed attempts, per client address (feature `throttle`).
//!
//! ```
//! use std::time::Duration;
//! use api_key_auth::{throttle::Throttle, Authenticator, MemoryStore};
//!
//! let auth = Authenticator::builder(MemoryStore::new())
//!     .throttle(Throttle::new(10, Duration::from_secs(60))) // the default: 10 a minute
//!     .build()?;
//! # let _ = auth; Ok::<(), api_key_auth::ConfigError>(())
//! ```
//!
//! A client address that failed `failures` times within `per` (a wrong,
//! unknown, revoked, expired or malformed key; not a missing one, not a
//! store failure, never a success) gets `429 Too Many Requests` with
//! `Retry-After` until its budget allows another attempt, before anything
//! of the request is parsed, hashed or looked up. The budget is a GCRA (the
//! [`governor`](https://docs.rs/governor) crate): `failures` at once, then
//! one more every `per / failures`.
//!
//! Addresses count as the [`client`](crate::client) module says: IPv6 by
//! /64. Nothing is counted per key prefix: a prefix is no secret, and a
//! lockout by prefix would let anyone lock a customer out.
//!
//! Memory is bounded whatever the number of addresses: at most
//! [`max_addresses`](Throttle::max_addresses) are remembered (100,000 by
//! default), the least useful forgotten first, and an address is forgotten
//! once its budget is whole again.

use std::{
    num::NonZeroU32,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use governor::{
    middleware::StateInformationMiddleware,
    nanos::Nanos,
    state::{InMemoryState, NotKeyed, StateStore},
    Quota, RateLimiter,
};

/// How many failed attempts a client address may make, and how fast its
/// budget comes back; see the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    failures: NonZeroU32,
    per: Duration,
    max_addresses: u64,
}

impl Default for Throttle {
    /// 10 failed attempts a minute.
    fn default() -> Self {
        Self::new(10, Duration::from_secs(60))
    }
}

impl Throttle {
    /// `failures` failed attempts (at least 1) per `per` (at least a millisecond).
    pub fn new(failures: u32, per: Duration) -> Self {
        Self {
            failures: NonZeroU32::new(failures).unwrap_or(NonZeroU32::MIN),
            per: per.max(Duration::from_millis(1)),
            max_addresses: 100_000,
        }
    }

    /// Remembers at most `addresses` client addresses; 100,000 by default.
    pub fn max_addresses(mut self, addresses: u64) -> Self {
        self.max_addresses = addresses.max(1);
        self
    }

    /// The quota: `failures` at once, one more every `per / failures`.
    fn quota(&self) -> Quota {
        let every = self.per / self.failures.get();
        Quota::with_period(every.max(Duration::from_nanos(1)))
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(self.failures)
    }
}

/// The failure budgets of client addresses, kept in a bounded cache.
struct Budgets {
    states: moka::sync::Cache<u128, Arc<InMemoryState>>,
}

impl StateStore for Budgets {
    type Key = u128;

    fn measure_and_replace<T, F, E>(&self, key: &u128, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let state = self.states.get_with(*key, Arc::default);
        state.measure_and_replace(&NotKeyed::NonKey, f)
    }
}

type Limiter =
    RateLimiter<u128, Budgets, governor::clock::DefaultClock, StateInformationMiddleware>;

/// A throttle at work: the budgets, and the addresses refused until when.
pub(crate) struct Throttler {
    limiter: Limiter,
    /// The limiter's store, shared with it, to count what it holds.
    states: moka::sync::Cache<u128, Arc<InMemoryState>>,
    /// Addresses out of budget, and when they may try again.
    refused: Refused,
    /// How long one failure's share of the budget takes to come back.
    refill: Duration,
}

impl std::fmt::Debug for Throttler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttler")
            .field("refused", &self.refused.count.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Throttler {
    pub(crate) fn new(config: Throttle) -> Self {
        let quota = config.quota();
        let refill = quota.replenish_interval();
        // An address whose budget is whole again needs no entry: forgotten
        // after the time its whole budget takes to come back.
        let whole_again = refill * config.failures.get();
        let states = moka::sync::Cache::builder()
            .max_capacity(config.max_addresses)
            .time_to_idle(whole_again)
            .build();
        let budgets = Budgets {
            states: states.clone(),
        };
        Self {
            limiter: RateLimiter::<u128, Budgets, governor::clock::DefaultClock>::new(
                quota,
                budgets,
                governor::clock::DefaultClock::default(),
            )
            .with_middleware::<StateInformationMiddleware>(),
            states,
            refused: Refused::new(
                usize::try_from(config.max_addresses).unwrap_or(usize::MAX),
                refill,
            ),
            refill,
        }
    }

    /// How long `client` must wait before trying again, if it is out of
    /// budget: the step before anything else of a request.
    #[inline]
    pub(crate) fn refusal(&self, client: u128) -> Option<Duration> {
        self.refused.of(client)
    }

    /// Counts a failed attempt from `client`; when it spent the last of
    /// the budget, the address is refused until the next share comes back.
    pub(crate) fn failed(&self, client: u128) {
        let blocked_for = match self.limiter.check_key(&client) {
            Ok(snapshot) if snapshot.remaining_burst_capacity() > 0 => return,
            Ok(_) => self.refill,
            Err(not_until) => {
                not_until.wait_time_from(governor::clock::Clock::now(self.limiter.clock()))
            }
        };
        self.refused.insert(client, Instant::now() + blocked_for);
    }

    /// What the throttle holds now.
    pub(crate) fn stats(&self) -> ThrottleStats {
        self.states.run_pending_tasks();
        ThrottleStats {
            addresses: self.states.entry_count(),
            refused: self.refused.live() as u64,
        }
    }
}

/// The addresses refused until when: read by every request, so a map whose
/// reads take no lock (a request from an address not in it costs one
/// atomic load while it is empty, one lookup otherwise), written only on
/// an address's last failure. Bounded: past `max` entries, those whose time
/// is up go, then the soonest to be let in again.
struct Refused {
    map: papaya::HashMap<u128, Instant>,
    /// Entries in `map`; zero lets a request skip the lookup.
    count: AtomicUsize,
    max: usize,
    /// When entries whose time is up were last swept out, and how often.
    swept: std::sync::Mutex<Instant>,
    sweep_every: Duration,
}

impl Refused {
    fn new(max: usize, sweep_every: Duration) -> Self {
        Self {
            map: papaya::HashMap::new(),
            count: AtomicUsize::new(0),
            max: max.max(1),
            swept: std::sync::Mutex::new(Instant::now()),
            sweep_every: sweep_every.max(Duration::from_secs(1)),
        }
    }

    #[inline]
    fn of(&self, client: u128) -> Option<Duration> {
        if self.count.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let map = self.map.pin();
        let until = *map.get(&client)?;
        let left = until.checked_duration_since(Instant::now());
        if left.is_none()
            && map
                .remove_if(&client, |_, at| *at == until)
                .is_ok_and(|r| r.is_some())
        {
            self.count.fetch_sub(1, Ordering::Relaxed);
        }
        left
    }

    fn insert(&self, client: u128, until: Instant) {
        let map = self.map.pin();
        if map.insert(client, until).is_none() {
            self.count.fetch_add(1, Ordering::Relaxed);
        }
        let now = Instant::now();
        let due = self
            .swept
            .try_lock()
            .ok()
            .filter(|swept| now.duration_since(**swept) >= self.sweep_every);
        if map.len() > self.max || due.is_some() {
            drop(due);
            self.sweep(now);
        }
    }

    /// Drops the entries whose time is up; if more than `max` remain, the
    /// soonest to be let in again go too, down to nine tenths of `max`.
    #[cold]
    fn sweep(&self, now: Instant) {
        let Ok(mut swept) = self.swept.try_lock() else {
            return; // another thread sweeps
        };
        *swept = now;
        let map = self.map.pin();
        map.retain(|_, until| *until > now);
        if map.len() > self.max {
            let mut times: Vec<Instant> = map.values().copied().collect();
            let keep = self.max - self.max / 10;
            let cut = times.len() - keep;
            let (_, nth, _) = times.select_nth_unstable(cut);
            let cut = *nth;
            map.retain(|_, until| *until > cut);
        }
        self.count.store(map.len(), Ordering::Relaxed);
    }

    /// Entries whose time is not up.
    fn live(&self) -> usize {
        let now = Instant::now();
        self.map
            .pin()
            .values()
            .filter(|until| **until > now)
            .count()
    }
}

/// What a throttle holds, from [`Authenticator::throttle_stats`](crate::Authenticator::throttle_stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThrottleStats {
    /// Client addresses whose failures are counted (at most `max_addresses`).
    pub addresses: u64,
    /// Addresses refused until their budget allows again.
    pub refused: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_whose_time_is_up_goes_and_the_fast_path_comes_back() {
        let refused = Refused::new(10, Duration::from_secs(60));
        assert_eq!(refused.of(1), None);
        refused.insert(1, Instant::now() + Duration::from_millis(30));
        assert!(refused.of(1).is_some());
        assert_eq!(refused.of(2), None);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(refused.of(1), None);
        assert_eq!(refused.count.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn past_its_bound_the_soonest_let_in_go_first() {
        let refused = Refused::new(100, Duration::from_secs(60));
        let now = Instant::now();
        // Ten whose time is up (swept first), then 200 refused for longer
        // and longer.
        for client in 0..10 {
            refused
                .map
                .pin()
                .insert(client, now - Duration::from_secs(1));
        }
        for client in 10..210u128 {
            refused.insert(client, now + Duration::from_secs(client as u64));
        }
        let held = refused.map.pin().len();
        assert!((90..=100).contains(&held), "{held}");
        assert_eq!(refused.count.load(Ordering::Relaxed), held);
        assert!(refused.of(209).is_some(), "the longest refused is kept");
        assert!(refused.of(5).is_none() && refused.of(10).is_none());
    }
}
