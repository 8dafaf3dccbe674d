//! The caching store: hits and misses, negative entries, single flight,
//! uncached errors, invalidation, capacity, and the race between a slow
//! lookup and a revocation.
#![cfg(feature = "cache")]

use crate::common;

use std::{
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use api_key_auth::{
    cache::CachedStore,
    key::{ApiKey, Prefix},
    store::{Invalidation, InvalidationSource},
    testkit::Conformance,
    ApiKeyLayer, KeyManager, KeyRecord, KeyStore, Lookup, MemoryStore, NewKey, StoreError,
};
use http::{Request, StatusCode};
use tower::{Layer, ServiceExt};

/// The store behind the cache: a memory store that counts its lookups, can
/// be made to fail, and can be made slow.
#[derive(Clone, Default)]
struct Backend {
    memory: MemoryStore,
    lookups: Arc<AtomicUsize>,
    failing: Arc<AtomicBool>,
    delay_ms: Arc<AtomicUsize>,
}

impl Backend {
    /// A key created behind the cache's back, straight in the backend.
    async fn key(&self, name: &str) -> Arc<KeyRecord> {
        self.memory
            .create(NewKey::named(name))
            .await
            .unwrap()
            .reveal()
            .0
    }

    fn lookups(&self) -> usize {
        self.lookups.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl KeyStore for Backend {
    async fn find(&self, prefix: Prefix) -> Lookup {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        // Read first, then wait: a slow database returns what it read when the query began.
        let read = self.memory.find(prefix).await;
        let delay = self.delay_ms.load(Ordering::SeqCst) as u64;
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::unavailable("backend down (test)"));
        }
        read
    }

    async fn spend_credits(
        &self,
        record: &KeyRecord,
        cost: u64,
    ) -> Result<api_key_auth::store::CreditSpend, StoreError> {
        self.memory.spend_credits(record, cost).await
    }
}

#[async_trait::async_trait]
impl KeyManager for Backend {
    async fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
        self.memory.insert(record).await
    }
    async fn list(&self) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        self.memory.list().await
    }
    async fn revoke(&self, id: &str) -> Result<bool, StoreError> {
        self.memory.revoke(id).await
    }
    async fn set_suspended(&self, id: &str, suspended: bool) -> Result<bool, StoreError> {
        self.memory.set_suspended(id, suspended).await
    }
    async fn replace(
        &self,
        old_id: &str,
        new: KeyRecord,
        retirement: api_key_auth::store::Retirement,
    ) -> Result<Arc<KeyRecord>, StoreError> {
        self.memory.replace(old_id, new, retirement).await
    }
    async fn record_last_use(
        &self,
        uses: &[api_key_auth::store::KeyUse],
    ) -> Result<(), StoreError> {
        self.memory.record_last_use(uses).await
    }
}

/// A long-TTL cache over a backend holding one key, whose lookups take 200 ms.
async fn slow_backend_with_a_key() -> (Backend, Arc<KeyRecord>, CachedStore<Backend>) {
    let backend = Backend::default();
    let record = backend.key("k").await;
    let cache = CachedStore::builder(backend.clone())
        .ttl(Duration::from_secs(3600))
        .build();
    backend.delay_ms.store(200, Ordering::SeqCst);
    (backend, record, cache)
}

/// Waits for `done` to hold: for the event a test needs, never a guess at
/// how long it takes. A minute without it is a failure.
async fn until(what: &str, done: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "waited a minute for {what}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// A lookup of `prefix` through `cache`, on a task of its own.
fn spawn_find(cache: &CachedStore<Backend>, prefix: Prefix) -> tokio::task::JoinHandle<Lookup> {
    let cache = cache.clone();
    tokio::spawn(async move { cache.find(prefix).await })
}

fn random_prefix() -> Prefix {
    ApiKey::generate().unwrap().prefix()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_keeps_the_store_contract() {
    Conformance::new(CachedStore::new(Backend::default()))
        .run()
        .await
        .unwrap();
}

#[tokio::test]
async fn hits_misses_and_store_calls_are_counted() {
    let backend = Backend::default();
    let cache = CachedStore::new(backend.clone());
    let (record, _) = cache.create(NewKey::named("k")).await.unwrap().reveal();
    for _ in 0..10 {
        assert_eq!(
            cache.find(record.prefix).await.unwrap().unwrap().id,
            record.id
        );
    }
    let stats = cache.stats();
    assert_eq!((stats.misses, stats.hits, stats.store_calls), (1, 9, 1));
    assert_eq!(backend.lookups(), 1);
    assert!(
        cache.find_now(record.prefix).is_some(),
        "a cached key answers without waiting"
    );
}

#[tokio::test]
async fn a_flood_of_unknown_prefixes_costs_one_call_per_prefix_per_negative_ttl() {
    let backend = Backend::default();
    let cache = CachedStore::builder(backend.clone())
        .negative_ttl(Duration::from_secs(60))
        .build();
    let prefixes: Vec<Prefix> = (0..100).map(|_| random_prefix()).collect();
    for i in 0..100_000 {
        assert!(cache.find(prefixes[i % 100]).await.unwrap().is_none());
    }
    assert_eq!(backend.lookups(), 100);
    assert_eq!(cache.stats().store_calls, 100);
}

#[tokio::test]
async fn negative_entries_expire_after_the_negative_ttl() {
    let backend = Backend::default();
    let cache = CachedStore::builder(backend.clone())
        .negative_ttl(Duration::from_millis(100))
        .build();
    let prefix = random_prefix();
    cache.find(prefix).await.unwrap();
    cache.find(prefix).await.unwrap();
    assert_eq!(backend.lookups(), 1);
    tokio::time::sleep(Duration::from_millis(250)).await;
    cache.find(prefix).await.unwrap();
    assert_eq!(backend.lookups(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_for_one_prefix_make_one_store_call() {
    let backend = Backend::default();
    let record = backend.key("hot").await;
    backend.delay_ms.store(100, Ordering::SeqCst);
    let cache = CachedStore::new(backend.clone());
    let mut tasks = tokio::task::JoinSet::new();
    let prefix = record.prefix;
    for _ in 0..50 {
        let cache = cache.clone();
        tasks.spawn(async move { cache.find(prefix).await.unwrap().unwrap().id.clone() });
    }
    while let Some(id) = tasks.join_next().await {
        assert_eq!(id.unwrap(), record.id);
    }
    assert_eq!(backend.lookups(), 1);
    let stats = cache.stats();
    assert_eq!(stats.store_calls, 1);
    assert_eq!(stats.misses + stats.hits, 50);
}

/// A client that hangs up (or a lookup timeout that fires) while its lookup
/// waits on the store must leave nothing behind in the single-flight map:
/// otherwise well-formed keys with random prefixes grow memory without bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_lookups_leave_nothing_in_flight() {
    let backend = Backend::default();
    backend.delay_ms.store(60_000, Ordering::SeqCst);
    let cache = CachedStore::new(backend.clone());
    for _ in 0..2_000 {
        let lookup = cache.find(random_prefix());
        assert!(tokio::time::timeout(Duration::from_micros(1), lookup)
            .await
            .is_err());
    }
    // And through the layer, with the lookup timeout doing the cancelling.
    let auth = api_key_auth::Authenticator::builder(cache.clone())
        .lookup_timeout(Duration::from_millis(1))
        .build()
        .unwrap();
    let service = ApiKeyLayer::from(auth).layer(common::Echo::default());
    for _ in 0..200 {
        let request = Request::get("/")
            .header(
                "authorization",
                format!("Api-Key {}.{}", random_prefix(), "A".repeat(32)),
            )
            .body(String::new())
            .unwrap();
        let response = service.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    assert!(backend.lookups() >= 2_200);
    assert_eq!(
        cache.stats().in_flight,
        0,
        "every cancelled lookup left its entry"
    );
}

/// One waiter giving up does not take the lookup away from the others: they
/// still share its single store call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_waiter_leaves_the_others_their_shared_lookup() {
    let backend = Backend::default();
    let record = backend.key("shared").await;
    // Long beside the 50 ms the second caller waits, however loaded the
    // machine.
    backend.delay_ms.store(2000, Ordering::SeqCst);
    let cache = CachedStore::new(backend.clone());
    let prefix = record.prefix;
    let patient = {
        let cache = cache.clone();
        tokio::spawn(async move { cache.find(prefix).await })
    };
    until("the first lookup to ask the store", || {
        backend.lookups() == 1
    })
    .await;
    assert_eq!(cache.stats().in_flight, 1);
    // A second caller joins the flight, then gives up.
    assert!(
        tokio::time::timeout(Duration::from_millis(50), cache.find(prefix))
            .await
            .is_err()
    );
    assert_eq!(
        cache.stats().in_flight,
        1,
        "the first caller still waits on it"
    );
    let late = cache.find(prefix).await.unwrap().unwrap();
    assert_eq!(late.id, record.id);
    assert_eq!(patient.await.unwrap().unwrap().unwrap().id, record.id);
    assert_eq!(backend.lookups(), 1, "one store call for all three callers");
    assert_eq!(cache.stats().in_flight, 0);
}

/// A lookup that starts after a revocation must not join one that read the
/// row before it: the late caller would get, and cache, the revoked key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookup_after_a_revocation_does_not_join_one_from_before() {
    let (backend, record, cache) = slow_backend_with_a_key().await;
    let prefix = record.prefix;
    let early = spawn_find(&cache, prefix);
    until("the early lookup to read the unrevoked row", || {
        backend.lookups() == 1
    })
    .await;
    assert!(cache.revoke(&record.id).await.unwrap());
    let late = spawn_find(&cache, prefix);
    assert!(!early.await.unwrap().unwrap().unwrap().revoked);
    assert!(
        late.await.unwrap().unwrap().unwrap().revoked,
        "the lookup begun after the revocation read the row anew"
    );
    backend.delay_ms.store(0, Ordering::SeqCst);
    assert!(cache.find(prefix).await.unwrap().unwrap().revoked);
    assert_eq!(backend.lookups(), 2);
}

#[tokio::test]
async fn store_errors_are_never_cached() {
    let backend = Backend::default();
    let record = backend.key("k").await;
    let cache = CachedStore::new(backend.clone());
    backend.failing.store(true, Ordering::SeqCst);
    assert!(cache
        .find(record.prefix)
        .await
        .unwrap_err()
        .is_unavailable());
    assert!(cache.find(record.prefix).await.is_err());
    assert_eq!(backend.lookups(), 2, "each failure went to the store");
    backend.failing.store(false, Ordering::SeqCst);
    assert!(cache.find(record.prefix).await.unwrap().is_some());
}

#[tokio::test]
async fn revoking_through_the_cache_takes_effect_at_once() {
    let backend = Backend::default();
    let cache = CachedStore::builder(backend.clone())
        .ttl(Duration::from_secs(3600))
        .build();
    let (record, key) = cache.create(NewKey::named("k")).await.unwrap().reveal();
    let service = ApiKeyLayer::new(cache.clone()).layer(common::Echo::default());
    let request = || {
        Request::get("/")
            .header("authorization", format!("Api-Key {}", key.expose_secret()))
            .body(String::new())
            .unwrap()
    };
    assert_eq!(
        service.clone().oneshot(request()).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        service.clone().oneshot(request()).await.unwrap().status(),
        StatusCode::OK
    );
    assert!(
        cache.stats().hits >= 1,
        "the second request was served from the cache"
    );
    assert!(cache.revoke(&record.id).await.unwrap());
    assert_eq!(
        service.oneshot(request()).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_key_created_after_its_prefix_was_cached_as_unknown_is_found() {
    let backend = Backend::default();
    let cache = CachedStore::builder(backend.clone())
        .negative_ttl(Duration::from_secs(3600))
        .build();
    let key = ApiKey::generate().unwrap();
    assert!(cache.find(key.prefix()).await.unwrap().is_none());
    let record = KeyRecord::new(
        "late",
        "late",
        key.prefix(),
        api_key_auth::hash::Hasher::default().hash(&key),
    );
    cache.insert(record).await.unwrap();
    assert!(cache.find(key.prefix()).await.unwrap().is_some());
}

#[tokio::test]
async fn a_revocation_elsewhere_is_seen_after_the_ttl() {
    let backend = Backend::default();
    let cache = CachedStore::builder(backend.clone())
        .ttl(Duration::from_millis(100))
        .build();
    let record = backend.key("k").await;
    assert!(!cache.find(record.prefix).await.unwrap().unwrap().revoked);
    backend.memory.revoke(&record.id).await.unwrap(); // behind the cache's back
    assert!(
        !cache.find(record.prefix).await.unwrap().unwrap().revoked,
        "still cached"
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(cache.find(record.prefix).await.unwrap().unwrap().revoked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookup_racing_a_revocation_does_not_cache_what_it_read_before() {
    let (backend, record, cache) = slow_backend_with_a_key().await;
    let slow = spawn_find(&cache, record.prefix);
    until("the slow lookup to read the unrevoked row", || {
        backend.lookups() == 1
    })
    .await;
    assert!(cache.revoke(&record.id).await.unwrap());
    let raced = slow.await.unwrap().unwrap().unwrap();
    assert!(
        !raced.revoked,
        "the racing lookup read the row before the revocation"
    );
    backend.delay_ms.store(0, Ordering::SeqCst);
    assert!(
        cache.find(record.prefix).await.unwrap().unwrap().revoked,
        "but it was not cached"
    );
}

#[tokio::test]
async fn the_cache_is_bounded_by_its_capacity() {
    let backend = Backend::default();
    let cache = CachedStore::builder(backend).max_capacity(1_000).build();
    for _ in 0..20_000 {
        cache.find(random_prefix()).await.unwrap();
    }
    let entries = cache.entry_count();
    assert!(entries <= 1_000, "{entries} entries cached");
    assert!(entries >= 100, "{entries} entries: the cache still caches");
}

/// Invalidations fed by the test, as another instance would.
struct Channel(tokio::sync::mpsc::UnboundedReceiver<Invalidation>);

#[async_trait::async_trait]
impl InvalidationSource for Channel {
    async fn next(&mut self) -> Option<Invalidation> {
        self.0.recv().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalidation_events_drop_entries() {
    let backend = Backend::default();
    let a = backend.key("a").await;
    let b = backend.key("b").await;
    let (send, receive) = tokio::sync::mpsc::unbounded_channel();
    let cache = CachedStore::builder(backend.clone())
        .ttl(Duration::from_secs(3600))
        .build()
        .with_invalidations(Channel(receive));
    cache.find(a.prefix).await.unwrap();
    cache.find(b.prefix).await.unwrap();
    assert_eq!(backend.lookups(), 2);

    backend.memory.revoke(&a.id).await.unwrap();
    send.send(Invalidation::Key(a.prefix)).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    while cache.find_now(a.prefix).is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the event did not drop the entry"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(cache.find(a.prefix).await.unwrap().unwrap().revoked);
    assert!(cache.find_now(b.prefix).is_some(), "other entries stay");

    send.send(Invalidation::All).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    while cache.find_now(b.prefix).is_some() {
        assert!(tokio::time::Instant::now() < deadline, "All did not flush");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(cache.stats().invalidations >= 2);
}

/// A key revoked through the cache is never served unrevoked again once
/// `revoke` has returned, however lookups race the revocation. Readers
/// hammer a cached key (hot-map hits, moka hits with promotion, misses that
/// fetch and remember) on two threads while it is revoked through the
/// cache, other keys churning the hot map (emptied when full) and moka. Two
/// races would otherwise serve the revoked key for good: `Shared::get`
/// promoting a moka entry it read after the epoch moved and before the scan
/// removed the entry, and `fetch` joining a flight begun before the
/// revocation with the new epoch. See
/// `lookups_during_a_revocation_do_not_cache_what_a_flight_read_before_it`
/// for the second race on its own.
#[test]
fn a_key_revoked_through_the_cache_stays_revoked_under_churn() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let cache = CachedStore::builder(MemoryStore::new())
        .max_capacity(64)
        .ttl(Duration::from_secs(3600))
        .negative_ttl(Duration::from_secs(3600))
        .build();
    // Many other keys, so the hot map is cleared when full now and then.
    let mut others = Vec::new();
    for n in 0..200 {
        let (record, _) = runtime
            .block_on(cache.create(NewKey::named(format!("other {n}"))))
            .unwrap()
            .reveal();
        others.push(record.prefix);
    }
    let others = Arc::new(others);
    for trial in 0..300 {
        let (record, _) = runtime
            .block_on(cache.create(NewKey::named("raced")))
            .unwrap()
            .reveal();
        runtime.block_on(cache.find(record.prefix)).unwrap();
        runtime.block_on(cache.find(record.prefix)).unwrap();
        let revoked = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|t| {
                let (cache, revoked, stop, others) =
                    (cache.clone(), revoked.clone(), stop.clone(), others.clone());
                let prefix = record.prefix;
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .build()
                        .unwrap();
                    let mut stale_after = 0;
                    let mut i = t;
                    while !stop.load(Ordering::SeqCst) {
                        let after = revoked.load(Ordering::SeqCst);
                        let seen = if i % 3 == 0 {
                            cache.find_now(prefix).and_then(|l| l.ok().flatten())
                        } else {
                            rt.block_on(cache.find(prefix)).unwrap()
                        };
                        if after && seen.is_some_and(|r| !r.revoked) {
                            stale_after += 1;
                        }
                        // Churn: other keys promoted, the hot map filled.
                        let _ = rt.block_on(cache.find(others[i % others.len()]));
                        i += 1;
                    }
                    stale_after
                })
            })
            .collect();
        std::thread::sleep(Duration::from_micros(200 + (trial % 7) * 100));
        assert!(runtime.block_on(cache.revoke(&record.id)).unwrap());
        revoked.store(true, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(2));
        stop.store(true, Ordering::SeqCst);
        for reader in readers {
            assert_eq!(
                reader.join().unwrap(),
                0,
                "trial {trial}: served unrevoked after revoke returned"
            );
        }
    }
}

/// A memory store whose first lookup of `target` reads the record and then
/// waits for `gate` before answering: a database answer still on its way
/// while the key is revoked.
#[derive(Clone)]
struct Gated {
    inner: MemoryStore,
    target: Arc<Mutex<Option<Prefix>>>,
    gate: tokio::sync::watch::Receiver<bool>,
}

#[async_trait::async_trait]
impl KeyStore for Gated {
    async fn find(&self, prefix: Prefix) -> Lookup {
        let read = self.inner.find(prefix).await;
        let hold = {
            let mut target = self.target.lock().unwrap();
            if *target == Some(prefix) {
                *target = None;
                true
            } else {
                false
            }
        };
        if hold {
            let mut gate = self.gate.clone();
            let _ = gate.wait_for(|open| *open).await;
        }
        read
    }
}

#[async_trait::async_trait]
impl KeyManager for Gated {
    async fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
        self.inner.insert(record).await
    }
    async fn list(&self) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        self.inner.list().await
    }
    async fn revoke(&self, id: &str) -> Result<bool, StoreError> {
        self.inner.revoke(id).await
    }
}

/// A lookup that starts while a revocation runs does not join a lookup
/// begun before it, and so does not cache the record read before it: the
/// revoked key is not served from the cache once `revoke` has returned. A
/// lookup reads the epoch, then joins the single-flight entry, without a
/// lock between them. Were the epoch moved before the flights are let go,
/// a lookup starting during the revocation's scan of every cached entry
/// could read the new epoch yet join a flight begun before the revocation,
/// receive the record read before it, and `remember` would cache it (the
/// epoch it holds being current) until the TTL. The lock-free hot map lets
/// every lookup arriving during the scan through, so the window is as long
/// as the scan; the test spreads lookups over it.
#[test]
fn lookups_during_a_revocation_do_not_cache_what_a_flight_read_before_it() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (open, gate) = tokio::sync::watch::channel(false);
    let gated = Gated {
        inner: MemoryStore::new(),
        target: Arc::new(Mutex::new(None)),
        gate,
    };
    let cache = CachedStore::builder(gated.clone())
        .max_capacity(200_000)
        .ttl(Duration::from_secs(3600))
        .negative_ttl(Duration::from_secs(3600))
        .build();
    // Many cached prefixes, so that the revocation's scan takes a while.
    runtime.block_on(async {
        for _ in 0..20_000 {
            cache
                .find(ApiKey::generate().unwrap().prefix())
                .await
                .unwrap();
        }
    });
    // How long a revocation's scan takes here.
    let (probe, _) = runtime
        .block_on(cache.create(NewKey::named("probe")))
        .unwrap()
        .reveal();
    let started = std::time::Instant::now();
    runtime.block_on(cache.revoke(&probe.id)).unwrap();
    let scan = started.elapsed();

    let (record, _) = runtime
        .block_on(cache.create(NewKey::named("revoked")))
        .unwrap()
        .reveal();
    let prefix = record.prefix;
    *gated.target.lock().unwrap() = Some(prefix);
    // A lookup whose store read is done, its answer not yet back.
    let first = runtime.spawn({
        let cache = cache.clone();
        async move { cache.find(prefix).await }
    });
    // The store has read the record once it has taken the target.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while gated.target.lock().unwrap().is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the first lookup never reached the store"
        );
        std::thread::sleep(Duration::from_millis(1));
    }

    // Lookups arriving while the revocation runs, spread over it.
    let go = Arc::new(std::sync::Barrier::new(41));
    let late: Vec<_> = (0..40u32)
        .map(|n| {
            let (cache, go) = (cache.clone(), go.clone());
            std::thread::spawn(move || {
                go.wait();
                std::thread::sleep(scan * n / 40);
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(cache.find(prefix))
                    .unwrap()
            })
        })
        .collect();
    go.wait();
    assert!(runtime.block_on(cache.revoke(&record.id)).unwrap());
    // Revoked, and revoke has returned. The old answer arrives.
    open.send(true).unwrap();
    runtime.block_on(first).unwrap().unwrap();
    for thread in late {
        thread.join().unwrap();
    }
    let served = runtime
        .block_on(cache.find(record.prefix))
        .unwrap()
        .unwrap();
    assert!(
        served.revoked,
        "after revoke returned, the cache serves the key unrevoked (scan took {scan:?})"
    );
    assert!(
        gated
            .inner
            .find_now(record.prefix)
            .unwrap()
            .unwrap()
            .unwrap()
            .revoked
    );
}
