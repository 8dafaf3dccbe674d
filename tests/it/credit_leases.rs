//! Leased credits: each instance takes blocks of a key's credits from the
//! store and spends them in memory. Between instances no more is admitted
//! than the key holds, and once every instance has been refused exactly
//! the key's credits were admitted; a request that goes away while a block
//! is being taken loses nothing; a refill comes back.

use crate::common;

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use api_key_auth::{
    store::{redis::RedisStore, CreditLease, CreditSpend},
    AuthFailure, Authenticator, CreditLeases, KeyManager, KeyRecord, KeyStore, Lookup, MemoryStore,
    NewKey, Prefix, StoreError,
};

use crate::common::key_headers as headers;

fn leased(store: impl KeyStore, block: u64) -> Authenticator {
    Authenticator::builder(store)
        .credit_leases(CreditLeases::blocks_of(block).unwrap())
        .build()
        .unwrap()
}

/// The first request takes a block from the store and waits for it; the
/// next are spent from it. Exactly the key's credits are admitted, then
/// 403 as without leases.
#[tokio::test]
async fn a_lease_takes_a_block_and_admits_exactly_the_credits() {
    let store = MemoryStore::new();
    let (record, key) = store
        .create(NewKey::named("leased").credits(10, None))
        .await
        .unwrap()
        .reveal();
    let auth = leased(store.clone(), 4);
    let key = key.expose_secret();
    auth.authenticate(&headers(key)).await.unwrap();
    let stored = store.find(record.prefix).await.unwrap().unwrap();
    assert_eq!(stored.credits.unwrap().remaining(), 6, "a block of 4 taken");
    let mut admitted = 1;
    let refused = loop {
        match auth.authenticate(&headers(key)).await {
            Ok(_) => admitted += 1,
            Err(refused) => break refused,
        }
        assert!(admitted <= 10, "more admitted than the key holds");
    };
    assert_eq!(admitted, 10);
    assert!(
        matches!(
            refused,
            AuthFailure::OutOfCredits {
                next_refill: None,
                ..
            }
        ),
        "{refused}"
    );
    assert_eq!(auth.rejection(&refused).status(), 403);
    let stored = store.find(record.prefix).await.unwrap().unwrap();
    assert_eq!(stored.credits.unwrap().remaining(), 0);
}

/// Three instances on one store, leasing blocks of 7, all at once: each
/// goes on until it is refused. None is refused while the key has credits
/// any instance could take, so exactly the key's 50 credits are admitted
/// between them; with more credits than requests, every request is
/// admitted and the store counts under two blocks per instance beyond them.
/// Run on Redis, PostgreSQL and MySQL beside the exact spend, in `credits`.
pub(crate) async fn instances_lease_exactly<S, F, Fut>(instance: F)
where
    S: KeyManager + Clone,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = S>,
{
    const BLOCK: u64 = 7;
    let first = instance().await;
    let (record, key) = first
        .create(NewKey::named("shared").credits(50, None))
        .await
        .unwrap()
        .reveal();
    let key = key.expose_secret().to_owned();
    let admitted = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..3 {
        let auth = leased(instance().await, BLOCK);
        let (key, admitted) = (key.clone(), admitted.clone());
        tasks.spawn(async move {
            loop {
                match auth.authenticate(&headers(&key)).await {
                    Ok(_) => {
                        let before = admitted.fetch_add(1, Ordering::SeqCst);
                        assert!(before < 50, "more admitted than the key holds");
                    }
                    Err(AuthFailure::OutOfCredits { .. }) => break,
                    Err(refused) => panic!("{refused}"),
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    assert_eq!(admitted.load(Ordering::SeqCst), 50);
    let left = first.find(record.prefix).await.unwrap().unwrap();
    assert_eq!(left.credits.unwrap().remaining(), 0);

    let (record, key) = first
        .create(NewKey::named("plenty").credits(1000, None))
        .await
        .unwrap()
        .reveal();
    let key = key.expose_secret().to_owned();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..3 {
        let auth = leased(instance().await, BLOCK);
        let key = key.clone();
        tasks.spawn(async move {
            for _ in 0..15 {
                auth.authenticate(&headers(&key)).await.unwrap();
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    // A background take may still be landing: the store's count is read
    // once it has settled.
    let mut taken = 0;
    for _ in 0..100 {
        let left = first.find(record.prefix).await.unwrap().unwrap();
        let now = 1000 - left.credits.unwrap().remaining();
        if now == taken {
            break;
        }
        taken = now;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        (45..=45 + 3 * 2 * BLOCK).contains(&taken),
        "{taken} taken for 45 requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_leasing_in_memory_and_on_sqlite_admit_exactly() {
    let store = MemoryStore::new();
    instances_lease_exactly(|| {
        let store = store.clone();
        async move { store }
    })
    .await;
    let file = tempfile::NamedTempFile::new().unwrap();
    let url = format!("sqlite://{}", file.path().display());
    instances_lease_exactly(|| {
        let url = url.clone();
        async move {
            api_key_auth::store::sqlite::SqliteStore::connect(&url)
                .await
                .unwrap()
        }
    })
    .await;
}

/// Every store takes what is left up to the block, then says none is left
/// with its refill; a store that only spends (the trait's default) takes
/// the block whole, then one credit at a time.
#[tokio::test]
async fn stores_lease_what_is_left_up_to_the_block() {
    let store = MemoryStore::new();
    let (record, _) = store
        .create(NewKey::named("five").credits(5, None))
        .await
        .unwrap()
        .reveal();
    let taken = |lease| match lease {
        CreditLease::Taken { count, .. } => count,
        other => panic!("{other:?}"),
    };
    assert_eq!(taken(store.lease_credits(&record, 3).await.unwrap()), 3);
    assert_eq!(taken(store.lease_credits(&record, 3).await.unwrap()), 2);
    assert_eq!(
        store.lease_credits(&record, 3).await.unwrap(),
        CreditLease::Exhausted { next_refill: None }
    );

    let spending = OnlySpends(MemoryStore::new());
    let (record, _) = spending
        .0
        .create(NewKey::named("five").credits(5, None))
        .await
        .unwrap()
        .reveal();
    assert_eq!(taken(spending.lease_credits(&record, 3).await.unwrap()), 3);
    assert_eq!(taken(spending.lease_credits(&record, 3).await.unwrap()), 1);
    assert_eq!(taken(spending.lease_credits(&record, 3).await.unwrap()), 1);
    assert_eq!(
        spending.lease_credits(&record, 3).await.unwrap(),
        CreditLease::Exhausted { next_refill: None }
    );
}

/// A custom store that spends credits and leaves leasing to the trait.
#[derive(Clone)]
struct OnlySpends(MemoryStore);

#[async_trait::async_trait]
impl KeyStore for OnlySpends {
    async fn find(&self, prefix: Prefix) -> Lookup {
        self.0.find(prefix).await
    }

    async fn spend_credits(
        &self,
        record: &KeyRecord,
        cost: u64,
    ) -> Result<CreditSpend, StoreError> {
        self.0.spend_credits(record, cost).await
    }
}

/// A store whose takes are answered only when the test lets one through
/// (the credits already gone from the count, the answer on its way), and
/// that counts them.
#[derive(Clone)]
struct HeldTakes {
    inner: MemoryStore,
    let_through: Arc<tokio::sync::Semaphore>,
    takes: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl KeyStore for HeldTakes {
    async fn find(&self, prefix: Prefix) -> Lookup {
        self.inner.find(prefix).await
    }

    async fn lease_credits(
        &self,
        record: &KeyRecord,
        up_to: u64,
    ) -> Result<CreditLease, StoreError> {
        let taken = self.inner.lease_credits(record, up_to).await;
        self.takes.fetch_add(1, Ordering::SeqCst);
        self.let_through.acquire().await.unwrap().forget();
        taken
    }
}

/// A request that goes away while its block is being taken loses none of
/// it: the take finishes on its own and the block lands in the lease, where
/// the next requests spend it without taking another.
#[tokio::test]
async fn a_request_that_goes_away_mid_take_loses_no_credit() {
    let inner = MemoryStore::new();
    let (record, key) = inner
        .create(NewKey::named("four").credits(4, None))
        .await
        .unwrap()
        .reveal();
    let store = HeldTakes {
        inner: inner.clone(),
        let_through: Arc::new(tokio::sync::Semaphore::new(0)),
        takes: Arc::new(AtomicUsize::new(0)),
    };
    let auth = leased(store.clone(), 4);
    let key = key.expose_secret();
    let first = headers(key);
    let mut gone = Box::pin(auth.authenticate(&first));
    // Polled until the take is under way, then dropped.
    while store.takes.load(Ordering::SeqCst) == 0 {
        tokio::select! {
            biased;
            _ = &mut gone => panic!("the request finished with its take held"),
            () = tokio::task::yield_now() => {}
        }
    }
    drop(gone);
    store.let_through.add_permits(1);
    for n in 0..4 {
        auth.authenticate(&headers(key))
            .await
            .unwrap_or_else(|refused| panic!("request {n}: {refused}"));
    }
    assert_eq!(store.takes.load(Ordering::SeqCst), 1, "one block taken");
    let stored = inner.find(record.prefix).await.unwrap().unwrap();
    assert_eq!(stored.credits.unwrap().remaining(), 0);
    store.let_through.add_permits(1);
    let refused = auth.authenticate(&headers(key)).await.unwrap_err();
    assert!(
        matches!(refused, AuthFailure::OutOfCredits { .. }),
        "{refused}"
    );
}

/// A key refilled every second, leased in blocks of 2 from its 1 credit:
/// spent, refused until the refill instant the refusal names, then spent
/// again from the refilled count, in memory and on Redis.
async fn a_leased_refill_comes_back<S: KeyManager + Clone>(store: S) {
    crate::credits::a_refill_comes_back_at_its_instant(store, |store| leased(store, 2)).await;
}

#[tokio::test]
async fn a_leased_refill_comes_back_in_memory_and_on_redis() {
    a_leased_refill_comes_back(MemoryStore::new()).await;
    let Some(url) = common::redis_url("credit_leases::a_leased_refill_comes_back_on_redis") else {
        return;
    };
    let store = RedisStore::connect(&url)
        .await
        .unwrap()
        .with_namespace(&common::namespace());
    a_leased_refill_comes_back(store).await;
}

/// No lease is held for more keys than the limit: the others' credits are
/// spent on the store request by request, exactly.
#[tokio::test]
async fn keys_past_the_lease_limit_are_spent_exactly() {
    let store = MemoryStore::new();
    let (first, first_key) = store
        .create(NewKey::named("leased").credits(100, None))
        .await
        .unwrap()
        .reveal();
    let (second, second_key) = store
        .create(NewKey::named("exact").credits(100, None))
        .await
        .unwrap()
        .reveal();
    let auth = Authenticator::builder(store.clone())
        .credit_leases(CreditLeases::blocks_of(10).unwrap().max_keys(1))
        .build()
        .unwrap();
    auth.authenticate(&headers(first_key.expose_secret()))
        .await
        .unwrap();
    auth.authenticate(&headers(second_key.expose_secret()))
        .await
        .unwrap();
    let left = |record: Arc<KeyRecord>| {
        let store = store.clone();
        async move {
            let found = store.find(record.prefix).await.unwrap().unwrap();
            found.credits.unwrap().remaining()
        }
    };
    assert_eq!(left(first).await, 90, "a block of 10 leased");
    assert_eq!(left(second).await, 99, "one spent on the store");
}

/// A request that costs more than a block is spent on the store, whole or
/// not at all: refused, it moves none of the key's credits into a lease.
#[tokio::test]
async fn a_cost_over_the_block_is_spent_on_the_store() {
    use api_key_auth::ApiKeyLayer;
    use tower::{Layer, ServiceExt};

    let store = MemoryStore::new();
    let (record, key) = store
        .create(NewKey::named("costly").credits(10, None))
        .await
        .unwrap()
        .reveal();
    let service = ApiKeyLayer::from(leased(store.clone(), 4))
        .credit_cost(6)
        .layer(tower::service_fn(|_: http::Request<String>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
        }));
    let call = || {
        let request = http::Request::get("/")
            .header("authorization", format!("Api-Key {}", key.expose_secret()))
            .body(String::new())
            .unwrap();
        service.clone().oneshot(request)
    };
    let left = || async {
        let found = store.find(record.prefix).await.unwrap().unwrap();
        found.credits.unwrap().remaining()
    };
    assert_eq!(call().await.unwrap().status(), 200);
    assert_eq!(left().await, 4);
    assert_eq!(call().await.unwrap().status(), 403);
    assert_eq!(left().await, 4, "a refused request moved nothing");
}

/// A store that fails every take, the first only once the test lets it.
#[derive(Clone)]
struct FailingTakes {
    inner: MemoryStore,
    let_through: Arc<tokio::sync::Semaphore>,
    takes: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl KeyStore for FailingTakes {
    async fn find(&self, prefix: Prefix) -> Lookup {
        self.inner.find(prefix).await
    }

    async fn lease_credits(&self, _: &KeyRecord, _: u64) -> Result<CreditLease, StoreError> {
        self.takes.fetch_add(1, Ordering::SeqCst);
        self.let_through.acquire().await.unwrap().forget();
        Err(StoreError::unavailable("the line is down"))
    }
}

/// Requests that wait for one take use its outcome: five at once on a
/// store that fails get 503 each, and the store is asked once.
#[tokio::test]
async fn requests_waiting_for_a_take_share_its_failure() {
    let inner = MemoryStore::new();
    let (_, key) = inner
        .create(NewKey::named("shared").credits(100, None))
        .await
        .unwrap()
        .reveal();
    let store = FailingTakes {
        inner,
        let_through: Arc::new(tokio::sync::Semaphore::new(0)),
        takes: Arc::new(AtomicUsize::new(0)),
    };
    let auth = leased(store.clone(), 10);
    let key = key.expose_secret().to_owned();
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..5 {
        let (auth, key) = (auth.clone(), key.clone());
        requests.spawn(async move { auth.authenticate(&headers(&key)).await });
    }
    // On this one thread, every request runs until it waits: the first in
    // the store, the others for its take.
    while store.takes.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    store.let_through.add_permits(5);
    while let Some(answer) = requests.join_next().await {
        let refused = answer.unwrap().unwrap_err();
        assert!(
            matches!(refused, AuthFailure::StoreUnavailable { .. }),
            "{refused}"
        );
        assert_eq!(auth.rejection(&refused).status(), 503);
    }
    assert_eq!(
        store.takes.load(Ordering::SeqCst),
        1,
        "the store asked once"
    );
}
