//! Several instances on one database: a revocation on one reaches the
//! caches of the others within a second, through PostgreSQL LISTEN/NOTIFY,
//! Redis pub/sub, or the change log of SQLite and MySQL; a listener that lost its line, or whose line went
//! silent, leaves no revoked key cached; revocations reach it again once the
//! line is back. Also: a store that is cut off or hangs gives 503, and
//! the service recovers by itself when the store returns (MySQL too).
#![cfg(all(
    feature = "cache",
    any(
        feature = "postgres",
        feature = "redis",
        feature = "mysql",
        feature = "sqlite"
    )
))]

use crate::common;

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
    answer_within(instance, key, limit, |answer| {
        matches!(answer, Err(AuthFailure::Revoked(_)))
    })
    .await
}

/// Waits up to `limit` for `instance`'s answer to `key` to be one `wanted`
/// holds, every other answer meanwhile a pass or the opposite of a pass;
/// the time it took.
async fn answer_within<S: KeyStore + Clone>(
    instance: &S,
    key: &PlaintextKey,
    limit: Duration,
    wanted: impl Fn(&Result<(), AuthFailure>) -> bool,
) -> Duration {
    let auth = Authenticator::new(instance.clone());
    let started = tokio::time::Instant::now();
    loop {
        let answer = auth.authenticate(&headers(key)).await.map(drop);
        match answer {
            answer if wanted(&answer) => return started.elapsed(),
            Ok(()) | Err(AuthFailure::Suspended(_)) if started.elapsed() < limit => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            other => panic!("still {other:?} after {:?}", started.elapsed()),
        }
    }
}

/// Suspends, resumes, then revokes on `a`, and checks that `b`, which had
/// the key cached, follows each within a second.
async fn revocation_reaches_the_other_instance<S>(a: CachedStore<S>, b: CachedStore<S>)
where
    S: KeyManager + Clone,
{
    // Wait until B hears the store (an event, not a clock): a probe key B
    // has cached, revoked on A, is refused by B once B's listener is
    // subscribed, whether it heard the revocation or flushed on connecting.
    let auth_b = Authenticator::new(b.clone());
    let (probe, probe_key) = a.create(NewKey::named("probe")).await.unwrap().reveal();
    auth_b.authenticate(&headers(&probe_key)).await.unwrap();
    assert!(a.revoke(&probe.id).await.unwrap());
    refused_within(&b, &probe_key, Duration::from_secs(60)).await;

    let (record, key) = a.create(NewKey::named("shared")).await.unwrap().reveal();
    // Until B serves the key from its cache: a flush another test's
    // TRUNCATE announces on the shared channel may drop it once or twice.
    let before = b.stats().hits;
    for tries in 1.. {
        auth_b.authenticate(&headers(&key)).await.unwrap();
        if b.stats().hits > before {
            break;
        }
        assert!(
            tries < 100,
            "instance B never served the key from its cache"
        );
    }

    let second = Duration::from_secs(1);
    assert!(a.suspend(&record.id).await.unwrap());
    let took = answer_within(&b, &key, second, |answer| {
        matches!(answer, Err(AuthFailure::Suspended(_)))
    })
    .await;
    println!("instance B refused the suspended key after {took:?}");
    auth_b.authenticate(&headers(&key)).await.unwrap_err();
    assert!(a.resume(&record.id).await.unwrap());
    let took = answer_within(&b, &key, second, Result::is_ok).await;
    println!("instance B took the resumed key after {took:?}");

    assert!(a.revoke(&record.id).await.unwrap());
    let took = refused_within(&b, &key, second).await;
    println!("instance B refused the revoked key after {took:?}");
}

/// A test database URL without a port (a valid URL) gets its scheme's
/// default port, and the proxy's rewrite still lands on the proxy.
#[tokio::test]
async fn urls_without_a_port_are_proxied_too() {
    assert_eq!(
        host_port("postgres://postgres@127.0.0.1/test"),
        "127.0.0.1:5432"
    );
    assert_eq!(host_port("postgres://u:p@db:6000/test?x=1"), "db:6000");
    assert_eq!(host_port("mysql://root@localhost/test"), "localhost:3306");
    assert_eq!(host_port("redis://127.0.0.1"), "127.0.0.1:6379");
    assert_eq!(host_port("redis://[::1]:7000/0"), "[::1]:7000");
    assert_eq!(host_port("redis://[::1]/0"), "[::1]:6379");
    let proxy = Proxy::start("127.0.0.1:5432").await;
    let url = "postgres://postgres@127.0.0.1/test";
    assert_eq!(
        proxy.url(url, &host_port(url)),
        format!("postgres://postgres@{}/test", proxy.addr)
    );
    let url = "postgres://postgres@127.0.0.1:5432/test";
    assert_eq!(
        proxy.url(url, &host_port(url)),
        format!("postgres://postgres@{}/test", proxy.addr)
    );
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

    /// The store announces a suspension itself, as it does a revocation:
    /// without the change triggers, the other instance still hears of it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_suspension_reaches_another_instance_without_the_triggers() {
        let Some(url) =
            postgres_url("postgres::a_suspension_reaches_another_instance_without_the_triggers")
        else {
            return;
        };
        let schema = isolated_pg_schema(&url).await;
        let a = instance(&url, &schema).await;
        let b = instance(&url, &schema).await;
        a.inner().remove_change_triggers().await.unwrap();
        revocation_reaches_the_other_instance(a, b).await;
    }

    /// A change Django (or anyone) makes to a DRF table's row, without this
    /// crate, reaches a cached instance within a second once the change
    /// triggers are installed: a revocation, an expiry moved into the past, a
    /// deleted row. Removing the triggers removes the announcements.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn changes_made_outside_the_crate_reach_the_cache_through_triggers() {
        let Some(url) = postgres_url(
            "postgres::changes_made_outside_the_crate_reach_the_cache_through_triggers",
        ) else {
            return;
        };
        let schema = isolated_pg_schema(&url).await;
        let django = pg_pool_in(&url, &schema).await;
        sqlx::query(
            "CREATE TABLE rest_framework_api_key_apikey (\
               id varchar(150) NOT NULL PRIMARY KEY, created timestamp with time zone NOT NULL, \
               name varchar(50) NOT NULL, revoked boolean NOT NULL, \
               expiry_date timestamp with time zone NULL, hashed_key varchar(150) NOT NULL, \
               prefix varchar(8) NOT NULL UNIQUE)",
        )
        .execute(&django)
        .await
        .unwrap();
        let store = PostgresStore::new(pg_pool_in(&url, &schema).await, Schema::drf());
        store.install_change_triggers().await.unwrap();
        store.install_change_triggers().await.unwrap(); // again: no error, one trigger
        let revocations = store.revocations();
        let cached = CachedStore::builder(store.clone())
            .ttl(LONG)
            .build()
            .with_invalidations(revocations);
        tokio::time::sleep(Duration::from_millis(300)).await;

        let changes = [
            "UPDATE rest_framework_api_key_apikey SET revoked = true WHERE prefix = $1",
            "UPDATE rest_framework_api_key_apikey SET expiry_date = now() - interval '1 day' WHERE prefix = $1",
            "DELETE FROM rest_framework_api_key_apikey WHERE prefix = $1",
        ];
        for change in changes {
            let (record, key) = store
                .create(NewKey::named("django's"))
                .await
                .unwrap()
                .reveal();
            let auth = Authenticator::new(cached.clone());
            auth.authenticate(&headers(&key)).await.unwrap();
            auth.authenticate(&headers(&key)).await.unwrap();
            sqlx::query(change)
                .bind(record.prefix.as_str())
                .execute(&django)
                .await
                .unwrap();
            let started = tokio::time::Instant::now();
            loop {
                match auth.authenticate(&headers(&key)).await {
                    Err(_) => break,
                    Ok(_) => {
                        assert!(
                            started.elapsed() < Duration::from_secs(1),
                            "{change}: still accepted after a second"
                        );
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            println!("{change}: refused after {:?}", started.elapsed());
        }

        store.remove_change_triggers().await.unwrap();
        let (record, key) = store.create(NewKey::named("after")).await.unwrap().reveal();
        let auth = Authenticator::new(cached.clone());
        auth.authenticate(&headers(&key)).await.unwrap();
        sqlx::query(changes[0])
            .bind(record.prefix.as_str())
            .execute(&django)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(
            auth.authenticate(&headers(&key)).await.is_ok(),
            "without the triggers the cache hears nothing (the TTL bounds it)"
        );
    }

    /// B reads keys directly, but hears of revocations through a line the test can break.
    async fn lost_line(test: &str, trouble: LineTrouble, heartbeat: Duration, limit: Duration) {
        let Some(url) = postgres_url(test) else {
            return;
        };
        let schema = isolated_pg_schema(&url).await;
        let a = instance(&url, &schema).await;
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
            .with_invalidations(b_listener.revocations().heartbeat(heartbeat));
        a_lost_line_leaves_no_revoked_key_cached(a, b, &proxy, trouble, limit).await;
    }

    /// Cut: the listener flushes at once and at every retry (at most 2 s apart).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_listener_whose_line_is_cut_leaves_no_revoked_key_cached() {
        lost_line(
            "postgres::a_listener_whose_line_is_cut_leaves_no_revoked_key_cached",
            LineTrouble::Cut,
            Duration::from_secs(5),
            Duration::from_secs(3),
        )
        .await;
    }

    /// Silent: the heartbeat finds it; the revocation is honoured within heartbeat + 1 s.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_listener_whose_line_goes_silent_is_found_by_its_heartbeat() {
        let heartbeat = Duration::from_millis(500);
        lost_line(
            "postgres::a_listener_whose_line_goes_silent_is_found_by_its_heartbeat",
            LineTrouble::Silence,
            heartbeat,
            heartbeat + Duration::from_secs(1),
        )
        .await;
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

/// The same on a Redis Cluster: the revocation is published by the node
/// holding the namespace's slot and heard by a listener subscribed to each
/// node in turn (a listener subscribes to its first seed node).
#[cfg(feature = "redis-cluster")]
mod redis_cluster {
    use super::*;
    use api_key_auth::store::redis::RedisStore;
    use common::redis_cluster_url;

    async fn instance(nodes: &[String], namespace: &str) -> CachedStore<RedisStore> {
        let store = RedisStore::connect_cluster(nodes)
            .await
            .unwrap_or_else(|e| {
                panic!("APIKEY_TEST_REDIS_CLUSTER_URL is set but the cluster is unreachable: {e}")
            })
            .with_namespace(namespace);
        assert!(store.is_cluster());
        let revocations = store.revocations();
        CachedStore::builder(store)
            .ttl(LONG)
            .build()
            .with_invalidations(revocations)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_revocation_reaches_another_instance_within_a_second() {
        let Some(url) = redis_cluster_url(
            "redis_cluster::a_revocation_reaches_another_instance_within_a_second",
        ) else {
            return;
        };
        let nodes: Vec<String> = url
            .trim_start_matches("redis+cluster://")
            .split(',')
            .map(|node| format!("redis://{node}"))
            .collect();
        let namespace = common::namespace();
        for first in 0..nodes.len() {
            let mut seeds = nodes.clone();
            seeds.rotate_left(first);
            println!("instance B listens on {}", seeds[0]);
            revocation_reaches_the_other_instance(
                instance(&nodes, &namespace).await,
                instance(&seeds, &namespace).await,
            )
            .await;
        }
    }

    /// A cached instance whose seed list holds a node outside the cluster (a
    /// decommissioned node, a typo pointing at another Redis) still hears
    /// revocations. The cluster client accepts such a list as long as one node
    /// answers; a revocation listener subscribed on that node would have its
    /// heartbeat PINGs answered and never hear a revocation, and the instance
    /// would serve a revoked key until the TTL, silently. The listener checks
    /// that each seed it subscribes to is a member of the cluster.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_seed_outside_the_cluster_does_not_deafen_the_listener() {
        let (Some(cluster), Some(single)) = (
            redis_cluster_url(
                "redis_cluster::a_seed_outside_the_cluster_does_not_deafen_the_listener",
            ),
            common::redis_url(
                "redis_cluster::a_seed_outside_the_cluster_does_not_deafen_the_listener",
            ),
        ) else {
            return;
        };
        let nodes: Vec<String> = cluster
            .trim_start_matches("redis+cluster://")
            .split(',')
            .map(|node| format!("redis://{node}"))
            .collect();
        let mut seeds = vec![single.clone()];
        seeds.extend(nodes.iter().cloned());
        let ns = common::namespace();
        let a = RedisStore::connect_cluster(&nodes)
            .await
            .unwrap()
            .with_namespace(&ns);
        let b = match RedisStore::connect_cluster(&seeds).await {
            Ok(b) => b.with_namespace(&ns),
            Err(e) => {
                // The cluster client refused the seed list: no instance to check.
                println!("connect_cluster refused a seed outside the cluster: {e}");
                return;
            }
        };
        let revocations = b.revocations();
        let cached = CachedStore::builder(b)
            .ttl(Duration::from_secs(3600))
            .build()
            .with_invalidations(revocations);
        tokio::time::sleep(Duration::from_millis(700)).await;

        let (record, _) = a.create(NewKey::named("k")).await.unwrap().reveal();
        assert!(!cached.find(record.prefix).await.unwrap().unwrap().revoked);
        assert!(a.revoke(&record.id).await.unwrap());
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(
            cached.find(record.prefix).await.unwrap().unwrap().revoked,
            "two seconds after the revocation the other instance still serves the key: \
             its listener subscribed to a seed that is not in the cluster"
        );
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
        common::namespace()
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

    /// B reads keys directly, but hears of revocations through a line the test can break.
    async fn lost_line(test: &str, trouble: LineTrouble, heartbeat: Duration, limit: Duration) {
        let Some(url) = redis_url(test) else {
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
            .with_invalidations(b_listener.revocations().heartbeat(heartbeat));
        a_lost_line_leaves_no_revoked_key_cached(a, b, &proxy, trouble, limit).await;
    }

    /// Cut: the subscriber flushes at once and at every retry (at most 2 s apart).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_subscriber_whose_line_is_cut_leaves_no_revoked_key_cached() {
        lost_line(
            "redis::a_subscriber_whose_line_is_cut_leaves_no_revoked_key_cached",
            LineTrouble::Cut,
            Duration::from_secs(5),
            Duration::from_secs(3),
        )
        .await;
    }

    /// Silent: the heartbeat finds it; the revocation is honoured within heartbeat + 1 s.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_subscriber_whose_line_goes_silent_is_found_by_its_heartbeat() {
        let heartbeat = Duration::from_millis(500);
        lost_line(
            "redis::a_subscriber_whose_line_goes_silent_is_found_by_its_heartbeat",
            LineTrouble::Silence,
            heartbeat,
            heartbeat + Duration::from_secs(1),
        )
        .await;
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

/// The change log a trim emptied past what a feed had read: `b` revokes
/// nothing itself, yet refuses the key within `limit`. `trim_while_revoking`
/// revokes `revoked`'s row, deletes every log entry up to and including
/// that change, and changes `other`'s row, in one transaction, so that no
/// feed can have read the revocation's entry.
#[cfg(any(feature = "sqlite", feature = "mysql"))]
async fn trimmed_log_leaves_no_revoked_key_cached<S, F, Fut>(
    a: S,
    b: CachedStore<S>,
    trim_while_revoking: F,
    limit: Duration,
) where
    S: KeyManager + Clone,
    F: FnOnce(String, String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (revoked, key) = a.create(NewKey::named("revoked")).await.unwrap().reveal();
    let (other, _) = a.create(NewKey::named("other")).await.unwrap().reveal();
    let auth = Authenticator::new(b.clone());
    auth.authenticate(&headers(&key)).await.unwrap();
    auth.authenticate(&headers(&key)).await.unwrap();
    assert!(b.stats().hits >= 1, "B serves the key from its cache");
    trim_while_revoking(revoked.prefix.to_string(), other.prefix.to_string()).await;
    let started = tokio::time::Instant::now();
    loop {
        match auth.authenticate(&headers(&key)).await {
            Err(AuthFailure::Revoked(_)) => break,
            Ok(_) if started.elapsed() < limit => {
                tokio::time::sleep(Duration::from_millis(10)).await
            }
            other => panic!("still {other:?} after {:?}", started.elapsed()),
        }
    }
    println!(
        "B refused a key whose log entry was trimmed unread after {:?}",
        started.elapsed()
    );
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use api_key_auth::store::{sqlite::SqliteStore, Schema};

    async fn instance(url: &str) -> CachedStore<SqliteStore> {
        let store = SqliteStore::connect(url).await.unwrap();
        let revocations = store.revocations();
        CachedStore::builder(store)
            .ttl(LONG)
            .build()
            .with_invalidations(revocations)
    }

    /// Two stores on one file, as two processes would have: what one
    /// revokes, the other refuses within a second.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_revocation_reaches_another_instance_within_a_second() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("keys.db").display());
        let a = instance(&url).await;
        let b = instance(&url).await;
        revocation_reaches_the_other_instance(a, b).await;
    }

    /// An in-memory database: a change made past the cache, on the store
    /// itself, still reaches the cache through the log.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_change_past_the_cache_of_an_in_memory_database_reaches_it() {
        let cached = instance("sqlite::memory:").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (record, key) = cached
            .create(NewKey::named("in memory"))
            .await
            .unwrap()
            .reveal();
        let auth = Authenticator::new(cached.clone());
        auth.authenticate(&headers(&key)).await.unwrap();
        auth.authenticate(&headers(&key)).await.unwrap();
        assert!(cached.inner().revoke(&record.id).await.unwrap());
        let took = refused_within(&cached, &key, Duration::from_secs(1)).await;
        println!("refused after {took:?}");
    }

    /// An address allowlist written by hand (no API changes one) reaches a
    /// cached instance within a second, as a revocation does: the change
    /// trigger watches the column.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_allowlist_written_by_hand_reaches_the_cache_within_a_second() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.db");
        let cached = instance(&format!("sqlite:{}", path.display())).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (record, key) = cached
            .create(NewKey::named("to confine"))
            .await
            .unwrap()
            .reveal();
        let auth = Authenticator::new(cached.clone());
        let outside = Some("192.0.2.1".parse().unwrap());
        auth.authenticate_from(&headers(&key), outside)
            .await
            .unwrap();
        auth.authenticate_from(&headers(&key), outside)
            .await
            .unwrap();
        let raw = rusqlite::Connection::open(&path).unwrap();
        raw.busy_timeout(Duration::from_secs(5)).unwrap();
        raw.execute(
            "UPDATE api_keys SET allowed_from = '[\"10.0.0.0/8\"]' WHERE id = ?1",
            [record.id.as_str()],
        )
        .unwrap();
        let started = std::time::Instant::now();
        loop {
            match auth.authenticate_from(&headers(&key), outside).await {
                Err(AuthFailure::AddressRefused { .. }) => break,
                Ok(_) => assert!(
                    started.elapsed() < Duration::from_secs(1),
                    "the cached instance still passes the key from outside its new list"
                ),
                Err(other) => panic!("{other}"),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        println!("confined after {:?}", started.elapsed());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_trimmed_log_leaves_no_revoked_key_cached() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("keys.db").display());
        let a = SqliteStore::connect(&url).await.unwrap();
        let b = instance(&url).await;
        let path = dir.path().join("keys.db");
        trimmed_log_leaves_no_revoked_key_cached(
            a,
            b,
            |revoked, other| async move {
                let mut conn = rusqlite::Connection::open(path).unwrap();
                conn.busy_timeout(Duration::from_secs(5)).unwrap();
                let tx = conn.transaction().unwrap();
                tx.execute(
                    "UPDATE api_keys SET revoked = 1 WHERE prefix = ?1",
                    [&revoked],
                )
                .unwrap();
                tx.execute("DELETE FROM api_key_auth_changes", []).unwrap();
                tx.execute(
                    "UPDATE api_keys SET name = 'renamed' WHERE prefix = ?1",
                    [&other],
                )
                .unwrap();
                tx.commit().unwrap();
            },
            Duration::from_secs(1),
        )
        .await;
    }

    /// Django rebuilds a SQLite table for many schema changes, which drops
    /// its triggers: the feed notices (the database changed), warns and
    /// flushes, so a change made after the rebuild is still refused.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_table_rebuilt_without_its_triggers_is_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.db");
        let b = instance(&format!("sqlite:{}", path.display())).await;
        let (record, key) = b.create(NewKey::named("k")).await.unwrap().reveal();
        let raw = rusqlite::Connection::open(&path).unwrap();
        raw.busy_timeout(Duration::from_secs(5)).unwrap();
        raw.execute_batch(
            "BEGIN; CREATE TABLE t AS SELECT * FROM api_keys; DROP TABLE api_keys; \
             ALTER TABLE t RENAME TO api_keys; COMMIT;",
        )
        .unwrap();
        tokio::time::sleep(Duration::from_millis(600)).await;
        let auth = Authenticator::new(b.clone());
        auth.authenticate(&headers(&key)).await.unwrap();
        raw.execute(
            "UPDATE api_keys SET revoked = 1 WHERE prefix = ?1",
            [record.prefix.to_string()],
        )
        .unwrap();
        let took = refused_within(&b, &key, Duration::from_secs(1)).await;
        println!("refused after {took:?}");
    }

    /// The log dropped and made again starts its numbers over: the feed
    /// notices that the log went backwards and follows the new one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_log_made_again_is_followed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.db");
        let url = format!("sqlite:{}", path.display());
        let b = instance(&url).await;
        let (record, key) = b.create(NewKey::named("k")).await.unwrap().reveal();
        let raw = rusqlite::Connection::open(&path).unwrap();
        raw.busy_timeout(Duration::from_secs(5)).unwrap();
        for i in 0..20 {
            raw.execute(
                "UPDATE api_keys SET name = ?1 WHERE prefix = ?2",
                (format!("n{i}"), record.prefix.to_string()),
            )
            .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(600)).await;
        b.inner().remove_change_triggers().await.unwrap();
        raw.execute_batch("DROP TABLE api_key_auth_changes")
            .unwrap();
        b.inner().install_change_triggers().await.unwrap();
        tokio::time::sleep(Duration::from_millis(600)).await;
        let auth = Authenticator::new(b.clone());
        auth.authenticate(&headers(&key)).await.unwrap();
        auth.authenticate(&headers(&key)).await.unwrap();
        raw.execute(
            "UPDATE api_keys SET revoked = 1 WHERE prefix = ?1",
            [record.prefix.to_string()],
        )
        .unwrap();
        let took = refused_within(&b, &key, Duration::from_secs(1)).await;
        println!("refused after {took:?}");
    }

    /// Django's table in SQLite: a change by hand (as Django makes it)
    /// reaches the cache once the triggers are in, and not once they are out.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn changes_made_outside_the_crate_reach_the_cache_through_triggers() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("django.sqlite3").display());
        let path = dir.path().join("django.sqlite3");
        let django = std::sync::Arc::new(std::sync::Mutex::new(
            rusqlite::Connection::open(&path).unwrap(),
        ));
        django
            .lock()
            .unwrap()
            .execute_batch(
                "CREATE TABLE rest_framework_api_key_apikey (\
                   id varchar(150) NOT NULL PRIMARY KEY, created datetime NOT NULL, \
                   name varchar(50) NOT NULL, revoked bool NOT NULL, expiry_date datetime NULL, \
                   hashed_key varchar(150) NOT NULL, prefix varchar(8) NOT NULL UNIQUE)",
            )
            .unwrap();
        let store = SqliteStore::open(&url, Schema::drf()).await.unwrap();
        changes_reach_the_cache(
            store,
            [
                "UPDATE rest_framework_api_key_apikey SET revoked = 1 WHERE prefix = ?1",
                "UPDATE rest_framework_api_key_apikey SET expiry_date = '2020-01-01 00:00:00' WHERE prefix = ?1",
                "DELETE FROM rest_framework_api_key_apikey WHERE prefix = ?1",
            ],
            |sql, prefix| {
                let django = django.clone();
                async move {
                    django.lock().unwrap().execute(&sql, [prefix]).unwrap();
                }
            },
        )
        .await;
    }

    async fn changes_reach_the_cache<F, Fut>(store: SqliteStore, changes: [&str; 3], run: F)
    where
        F: Fn(String, String) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        store.install_change_triggers().await.unwrap();
        store.install_change_triggers().await.unwrap(); // again: no error
        let cached = CachedStore::builder(store.clone())
            .ttl(LONG)
            .build()
            .with_invalidations(store.revocations());
        super::changes_reach_the_cache(&store, &cached, changes, &run).await;
        store.remove_change_triggers().await.unwrap();
        super::without_triggers_the_feed_flushes(&store, &cached, changes[0], &run).await;
    }
}

#[cfg(feature = "mysql")]
mod mysql {
    use super::*;
    use api_key_auth::store::{mysql::MySqlStore, Schema};
    use common::{isolated_mysql_url, mysql_url};

    async fn instance(url: &str) -> CachedStore<MySqlStore> {
        let store = MySqlStore::connect(url).await.unwrap();
        let revocations = store.revocations();
        CachedStore::builder(store)
            .ttl(LONG)
            .build()
            .with_invalidations(revocations)
    }

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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_revocation_reaches_another_instance_within_a_second() {
        let Some(url) = mysql_url("mysql::a_revocation_reaches_another_instance_within_a_second")
        else {
            return;
        };
        let url = isolated_mysql_url(&url).await;
        let a = instance(&url).await;
        let b = instance(&url).await;
        revocation_reaches_the_other_instance(a, b).await;
    }

    /// B reads keys directly, but follows the change log through a line the
    /// test can break.
    async fn lost_line(test: &str, trouble: LineTrouble, limit: Duration) {
        let Some(url) = mysql_url(test) else {
            return;
        };
        let url = isolated_mysql_url(&url).await;
        let a = instance(&url).await;
        let target = host_port(&url);
        let proxy = Proxy::start(&target).await;
        let b_store = MySqlStore::connect(&url).await.unwrap();
        let b_feed = MySqlStore::connect(&proxy.url(&url, &target))
            .await
            .unwrap();
        let b = CachedStore::builder(b_store)
            .ttl(LONG)
            .build()
            .with_invalidations(b_feed.revocations());
        a_lost_line_leaves_no_revoked_key_cached(a, b, &proxy, trouble, limit).await;
    }

    /// Cut: the feed's read fails, and it flushes at once and at every retry.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_feed_whose_line_is_cut_leaves_no_revoked_key_cached() {
        lost_line(
            "mysql::a_feed_whose_line_is_cut_leaves_no_revoked_key_cached",
            LineTrouble::Cut,
            Duration::from_secs(1),
        )
        .await;
    }

    /// A stalled line: the read times out after a second, and the feed flushes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_feed_whose_line_goes_silent_flushes_after_its_read_timeout() {
        lost_line(
            "mysql::a_feed_whose_line_goes_silent_flushes_after_its_read_timeout",
            LineTrouble::Silence,
            Duration::from_millis(1500),
        )
        .await;
    }

    /// MySQL numbers an entry when it is written, not when it commits: a
    /// revocation whose transaction commits after later entries were read
    /// (here after 2 s, and 600 other entries) is still heard, and the
    /// entries after the hole are read on without waiting for it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_change_committed_late_is_still_heard() {
        let Some(url) = mysql_url("mysql::a_change_committed_late_is_still_heard") else {
            return;
        };
        let url = isolated_mysql_url(&url).await;
        let a = MySqlStore::connect(&url).await.unwrap();
        let b = instance(&url).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (slow, slow_key) = a.create(NewKey::named("slow")).await.unwrap().reveal();
        let (other, other_key) = a.create(NewKey::named("other")).await.unwrap().reveal();
        let auth = Authenticator::new(b.clone());
        auth.authenticate(&headers(&other_key)).await.unwrap();
        let mut tx = a.pool().begin().await.unwrap();
        sqlx::query("UPDATE api_keys SET revoked = TRUE WHERE prefix = ?")
            .bind(slow.prefix.to_string())
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO api_key_auth_changes (prefix) WITH RECURSIVE n(i) AS \
             (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600) SELECT NULL FROM n",
        )
        .execute(a.pool())
        .await
        .unwrap();
        a.revoke(&other.id).await.unwrap();
        let took = refused_within(&b, &other_key, Duration::from_secs(1)).await;
        println!("a revocation after the hole and 600 entries: refused after {took:?}");
        tokio::time::sleep(Duration::from_secs(2)).await;
        auth.authenticate(&headers(&slow_key)).await.unwrap(); // cached, not yet revoked
        auth.authenticate(&headers(&slow_key)).await.unwrap();
        tx.commit().await.unwrap();
        let took = refused_within(&b, &slow_key, Duration::from_secs(1)).await;
        println!("a revocation committed 2 s late: refused after {took:?}");
    }

    /// A revocation in flight when the feed starts (its entry numbered below
    /// the log's end, not committed yet) is heard once it commits.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_change_in_flight_when_the_feed_starts_is_heard() {
        let Some(url) = mysql_url("mysql::a_change_in_flight_when_the_feed_starts_is_heard") else {
            return;
        };
        let url = isolated_mysql_url(&url).await;
        let a = MySqlStore::connect(&url).await.unwrap();
        let (slow, key) = a.create(NewKey::named("slow")).await.unwrap().reveal();
        let (other, _) = a.create(NewKey::named("other")).await.unwrap().reveal();
        let mut tx = a.pool().begin().await.unwrap();
        sqlx::query("UPDATE api_keys SET revoked = TRUE WHERE prefix = ?")
            .bind(slow.prefix.to_string())
            .execute(&mut *tx)
            .await
            .unwrap();
        a.revoke(&other.id).await.unwrap(); // committed, numbered after the slow one
        let b = instance(&url).await;
        tokio::time::sleep(Duration::from_millis(600)).await;
        let auth = Authenticator::new(b.clone());
        auth.authenticate(&headers(&key)).await.unwrap();
        auth.authenticate(&headers(&key)).await.unwrap();
        tx.commit().await.unwrap();
        let took = refused_within(&b, &key, Duration::from_secs(1)).await;
        println!("refused after {took:?}");
    }

    /// Installing the triggers again (every `api-key migrate`) while keys
    /// change leaves no moment without a trigger: every change is logged.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reinstalling_the_triggers_loses_no_change() {
        let Some(url) = mysql_url("mysql::reinstalling_the_triggers_loses_no_change") else {
            return;
        };
        let url = isolated_mysql_url(&url).await;
        let store = MySqlStore::connect(&url).await.unwrap();
        let pool = store.pool().clone();
        let (record, _) = store.create(NewKey::named("k")).await.unwrap().reveal();
        let count = || {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM api_key_auth_changes")
                .fetch_one(&pool)
        };
        let before = count().await.unwrap();
        let writer = tokio::spawn({
            let (pool, prefix) = (pool.clone(), record.prefix.to_string());
            async move {
                for i in 0..400 {
                    sqlx::query("UPDATE api_keys SET name = ? WHERE prefix = ?")
                        .bind(format!("n{i}"))
                        .bind(&prefix)
                        .execute(&pool)
                        .await
                        .unwrap();
                }
            }
        });
        while !writer.is_finished() {
            store.install_change_triggers().await.unwrap();
        }
        writer.await.unwrap();
        assert_eq!(count().await.unwrap() - before, 400);
    }

    /// Migrations wait for another instance's lock on the same database,
    /// not on another database, and leave the lock free when done.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn migrations_take_turns_per_database_and_leave_the_lock_free() {
        use sqlx::Connection;
        let Some(server) =
            mysql_url("mysql::migrations_take_turns_per_database_and_leave_the_lock_free")
        else {
            return;
        };
        let url = isolated_mysql_url(&server).await;
        let store = MySqlStore::connect(&url).await.unwrap();
        let lock = "CONCAT('api_key_auth_migrate_', SHA1(DATABASE()))";
        let mut holder = sqlx::MySqlConnection::connect(&url).await.unwrap();
        let held: i64 = sqlx::query_scalar(&format!("SELECT CAST(GET_LOCK({lock}, 0) AS SIGNED)"))
            .fetch_one(&mut holder)
            .await
            .unwrap();
        assert_eq!(held, 1);
        assert!(
            tokio::time::timeout(Duration::from_millis(500), store.migrate())
                .await
                .is_err(),
            "a migration waits while another holds the lock"
        );
        let elsewhere = isolated_mysql_url(&server).await;
        tokio::time::timeout(Duration::from_secs(5), MySqlStore::connect(&elsewhere))
            .await
            .expect("another database's migration does not wait")
            .unwrap();
        sqlx::query(&format!("SELECT RELEASE_LOCK({lock})"))
            .execute(&mut holder)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let free: i64 = sqlx::query_scalar(&format!("SELECT CAST(IS_FREE_LOCK({lock}) AS SIGNED)"))
            .fetch_one(&mut holder)
            .await
            .unwrap();
        assert_eq!(free, 1, "the lock is free once the migration is done");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_trimmed_log_leaves_no_revoked_key_cached() {
        let Some(url) = mysql_url("mysql::a_trimmed_log_leaves_no_revoked_key_cached") else {
            return;
        };
        let url = isolated_mysql_url(&url).await;
        let a = MySqlStore::connect(&url).await.unwrap();
        let b = instance(&url).await;
        let pool = a.pool().clone();
        trimmed_log_leaves_no_revoked_key_cached(
            a,
            b,
            |revoked, other| async move {
                let mut tx = pool.begin().await.unwrap();
                sqlx::query("UPDATE api_keys SET revoked = TRUE WHERE prefix = ?")
                    .bind(&revoked)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                // A trim as a feed makes it: all but the newest 10,000 entries, the
                // revocation's among them (10,200 entries came after it).
                for _ in 0..17 {
                    sqlx::query(
                        "INSERT INTO api_key_auth_changes (prefix) WITH RECURSIVE n(i) AS \
                         (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600) SELECT NULL FROM n",
                    )
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                }
                let newest: i64 = sqlx::query_scalar("SELECT MAX(seq) FROM api_key_auth_changes")
                    .fetch_one(&mut *tx)
                    .await
                    .unwrap();
                sqlx::query("DELETE FROM api_key_auth_changes WHERE seq <= ?")
                    .bind(newest - 10_000)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                sqlx::query("UPDATE api_keys SET name = 'renamed' WHERE prefix = ?")
                    .bind(&other)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
            },
            Duration::from_secs(1),
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn changes_made_outside_the_crate_reach_the_cache_through_triggers() {
        let Some(url) =
            mysql_url("mysql::changes_made_outside_the_crate_reach_the_cache_through_triggers")
        else {
            return;
        };
        let url = isolated_mysql_url(&url).await;
        let django = MySqlStore::connect(&url).await.unwrap().pool().clone();
        sqlx::query(
            "CREATE TABLE rest_framework_api_key_apikey (\
               id varchar(150) NOT NULL PRIMARY KEY, created datetime(6) NOT NULL, \
               name varchar(50) NOT NULL, revoked bool NOT NULL, expiry_date datetime(6) NULL, \
               hashed_key varchar(150) NOT NULL, prefix varchar(8) NOT NULL UNIQUE)",
        )
        .execute(&django)
        .await
        .unwrap();
        let store = MySqlStore::new(django.clone(), Schema::drf());
        store.install_change_triggers().await.unwrap();
        store.install_change_triggers().await.unwrap(); // again: no error
        let cached = CachedStore::builder(store.clone())
            .ttl(LONG)
            .build()
            .with_invalidations(store.revocations());
        let changes = [
            "UPDATE rest_framework_api_key_apikey SET revoked = TRUE WHERE prefix = ?",
            "UPDATE rest_framework_api_key_apikey SET expiry_date = '2020-01-01 00:00:00' WHERE prefix = ?",
            "DELETE FROM rest_framework_api_key_apikey WHERE prefix = ?",
        ];
        let run = |sql: String, prefix: String| {
            let django = django.clone();
            async move {
                sqlx::query(&sql)
                    .bind(prefix)
                    .execute(&django)
                    .await
                    .unwrap();
            }
        };
        changes_reach_the_cache(&store, &cached, changes, &run).await;
        store.remove_change_triggers().await.unwrap();
        without_triggers_the_feed_flushes(&store, &cached, changes[0], &run).await;
    }
}

/// Each change, made past the crate by `run` (SQL, prefix), to a key
/// `cached` holds makes it refuse the key within a second.
#[cfg(any(feature = "sqlite", feature = "mysql"))]
async fn changes_reach_the_cache<S, F, Fut>(
    store: &S,
    cached: &CachedStore<S>,
    changes: [&str; 3],
    run: &F,
) where
    S: KeyManager + Clone,
    F: Fn(String, String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    tokio::time::sleep(Duration::from_millis(300)).await;
    for change in changes {
        let (record, key) = store
            .create(NewKey::named("django's"))
            .await
            .unwrap()
            .reveal();
        let auth = Authenticator::new(cached.clone());
        auth.authenticate(&headers(&key)).await.unwrap();
        auth.authenticate(&headers(&key)).await.unwrap();
        run(change.to_owned(), record.prefix.to_string()).await;
        let started = tokio::time::Instant::now();
        while auth.authenticate(&headers(&key)).await.is_ok() {
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{change}: still accepted after a second"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        println!("{change}: refused after {:?}", started.elapsed());
    }
}

/// With the triggers removed, the feed notices at its next check (on SQLite
/// when the database changes, on MySQL once a second) and flushes the cache
/// at every check: a change past the crate is still refused within 2 s,
/// where without the check it would have waited for the TTL (an hour here).
#[cfg(any(feature = "sqlite", feature = "mysql"))]
async fn without_triggers_the_feed_flushes<S, F, Fut>(
    store: &S,
    cached: &CachedStore<S>,
    change: &str,
    run: &F,
) where
    S: KeyManager + Clone,
    F: Fn(String, String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (record, key) = store.create(NewKey::named("after")).await.unwrap().reveal();
    let auth = Authenticator::new(cached.clone());
    auth.authenticate(&headers(&key)).await.unwrap();
    run(change.to_owned(), record.prefix.to_string()).await;
    let started = tokio::time::Instant::now();
    while auth.authenticate(&headers(&key)).await.is_ok() {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{change}: without triggers, still accepted after 2 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!("without triggers: refused after {:?}", started.elapsed());
}

/// How the line to `b`'s revocation listener fails in a test.
#[derive(Clone, Copy, Debug)]
enum LineTrouble {
    /// Closed, and new connections refused.
    Cut,
    /// Kept open with nothing forwarded: a stalled proxy or NAT.
    Silence,
}

/// `b` hears of revocations through `proxy`'s line, which then fails. A
/// revocation on `a` that `b` cannot hear is still refused by `b` within
/// `limit`: its listener flushes the cache when it notices the loss (a
/// silent line, by its heartbeat) and at every attempt to listen again.
/// Once the line is back, revocations reach `b` through it again.
async fn a_lost_line_leaves_no_revoked_key_cached<S: KeyManager + Clone>(
    a: CachedStore<S>,
    b: CachedStore<S>,
    proxy: &Proxy,
    trouble: LineTrouble,
    limit: Duration,
) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (record, key) = a.create(NewKey::named("shared")).await.unwrap().reveal();
    Authenticator::new(b.clone())
        .authenticate(&headers(&key))
        .await
        .unwrap();
    match trouble {
        LineTrouble::Cut => proxy.cut(),
        LineTrouble::Silence => proxy.silence(),
    }
    a.revoke(&record.id).await.unwrap(); // B cannot hear of this
    let took = refused_within(&b, &key, limit).await;
    println!("{trouble:?}: B refused the key it could not hear revoked after {took:?}");

    proxy.restore();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (record, key) = a.create(NewKey::named("later")).await.unwrap().reveal();
        Authenticator::new(b.clone())
            .authenticate(&headers(&key))
            .await
            .unwrap();
        a.revoke(&record.id).await.unwrap();
        let auth = Authenticator::new(b.clone());
        let heard = async {
            while !matches!(
                auth.authenticate(&headers(&key)).await,
                Err(AuthFailure::Revoked(_))
            ) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(1), heard)
            .await
            .is_ok()
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "revocations do not reach B 15 s after its line came back"
        );
    }
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
