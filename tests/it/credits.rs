//! Usage credits: spent one per admitted request by every authenticator,
//! exactly across instances on a shared store, refused when gone (429 until
//! the refill, 403 without one), and a count that does not read refuses the
//! key.

use crate::common;

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, SystemTime},
};

use api_key_auth::{
    reject::OUT_OF_CREDITS_BODY,
    store::{redis::RedisStore, Refill},
    AuthFailure, Authenticator, KeyManager, KeyStore, MemoryStore, NewKey,
};

use crate::common::key_headers as headers;

/// Three credits: three requests pass, the fourth is 403 (no refill, so
/// they never come back) with the body saying so; a key with a daily refill
/// gets 429 with `Retry-After` until it.
#[tokio::test]
async fn credits_are_spent_one_per_request_and_refused_when_gone() {
    let store = MemoryStore::new();
    let (record, key) = store
        .create(NewKey::named("metered").credits(3, None))
        .await
        .unwrap()
        .reveal();
    let auth = Authenticator::new(store.clone());
    let key = key.expose_secret();
    for _ in 0..3 {
        auth.authenticate(&headers(key)).await.unwrap();
    }
    let gone = auth.authenticate(&headers(key)).await.unwrap_err();
    assert!(
        matches!(
            gone,
            AuthFailure::OutOfCredits {
                next_refill: None,
                ..
            }
        ),
        "{gone}"
    );
    assert!(!gone.is_failed_attempt());
    let response = auth.rejection(&gone);
    assert_eq!(response.status(), 403);
    assert_eq!(response.body().as_ref(), OUT_OF_CREDITS_BODY.as_bytes());
    let stored = store.find(record.prefix).await.unwrap().unwrap();
    assert_eq!(stored.credits.unwrap().remaining(), 0);

    let daily: Refill = "100/1d".parse().unwrap();
    let (_, refilled) = store
        .create(NewKey::named("daily").credits(1, Some(daily)))
        .await
        .unwrap()
        .reveal();
    auth.authenticate(&headers(refilled.expose_secret()))
        .await
        .unwrap();
    let gone = auth
        .authenticate(&headers(refilled.expose_secret()))
        .await
        .unwrap_err();
    let response = auth.rejection(&gone);
    assert_eq!(response.status(), 429);
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((86_000..=86_400).contains(&wait), "{wait}");
}

/// A refill sets the count back once its instant has come, on every store
/// the test reaches: spent, refused until the refill instant the refusal
/// names, then spent again. `auth` builds the authenticator over the store
/// (spending on it, or leasing: `credit_leases`).
pub(crate) async fn a_refill_comes_back_at_its_instant<S: KeyManager + Clone>(
    store: S,
    auth: impl FnOnce(S) -> Authenticator,
) {
    let every: Refill = "1/1s".parse().unwrap();
    let (_, key) = store
        .create(NewKey::named("refilled").credits(1, Some(every)))
        .await
        .unwrap()
        .reveal();
    let auth = auth(store);
    let key = key.expose_secret();
    auth.authenticate(&headers(key)).await.unwrap();
    let Err(AuthFailure::OutOfCredits {
        next_refill: Some(at),
        ..
    }) = auth.authenticate(&headers(key)).await
    else {
        panic!("the second request within the second passed");
    };
    if let Ok(wait) = at.duration_since(SystemTime::now()) {
        tokio::time::sleep(wait + Duration::from_millis(5)).await;
    }
    auth.authenticate(&headers(key)).await.unwrap();
}

#[tokio::test]
async fn a_refill_comes_back_in_memory_and_on_sqlite() {
    a_refill_comes_back_at_its_instant(MemoryStore::new(), Authenticator::new).await;
    let store = api_key_auth::store::sqlite::SqliteStore::connect("sqlite::memory:")
        .await
        .unwrap();
    a_refill_comes_back_at_its_instant(store, Authenticator::new).await;
}

#[tokio::test]
async fn a_refill_comes_back_on_redis() {
    let Some(url) = common::redis_url("credits::a_refill_comes_back_on_redis") else {
        return;
    };
    let store = RedisStore::connect(&url)
        .await
        .unwrap()
        .with_namespace(&common::namespace());
    a_refill_comes_back_at_its_instant(store, Authenticator::new).await;
}

/// Three instances on one store, all at once: exactly the key's credits are
/// admitted between them and the count ends at zero; with more credits than
/// requests, every request is admitted and exactly as many are spent. Each
/// store's test then leases (`credit_leases::instances_lease_exactly`).
async fn instances_spend_exactly<S, F, Fut>(instance: &F)
where
    S: KeyManager + Clone,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = S>,
{
    let first = instance().await;
    for (credits, expected) in [(20_u64, 20_usize), (1000, 45)] {
        let (record, key) = first
            .create(NewKey::named("shared").credits(credits, None))
            .await
            .unwrap()
            .reveal();
        let key = key.expose_secret().to_owned();
        let admitted = Arc::new(AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..3 {
            let auth = Authenticator::new(instance().await);
            let (key, admitted) = (key.clone(), admitted.clone());
            tasks.spawn(async move {
                for _ in 0..15 {
                    match auth.authenticate(&headers(&key)).await {
                        Ok(_) => {
                            admitted.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(refused) => assert!(
                            matches!(refused, AuthFailure::OutOfCredits { .. }),
                            "{refused}"
                        ),
                    }
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap();
        }
        assert_eq!(admitted.load(Ordering::SeqCst), expected);
        let left = first.find(record.prefix).await.unwrap().unwrap();
        assert_eq!(
            left.credits.unwrap().remaining(),
            credits - expected as u64,
            "each admitted request spent exactly one"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_on_redis_spend_exactly() {
    let Some(url) = common::redis_url("credits::three_instances_on_redis_spend_exactly") else {
        return;
    };
    let namespace = common::namespace();
    let instance = || {
        let (url, namespace) = (url.clone(), namespace.clone());
        async move {
            RedisStore::connect(&url)
                .await
                .unwrap()
                .with_namespace(&namespace)
        }
    };
    instances_spend_exactly(&instance).await;
    crate::credit_leases::instances_lease_exactly(&instance).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_on_postgres_spend_exactly() {
    use api_key_auth::store::{postgres::PostgresStore, Schema};
    let Some(url) = common::postgres_url("credits::three_instances_on_postgres_spend_exactly")
    else {
        return;
    };
    let schema = common::isolated_pg_schema(&url).await;
    let first = PostgresStore::new(common::pg_pool_in(&url, &schema).await, Schema::Native);
    first.migrate().await.unwrap();
    // Each instance with a pool of its own, as three processes would have.
    let instance = || {
        let (url, schema) = (url.clone(), schema.clone());
        async move { PostgresStore::new(common::pg_pool_in(&url, &schema).await, Schema::Native) }
    };
    instances_spend_exactly(&instance).await;
    crate::credit_leases::instances_lease_exactly(&instance).await;
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_on_mysql_spend_exactly() {
    use api_key_auth::store::mysql::MySqlStore;
    let Some(url) = common::mysql_url("credits::three_instances_on_mysql_spend_exactly") else {
        return;
    };
    let url = common::isolated_mysql_url(&url).await;
    let instance = || {
        let url = url.clone();
        async move { MySqlStore::connect(&url).await.unwrap() }
    };
    instances_spend_exactly(&instance).await;
    crate::credit_leases::instances_lease_exactly(&instance).await;
}

/// Counts written by hand that do not read exactly (negative, text, a
/// refill half there) refuse the key with 503, on SQLite and Redis.
#[tokio::test]
async fn a_count_that_does_not_read_refuses_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    let store =
        api_key_auth::store::sqlite::SqliteStore::connect(&format!("sqlite:{}", path.display()))
            .await
            .unwrap();
    let (record, key) = store
        .create(NewKey::named("metered").credits(10, None))
        .await
        .unwrap()
        .reveal();
    let auth = Authenticator::new(store);
    let raw = rusqlite::Connection::open(&path).unwrap();
    for assignment in [
        "credits_remaining = -1",
        "credits_remaining = 'ten'",
        "credits_remaining = 10, credits_refill_amount = 5",
        "credits_refill_amount = NULL, credits_refill_ms = 500",
        "credits_remaining = 10, credits_refill_ms = NULL, credits_refilled_ms = NULL",
    ] {
        raw.execute(
            &format!("UPDATE api_keys SET {assignment} WHERE id = ?1"),
            [record.id.as_str()],
        )
        .unwrap();
        let failure = auth
            .authenticate(&headers(key.expose_secret()))
            .await
            .unwrap_err();
        assert_eq!(failure.status(), 503, "{assignment}: {failure}");
        raw.execute(
            "UPDATE api_keys SET credits_remaining = 10, credits_refill_amount = NULL, \
             credits_refill_ms = NULL, credits_refilled_ms = 0 WHERE id = ?1",
            [record.id.as_str()],
        )
        .unwrap();
    }
    auth.authenticate(&headers(key.expose_secret()))
        .await
        .unwrap();

    let Some(url) = common::redis_url("credits::a_count_that_does_not_read_refuses_the_key") else {
        return;
    };
    let store = RedisStore::connect(&url)
        .await
        .unwrap()
        .with_namespace(&common::namespace());
    let (record, key) = store
        .create(NewKey::named("metered").credits(10, None))
        .await
        .unwrap()
        .reveal();
    let auth = Authenticator::new(store.clone());
    let mut conn = store
        .client()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let record_key = format!("{}:key:{}", store.namespace(), record.prefix);
    for value in ["-1", "ten", "1e3", "99999999999999999999", ""] {
        let () = redis::cmd("HSET")
            .arg(&record_key)
            .arg("credits_remaining")
            .arg(value)
            .query_async(&mut conn)
            .await
            .unwrap();
        let failure = auth
            .authenticate(&headers(key.expose_secret()))
            .await
            .unwrap_err();
        assert_eq!(
            failure.status(),
            503,
            "credits_remaining = {value:?}: {failure}"
        );
    }
}

/// A key with credits is not rotated: both keys would work through the
/// grace period, and two counts would hand the credits out twice.
#[tokio::test]
async fn a_key_with_credits_is_not_rotated() {
    let store = MemoryStore::new();
    let (record, _) = store
        .create(NewKey::named("metered").credits(5, None))
        .await
        .unwrap()
        .reveal();
    let err = store
        .rotate(&record.id, Duration::from_secs(60))
        .await
        .unwrap_err();
    assert!(err.is_unsupported(), "{err}");
}

/// On PostgreSQL a spend (and a refill) announces nothing to caches: the
/// change trigger passes the credit columns over, as it does last use. The
/// first announcement heard after a spend is that of a later change to
/// another key.
#[cfg(feature = "postgres")]
#[tokio::test]
async fn a_spend_on_postgres_announces_nothing() {
    use api_key_auth::store::{postgres::PostgresStore, Schema};
    let Some(url) = common::postgres_url("credits::a_spend_on_postgres_announces_nothing") else {
        return;
    };
    let pool = common::isolated_pg_pool(&url).await;
    let store = PostgresStore::new(pool.clone(), Schema::Native);
    store.migrate().await.unwrap();
    let (metered, key) = store
        .create(NewKey::named("metered").credits(5, None))
        .await
        .unwrap()
        .reveal();
    let (other, _) = store.create(NewKey::named("other")).await.unwrap().reveal();
    let mut listener = sqlx::postgres::PgListener::connect_with(&pool)
        .await
        .unwrap();
    listener
        .listen(api_key_auth::store::postgres::REVOCATION_CHANNEL)
        .await
        .unwrap();
    let auth = Authenticator::new(store.clone());
    auth.authenticate(&headers(key.expose_secret()))
        .await
        .unwrap();
    assert!(store.revoke(&other.id).await.unwrap());
    // Other tests share the channel: wait for this one's revocation, and
    // hear no announcement of the spent key before it.
    loop {
        let heard = tokio::time::timeout(Duration::from_secs(10), listener.recv())
            .await
            .expect("the revocation is announced")
            .unwrap();
        assert_ne!(
            heard.payload(),
            metered.prefix.as_str(),
            "a spend was announced"
        );
        if heard.payload() == other.prefix.as_str() {
            break;
        }
    }
}

/// Counts written by hand on PostgreSQL and MySQL that do not read exactly
/// (negative, a refill half there, a count without its time) refuse the
/// key with 503; written back as the store writes them, the key passes.
async fn unreadable_counts_on<S, F, Fut>(store: S, run: F)
where
    S: KeyManager + Clone,
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (record, key) = store
        .create(NewKey::named("metered").credits(10, None))
        .await
        .unwrap()
        .reveal();
    let auth = Authenticator::new(store);
    let id = &record.id;
    for assignment in [
        "credits_remaining = -1",
        "credits_refill_amount = 5",
        "credits_refill_amount = 5, credits_refill_ms = 1500",
        "credits_refilled_ms = NULL",
    ] {
        run(format!(
            "UPDATE api_keys SET {assignment} WHERE id = '{id}'"
        ))
        .await;
        let failure = auth
            .authenticate(&headers(key.expose_secret()))
            .await
            .unwrap_err();
        assert_eq!(failure.status(), 503, "{assignment}: {failure}");
        run(format!(
            "UPDATE api_keys SET credits_remaining = 10, credits_refill_amount = NULL, \
             credits_refill_ms = NULL, credits_refilled_ms = 0 WHERE id = '{id}'"
        ))
        .await;
    }
    auth.authenticate(&headers(key.expose_secret()))
        .await
        .unwrap();
}

#[cfg(all(feature = "postgres", feature = "mysql"))]
#[tokio::test]
async fn a_count_that_does_not_read_refuses_the_key_on_postgres_and_mysql() {
    use api_key_auth::store::{mysql::MySqlStore, postgres::PostgresStore, Schema};
    if let Some(url) = common::postgres_url("credits::unreadable counts on PostgreSQL") {
        let pool = common::isolated_pg_pool(&url).await;
        let store = PostgresStore::new(pool.clone(), Schema::Native);
        store.migrate().await.unwrap();
        unreadable_counts_on(store, |sql| {
            let pool = pool.clone();
            async move {
                sqlx::query(&sql).execute(&pool).await.unwrap();
            }
        })
        .await;
    }
    if let Some(url) = common::mysql_url("credits::unreadable counts on MySQL") {
        let url = common::isolated_mysql_url(&url).await;
        let store = MySqlStore::connect(&url).await.unwrap();
        let pool = store.pool().clone();
        unreadable_counts_on(store, |sql| {
            let pool = pool.clone();
            async move {
                sqlx::query(&sql).execute(&pool).await.unwrap();
            }
        })
        .await;
    }
}

/// A layer charges each request what its routes cost: a route of 4 twice,
/// then refused with 2 left (nothing spent); a free route passes whatever
/// is left; a fixed cost of 3 on a key of 3 passes once.
#[tokio::test]
async fn a_route_costs_what_its_layer_says() {
    use api_key_auth::ApiKeyLayer;
    use tower::{Layer, ServiceExt};

    let store = MemoryStore::new();
    let (record, key) = store
        .create(NewKey::named("metered").credits(10, None))
        .await
        .unwrap()
        .reveal();
    let service = ApiKeyLayer::new(store.clone())
        .credit_cost_by(|_, uri| match uri.path() {
            "/report" => 4,
            "/status" => 0,
            _ => 1,
        })
        .layer(tower::service_fn(|_: http::Request<String>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
        }));
    let authorization = format!("Api-Key {}", key.expose_secret());
    let status = |path: &'static str| {
        let (service, authorization) = (service.clone(), authorization.clone());
        async move {
            let request = http::Request::get(path)
                .header("authorization", authorization)
                .body(String::new())
                .unwrap();
            service.oneshot(request).await.unwrap().status().as_u16()
        }
    };
    let left = || async {
        let found = store.find(record.prefix).await.unwrap().unwrap();
        found.credits.unwrap().remaining()
    };
    assert_eq!(status("/report").await, 200);
    assert_eq!(status("/report").await, 200);
    assert_eq!(left().await, 2);
    assert_eq!(status("/report").await, 403);
    assert_eq!(left().await, 2, "a refused request spends nothing");
    assert_eq!(status("/status").await, 200);
    assert_eq!(status("/orders").await, 200);
    assert_eq!(status("/orders").await, 200);
    assert_eq!(status("/orders").await, 403);
    assert_eq!(status("/status").await, 200, "a free route with none left");
    assert_eq!(left().await, 0);

    let (_, three) = store
        .create(NewKey::named("three").credits(3, None))
        .await
        .unwrap()
        .reveal();
    let fixed = ApiKeyLayer::new(store.clone())
        .credit_cost(3)
        .layer(tower::service_fn(|_: http::Request<String>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
        }));
    let call = || {
        let request = http::Request::get("/")
            .header(
                "authorization",
                format!("Api-Key {}", three.expose_secret()),
            )
            .body(String::new())
            .unwrap();
        fixed.clone().oneshot(request)
    };
    assert_eq!(call().await.unwrap().status(), 200);
    assert_eq!(call().await.unwrap().status(), 403);
}
