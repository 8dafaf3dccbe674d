//! Changes made past the crate (by hand, by another tool) reach every
//! cached instance within a second: on PostgreSQL through the triggers its
//! migrations install, a `TRUNCATE` included; on Redis through keyspace
//! notifications, when the server sends them. And a revocation line that
//! answers its heartbeat but delivers nothing (a pooler in transaction
//! mode, a cluster node cut off from its bus) is found out by its probe,
//! which must come back on the line, and the cache is flushed.
//!
//! These tests change what every listener of a database or server hears (a
//! `TRUNCATE` flushes them all, a server setting adds events), so they run
//! one at a time.

#[path = "it/common/mod.rs"]
mod common;

use std::time::Duration;

use api_key_auth::{
    cache::CachedStore,
    store::{postgres::PostgresStore, redis::RedisStore, Schema},
    Authenticator, KeyManager, KeyStore, NewKey, PlaintextKey,
};

/// Long enough that nothing here is refused by its cache entry expiring.
const LONG: Duration = Duration::from_secs(3600);

fn headers(key: &PlaintextKey) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "authorization",
        format!("Api-Key {}", key.expose_secret()).parse().unwrap(),
    );
    headers
}

/// How long `auth` went on accepting `key`, polling, up to `limit`.
async fn refused_within(
    auth: &Authenticator,
    key: &PlaintextKey,
    limit: Duration,
    what: &str,
) -> Duration {
    let started = tokio::time::Instant::now();
    while auth.authenticate(&headers(key)).await.is_ok() {
        assert!(
            started.elapsed() < limit,
            "{what}: still accepted after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    started.elapsed()
}

/// A key made in `store` and served from `cached`'s cache.
async fn cached_key<S: KeyManager + Clone>(
    store: &S,
    auth: &Authenticator,
    cached: &CachedStore<S>,
) -> (api_key_auth::KeyRecord, PlaintextKey) {
    let (record, key) = used_key(store, auth).await;
    let hits = cached.stats().hits;
    auth.authenticate(&headers(&key)).await.unwrap();
    assert!(
        cached.stats().hits > hits,
        "the key is served from the cache"
    );
    (record, key)
}

/// A key made in `store` and used once through `auth`.
async fn used_key<S: KeyManager>(
    store: &S,
    auth: &Authenticator,
) -> (api_key_auth::KeyRecord, PlaintextKey) {
    let (record, key) = store
        .create(NewKey::named("by hand"))
        .await
        .unwrap()
        .reveal();
    auth.authenticate(&headers(&key)).await.unwrap();
    ((*record).clone(), key)
}

/// The listener of `cached` is at work, its first flush (on opening)
/// behind it, once a revocation through `store` reaches it.
async fn listening<S: KeyManager>(store: &S, auth: &Authenticator) {
    let (record, key) = used_key(store, auth).await;
    store.revoke(&record.id).await.unwrap();
    refused_within(auth, &key, Duration::from_secs(30), "the first revocation").await;
}

/// On this crate's own table, as opening the store leaves it (its
/// migrations, no `api-key migrate`), a row changed by hand is refused by a
/// cached instance within a second; a `TRUNCATE`, which fires no row
/// trigger, too. The migrations install the trigger as well as the
/// announcing function: without it, a hand-written revocation would be
/// accepted until the cache's TTL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_changes_by_hand_reach_caches_without_migrate() {
    let Some(url) = common::postgres_url("changes_by_hand::postgres") else {
        return;
    };
    let _alone = common::exclusive().await;
    let schema = common::isolated_pg_schema(&url).await;
    let store = PostgresStore::new(common::pg_pool_in(&url, &schema).await, Schema::Native);
    store.migrate().await.unwrap();
    let cached = CachedStore::builder(store.clone())
        .ttl(LONG)
        .build()
        .with_invalidations(store.revocations());
    let auth = Authenticator::new(cached.clone());
    let by_hand = common::pg_pool_in(&url, &schema).await;
    listening(&store, &auth).await;
    for change in [
        "UPDATE api_keys SET revoked = true WHERE prefix = $1",
        "UPDATE api_keys SET expires_ms = 0 WHERE prefix = $1",
        "UPDATE api_keys SET hashed_key = 'sha256$$00' WHERE prefix = $1",
        "DELETE FROM api_keys WHERE prefix = $1",
    ] {
        let (record, key) = cached_key(&store, &auth, &cached).await;
        sqlx::query(change)
            .bind(record.prefix.as_str())
            .execute(&by_hand)
            .await
            .unwrap();
        let took = refused_within(&auth, &key, Duration::from_secs(1), change).await;
        println!("{change}: refused after {took:?}");
    }
    let (_, first) = cached_key(&store, &auth, &cached).await;
    let (_, second) = cached_key(&store, &auth, &cached).await;
    sqlx::query("TRUNCATE api_keys")
        .execute(&by_hand)
        .await
        .unwrap();
    for key in [&first, &second] {
        let took = refused_within(&auth, key, Duration::from_secs(1), "TRUNCATE").await;
        println!("TRUNCATE: refused after {took:?}");
    }
}

/// Sets the server's `notify-keyspace-events` and puts the old setting
/// back when dropped, whatever happened meanwhile.
struct KeyspaceEvents {
    client: redis::Client,
    before: String,
}

impl KeyspaceEvents {
    fn set(url: &str, flags: &str) -> Self {
        let client = redis::Client::open(url).unwrap();
        let mut connection = client.get_connection().unwrap();
        let before: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("notify-keyspace-events")
            .query(&mut connection)
            .unwrap();
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("notify-keyspace-events")
            .arg(flags)
            .query::<()>(&mut connection)
            .unwrap();
        Self {
            client,
            before: before.get(1).cloned().unwrap_or_default(),
        }
    }
}

impl Drop for KeyspaceEvents {
    fn drop(&mut self) {
        if let Ok(mut connection) = self.client.get_connection() {
            let _ = redis::cmd("CONFIG")
                .arg("SET")
                .arg("notify-keyspace-events")
                .arg(&self.before)
                .query::<()>(&mut connection);
        }
    }
}

/// A Redis store whose keys live under a namespace of the test's own.
async fn redis_store(url: &str) -> RedisStore {
    let namespace = format!(
        "apikey-test-{}",
        api_key_auth::key::ApiKey::generate().unwrap().prefix()
    );
    RedisStore::connect(url)
        .await
        .unwrap()
        .with_namespace(&namespace)
}

/// A record hash changed by hand on a server that sends keyspace
/// notifications is refused by a cached instance within a second: the
/// change is published, where unheard it would be accepted until the TTL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_changes_by_hand_are_heard_through_keyspace_notifications() {
    let Some(url) = common::redis_url("changes_by_hand::redis") else {
        return;
    };
    let _alone = common::exclusive().await;
    let _events = KeyspaceEvents::set(&url, "KA");
    let store = redis_store(&url).await;
    let cached = CachedStore::builder(store.clone())
        .ttl(LONG)
        .build()
        .with_invalidations(store.revocations());
    let auth = Authenticator::new(cached.clone());
    listening(&store, &auth).await;
    let mut by_hand = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let record_key = |prefix: &str| format!("{}:key:{prefix}", store.key_base());
    for change in [
        &["HSET", "revoked", "1"][..],
        &["HSET", "expires_ms", "0"],
        &["HDEL", "hashed_key"],
        &["DEL"],
    ] {
        // The store's own insert is a keyspace event too: heard (it drops
        // nothing cached yet) before the key is cached.
        let before = cached.stats().invalidations;
        let (record, key) = store
            .create(NewKey::named("by hand"))
            .await
            .unwrap()
            .reveal();
        let started = tokio::time::Instant::now();
        while cached.stats().invalidations == before {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the insert's own keyspace event never came"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        auth.authenticate(&headers(&key)).await.unwrap();
        let hits = cached.stats().hits;
        auth.authenticate(&headers(&key)).await.unwrap();
        assert!(
            cached.stats().hits > hits,
            "the key is served from the cache"
        );
        let mut command = redis::cmd(change[0]);
        command.arg(record_key(record.prefix.as_str()));
        for arg in &change[1..] {
            command.arg(*arg);
        }
        command.query_async::<()>(&mut by_hand).await.unwrap();
        let what = change.join(" ");
        let took = refused_within(&auth, &key, Duration::from_secs(1), &what).await;
        println!("{what}: refused after {took:?}");
    }
}

/// A listening connection that answers (its `SELECT 1`, its `PING`) but
/// delivers no notification, behind `deaf`: its probe does not come back,
/// so the cache is flushed and a key revoked elsewhere is refused within
/// the heartbeat and a probe's wait, not the TTL.
async fn a_deaf_line_is_found_out<S: KeyManager + Clone>(
    deaf: S,
    revocations: impl api_key_auth::store::InvalidationSource,
    elsewhere: &dyn KeyManager,
) {
    let cached = CachedStore::builder(deaf.clone())
        .ttl(LONG)
        .build()
        .with_invalidations(revocations);
    let auth = Authenticator::new(cached.clone());
    // The listener flushes once when it opens its line: the key is cached
    // after that. (From then on the cache is flushed at every probe that
    // does not come back.)
    let started = tokio::time::Instant::now();
    while cached.stats().invalidations == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the line never opened"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (record, key) = used_key(&deaf, &auth).await;
    assert!(elsewhere.revoke(&record.id).await.unwrap());
    let took = refused_within(&auth, &key, Duration::from_secs(10), "a deaf line").await;
    println!("behind a deaf line: refused after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deaf_postgres_line_is_found_out_by_its_probe() {
    let Some(url) = common::postgres_url("changes_by_hand::deaf postgres") else {
        return;
    };
    let _alone = common::exclusive().await;
    let schema = common::isolated_pg_schema(&url).await;
    let target = common::host_port(&url);
    let deaf = common::deaf_proxy(&target, common::Pushes::Postgres).await;
    // Without TLS, so the proxy can read the messages it drops.
    let through = url.replacen(&target, &deaf.to_string(), 1);
    let through = format!(
        "{through}{}sslmode=disable",
        if through.contains('?') { '&' } else { '?' }
    );
    let store = PostgresStore::new(common::pg_pool_in(&through, &schema).await, Schema::Native);
    store.migrate().await.unwrap();
    let revocations = store.revocations().heartbeat(Duration::from_millis(200));
    let direct = PostgresStore::new(common::pg_pool_in(&url, &schema).await, Schema::Native);
    a_deaf_line_is_found_out(store, revocations, &direct).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deaf_redis_line_is_found_out_by_its_probe() {
    let Some(url) = common::redis_url("changes_by_hand::deaf redis") else {
        return;
    };
    let _alone = common::exclusive().await;
    let target = common::host_port(&url);
    let deaf = common::deaf_proxy(&target, common::Pushes::Redis).await;
    let direct = redis_store(&url).await;
    let store = RedisStore::connect(&url.replacen(&target, &deaf.to_string(), 1))
        .await
        .unwrap()
        .with_namespace(direct.namespace());
    let revocations = store.revocations().heartbeat(Duration::from_millis(200));
    a_deaf_line_is_found_out(store, revocations, &direct).await;
}

/// A database emptied (`FLUSHDB`), which sends no keyspace event, is found
/// at the listener's next probe: the marker it keeps is gone, so the cache
/// is flushed and the key is refused, not served on from the cache. On a
/// database of its own, as it empties it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emptied_redis_database_is_noticed() {
    let Some(url) = common::redis_url("changes_by_hand::redis emptied") else {
        return;
    };
    let _alone = common::exclusive().await;
    let url = format!("{}/9", url.trim_end_matches('/'));
    let store = redis_store(&url).await;
    let cached = CachedStore::builder(store.clone())
        .ttl(LONG)
        .build()
        .with_invalidations(store.revocations().heartbeat(Duration::from_millis(200)));
    let auth = Authenticator::new(cached.clone());
    listening(&store, &auth).await;
    let (_, key) = cached_key(&store, &auth, &cached).await;
    let mut admin = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    redis::cmd("FLUSHDB")
        .query_async::<()>(&mut admin)
        .await
        .unwrap();
    let took = refused_within(&auth, &key, Duration::from_secs(10), "FLUSHDB").await;
    println!("FLUSHDB: refused after {took:?}");
}

/// Without notifications from the server, a change by hand is not heard,
/// as the docs say, but a change made through the crate still is: the
/// listener works on, with one warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_keyspace_notifications_redis_still_hears_the_crate() {
    let Some(url) = common::redis_url("changes_by_hand::redis without events") else {
        return;
    };
    let _alone = common::exclusive().await;
    let _events = KeyspaceEvents::set(&url, "");
    let store = redis_store(&url).await;
    let cached = CachedStore::builder(store.clone())
        .ttl(LONG)
        .build()
        .with_invalidations(store.revocations());
    let auth = Authenticator::new(cached.clone());
    listening(&store, &auth).await;
    let (record, key) = cached_key(&store, &auth, &cached).await;
    assert!(store.revoke(&record.id).await.unwrap());
    refused_within(&auth, &key, Duration::from_secs(1), "a revocation").await;
    assert!(store.find(record.prefix).await.unwrap().unwrap().revoked);
}
