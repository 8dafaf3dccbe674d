//! Leased usage credits: an instance takes a block of a key's credits from
//! the store at a time and spends them in memory, so that a request with
//! credits left in its block waits on nothing.
//!
//! ```
//! use api_key_auth::{
//!     store::{CreditSpend, KeyStore}, Authenticator, CreditLeases, KeyManager, MemoryStore,
//!     NewKey,
//! };
//! use http::HeaderMap;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! let (record, key) = store.create(NewKey::named("metered").credits(1000, None)).await?.reveal();
//! let auth = Authenticator::builder(store.clone())
//!     .credit_leases(CreditLeases::blocks_of(100)?)
//!     .build()?;
//!
//! let mut headers = HeaderMap::new();
//! headers.insert("authorization", format!("Api-Key {}", key.expose_secret()).parse()?);
//! auth.authenticate(&headers).await?;
//! // The store counts the whole block as taken; this instance holds 99.
//! let left = store.spend_credits(&record, 1).await?;
//! assert_eq!(left, CreditSpend::Spent { remaining: Some(899) });
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! What leasing gives up, against spending each credit on the store:
//!
//! - **Credits taken but never spent.** A block is gone from the key's
//!   count once taken: what an instance holds when it stops (or when the
//!   key is revoked) is never spent. At most one block per instance and
//!   key.
//! - **Refusals while another instance holds credits.** An instance whose
//!   store has none left refuses even when another instance still holds
//!   part of a block: at most `(instances − 1) × block` credits are refused
//!   early. Lease keys whose counts are large beside `instances × block`.
//! - **Overspend, at most one block per instance and refill.** Without a
//!   refill there is none: every credit spent was taken from the count
//!   first. With one, what an instance holds is dropped at the refill as
//!   its own clock reads it; where the store refills by another clock
//!   (Redis's), an instance whose clock is behind may spend what it held
//!   for as long as the two disagree, after the store has refilled.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, SystemTime},
};

use crate::{
    error::ConfigError,
    key::Prefix,
    store::{CreditLease, KeyRecord, KeyStore, StoreError, MAX_CREDITS},
};

/// How an authenticator leases keys' credits: a block at a time, for at
/// most so many keys (the rest are spent on the store one request at a
/// time). See the [module](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreditLeases {
    block: u64,
    max_keys: usize,
}

impl CreditLeases {
    /// How many keys hold leases unless told otherwise.
    pub const DEFAULT_MAX_KEYS: usize = 100_000;

    /// Blocks of `block` credits (1 to [`MAX_CREDITS`]). A larger block asks
    /// the store less often and strands more credits per instance.
    pub fn blocks_of(block: u64) -> Result<Self, ConfigError> {
        if block == 0 || block > MAX_CREDITS {
            return Err(ConfigError::LeaseBlock(block));
        }
        Ok(Self {
            block,
            max_keys: Self::DEFAULT_MAX_KEYS,
        })
    }

    /// Leases for at most `keys` keys at once; further keys' credits are
    /// spent on the store, exactly, one request at a time.
    pub fn max_keys(mut self, keys: usize) -> Self {
        self.max_keys = keys;
        self
    }

    /// The block.
    pub fn block(&self) -> u64 {
        self.block
    }
}

/// What spending from a lease came to, without waiting.
#[derive(Debug)]
pub(crate) enum LeaseSpend {
    /// Spent from the lease.
    Spent,
    /// Spent, and the lease is low: take the next block now, off the
    /// request path ([`Leases::top_up`]).
    SpentRunningLow(Arc<Lease>),
    /// Too few held: a block must be taken, and waited for.
    Wait,
    /// The store said none is left, a moment ago: refused without asking
    /// again. With a refill, when it comes.
    Exhausted(Option<SystemTime>),
    /// Too many keys hold leases: spend on the store.
    Exact,
}

/// An authenticator's leases, by prefix.
#[derive(Debug)]
pub(crate) struct Leases {
    config: CreditLeases,
    held: papaya::HashMap<Prefix, Arc<Lease>, foldhash::fast::RandomState>,
    count: AtomicUsize,
}

/// One key's lease.
#[derive(Debug)]
pub(crate) struct Lease {
    id: Box<str>,
    /// Credits held.
    left: AtomicU64,
    /// When what is held lapses (the key's next refill), in milliseconds
    /// since the epoch; `u64::MAX` for never.
    lapses_ms: AtomicU64,
    /// Until when the store's "none left" stands, in milliseconds; 0 for
    /// not exhausted.
    exhausted_until_ms: AtomicU64,
    /// The refill the store named when it said none is left; 0 for none.
    next_refill_ms: AtomicU64,
    /// Whether a block is being taken in the background.
    topping_up: AtomicBool,
    /// One take at a time.
    taking: tokio::sync::Mutex<()>,
}

/// How long a store's "none left" is believed before it is asked again
/// (unless its refill comes sooner).
const EXHAUSTED_FOR: Duration = Duration::from_secs(1);

/// How many blocks a request waits to be taken for it before it gives up
/// (503): others spent each before it could.
const MAX_ROUNDS: usize = 8;

fn millis(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

fn from_millis(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
}

impl Lease {
    fn new(id: &str) -> Self {
        Self {
            id: id.into(),
            left: AtomicU64::new(0),
            lapses_ms: AtomicU64::new(u64::MAX),
            exhausted_until_ms: AtomicU64::new(0),
            next_refill_ms: AtomicU64::new(0),
            topping_up: AtomicBool::new(false),
            taking: tokio::sync::Mutex::new(()),
        }
    }

    /// Spends `cost` from what is held, if it has not lapsed; the credits
    /// left then, or why not. The store's "none left" refuses only once
    /// what is held is spent.
    #[inline]
    fn spend(&self, cost: u64) -> Result<u64, Empty> {
        self.pay(cost, true)
    }

    /// Whether `cost` could be spent now, spending nothing; what is held.
    fn holds(&self, cost: u64) -> Result<u64, Empty> {
        self.pay(cost, false)
    }

    #[inline]
    fn pay(&self, cost: u64, spend: bool) -> Result<u64, Empty> {
        let lapses = self.lapses_ms.load(Ordering::Acquire);
        let mut now = None;
        if lapses != u64::MAX {
            let at = millis(SystemTime::now());
            if at >= lapses {
                return Err(Empty::Lapsed);
            }
            now = Some(at);
        }
        let spent = if spend {
            self.left
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                    left.checked_sub(cost)
                })
                .map(|before| before - cost)
        } else {
            let left = self.left.load(Ordering::Acquire);
            left.checked_sub(cost).map(|_| left).ok_or(left)
        };
        spent.map_err(|_| {
            let exhausted = self.exhausted_until_ms.load(Ordering::Acquire);
            let now = now.unwrap_or_else(|| millis(SystemTime::now()));
            if now < exhausted {
                let next = self.next_refill_ms.load(Ordering::Acquire);
                return Empty::Exhausted((next != 0).then(|| from_millis(next)));
            }
            Empty::Short
        })
    }

    /// Puts `count` credits taken at `now` into the lease, those held from
    /// before a refill dropped.
    fn deposit(&self, record: &KeyRecord, count: u64, now: SystemTime) {
        let lapses = record
            .credits
            .and_then(|credits| credits.next_refill(now))
            .map_or(u64::MAX, millis);
        if self.lapses_ms.load(Ordering::Acquire) <= millis(now) {
            self.left.store(0, Ordering::Release);
        }
        self.lapses_ms.store(lapses, Ordering::Release);
        self.exhausted_until_ms.store(0, Ordering::Release);
        self.left.fetch_add(count, Ordering::AcqRel);
    }

    /// Notes the store's "none left" at `now`; what was held from before
    /// a refill is dropped.
    fn exhausted(&self, next_refill: Option<SystemTime>, now: SystemTime) {
        if self.lapses_ms.load(Ordering::Acquire) <= millis(now) {
            self.left.store(0, Ordering::Release);
            self.lapses_ms.store(u64::MAX, Ordering::Release);
        }
        let until = now + EXHAUSTED_FOR;
        let until = next_refill.map_or(until, |next| next.min(until));
        self.next_refill_ms
            .store(next_refill.map_or(0, millis), Ordering::Release);
        self.exhausted_until_ms
            .store(millis(until).max(1), Ordering::Release);
    }
}

/// Why a lease could not pay.
#[derive(Debug)]
enum Empty {
    /// It holds fewer than the cost.
    Short,
    /// What it held was from before the key's refill.
    Lapsed,
    /// The store said none is left, a moment ago.
    Exhausted(Option<SystemTime>),
}

impl Leases {
    pub(crate) fn new(config: CreditLeases) -> Self {
        Self {
            config,
            held: papaya::HashMap::with_hasher(foldhash::fast::RandomState::default()),
            count: AtomicUsize::new(0),
        }
    }

    /// Spends `cost` of `record`'s credits from its lease, if that can be
    /// done at once.
    #[inline]
    pub(crate) fn spend_now(&self, record: &KeyRecord, cost: u64) -> LeaseSpend {
        let held = self.held.pin();
        let Some(lease) = held.get(&record.prefix) else {
            return if self.count.load(Ordering::Relaxed) >= self.config.max_keys {
                LeaseSpend::Exact
            } else {
                LeaseSpend::Wait
            };
        };
        if *lease.id != *record.id {
            return LeaseSpend::Wait;
        }
        match lease.spend(cost) {
            Ok(left) if left < self.config.block / 2 + 1 => {
                if lease.topping_up.swap(true, Ordering::AcqRel) {
                    LeaseSpend::Spent
                } else {
                    LeaseSpend::SpentRunningLow(lease.clone())
                }
            }
            Ok(_) => LeaseSpend::Spent,
            Err(Empty::Exhausted(next_refill)) => LeaseSpend::Exhausted(next_refill),
            Err(Empty::Short | Empty::Lapsed) => LeaseSpend::Wait,
        }
    }

    /// Whether `record`'s key is leased: it holds a lease, or there is
    /// room for one.
    pub(crate) fn covers(&self, record: &KeyRecord) -> bool {
        self.count.load(Ordering::Relaxed) < self.config.max_keys
            || self.held.pin().contains_key(&record.prefix)
    }

    /// The lease of `record`'s key, made (or made anew for a key of the
    /// same prefix) if need be.
    fn lease_of(&self, record: &KeyRecord) -> Arc<Lease> {
        let held = self.held.pin();
        if let Some(lease) = held.get(&record.prefix) {
            if *lease.id == *record.id {
                return lease.clone();
            }
        }
        let fresh = || Arc::new(Lease::new(&record.id));
        let mut added = false;
        let lease = held.update_or_insert_with(
            record.prefix,
            |old| {
                if *old.id == *record.id {
                    old.clone()
                } else {
                    fresh()
                }
            },
            || {
                added = true;
                fresh()
            },
        );
        if added {
            self.count.fetch_add(1, Ordering::Relaxed);
        }
        lease.clone()
    }

    /// Takes the next block for a lease running low, in the background
    /// (on the tokio runtime, when there is one), so that no request waits
    /// for it.
    pub(crate) fn top_up(
        &self,
        store: Arc<dyn KeyStore>,
        record: Arc<KeyRecord>,
        lease: Arc<Lease>,
    ) {
        let block = self.config.block;
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            lease.topping_up.store(false, Ordering::Release);
            return;
        };
        runtime.spawn(async move {
            let taking = lease.taking.lock().await;
            // A store that said a moment ago that none is left is not asked
            // again before what is held runs out.
            let told = lease.exhausted_until_ms.load(Ordering::Acquire);
            let outcome = if millis(SystemTime::now()) < told {
                Ok(())
            } else {
                take(&*store, &record, &lease, block).await
            };
            drop(taking);
            lease.topping_up.store(false, Ordering::Release);
            if let Err(error) = outcome {
                tracing::debug!(prefix = %record.prefix, %error, "a credit lease was not topped up");
            }
        });
    }

    /// Spends `cost` of `record`'s credits, taking a block from `store`
    /// first when the lease holds too few: `Ok(None)` when spent,
    /// `Ok(Some(next refill))` when the store has too few left.
    ///
    /// The take runs as a task of its own where there is a runtime, so
    /// that a request that goes away while it is under way loses nothing:
    /// the block lands in the lease all the same.
    pub(crate) async fn spend(
        &self,
        store: &Arc<dyn KeyStore>,
        record: &Arc<KeyRecord>,
        cost: u64,
    ) -> Result<Result<(), Option<SystemTime>>, StoreError> {
        let lease = self.lease_of(record);
        let up_to = self.config.block.max(cost);
        for _ in 0..MAX_ROUNDS {
            match lease.spend(cost) {
                Ok(_) => return Ok(Ok(())),
                Err(Empty::Exhausted(next_refill)) => return Ok(Err(next_refill)),
                Err(Empty::Short | Empty::Lapsed) => {}
            }
            let round = {
                let (store, record, lease) = (store.clone(), record.clone(), lease.clone());
                async move {
                    let _taking = lease.taking.lock().await;
                    // Another request's take may have landed meanwhile, or
                    // found none left.
                    match lease.holds(cost) {
                        Ok(_) | Err(Empty::Exhausted(_)) => Ok(()),
                        Err(Empty::Short | Empty::Lapsed) => {
                            take(&*store, &record, &lease, up_to).await
                        }
                    }
                }
            };
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => runtime.spawn(round).await.unwrap_or_else(|_| {
                    Err(StoreError::unavailable(
                        "taking a block of credits stopped part way",
                    ))
                }),
                Err(_) => round.await,
            }?;
        }
        Err(StoreError::unavailable(
            "other requests spent every block of credits taken for this one",
        ))
    }
}

/// Takes up to `up_to` of `record`'s credits from `store` into `lease`, or
/// notes that none is left.
async fn take(
    store: &dyn KeyStore,
    record: &KeyRecord,
    lease: &Lease,
    up_to: u64,
) -> Result<(), StoreError> {
    let taken = store.lease_credits(record, up_to).await?;
    let now = SystemTime::now();
    match taken {
        CreditLease::Taken { count } => lease.deposit(record, count, now),
        CreditLease::Exhausted { next_refill } => lease.exhausted(next_refill, now),
    }
    Ok(())
}
