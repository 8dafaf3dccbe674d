//! A hot key through the caching store, beside the in-memory store, in one run:
//!
//! ```text
//! APIKEY_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench cache
//! ```
//!
//! `memory_store` verifies a header value against `MemoryStore`;
//! `cached_postgres` the same key held by `CachedStore<PostgresStore>` (after
//! the first, every lookup is a cache hit); target: within 1.5x. Without
//! the variable the PostgreSQL bench is skipped, and `cached_memory` stands
//! in to show the cache's own cost.

mod support;

use std::{hint::black_box, sync::OnceLock};

use api_key_auth::{
    cache::CachedStore,
    store::{postgres::PostgresStore, Schema},
    Authenticator, KeyManager, KeyStore, MemoryStore, NewKey,
};
use http::{header::AUTHORIZATION, HeaderMap, HeaderValue};

use support::now;

fn main() {
    let mut divan = divan::Divan::from_args();
    if std::env::var("APIKEY_TEST_POSTGRES_URL").is_err() {
        eprintln!("cached_postgres skipped: set APIKEY_TEST_POSTGRES_URL to run it");
        divan = divan.skip_regex("cached_postgres");
    }
    divan.main();
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap()
    })
}

/// An authenticator over `store` holding one fresh key, and that key's header.
fn hot_key<S: KeyManager + Clone>(store: S) -> (Authenticator, HeaderMap) {
    let (_, key) = runtime()
        .block_on(store.create(NewKey::named("hot")))
        .unwrap()
        .reveal();
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::try_from(format!("Api-Key {}", key.expose_secret())).unwrap(),
    );
    let auth = Authenticator::new(store);
    // Warm: the first lookup fills the cache.
    runtime().block_on(auth.authenticate(&headers)).unwrap();
    (auth, headers)
}

fn bench_verify(bencher: divan::Bencher, auth: Authenticator, headers: HeaderMap) {
    bencher.bench(|| {
        now(auth.authenticate(black_box(&headers)))
            .unwrap()
            .unwrap()
    });
}

#[divan::bench(sample_size = 512)]
fn memory_store(bencher: divan::Bencher) {
    let (auth, headers) = hot_key(MemoryStore::new());
    bench_verify(bencher, auth, headers);
}

#[divan::bench(sample_size = 512)]
fn cached_memory(bencher: divan::Bencher) {
    let (auth, headers) = hot_key(CachedStore::new(MemoryStore::new()));
    bench_verify(bencher, auth, headers);
}

#[divan::bench(sample_size = 512)]
fn cached_postgres(bencher: divan::Bencher) {
    let url = std::env::var("APIKEY_TEST_POSTGRES_URL").unwrap();
    let store = runtime().block_on(async {
        let store = PostgresStore::connect(&url).await.unwrap();
        assert_eq!(store.schema(), &Schema::Native);
        let revocations = store.revocations();
        CachedStore::new(store).with_invalidations(revocations)
    });
    let (auth, headers) = {
        let _guard = runtime().enter();
        hot_key(store.clone())
    };
    let before = store.stats().store_calls;
    bench_verify(bencher, auth, headers);
    assert_eq!(
        store.stats().store_calls,
        before,
        "every timed lookup was a cache hit"
    );
    let _ = store.find_now(api_key_auth::key::ApiKey::generate().unwrap().prefix());
}
