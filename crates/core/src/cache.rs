//! A caching store (feature `cache`): a bounded, time-limited cache in front
//! of any [`KeyStore`], so hot keys never wait on the database and floods of
//! invalid keys never reach it.
//!
//! ```
//! use std::time::Duration;
//! use api_key_auth::{cache::CachedStore, ApiKeyLayer, KeyManager, KeyStore, MemoryStore, NewKey};
//!
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! let store = CachedStore::builder(MemoryStore::new())
//!     .max_capacity(100_000)
//!     .ttl(Duration::from_secs(30))            // a known key is re-read every 30 s at most
//!     .negative_ttl(Duration::from_secs(5))    // an unknown prefix is asked about every 5 s at most
//!     .build();
//!
//! let (record, _) = store.create(NewKey::named("cached")).await?.reveal();
//! store.find(record.prefix).await?;             // a miss: one store call
//! store.find(record.prefix).await?;             // a hit
//! assert_eq!(store.stats().store_calls, 1);
//!
//! store.revoke(&record.id).await?;              // revoking through the cache drops the entry at once
//! assert!(store.find(record.prefix).await?.unwrap().revoked);
//! let layer = ApiKeyLayer::new(store);
//! # Ok::<(), api_key_auth::StoreError>(())
//! # }).unwrap();
//! ```
//!
//! - **Single flight**: concurrent misses for one prefix make one store call.
//! - **Errors are never cached**: a failing store is asked again next time.
//! - **Across instances**: give the cache a source of revocations from other
//!   instances ([`CachedStore::with_invalidations`]); PostgreSQL's
//!   `LISTEN/NOTIFY` and Redis pub/sub come with their stores. Whenever a
//!   source reconnects it flushes the cache, since it may have missed
//!   revocations while away; the TTL bounds staleness if all else fails.

use std::{
    collections::HashMap,
    fmt,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, PoisonError, Weak,
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use moka::{sync::Cache, Expiry};
use tokio::sync::OnceCell;

use crate::{
    hash::{Hasher, StoredHash},
    key::Prefix,
    store::{
        Invalidation, InvalidationSource, KeyManager, KeyRecord, KeyStore, KeyUse, Lookup, Page,
        PageRequest, Retirement, Rotated, StoreError,
    },
};

/// What the store said of a prefix: the record, or `None` for a prefix it
/// does not know (a negative entry).
type Entry = Option<Arc<KeyRecord>>;

/// A cached answer and when it was read from the store.
#[derive(Clone)]
struct Cached {
    entry: Entry,
    read_at: Instant,
}

/// Found keys served, in a concurrent map in front of moka: a hit here is a
/// lock-free read and a clock read, where moka's bookkeeping costs several
/// times more (and, over many keys, reaches memory no other lookup touched).
///
/// It holds as many keys as the cache (emptied when full); entries keep the
/// deadline their moka entry has, so the TTL still bounds staleness.
///
/// It is changed only under [`Shared::writing`].
struct Hot {
    /// Only keys the store knows get here, never a client's made-up prefix,
    /// so a fast seeded hash is safe (moka's own map keeps a keyed one).
    keys: papaya::HashMap<Prefix, (Arc<KeyRecord>, Instant), foldhash::fast::RandomState>,
    capacity: usize,
}

impl Hot {
    /// Under [`Shared::writing`].
    fn put(&self, prefix: Prefix, record: Arc<KeyRecord>, deadline: Instant) {
        let keys = self.keys.pin();
        if keys.len() >= self.capacity && !keys.contains_key(&prefix) {
            keys.clear();
        }
        keys.insert(prefix, (record, deadline));
    }
}

/// Counters of a [`CachedStore`], read with [`CachedStore::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CacheStats {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups the cache could not answer.
    pub misses: u64,
    /// Lookups passed on to the inner store (fewer than misses when
    /// concurrent misses for one prefix share a call).
    pub store_calls: u64,
    /// Entries dropped by revocations and invalidation events.
    pub invalidations: u64,
    /// Prefixes whose store lookup is under way now. Back to zero once
    /// every lookup has finished or been cancelled.
    pub in_flight: u64,
}

/// Caches the lookups of store `S`. Cheap to clone: clones share one cache.
pub struct CachedStore<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S: Clone> Clone for CachedStore<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
        }
    }
}

struct Shared {
    cache: Cache<Prefix, Cached>,
    hot: Hot,
    /// The invalidation lock: invalidations, and the insertions that must
    /// not undo them, hold it. Readers never take it.
    writing: Mutex<()>,
    ttl: Duration,
    /// Lookups under way, by prefix, for single flight.
    in_flight: Mutex<HashMap<Prefix, Arc<OnceCell<Entry>>>>,
    /// Bumped by every invalidation, under `writing`: a lookup
    /// that saw it change while it ran does not cache what it read, which
    /// may predate the change.
    epoch: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    store_calls: AtomicU64,
    invalidations: AtomicU64,
    listener: Mutex<Option<tokio::task::AbortHandle>>,
    #[cfg(feature = "metrics")]
    metrics: crate::metrics::CacheMetrics,
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(listener) = self
            .listener
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            listener.abort();
        }
    }
}

impl Shared {
    fn writing(&self) -> std::sync::MutexGuard<'_, ()> {
        self.writing.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn invalidate(&self, prefix: Prefix) {
        let _writing = self.writing();
        // The lookups under way go first, then the epoch moves: a lookup
        // that reads the new epoch can join only a lookup begun after this.
        self.in_flight().remove(&prefix);
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.hot.keys.pin().remove(&prefix);
        self.cache.invalidate(&prefix);
        self.invalidations.fetch_add(1, Ordering::Relaxed);
    }

    fn invalidate_all(&self) {
        let _writing = self.writing();
        self.in_flight().clear();
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.hot.keys.pin().clear();
        let dropped = self.cache.entry_count();
        self.cache.invalidate_all();
        self.invalidations
            .fetch_add(dropped.max(1), Ordering::Relaxed);
    }

    /// Drops every entry whose record has id `id`, after the store revoked it.
    ///
    /// The lookups under way are let go first (one still waiting on the store
    /// may be for this key, whose prefix is not known until the record arrives:
    /// a caller coming after the revocation must not join it and share what it
    /// read before; each is left to its present callers), then the epoch moves,
    /// under the same lock as the scan: a lookup that read the row before the
    /// revocation either cached it already (and the scan finds it) or comes to
    /// cache it later (and sees the new epoch), and a lookup that reads the new
    /// epoch joins only lookups begun after.
    fn invalidate_id(&self, id: &str) {
        let _writing = self.writing();
        self.in_flight().clear();
        let hot = self.hot.keys.pin();
        self.epoch.fetch_add(1, Ordering::SeqCst);
        let mut stale: Vec<Prefix> = self
            .cache
            .iter()
            .filter(|(_, cached)| cached.entry.as_ref().is_some_and(|r| r.id == id))
            .map(|(prefix, _)| *prefix)
            .collect();
        stale.extend(
            hot.iter()
                .filter(|(_, (r, _))| r.id == id)
                .map(|(prefix, _)| *prefix),
        );
        stale.sort_unstable();
        stale.dedup();
        for prefix in &stale {
            hot.remove(prefix);
            self.cache.invalidate(prefix);
        }
        self.invalidations
            .fetch_add(stale.len() as u64, Ordering::Relaxed);
    }

    /// Caches what a lookup that began at `epoch` read, unless an
    /// invalidation came in between.
    fn remember(&self, prefix: Prefix, cached: Cached, epoch: u64) {
        let _writing = self.writing();
        if self.epoch.load(Ordering::SeqCst) != epoch {
            return;
        }
        if let Some(record) = &cached.entry {
            self.hot
                .put(prefix, record.clone(), cached.read_at + self.ttl);
        }
        self.cache.insert(prefix, cached);
    }

    /// A cached answer, from the hot map or moka, counting the hit.
    fn get(&self, prefix: Prefix) -> Option<Entry> {
        let now = Instant::now();
        if let Some((record, deadline)) = self.hot.keys.pin().get(&prefix) {
            if *deadline > now {
                self.hit();
                return Some(Some(record.clone()));
            }
        }
        let cached = self.cache.get(&prefix)?;
        self.hit();
        if cached.entry.is_some() {
            // Promote the found key to the hot map: what moka holds once no
            // invalidation runs (each holds `writing` throughout), never the
            // copy read before, which one running now may be removing.
            let _writing = self.writing();
            if let Some(Cached {
                entry: Some(record),
                read_at,
            }) = self.cache.get(&prefix)
            {
                self.hot.put(prefix, record, read_at + self.ttl);
            }
        }
        Some(cached.entry)
    }

    #[inline]
    fn hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        self.metrics.hits.increment(1);
    }

    fn miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        self.metrics.misses.increment(1);
    }

    fn in_flight(&self) -> std::sync::MutexGuard<'_, HashMap<Prefix, Arc<OnceCell<Entry>>>> {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Per-entry lifetimes: one for known keys, a shorter one for unknown prefixes.
struct Lifetimes {
    positive: Duration,
    negative: Duration,
}

impl Lifetimes {
    fn of(&self, cached: &Cached) -> Option<Duration> {
        Some(if cached.entry.is_some() {
            self.positive
        } else {
            self.negative
        })
    }
}

impl Expiry<Prefix, Cached> for Lifetimes {
    fn expire_after_create(&self, _: &Prefix, cached: &Cached, _: Instant) -> Option<Duration> {
        self.of(cached)
    }

    fn expire_after_update(
        &self,
        _: &Prefix,
        cached: &Cached,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        self.of(cached)
    }
}

/// Configures a [`CachedStore`]; see [`CachedStore::builder`].
#[derive(Debug)]
#[must_use]
pub struct CachedStoreBuilder<S> {
    inner: S,
    max_capacity: u64,
    ttl: Duration,
    negative_ttl: Duration,
}

impl<S: KeyStore> CachedStoreBuilder<S> {
    /// At most this many prefixes are cached, known and unknown together;
    /// 100,000 by default. The least useful entries are evicted first.
    pub fn max_capacity(mut self, entries: u64) -> Self {
        self.max_capacity = entries;
        self
    }

    /// How long a found key is served from the cache; 30 s by default. It is
    /// also the longest a revocation made elsewhere can go unseen when no
    /// invalidation source is connected.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How long an unknown prefix is remembered as unknown; 5 s by default.
    pub fn negative_ttl(mut self, ttl: Duration) -> Self {
        self.negative_ttl = ttl;
        self
    }

    /// Builds the cache.
    pub fn build(self) -> CachedStore<S> {
        let cache = Cache::builder()
            .max_capacity(self.max_capacity)
            .expire_after(Lifetimes {
                positive: self.ttl,
                negative: self.negative_ttl,
            })
            .build();
        CachedStore {
            inner: self.inner,
            shared: Arc::new(Shared {
                cache,
                hot: Hot {
                    keys: crate::store::memory::read_mostly(),
                    capacity: usize::try_from(self.max_capacity).unwrap_or(usize::MAX),
                },
                writing: Mutex::new(()),
                ttl: self.ttl,
                in_flight: Mutex::default(),
                epoch: AtomicU64::new(0),
                hits: AtomicU64::new(0),
                misses: AtomicU64::new(0),
                store_calls: AtomicU64::new(0),
                invalidations: AtomicU64::new(0),
                listener: Mutex::new(None),
                #[cfg(feature = "metrics")]
                metrics: crate::metrics::CacheMetrics::new(),
            }),
        }
    }
}

impl<S: KeyStore> CachedStore<S> {
    /// A cache with the defaults (100,000 entries, 30 s, 5 s for unknown prefixes) in front of `inner`.
    pub fn new(inner: S) -> Self {
        Self::builder(inner).build()
    }

    /// Starts configuring a cache in front of `inner`.
    pub fn builder(inner: S) -> CachedStoreBuilder<S> {
        CachedStoreBuilder {
            inner,
            max_capacity: 100_000,
            ttl: Duration::from_secs(30),
            negative_ttl: Duration::from_secs(5),
        }
    }

    /// Drops cached entries as `source` reports changes made by other
    /// instances, on a task of the current tokio runtime, until the cache is
    /// dropped. Replaces any source given before.
    pub fn with_invalidations(self, mut source: impl InvalidationSource) -> Self {
        let shared: Weak<Shared> = Arc::downgrade(&self.shared);
        let task = tokio::spawn(async move {
            while let Some(event) = source.next().await {
                let Some(shared) = shared.upgrade() else {
                    return;
                };
                match event {
                    Invalidation::Key(prefix) => shared.invalidate(prefix),
                    Invalidation::All => shared.invalidate_all(),
                }
            }
        });
        let previous = self
            .shared
            .listener
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(task.abort_handle());
        if let Some(previous) = previous {
            previous.abort();
        }
        self
    }

    /// The counters so far.
    pub fn stats(&self) -> CacheStats {
        let s = &self.shared;
        CacheStats {
            hits: s.hits.load(Ordering::Relaxed),
            misses: s.misses.load(Ordering::Relaxed),
            store_calls: s.store_calls.load(Ordering::Relaxed),
            invalidations: s.invalidations.load(Ordering::Relaxed),
            in_flight: s.in_flight().len() as u64,
        }
    }

    /// How many prefixes are cached (approximately: eviction runs in batches).
    pub fn entry_count(&self) -> u64 {
        self.shared.cache.run_pending_tasks();
        self.shared.cache.entry_count()
    }

    /// Drops the entry for `prefix`, so the next lookup asks the store.
    pub fn invalidate(&self, prefix: Prefix) {
        self.shared.invalidate(prefix);
    }

    /// Drops every entry.
    pub fn invalidate_all(&self) {
        self.shared.invalidate_all();
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// A miss: one store call per prefix however many ask at once.
    async fn fetch(&self, prefix: Prefix) -> Lookup {
        let shared = &self.shared;
        let epoch = shared.epoch.load(Ordering::SeqCst);
        let flight = Flight::join(shared, prefix);
        let read_at = Instant::now();
        let fetched = flight
            .cell()
            .get_or_try_init(|| async {
                shared.store_calls.fetch_add(1, Ordering::Relaxed);
                self.inner.find(prefix).await
            })
            .await
            .cloned();
        drop(flight);
        let entry = fetched?;
        shared.remember(
            prefix,
            Cached {
                entry: entry.clone(),
                read_at,
            },
            epoch,
        );
        Ok(entry)
    }
}

/// One caller's share in the lookup under way for a prefix.
///
/// Dropping it, whether the lookup finished or its caller was cancelled (a
/// client hung up, a timeout fired), takes the map entry out once nobody waits
/// on it any more, so no entry outlives every caller of its lookup.
struct Flight<'a> {
    shared: &'a Shared,
    prefix: Prefix,
    cell: Option<Arc<OnceCell<Entry>>>,
}

impl<'a> Flight<'a> {
    fn join(shared: &'a Shared, prefix: Prefix) -> Self {
        let cell = shared.in_flight().entry(prefix).or_default().clone();
        Self {
            shared,
            prefix,
            cell: Some(cell),
        }
    }

    fn cell(&self) -> &OnceCell<Entry> {
        match &self.cell {
            Some(cell) => cell,
            None => unreachable!("the cell is only taken on drop"),
        }
    }
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        let Some(cell) = self.cell.take() else {
            return;
        };
        // Shares are cloned and dropped only under this lock, so the count
        // read here is exact: 2 is the map's and this one.
        let mut in_flight = self.shared.in_flight();
        let last = Arc::strong_count(&cell) <= 2;
        if (last || cell.initialized())
            && in_flight
                .get(&self.prefix)
                .is_some_and(|f| Arc::ptr_eq(f, &cell))
        {
            in_flight.remove(&self.prefix);
        }
        drop(cell);
        drop(in_flight);
    }
}

impl<S> fmt::Debug for CachedStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedStore")
            .field("entries", &self.shared.cache.entry_count())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<S: KeyStore> KeyStore for CachedStore<S> {
    async fn find(&self, prefix: Prefix) -> Lookup {
        if let Some(entry) = self.shared.get(prefix) {
            return Ok(entry);
        }
        self.shared.miss();
        self.fetch(prefix).await
    }

    fn find_now(&self, prefix: Prefix) -> Option<Lookup> {
        self.shared.get(prefix).map(Ok)
    }

    fn hash_algorithm(&self) -> Option<crate::hash::Algorithm> {
        self.inner.hash_algorithm()
    }

    async fn upgrade_hash(&self, record: &KeyRecord, new: StoredHash) -> Result<bool, StoreError> {
        let upgraded = self.inner.upgrade_hash(record, new).await;
        // The entry holds the old hash, slow to check.
        self.shared.invalidate(record.prefix);
        upgraded
    }

    async fn spend_credits(
        &self,
        record: &KeyRecord,
        cost: u64,
    ) -> Result<crate::store::CreditSpend, StoreError> {
        self.inner.spend_credits(record, cost).await
    }

    fn spend_credits_now(
        &self,
        record: &KeyRecord,
        cost: u64,
    ) -> Option<Result<crate::store::CreditSpend, StoreError>> {
        self.inner.spend_credits_now(record, cost)
    }

    async fn lease_credits(
        &self,
        record: &KeyRecord,
        up_to: u64,
    ) -> Result<crate::store::CreditLease, StoreError> {
        self.inner.lease_credits(record, up_to).await
    }
}

#[async_trait]
impl<S: KeyManager> KeyManager for CachedStore<S> {
    async fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
        let prefix = record.prefix;
        let inserted = self.inner.insert(record).await;
        // A negative entry for this prefix is now wrong.
        self.shared.invalidate(prefix);
        inserted
    }

    async fn insert_many(&self, records: Vec<KeyRecord>) -> Result<(), StoreError> {
        let prefixes: Vec<_> = records.iter().map(|record| record.prefix).collect();
        let inserted = self.inner.insert_many(records).await;
        for prefix in prefixes {
            self.shared.invalidate(prefix);
        }
        inserted
    }

    async fn list(&self) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        self.inner.list().await
    }

    async fn list_page(&self, request: &PageRequest) -> Result<Page, StoreError> {
        self.inner.list_page(request).await
    }

    async fn find_by_id(&self, id: &str) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        self.inner.find_by_id(id).await
    }

    async fn revoke(&self, id: &str) -> Result<bool, StoreError> {
        let revoked = self.inner.revoke(id).await;
        // Drop every entry for this id, whatever the store said: a partial
        // failure must not leave a revoked key cached.
        self.shared.invalidate_id(id);
        revoked
    }

    async fn set_suspended(&self, id: &str, suspended: bool) -> Result<bool, StoreError> {
        let changed = self.inner.set_suspended(id, suspended).await;
        // As a revocation: whatever the store said, nothing cached outlives
        // the change.
        self.shared.invalidate_id(id);
        changed
    }

    fn hasher(&self) -> Hasher {
        self.inner.hasher()
    }

    fn new_id(&self, prefix: Prefix, hash: &StoredHash) -> String {
        self.inner.new_id(prefix, hash)
    }

    async fn create(&self, new: crate::NewKey) -> Result<crate::CreatedKey, StoreError> {
        let created = self.inner.create(new).await?;
        self.shared.invalidate(created.record().prefix);
        Ok(created)
    }

    async fn replace(
        &self,
        old_id: &str,
        new: KeyRecord,
        retirement: Retirement,
    ) -> Result<Arc<KeyRecord>, StoreError> {
        let prefix = new.prefix;
        let replaced = self.inner.replace(old_id, new, retirement).await;
        // The old key's entry holds its expiry from before; the new prefix
        // may be remembered as unknown. Whatever the store said.
        self.shared.invalidate_id(old_id);
        self.shared.invalidate(prefix);
        replaced
    }

    async fn rotate(&self, id: &str, grace: Duration) -> Result<Rotated, StoreError> {
        // The inner store's own rotation (which may be one step of its
        // own), then the cache made to agree with it.
        let rotated = self.inner.rotate(id, grace).await;
        self.shared.invalidate_id(id);
        if let Ok(rotated) = &rotated {
            self.shared.invalidate_id(&rotated.retired.id);
            self.shared.invalidate(rotated.new.record().prefix);
        }
        rotated
    }

    async fn record_last_use(&self, uses: &[KeyUse]) -> Result<(), StoreError> {
        // Cached records keep the last use they were read with: a use is
        // not a reason to ask the store again.
        self.inner.record_last_use(uses).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KeyManager, MemoryStore, NewKey};

    /// The single-flight entry lives exactly as long as someone waits on it:
    /// the last share to go takes it out, and a finished lookup's entry goes
    /// with the first share to leave.
    #[test]
    fn a_flight_entry_lives_while_someone_waits_on_it() {
        let cache = CachedStore::new(MemoryStore::new());
        let shared = &cache.shared;
        let prefix = crate::key::ApiKey::generate().unwrap().prefix();
        let first = Flight::join(shared, prefix);
        let second = Flight::join(shared, prefix);
        assert_eq!(shared.in_flight().len(), 1, "one entry for both callers");
        drop(first);
        assert_eq!(shared.in_flight().len(), 1, "the second caller still waits");
        drop(second);
        assert_eq!(shared.in_flight().len(), 0, "the last caller took it out");

        let first = Flight::join(shared, prefix);
        let second = Flight::join(shared, prefix);
        first.cell().set(None).unwrap();
        drop(first);
        assert_eq!(
            shared.in_flight().len(),
            0,
            "an answered lookup is not joined again"
        );
        drop(second);

        // An entry replaced meanwhile (by an invalidation and a new caller)
        // is not the old caller's to remove.
        let old = Flight::join(shared, prefix);
        shared.invalidate(prefix);
        let new = Flight::join(shared, prefix);
        drop(old);
        assert_eq!(shared.in_flight().len(), 1);
        drop(new);
        assert_eq!(shared.in_flight().len(), 0);
    }

    /// A lookup that read a key's row before its revocation and comes to cache
    /// it while the revocation runs must not leave it cached.
    ///
    /// The late lookup here is a thread that caches the old row, with the epoch
    /// it began at, once, at a moment spread over the revocation's run (made
    /// long by many cached prefixes to scan); across the trials it lands
    /// before, inside and after it. Whatever the interleaving, the revoked key
    /// is never served from the cache afterwards.
    #[test]
    fn a_lookup_caching_during_a_revocation_does_not_survive_it() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let cache = CachedStore::builder(MemoryStore::new())
            .ttl(Duration::from_secs(3600))
            .negative_ttl(Duration::from_secs(3600))
            .build();
        for _ in 0..20_000 {
            let unknown = crate::key::ApiKey::generate().unwrap().prefix();
            let epoch = cache.shared.epoch.load(Ordering::SeqCst);
            let nothing = Cached {
                entry: None,
                read_at: Instant::now(),
            };
            cache.shared.remember(unknown, nothing, epoch);
        }
        for trial in 0..100u32 {
            let (record, _) = runtime
                .block_on(cache.inner().create(NewKey::named("raced")))
                .unwrap()
                .reveal();
            let epoch = cache.shared.epoch.load(Ordering::SeqCst);
            let go = Arc::new(std::sync::Barrier::new(2));
            let late = {
                let (shared, go, record) = (cache.shared.clone(), go.clone(), record.clone());
                std::thread::spawn(move || {
                    go.wait();
                    std::thread::sleep(Duration::from_micros(u64::from(trial) * 97 % 3_000));
                    let read = Cached {
                        entry: Some(record.clone()),
                        read_at: Instant::now(),
                    };
                    shared.remember(record.prefix, read, epoch);
                })
            };
            go.wait();
            assert!(runtime.block_on(cache.revoke(&record.id)).unwrap());
            late.join().unwrap();
            if let Some(Some(cached)) = cache.shared.get(record.prefix) {
                assert!(
                    cached.revoked,
                    "trial {trial}: the row read before the revocation stayed cached"
                );
            }
        }
    }
}
