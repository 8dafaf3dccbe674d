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
//! Addresses count as the [`client_addr`](crate::client_addr) module says: IPv6 by
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
        atomic::{AtomicIsize, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use crate::error::AuthFailure;
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
    /// `failures` failed attempts (at least 1) per `per` (a millisecond to
    /// a year; outside that, the nearest).
    pub fn new(failures: u32, per: Duration) -> Self {
        Self {
            failures: NonZeroU32::new(failures).unwrap_or(NonZeroU32::MIN),
            per: per.clamp(Duration::from_millis(1), Duration::from_secs(366 * 86_400)),
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
    /// Requests that came with no client address, so went uncounted.
    unaddressed: AtomicU64,
}

impl std::fmt::Debug for Throttler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttler")
            .field(
                "refused",
                &self.refused.count.load(Ordering::Relaxed).max(0),
            )
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
            unaddressed: AtomicU64::new(0),
        }
    }

    /// Notes a request that came with no client address: the server does
    /// not give one the layer knows, and the throttle cannot count it. Said
    /// once, as a warning, and counted in the stats.
    #[cold]
    pub(crate) fn unaddressed(&self) {
        if self.unaddressed.fetch_add(1, Ordering::Relaxed) == 0 {
            tracing::warn!(
                "a request came with no client address, so the throttle of failed attempts \
                 cannot count it: serve axum with into_make_service_with_connect_info, insert \
                 api_key_auth::client_addr::ClientAddr into requests (plain hyper; tonic over TLS), \
                 or use the actix-web middleware"
            );
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

    /// Whether `client` has a failed attempt on record: its budget is not
    /// whole.
    pub(crate) fn has_failed(&self, client: u128) -> bool {
        self.states.contains_key(&client)
    }

    /// What the throttle holds now.
    pub(crate) fn stats(&self) -> ThrottleStats {
        self.states.run_pending_tasks();
        ThrottleStats {
            addresses: self.states.entry_count(),
            refused: self.refused.live() as u64,
            unaddressed: self.unaddressed.load(Ordering::Relaxed),
        }
    }
}

/// The throttle as a policy: it refuses a client out of its budget, and
/// counts every failed attempt against the client that made it.
impl crate::policy::Policy for Throttler {
    fn wants_client(&self) -> bool {
        true
    }

    fn unaddressed(&self) {
        Throttler::unaddressed(self);
    }

    #[inline]
    fn refuse_client(&self, client: std::net::IpAddr) -> Option<AuthFailure> {
        let retry_after = self.refusal(bucket(client))?;
        Some(AuthFailure::Throttled {
            client,
            retry_after,
        })
    }

    fn suspects(&self, client: std::net::IpAddr) -> bool {
        self.has_failed(bucket(client))
    }

    fn charge(&self, client: std::net::IpAddr) {
        self.failed(bucket(client));
    }

    #[inline]
    fn refused(&self, failure: &AuthFailure, client: Option<std::net::IpAddr>) {
        if let Some(client) = client.filter(|_| failure.is_failed_attempt()) {
            self.failed(bucket(client));
        }
    }
}

/// The addresses refused until when: read by every request, so a map whose
/// reads take no lock (a request from an address not in it costs one atomic
/// load while it is empty, one lookup otherwise), written only on an address's
/// last failure.
///
/// Bounded: past `max` entries, those whose time is up go, then the soonest to
/// be let in again.
struct Refused {
    map: papaya::HashMap<u128, Instant>,
    /// Entries in `map`, moved only with an entry's own insertion or
    /// removal (never set from a count of the map, which a removal racing
    /// it would leave too low): zero or less lets a request skip the lookup.
    count: AtomicIsize,
    max: usize,
    /// When entries whose time is up were last swept out, and how often.
    swept: std::sync::Mutex<Instant>,
    sweep_every: Duration,
}

impl Refused {
    fn new(max: usize, sweep_every: Duration) -> Self {
        Self {
            map: papaya::HashMap::new(),
            count: AtomicIsize::new(0),
            max: max.max(1),
            swept: std::sync::Mutex::new(Instant::now()),
            sweep_every: sweep_every.max(Duration::from_secs(1)),
        }
    }

    #[inline]
    fn of(&self, client: u128) -> Option<Duration> {
        if self.count.load(Ordering::Relaxed) <= 0 {
            return None;
        }
        let map = self.map.pin();
        let until = *map.get(&client)?;
        let left = until.checked_duration_since(Instant::now());
        if left.is_none() {
            self.remove_if(&map, &client, |at| at == until);
        }
        left
    }

    /// Removes `client`'s entry if `expired` says so of its time, and
    /// counts the removal if this call made it.
    fn remove_if(
        &self,
        map: &papaya::HashMapRef<'_, u128, Instant, std::hash::RandomState, impl papaya::Guard>,
        client: &u128,
        expired: impl Fn(Instant) -> bool,
    ) {
        if let Ok(Some(_)) = map.remove_if(client, |_, at| expired(*at)) {
            self.count.fetch_sub(1, Ordering::Relaxed);
        }
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
        let mut held: Vec<(u128, Instant)> = Vec::new();
        for (client, until) in map.iter() {
            if *until <= now {
                self.remove_if(&map, client, |at| at <= now);
            } else {
                held.push((*client, *until));
            }
        }
        let keep = self.max - self.max / 10;
        if held.len() > self.max {
            let cut = held.len().saturating_sub(keep);
            let mut times: Vec<Instant> = held.iter().map(|(_, until)| *until).collect();
            let last = times.len() - 1;
            let (_, nth, _) = times.select_nth_unstable(cut.min(last));
            let cut = *nth;
            for (client, until) in &held {
                if *until <= cut {
                    self.remove_if(&map, client, |at| at <= cut);
                }
            }
        }
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
    /// Requests that came with no client address, and so were not counted
    /// (not zero means the server is not giving the layer its peers).
    pub unaddressed: u64,
}

/// What the throttle counts by: an IPv4 address, or an IPv6 address's /64
/// (one subscriber's network: counting single IPv6 addresses would give
/// each client 2^64 tries).
pub(crate) fn bucket(ip: std::net::IpAddr) -> u128 {
    match crate::client_addr::canonical(ip) {
        std::net::IpAddr::V4(v4) => u128::from(u32::from(v4)) | (0xffff << 32),
        std::net::IpAddr::V6(v6) => u128::from(v6) & !((1u128 << 64) - 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> std::net::IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ipv6_counts_per_64_and_ipv4_per_address() {
        assert_eq!(
            bucket(ip("2001:db8:1:2::1")),
            bucket(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(bucket(ip("2001:db8:1:2::1")), bucket(ip("2001:db8:1:3::1")));
        assert_ne!(bucket(ip("192.0.2.1")), bucket(ip("192.0.2.2")));
        assert_eq!(bucket(ip("::ffff:192.0.2.1")), bucket(ip("192.0.2.1")));
        assert_ne!(bucket(ip("192.0.2.1")), bucket(ip("::c000:201")));
    }

    #[test]
    fn periods_the_limiters_cannot_count_are_clamped_not_a_panic() {
        // governor panics past 584 years, moka past 1000: longer periods
        // are clamped to what they can count.
        for per in [Duration::MAX, Duration::from_secs(600 * 365 * 86_400)] {
            let throttler = Throttler::new(Throttle::new(1, per));
            throttler.failed(7);
            assert!(throttler.refusal(7).is_some());
        }
        Throttler::new(Throttle::new(1, Duration::ZERO)).failed(7);
    }

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

    /// Insertions, removals and sweeps racing leave the count equal to the
    /// entries: it moves with each entry's own insertion and removal.
    ///
    /// A sweep that set it from the map's size while a removal was under way
    /// would leave it short, and refused addresses unlooked-for. That window is
    /// too narrow for this stress test to hit reliably, so it guards the
    /// invariant rather than that interleaving.
    #[test]
    fn the_count_of_refusals_survives_races() {
        let refused = std::sync::Arc::new(Refused::new(1_000_000, Duration::from_secs(1)));
        let threads: Vec<_> = (0..4u128)
            .map(|t| {
                let refused = refused.clone();
                std::thread::spawn(move || {
                    for i in 0..20_000u128 {
                        let client = t * 1_000_000 + i % 64;
                        let now = Instant::now();
                        refused.insert(client, now + Duration::from_micros((i % 5) as u64 * 20));
                        refused.of(client ^ 1);
                        if i % 97 == 0 {
                            refused.sweep(Instant::now());
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let entries = refused.map.pin().iter().count();
        assert_eq!(refused.count.load(Ordering::Relaxed), entries as isize);
    }

    #[test]
    fn past_its_bound_the_soonest_let_in_go_first() {
        let refused = Refused::new(100, Duration::from_secs(60));
        let now = Instant::now();
        // Ten whose time is up (swept first), then 200 refused for longer
        // and longer.
        for client in 0..10 {
            refused.insert(client, now - Duration::from_secs(1));
        }
        for client in 10..210u128 {
            refused.insert(client, now + Duration::from_secs(client as u64));
        }
        let held = refused.map.pin().iter().count();
        assert!((90..=100).contains(&held), "{held}");
        assert_eq!(refused.count.load(Ordering::Relaxed), held as isize);
        assert!(refused.of(209).is_some(), "the longest refused is kept");
        assert!(refused.of(5).is_none() && refused.of(10).is_none());
    }
}
