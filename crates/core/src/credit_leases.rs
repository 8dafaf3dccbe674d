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
//! What leasing gives up, against spending each credit on the store, with
//! `B` the block (an instance holds under two: the next is taken in the
//! background once half of one is spent):
//!
//! - **Credits taken but never spent.** A block is gone from the key's
//!   count once taken: what an instance holds when it stops (or when the
//!   key is revoked) is never spent: under `2B` per instance and key.
//! - **Refusals while another instance holds credits.** An instance whose
//!   store has none left refuses even when another instance still holds
//!   part of a block: under `(instances − 1) × 2B` credits are refused
//!   early. Lease keys whose counts are large beside `instances × B`.
//! - **Overspend, only across a refill.** Without a refill there is none:
//!   every credit spent was taken from the count first. With one, the
//!   store says when the credits' period ends (by its clock) and the
//!   instance drops what it holds then (by its own): an instance whose
//!   clock is behind may spend what it holds (under `2B`) after the store
//!   has refilled, for as long as the clocks disagree; one whose clock is
//!   ahead keeps credits handed out for an ended period a second at most.
//! - **A store timeout** that gives up on a take the store did make loses
//!   that block.
//!
//! A request that costs more than a block is spent on the store, whole or
//! not at all.

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
    /// How many takes have ended (taken, none left, or failed): a request
    /// that waited for another's take uses its outcome rather than ask
    /// the store again.
    takes: AtomicU64,
    /// Until when the last take's failure stands, in milliseconds; 0 when
    /// it did not fail.
    failed_until_ms: AtomicU64,
    /// One take at a time.
    taking: tokio::sync::Mutex<()>,
    /// When the lease was last used, in milliseconds: an idle, empty lease
    /// makes way for another key's when too many are held.
    used_ms: AtomicU64,
}

/// How long a store's "none left" is believed before it is asked again
/// (unless its refill comes sooner).
const EXHAUSTED_FOR: Duration = Duration::from_secs(1);

/// How long credits a store hands out for a period its clock says is over
/// by this instance's clock are spent nonetheless: the two clocks
/// disagree, and the store's is the count's.
const LATE_FOR: Duration = Duration::from_secs(1);

/// How many blocks a request waits to be taken for it before it gives up
/// (503): others spent each before it could.
const MAX_ROUNDS: usize = 8;

fn millis(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

fn millis_of(span: Duration) -> u64 {
    u64::try_from(span.as_millis()).unwrap_or(u64::MAX)
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
            takes: AtomicU64::new(0),
            failed_until_ms: AtomicU64::new(0),
            taking: tokio::sync::Mutex::new(()),
            used_ms: AtomicU64::new(0),
        }
    }

    /// Spends `cost` from what is held, if it has not lapsed; the credits
    /// left then, or why not. The store's "none left" refuses only once
    /// what is held is spent.
    #[inline]
    fn spend(&self, cost: u64) -> Result<u64, Empty> {
        let lapses = self.lapses_ms.load(Ordering::Acquire);
        let mut now = None;
        if lapses != u64::MAX {
            let at = millis(SystemTime::now());
            if at >= lapses {
                return Err(Empty::Lapsed);
            }
            now = Some(at);
        }
        let spent = self
            .left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                left.checked_sub(cost)
            })
            .map(|before| before - cost);
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

    /// Puts `count` credits taken at `now`, for the period that ends at
    /// `lapses`, into the lease. What is held from another period is
    /// dropped: the count was set back since.
    fn deposit(&self, count: u64, lapses: Option<SystemTime>, now: SystemTime) {
        let now_ms = millis(now);
        let lapses = lapses.map_or(u64::MAX, |at| {
            millis(at).max(now_ms.saturating_add(millis_of(LATE_FOR)))
        });
        let held = self.lapses_ms.swap(lapses, Ordering::AcqRel);
        if held != lapses || held <= now_ms {
            self.left.store(0, Ordering::Release);
        }
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

    /// Whether a request of `cost` is spent from a lease: one that costs
    /// more than a block is spent on the store, whole or not at all.
    #[inline]
    pub(crate) fn leases(&self, cost: u64) -> bool {
        cost <= self.config.block
    }

    /// Spends `cost` of `record`'s credits from its lease, if that can be
    /// done at once.
    #[inline]
    pub(crate) fn spend_now(&self, record: &KeyRecord, cost: u64) -> LeaseSpend {
        if !self.leases(cost) {
            return LeaseSpend::Exact;
        }
        let held = self.held.pin();
        let Some(lease) = held.get(&record.prefix) else {
            return LeaseSpend::Wait;
        };
        if *lease.id != *record.id {
            return LeaseSpend::Wait;
        }
        match lease.spend(cost) {
            Ok(left) if left <= self.config.block / 2 => {
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

    /// The lease of `record`'s key, made (or made anew for a key of the
    /// same prefix) if need be; `None` when as many keys hold leases as
    /// may, none of them idle and empty.
    fn lease_of(&self, record: &KeyRecord, now_ms: u64) -> Option<Arc<Lease>> {
        let held = self.held.pin();
        if let Some(lease) = held.get(&record.prefix) {
            if *lease.id == *record.id {
                lease.used_ms.store(now_ms, Ordering::Relaxed);
                return Some(lease.clone());
            }
        } else if self.count.load(Ordering::Acquire) >= self.config.max_keys {
            self.make_room(now_ms);
            if self.count.load(Ordering::Acquire) >= self.config.max_keys {
                return None;
            }
        }
        let fresh = || {
            let lease = Lease::new(&record.id);
            lease.used_ms.store(now_ms, Ordering::Relaxed);
            Arc::new(lease)
        };
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
            self.count.fetch_add(1, Ordering::AcqRel);
        }
        Some(lease.clone())
    }

    /// Lets go of leases that hold nothing, take nothing and were not used
    /// for a second: nothing is lost with them.
    #[cold]
    fn make_room(&self, now_ms: u64) {
        let held = self.held.pin();
        for (prefix, lease) in held.iter() {
            let idle = lease.used_ms.load(Ordering::Relaxed).saturating_add(1000) < now_ms;
            if idle
                && lease.left.load(Ordering::Acquire) == 0
                && !lease.topping_up.load(Ordering::Acquire)
                && lease.taking.try_lock().is_ok()
                && held
                    .remove_if(prefix, |_, current| Arc::ptr_eq(current, lease))
                    .is_ok_and(|removed| removed.is_some())
            {
                self.count.fetch_sub(1, Ordering::AcqRel);
            }
        }
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
            // A request's take may have landed meanwhile; and a store that
            // said a moment ago that none is left, or failed, is not asked
            // again before what is held runs out.
            let now = millis(SystemTime::now());
            let quiet = now < lease.exhausted_until_ms.load(Ordering::Acquire)
                || now < lease.failed_until_ms.load(Ordering::Acquire);
            let low = lease.left.load(Ordering::Acquire) <= block / 2;
            if low && !quiet {
                take(&*store, &record, &lease, block).await;
            }
            drop(taking);
            lease.topping_up.store(false, Ordering::Release);
        });
    }

    /// Spends `cost` of `record`'s credits, taking a block from `store`
    /// first when the lease holds too few: `Ok(None)` when spent,
    /// `Ok(Some(next refill))` when the store has too few left. `None`
    /// when the key is not leased (too many keys are): spend on the store.
    ///
    /// The take runs as a task of its own where there is a runtime, so
    /// that a request that goes away while it is under way loses nothing:
    /// the block lands in the lease all the same. Requests that wait for
    /// one take use its outcome rather than each ask the store.
    pub(crate) async fn spend(
        &self,
        store: &Arc<dyn KeyStore>,
        record: &Arc<KeyRecord>,
        cost: u64,
    ) -> Option<Result<Result<(), Option<SystemTime>>, StoreError>> {
        let lease = self.lease_of(record, millis(SystemTime::now()))?;
        let up_to = self.config.block;
        for _ in 0..MAX_ROUNDS {
            match lease.spend(cost) {
                Ok(_) => return Some(Ok(Ok(()))),
                Err(Empty::Exhausted(next_refill)) => return Some(Ok(Err(next_refill))),
                Err(Empty::Short | Empty::Lapsed) => {}
            }
            let seen = lease.takes.load(Ordering::Acquire);
            let round = {
                let (store, record, lease) = (store.clone(), record.clone(), lease.clone());
                async move {
                    let _taking = lease.taking.lock().await;
                    if lease.takes.load(Ordering::Acquire) == seen {
                        take(&*store, &record, &lease, up_to).await;
                    }
                    let failed = lease.failed_until_ms.load(Ordering::Acquire);
                    millis(SystemTime::now()) >= failed
                }
            };
            let answered = match tokio::runtime::Handle::try_current() {
                Ok(runtime) => runtime.spawn(round).await.unwrap_or(false),
                Err(_) => round.await,
            };
            if !answered {
                return Some(Err(StoreError::unavailable(
                    "the store failed to hand out a block of credits a moment ago",
                )));
            }
        }
        Some(match lease.spend(cost) {
            Ok(_) => Ok(Ok(())),
            Err(Empty::Exhausted(next_refill)) => Ok(Err(next_refill)),
            Err(Empty::Short | Empty::Lapsed) => Err(StoreError::unavailable(
                "other requests spent every block of credits taken for this one",
            )),
        })
    }
}

/// Takes up to `up_to` of `record`'s credits from `store` into `lease`, or
/// notes that none is left, or that the store failed (believed for as long
/// as "none left" is).
async fn take(store: &dyn KeyStore, record: &KeyRecord, lease: &Lease, up_to: u64) {
    let taken = store.lease_credits(record, up_to).await;
    let now = SystemTime::now();
    match taken {
        Ok(CreditLease::Taken { count, lapses }) => {
            lease.failed_until_ms.store(0, Ordering::Release);
            lease.deposit(count, lapses, now);
        }
        Ok(CreditLease::Exhausted { next_refill }) => {
            lease.failed_until_ms.store(0, Ordering::Release);
            lease.exhausted(next_refill, now);
        }
        Err(error) => {
            tracing::warn!(prefix = %record.prefix, error = %crate::error::ErrorChain(&error),
                "a block of usage credits could not be taken");
            lease
                .failed_until_ms
                .store(millis(now + EXHAUSTED_FOR), Ordering::Release);
        }
    }
    lease.takes.fetch_add(1, Ordering::AcqRel);
}
