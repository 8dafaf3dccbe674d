//! Several instances on one database: a revocation on one reaches the
//! caches of the others within a second, through PostgreSQL LISTEN/NOTIFY
//! or Redis pub/sub, and a listener that lost its line flushes its cache
//! when it comes back. Also: a store that is cut off or hangs gives 503, and
//! the service recovers by itself when the store returns (MySQL too).
#![cfg(all(
    feature = "cache",
    any(feature = "postgres", feature = "redis", feature = "mysql")
))]

mod common;

use std::time::Duration;

use api_key_auth::{
    cache::CachedStore, ApiKeyLayer, AuthFailure, Authenticator, KeyManager, KeyStore, NewKey,
    PlaintextKey,
};
use common::{host_port, Echo, Proxy};
use http::{header::AUTHORIZATION, HeaderMap, Request, StatusCode};
use tower::{Layer, ServiceExt};

const LONG: Duration = Duration::from_secs(3600);

fn headers(key: &PlaintextKey) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        format!("Api-Key {}", key.expose_secret()).parse().unwrap(),
    );
    headers
}

/// Waits up to `limit` for `instance` to refuse `key` as revoked; the time it took.
async fn refused_within<S: KeyStore + Clone>(
    instance: &S,
    key: &PlaintextKey,
    limit: Duration,
) -> Duration {
    let auth = Authenticator::new(instance.clone());
    let started = tokio::time::Instant::now();
    loop {
        match auth.authenticate(&headers(key)).await {
            Err(AuthFailure::Revoked(_)) => return started.elapsed(),
            other if started.elapsed() < limit => {
                assert!(other.is_ok(), "unexpected {other:?}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            other => panic!("still {other:?} after {limit:?}"),
        }
    }
}

/// Revokes on `a`, and checks that `b`, which had the key cached, refuses it within a second.
async fn revocation_reaches_the_other_instance<S>(a: CachedStore<S>, b: CachedStore<S>)
where
    S: KeyManager + Clone,
{
    // Let both listeners subscribe before anything happens.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (record, key) = a.create(NewKey::named("shared")).await.unwrap().reveal();
    let auth_b = Authenticator::new(b.clone());
    auth_b.authenticate(&headers(&key)).await.unwrap();
    auth_b.authenticate(&headers(&key)).await.unwrap();
    let hits = b.stats().hits;
    assert!(hits >= 1, "instance B serves the key from its cache");

    assert!(a.revoke(&record.id).await.unwrap());
    let took = refused_within(&b, &key, Duration::from_secs(1)).await;
    println!("instance B refused the revoked key after {took:?}");
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use api_key_auth::store::{postgres::PostgresStore, Schema};
    use common::{isolated_pg_schema, pg_pool_in, postgres_url};

    async fn instance(url: &str, schema: &str) -> CachedStore<PostgresStore> {
        let store = PostgresStore::new(pg_pool_in(url, schema).await, Schema::Native);
        store.migrate().await.unwrap();
        let revocations = store.revocations();
        CachedStore::builder(store)
            .ttl(LONG)
            .build()
            .with_invalidations(revocations)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_revocation_reaches_another_instance_within_a_second() {
        let Some(url) =
            postgres_url("postgres::a_revocation_reaches_another_instance_within_a_second")
        else {
            return;
        };
        let schema = isolated_pg_schema(&url).await;
        let a = instance(&url, &schema).await;
        let b = instance(&url, &schema).await;
        revocation_reaches_the_other_instance(a, b).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_listener_that_lost_its_line_flushes_when_it_is_back() {
        let Some(url) =
            postgres_url("postgres::a_listener_that_lost_its_line_flushes_when_it_is_back")
        else {
            return;
        };
        let schema = isolated_pg_schema(&url).await;
        let a = instance(&url, &schema).await;
        // B reads keys directly, but hears of revocations through a line the test can cut.
        let target = host_port(&url);
        let proxy = Proxy::start(&target).await;
        let b_store = PostgresStore::new(pg_pool_in(&url, &schema).await, Schema::Native);
        let b_listener = PostgresStore::new(
            pg_pool_in(&proxy.url(&url, &target), &schema).await,
            Schema::Native,
        );
        let b = CachedStore::builder(b_store)
            .ttl(LONG)
            .build()
            .with_invalidations(b_listener.revocations());
        flushes_after_its_line_comes_back(a, b, &proxy).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cut_or_hanging_database_gives_503_and_the_service_recovers() {
        let Some(url) =
            postgres_url("postgres::a_cut_or_hanging_database_gives_503_and_the_service_recovers")
        else {
            return;
        };
        let schema = isolated_pg_schema(&url).await;
        let target = host_port(&url);
        let proxy = Proxy::start(&target).await;
        let store = PostgresStore::new(
            pg_pool_in(&proxy.url(&url, &target), &schema).await,
            Schema::Native,
        );
        store.migrate().await.unwrap();
        service_survives_its_store(store, &proxy).await;
    }
}

#[cfg(feature = "mysql")]
mod mysql {
    use super::*;
    use api_key_auth::store::mysql::MySqlStore;
    use common::{isolated_mysql_url, mysql_url};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cut_or_hanging_database_gives_503_and_the_service_recovers() {
        let Some(url) =
            mysql_url("mysql::a_cut_or_hanging_database_gives_503_and_the_service_recovers")
        else {
            return;
        };
        let url = isolated_mysql_url(&url).await;
        let target = host_port(&url);
        let proxy = Proxy::start(&target).await;
        let store = MySqlStore::connect(&proxy.url(&url, &target))
            .await
            .unwrap();
        service_survives_its_store(store, &proxy).await;
    }
}

#[cfg(feature = "redis")]
mod redis {
    use super::*;
    use api_key_auth::store::redis::RedisStore;
    use common::redis_url;

    async fn instance(url: &str, namespace: &str) -> CachedStore<RedisStore> {
        let store = RedisStore::connect(url)
            .await
            .unwrap()
            .with_namespace(namespace);
        let revocations = store.revocations();
        CachedStore::builder(store)
            .ttl(LONG)
            .build()
            .with_invalidations(revocations)
    }

    fn namespace() -> String {
        format!(
            "apikey-test-{}",
            api_key_auth::key::ApiKey::generate().unwrap().prefix()
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_revocation_reaches_another_instance_within_a_second() {
        let Some(url) = redis_url("redis::a_revocation_reaches_another_instance_within_a_second")
        else {
            return;
        };
        let ns = namespace();
        revocation_reaches_the_other_instance(instance(&url, &ns).await, instance(&url, &ns).await)
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_subscriber_that_lost_its_line_flushes_when_it_is_back() {
        let Some(url) = redis_url("redis::a_subscriber_that_lost_its_line_flushes_when_it_is_back")
        else {
            return;
        };
        let ns = namespace();
        let a = instance(&url, &ns).await;
        let target = host_port(&url);
        let proxy = Proxy::start(&target).await;
        let b_store = RedisStore::connect(&url).await.unwrap().with_namespace(&ns);
        let b_listener = RedisStore::connect(&proxy.url(&url, &target))
            .await
            .unwrap()
            .with_namespace(&ns);
        let b = CachedStore::builder(b_store)
            .ttl(LONG)
            .build()
            .with_invalidations(b_listener.revocations());
        flushes_after_its_line_comes_back(a, b, &proxy).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cut_or_hanging_redis_gives_503_and_the_service_recovers() {
        let Some(url) =
            redis_url("redis::a_cut_or_hanging_redis_gives_503_and_the_service_recovers")
        else {
            return;
        };
        let target = host_port(&url);
        let proxy = Proxy::start(&target).await;
        let store = RedisStore::connect(&proxy.url(&url, &target))
            .await
            .unwrap()
            .with_namespace(&namespace());
        service_survives_its_store(store, &proxy).await;
    }
}

/// `b` hears of revocations through `proxy`'s line: a revocation on `a` made
/// while the line is cut leaves `b` stale, and `b` refuses the key soon after
/// the line comes back, its listener having flushed on reconnecting.
async fn flushes_after_its_line_comes_back<S: KeyManager + Clone>(
    a: CachedStore<S>,
    b: CachedStore<S>,
    proxy: &Proxy,
) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (record, key) = a.create(NewKey::named("shared")).await.unwrap().reveal();
    Authenticator::new(b.clone())
        .authenticate(&headers(&key))
        .await
        .unwrap();
    proxy.cut();
    tokio::time::sleep(Duration::from_millis(200)).await;
    a.revoke(&record.id).await.unwrap(); // B cannot hear of this
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !b.find(record.prefix).await.unwrap().unwrap().revoked,
        "B still has the stale entry"
    );

    proxy.restore();
    let took = refused_within(&b, &key, Duration::from_secs(5)).await;
    println!("B flushed and refused the key {took:?} after its listener's line came back");
}

/// Through the layer: 200, then 503 with Retry-After while the line is cut
/// and while the server hangs, then 200 again once it is back, with no restart.
async fn service_survives_its_store<S: KeyManager + Clone>(store: S, proxy: &Proxy) {
    let (_, key) = store
        .create(NewKey::named("resilient"))
        .await
        .unwrap()
        .reveal();
    let auth = Authenticator::builder(store)
        .lookup_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let service = ApiKeyLayer::from(auth).layer(Echo::default());
    let status = |service: api_key_auth::ApiKeyService<Echo>| {
        let request = Request::get("/")
            .header(AUTHORIZATION, format!("Api-Key {}", key.expose_secret()))
            .body(String::new())
            .unwrap();
        async move {
            let response = service.oneshot(request).await.unwrap();
            if response.status() == StatusCode::SERVICE_UNAVAILABLE {
                assert_eq!(response.headers()["retry-after"], "1");
            }
            response.status()
        }
    };
    assert_eq!(status(service.clone()).await, StatusCode::OK);

    proxy.cut();
    for _ in 0..3 {
        let started = tokio::time::Instant::now();
        assert_eq!(
            status(service.clone()).await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a cut store answers 503 quickly"
        );
    }
    proxy.stall();
    let started = tokio::time::Instant::now();
    assert_eq!(
        status(service.clone()).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a hanging store answers 503 after the timeout"
    );

    proxy.restore();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = status(service.clone()).await;
        if now == StatusCode::OK {
            break;
        }
        assert_eq!(
            now,
            StatusCode::SERVICE_UNAVAILABLE,
            "never a 401 while recovering"
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "not recovered 10 s after the store came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
