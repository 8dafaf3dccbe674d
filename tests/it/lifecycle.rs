//! A key's life over HTTP and in the stores: rotation with a grace period
//! (both keys pass during it, with `Sunset` on the old one's responses, and
//! the old one is refused after it) on every store; tables of the previous
//! release upgraded in place; last-use writes that no cache hears of; the
//! last-use tracker's batching, dropping, retrying and shutdown; and the
//! audit events it sends.

use crate::common;

use std::{
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, SystemTime},
};

use api_key_auth::{
    cache::CachedStore,
    key::Prefix,
    last_use::LastUseTracker,
    store::{
        mysql::MySqlStore, postgres::PostgresStore, redis::RedisStore, sqlite::SqliteStore, KeyUse,
        Retirement, Schema,
    },
    ApiKeyLayer, Authenticator, Identity, KeyManager, KeyRecord, KeyStore, Lookup, MemoryStore,
    NewKey, StoreError,
};
use common::{http_get, serve};

// ---- rotation over HTTP, on every store --------------------------------

/// Every store the environment offers, each as a fresh table of its own,
/// plain and behind a cache.
async fn stores() -> Vec<(String, Arc<dyn KeyManager>)> {
    let dir = tempfile::tempdir().unwrap().keep();
    let sqlite = SqliteStore::connect(&format!("sqlite:{}", dir.join("keys.db").display()))
        .await
        .unwrap();
    let mut stores: Vec<(String, Arc<dyn KeyManager>)> = vec![
        ("memory".into(), Arc::new(MemoryStore::new())),
        (
            "cached memory".into(),
            Arc::new(CachedStore::new(MemoryStore::new())),
        ),
        ("sqlite".into(), Arc::new(sqlite.clone())),
        ("cached sqlite".into(), Arc::new(CachedStore::new(sqlite))),
    ];
    if let Some(url) = common::postgres_url("rotation on PostgreSQL") {
        let store = PostgresStore::new(common::isolated_pg_pool(&url).await, Schema::Native);
        store.migrate().await.unwrap();
        stores.push(("postgres".into(), Arc::new(store.clone())));
        stores.push(("cached postgres".into(), Arc::new(CachedStore::new(store))));
    }
    if let Some(url) = common::mysql_url("rotation on MySQL") {
        let store = MySqlStore::connect(&common::isolated_mysql_url(&url).await)
            .await
            .unwrap();
        stores.push(("mysql".into(), Arc::new(store.clone())));
        stores.push(("cached mysql".into(), Arc::new(CachedStore::new(store))));
    }
    if let Some(url) = common::redis_url("rotation on Redis") {
        let namespace = common::namespace();
        let store = RedisStore::connect(&url)
            .await
            .unwrap()
            .with_namespace(&namespace);
        stores.push(("redis".into(), Arc::new(store.clone())));
        stores.push(("cached redis".into(), Arc::new(CachedStore::new(store))));
    }
    stores
}

fn app(store: Arc<dyn KeyManager>) -> axum::Router {
    async fn whoami(identity: Identity) -> String {
        identity.id().to_owned()
    }
    axum::Router::new()
        .route("/whoami", axum::routing::get(whoami))
        .route_layer(ApiKeyLayer::new(store).with_inner_body())
}

/// The issue's test, on every store: with a short grace, both keys get 200
/// during it (the old one's answers with `Sunset`), the old one 401 after
/// it; the new one names the old one it replaces.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_keys_work_during_the_grace_and_only_the_new_one_after_it() {
    for (name, store) in stores().await {
        let addr = serve(app(store.clone())).await;
        let (old, old_key) = store
            .create(NewKey::named("rotated").scopes(["read"]))
            .await
            .unwrap()
            .reveal();
        let grace = Duration::from_millis(1200);
        let rotated = store.rotate(&old.id, grace).await.unwrap();
        let sunset = rotated.retired.expires.expect("the old key expires");
        let (new, new_key) = rotated.new.reveal();
        assert_eq!(new.replaces.as_deref(), Some(old.id.as_str()), "{name}");
        assert_eq!(new.scopes, ["read"], "{name}");

        let get = |key: &str| {
            let header = format!("Api-Key {key}");
            async move { http_get(addr, "/whoami", &[("Authorization", &header)]).await }
        };
        let during = get(old_key.expose_secret()).await;
        assert_eq!(during.status, 200, "{name}: the old key during its grace");
        assert_eq!(during.body, old.id, "{name}");
        assert_eq!(
            during.header("sunset"),
            Some(httpdate::fmt_http_date(sunset).as_str()),
            "{name}: the old key's answers say when it stops"
        );
        let fresh = get(new_key.expose_secret()).await;
        assert_eq!(fresh.status, 200, "{name}: the new key");
        assert_eq!(
            fresh.header("sunset"),
            None,
            "{name}: the new key has no sunset"
        );

        tokio::time::sleep(grace + Duration::from_millis(200)).await;
        assert_eq!(
            get(old_key.expose_secret()).await.status,
            401,
            "{name}: the old key after its grace"
        );
        assert_eq!(get(new_key.expose_secret()).await.status, 200, "{name}");
    }
}

/// A chain of rotations spends one rate-limit budget, on every store.
/// Were each rotation after the first to name only the key it replaced,
/// whose budget is fresh, a key limited to 3 an hour would have 3 more
/// after each rotation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotations_never_hand_out_more_than_one_budget() {
    for (name, store) in stores().await {
        let limit: api_key_auth::rate_limit::RateLimit = "3/h".parse().unwrap();
        let (first, key) = store
            .create(NewKey::named("limited").rate_limit(limit))
            .await
            .unwrap()
            .reveal();
        let auth = Authenticator::new(store.clone());
        let mut passed = 0;
        let mut current = (first.clone(), key);
        for rotation in 0..=4 {
            for _ in 0..4 {
                let header = format!("Api-Key {}", current.1.expose_secret());
                let mut headers = http::HeaderMap::new();
                headers.insert("authorization", header.parse().unwrap());
                match auth.authenticate(&headers).await {
                    Ok(_) => passed += 1,
                    Err(api_key_auth::AuthFailure::RateLimited { .. }) => {}
                    Err(other) => panic!("{name}, rotation {rotation}: {other}"),
                }
            }
            let rotated = store.rotate(&current.0.id, Duration::ZERO).await.unwrap();
            current = rotated.new.reveal();
            assert_eq!(
                current.0.lineage.as_deref(),
                Some(first.id.as_str()),
                "{name}: rotation {rotation}'s key names the first as its lineage"
            );
        }
        assert_eq!(
            passed, 3,
            "{name}: requests passed over five keys of one chain"
        );
    }
}

/// Rotating while requests go on: every request with either key succeeds
/// throughout a grace period, on a cached store (whose entries the rotation
/// must not leave stale: the old key's cached record had no expiry).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_old_key_learns_its_expiry_at_once() {
    let store = CachedStore::builder(MemoryStore::new())
        .ttl(Duration::from_secs(3600))
        .build();
    let auth = Authenticator::new(store.clone());
    let (old, key) = store
        .create(NewKey::named("cached"))
        .await
        .unwrap()
        .reveal();
    let headers = |key: &str| {
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", format!("Api-Key {key}").parse().unwrap());
        headers
    };
    // Cached, with no expiry.
    auth.authenticate(&headers(key.expose_secret()))
        .await
        .unwrap();
    store
        .rotate(&old.id, Duration::from_millis(300))
        .await
        .unwrap();
    let identity = auth
        .authenticate(&headers(key.expose_secret()))
        .await
        .unwrap()
        .unwrap();
    assert!(
        identity.sunset().is_some(),
        "the cache serves the retired record"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(auth
        .authenticate(&headers(key.expose_secret()))
        .await
        .is_err());
}

// ---- tables of the previous release --------------------------------------

/// A SQLite file made by 0.2 (migrations 1 and 2, keys in it) is upgraded
/// in place on connecting: its keys are kept and can be rotated and
/// tracked, and its change log still hears of a revocation but not of a
/// last-use write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_table_of_0_2_upgrades_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(include_str!(
        "../../crates/sql/migrations/sqlite/0001_api_keys.sql"
    ))
    .unwrap();
    conn.execute_batch(OLD_SQLITE_CHANGE_LOG).unwrap();
    conn.execute_batch(
        "CREATE TABLE api_key_auth_migrations (version BIGINT NOT NULL PRIMARY KEY, applied_ms BIGINT NOT NULL);
         INSERT INTO api_key_auth_migrations VALUES (1, 0), (2, 0);",
    )
    .unwrap();
    // A key as 0.2 wrote it.
    let old = MemoryStore::new();
    let (record, key) = old
        .create(NewKey::named("from 0.2"))
        .await
        .unwrap()
        .reveal();
    conn.execute(
        "INSERT INTO api_keys (id, prefix, hashed_key, name, created_ms, expires_ms, revoked, scopes, owner, metadata)
         VALUES (?1, ?2, ?3, 'from 0.2', 0, NULL, 0, '[]', NULL, '{}')",
        (&record.id, record.prefix.as_str(), record.hash.to_string()),
    )
    .unwrap();

    let url = format!("sqlite:{}", path.display());
    let store = SqliteStore::connect(&url).await.unwrap();
    let versions: Vec<i64> = conn
        .prepare("SELECT version FROM api_key_auth_migrations ORDER BY version")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(versions, [1, 2, 3, 4, 5, 6, 7, 8]);
    let found = store.find(record.prefix).await.unwrap().unwrap();
    assert_eq!(found.name, "from 0.2");
    assert_eq!(found.last_used, None);
    let auth = Authenticator::new(store.clone());
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "authorization",
        format!("Api-Key {}", key.expose_secret()).parse().unwrap(),
    );
    auth.authenticate(&headers).await.unwrap();

    let changes = |conn: &rusqlite::Connection| -> i64 {
        conn.query_row("SELECT COUNT(*) FROM api_key_auth_changes", [], |row| {
            row.get(0)
        })
        .unwrap()
    };
    let before = changes(&conn);
    store
        .record_last_use(&[KeyUse::new(&found, SystemTime::now())])
        .await
        .unwrap();
    assert_eq!(
        changes(&conn),
        before,
        "a last-use write is not a change to tell caches"
    );
    assert!(store
        .find(record.prefix)
        .await
        .unwrap()
        .unwrap()
        .last_used
        .is_some());
    let triggers: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'api_keys'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(
        triggers, 2,
        "the old update trigger was replaced, not doubled"
    );

    let rotated = store
        .rotate(&found.id, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(
        changes(&conn) > before,
        "the rotation's retirement of the old key is logged"
    );
    assert_eq!(
        rotated.new.record().replaces.as_deref(),
        Some(found.id.as_str())
    );
}

/// The change log and triggers 0.2's migration 2 made on SQLite.
const OLD_SQLITE_CHANGE_LOG: &str = r#"
CREATE TABLE IF NOT EXISTS "api_key_auth_changes" (seq INTEGER PRIMARY KEY AUTOINCREMENT, prefix TEXT);
CREATE TRIGGER IF NOT EXISTS "api_key_auth_log_upd_api_keys_0def8d01" AFTER UPDATE ON "api_keys" FOR EACH ROW BEGIN INSERT INTO "api_key_auth_changes" (prefix) VALUES (CAST(OLD.prefix AS TEXT)); INSERT INTO "api_key_auth_changes" (prefix) SELECT CAST(NEW.prefix AS TEXT) WHERE NEW.prefix IS NOT OLD.prefix; END;
CREATE TRIGGER IF NOT EXISTS "api_key_auth_log_del_api_keys_0def8d01" AFTER DELETE ON "api_keys" FOR EACH ROW BEGIN INSERT INTO "api_key_auth_changes" (prefix) VALUES (CAST(OLD.prefix AS TEXT)); END;
"#;

/// The same on MySQL: a database of 0.2's two migrations upgrades in
/// place, and its triggers log a revocation but not a last-use write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mysql_table_of_0_2_upgrades_in_place() {
    let Some(url) = common::mysql_url("the MySQL upgrade in place") else {
        return;
    };
    use sqlx::Executor as _;
    let url = common::isolated_mysql_url(&url).await;
    let pool = sqlx::MySqlPool::connect(&url).await.unwrap();
    pool.execute(include_str!(
        "../../crates/sql/migrations/mysql/0001_api_keys.sql"
    ))
    .await
    .unwrap();
    for statement in OLD_MYSQL_CHANGE_LOG {
        pool.execute(*statement).await.unwrap();
    }
    pool.execute(
        "CREATE TABLE api_key_auth_migrations (version BIGINT NOT NULL PRIMARY KEY, applied_ms BIGINT NOT NULL)",
    )
    .await
    .unwrap();
    pool.execute("INSERT INTO api_key_auth_migrations VALUES (1, 0), (2, 0)")
        .await
        .unwrap();
    let old = MemoryStore::new();
    let (record, _) = old
        .create(NewKey::named("from 0.2"))
        .await
        .unwrap()
        .reveal();
    sqlx::query(
        "INSERT INTO api_keys (id, prefix, hashed_key, name, created_ms, expires_ms, revoked, scopes, owner, metadata)
         VALUES (?, ?, ?, 'from 0.2', 0, NULL, FALSE, '[]', NULL, '{}')",
    )
    .bind(&record.id)
    .bind(record.prefix.as_str())
    .bind(record.hash.to_string())
    .execute(&pool)
    .await
    .unwrap();

    let store = MySqlStore::connect(&url).await.unwrap();
    let found = store.find(record.prefix).await.unwrap().unwrap();
    let changes = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM api_key_auth_changes")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    let before = changes().await;
    store
        .record_last_use(&[KeyUse::new(&found, SystemTime::now())])
        .await
        .unwrap();
    assert_eq!(changes().await, before, "a last-use write is not logged");
    assert!(store.revoke(&found.id).await.unwrap());
    assert!(changes().await > before, "a revocation is logged");
    let triggers: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        triggers, 2,
        "the old update trigger was replaced, not doubled"
    );
}

/// 0.2's MySQL change log and triggers.
const OLD_MYSQL_CHANGE_LOG: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS `api_key_auth_changes` (seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, prefix VARCHAR(255) NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    "CREATE TRIGGER IF NOT EXISTS `api_key_auth_log_upd_api_keys_0def8d01` AFTER UPDATE ON `api_keys` FOR EACH ROW BEGIN INSERT INTO `api_key_auth_changes` (prefix) VALUES (OLD.prefix); IF NOT (NEW.prefix <=> OLD.prefix) THEN INSERT INTO `api_key_auth_changes` (prefix) VALUES (NEW.prefix); END IF; END",
    "CREATE TRIGGER IF NOT EXISTS `api_key_auth_log_del_api_keys_0def8d01` AFTER DELETE ON `api_keys` FOR EACH ROW INSERT INTO `api_key_auth_changes` (prefix) VALUES (OLD.prefix)",
];

/// PostgreSQL: a table of 0.2 gains its columns, and with the change
/// triggers in, a last-use write is not announced while a revocation is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_table_of_0_2_upgrades_in_place_and_last_use_is_not_announced() {
    let Some(url) = common::postgres_url("the PostgreSQL upgrade in place") else {
        return;
    };
    use sqlx::Executor as _;
    let schema = common::isolated_pg_schema(&url).await;
    let pool = common::pg_pool_in(&url, &schema).await;
    let code: String = include_str!("../../crates/sql/migrations/postgres/0001_api_keys.sql")
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .map(|line| format!("{line}\n"))
        .collect();
    for statement in code.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        pool.execute(statement).await.unwrap();
    }
    pool.execute(
        "CREATE TABLE api_key_auth_migrations (version BIGINT NOT NULL PRIMARY KEY, applied_ms BIGINT NOT NULL)",
    )
    .await
    .unwrap();
    pool.execute("INSERT INTO api_key_auth_migrations VALUES (1, 0)")
        .await
        .unwrap();
    let store = PostgresStore::new(pool.clone(), Schema::Native);
    store.migrate().await.unwrap();
    store.install_change_triggers().await.unwrap();
    let (record, _) = store
        .create(NewKey::named("watched"))
        .await
        .unwrap()
        .reveal();

    let mut listener = sqlx::postgres::PgListener::connect_with(&pool)
        .await
        .unwrap();
    listener
        .listen(api_key_auth::store::postgres::REVOCATION_CHANNEL)
        .await
        .unwrap();
    store
        .record_last_use(&[KeyUse::new(&record, SystemTime::now())])
        .await
        .unwrap();
    let heard = tokio::time::timeout(Duration::from_millis(500), listener.recv()).await;
    assert!(heard.is_err(), "a last-use write was announced: {heard:?}");
    assert!(store.revoke(&record.id).await.unwrap());
    let heard = tokio::time::timeout(Duration::from_secs(2), listener.recv())
        .await
        .expect("a revocation is announced")
        .unwrap();
    assert_eq!(heard.payload(), record.prefix.as_str());
}

// ---- the last-use tracker ------------------------------------------------

/// A memory store that counts its last-use writes, and can fail them.
#[derive(Clone, Default)]
struct Counting {
    memory: MemoryStore,
    writes: Arc<Mutex<Vec<usize>>>,
    failing: Arc<AtomicBool>,
    stall: Arc<AtomicBool>,
}

#[async_trait::async_trait]
impl KeyStore for Counting {
    async fn find(&self, prefix: Prefix) -> Lookup {
        self.memory.find(prefix).await
    }
    fn find_now(&self, prefix: Prefix) -> Option<Lookup> {
        self.memory.find_now(prefix)
    }
}

#[async_trait::async_trait]
impl KeyManager for Counting {
    async fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
        self.memory.insert(record).await
    }
    async fn list(&self) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        self.memory.list().await
    }
    async fn revoke(&self, id: &str) -> Result<bool, StoreError> {
        self.memory.revoke(id).await
    }
    async fn replace(
        &self,
        old_id: &str,
        new: KeyRecord,
        retirement: Retirement,
    ) -> Result<Arc<KeyRecord>, StoreError> {
        self.memory.replace(old_id, new, retirement).await
    }
    async fn record_last_use(&self, uses: &[KeyUse]) -> Result<(), StoreError> {
        while self.stall.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::unavailable("down (test)"));
        }
        self.writes.lock().unwrap().push(uses.len());
        self.memory.record_last_use(uses).await
    }
}

use crate::common::key_headers as headers;

/// Many uses of a few keys within an interval are one write, of one use
/// per key: the request path never writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uses_are_written_once_per_key_per_interval_in_one_batch() {
    let store = Counting::default();
    let mut keys = Vec::new();
    for i in 0..3 {
        let (record, key) = store
            .create(NewKey::named(format!("k{i}")))
            .await
            .unwrap()
            .reveal();
        keys.push((record, key));
    }
    let tracker = LastUseTracker::builder(store.clone())
        .interval(Duration::from_millis(400))
        .spawn();
    let auth = Authenticator::builder(store.clone())
        .last_use(tracker.clone())
        .build()
        .unwrap();
    let started = SystemTime::now();
    for _ in 0..200 {
        for (_, key) in &keys {
            auth.authenticate(&headers(key.expose_secret()))
                .await
                .unwrap();
        }
    }
    assert!(
        store.writes.lock().unwrap().is_empty(),
        "nothing written on the request path"
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        *store.writes.lock().unwrap(),
        [3],
        "one write of three uses"
    );
    for (record, _) in &keys {
        let used = store.find(record.prefix).await.unwrap().unwrap().last_used;
        let used = used.expect("last use written");
        assert!(used >= started - Duration::from_millis(200), "{used:?}");
    }
    assert_eq!(tracker.stats().written, 3);
    assert_eq!(tracker.stats().dropped, 0);
}

/// A full queue drops notes and counts them; requests never wait for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_and_counts_without_slowing_requests() {
    let store = Counting::default();
    let (_, key) = store.create(NewKey::named("busy")).await.unwrap().reveal();
    let tracker = LastUseTracker::builder(store.clone())
        .queue_capacity(16)
        .spawn();
    let auth = Authenticator::builder(store.clone())
        .last_use(tracker.clone())
        .build()
        .unwrap();
    let headers = headers(key.expose_secret());
    let started = std::time::Instant::now();
    for _ in 0..10_000 {
        auth.authenticate(&headers).await.unwrap();
    }
    let took = started.elapsed();
    let stats = tracker.stats();
    assert!(
        stats.dropped > 0,
        "10,000 notes into a queue of 16 between drains: {stats:?}"
    );
    assert!(took < Duration::from_secs(2), "10,000 checks took {took:?}");
    tracker.flush().await.unwrap();
    assert!(store
        .find(key_prefix(&key))
        .await
        .unwrap()
        .unwrap()
        .last_used
        .is_some());
}

fn key_prefix(key: &api_key_auth::PlaintextKey) -> Prefix {
    Prefix::parse(&key.expose_secret()[..8]).unwrap()
}

/// A write that fails is retried at the next interval, with nothing lost;
/// shutting down writes what is pending; a store that cannot record last
/// use turns the tracker off after one try.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_writes_are_retried_and_shutdown_writes_what_is_pending() {
    let store = Counting::default();
    let (record, key) = store.create(NewKey::named("retry")).await.unwrap().reveal();
    store.failing.store(true, Ordering::SeqCst);
    let tracker = LastUseTracker::builder(store.clone())
        .interval(Duration::from_millis(200))
        .spawn();
    let auth = Authenticator::builder(store.clone())
        .last_use(tracker.clone())
        .build()
        .unwrap();
    auth.authenticate(&headers(key.expose_secret()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(tracker.stats().failed_writes >= 1);
    store.failing.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        store
            .find(record.prefix)
            .await
            .unwrap()
            .unwrap()
            .last_used
            .is_some(),
        "the use survived the failed write"
    );

    let (second, key) = store.create(NewKey::named("late")).await.unwrap().reveal();
    let slow = LastUseTracker::builder(store.clone())
        .interval(Duration::from_secs(3600))
        .spawn();
    let auth = Authenticator::builder(store.clone())
        .last_use(slow.clone())
        .build()
        .unwrap();
    auth.authenticate(&headers(key.expose_secret()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(store
        .find(second.prefix)
        .await
        .unwrap()
        .unwrap()
        .last_used
        .is_none());
    slow.shutdown().await.unwrap();
    assert!(
        store
            .find(second.prefix)
            .await
            .unwrap()
            .unwrap()
            .last_used
            .is_some(),
        "shutdown wrote the pending use"
    );
    assert!(slow.flush().await.is_err(), "a stopped tracker says so");

    /// Records no last use, as a custom store that does not implement it.
    #[derive(Clone, Default)]
    struct Plain(MemoryStore);
    #[async_trait::async_trait]
    impl KeyStore for Plain {
        async fn find(&self, prefix: Prefix) -> Lookup {
            self.0.find(prefix).await
        }
    }
    #[async_trait::async_trait]
    impl KeyManager for Plain {
        async fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
            self.0.insert(record).await
        }
        async fn list(&self) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
            self.0.list().await
        }
        async fn revoke(&self, id: &str) -> Result<bool, StoreError> {
            self.0.revoke(id).await
        }
    }
    let plain = Plain::default();
    let (_, key) = plain.create(NewKey::named("plain")).await.unwrap().reveal();
    let tracker = LastUseTracker::spawn(plain.clone());
    let auth = Authenticator::builder(plain)
        .last_use(tracker.clone())
        .build()
        .unwrap();
    auth.authenticate(&headers(key.expose_secret()))
        .await
        .unwrap();
    assert!(tracker.flush().await.unwrap_err().is_unsupported());
    auth.authenticate(&headers(key.expose_secret()))
        .await
        .unwrap();
    tracker.flush().await.unwrap();
    assert_eq!(tracker.stats().failed_writes, 1, "tried once, then stopped");
}

/// Dropping every handle (the authenticator's and one's own) writes what
/// is pending, as shutdown does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_last_handle_writes_what_is_pending() {
    let store = Counting::default();
    let (record, key) = store
        .create(NewKey::named("dropped"))
        .await
        .unwrap()
        .reveal();
    let tracker = LastUseTracker::builder(store.clone())
        .interval(Duration::from_secs(3600))
        .spawn();
    let auth = Authenticator::builder(store.clone())
        .last_use(tracker)
        .build()
        .unwrap();
    auth.authenticate(&headers(key.expose_secret()))
        .await
        .unwrap();
    drop(auth);
    // A minute at most: the write happens on a task, whenever it runs.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if store
            .find(record.prefix)
            .await
            .unwrap()
            .unwrap()
            .last_used
            .is_some()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the last use was not written after the last handle went");
}

// ---- audit events ----------------------------------------------------------

/// The audit lines of `event` about the key `id`.
fn audit_lines(id: &str, event: &str) -> Vec<String> {
    common::Log::captured().lines_with(&[
        api_key_auth::audit::TARGET,
        &format!("event=\"{event}\""),
        &format!("key_id=\"{id}\""),
    ])
}

/// A key's first use is told once, however often it is used; a key in its
/// grace period is told with its uses once an interval. Only ids and
/// prefixes, never a secret.
#[tokio::test]
async fn first_use_and_grace_use_are_audit_events() {
    common::Log::captured();
    let store = MemoryStore::new();
    let (record, key) = store
        .create(NewKey::named("audited"))
        .await
        .unwrap()
        .reveal();
    let tracker = LastUseTracker::builder(store.clone())
        .interval(Duration::from_millis(200))
        .spawn();
    let auth = Authenticator::builder(CachedStore::new(store.clone()))
        .last_use(tracker.clone())
        .build()
        .unwrap();
    for _ in 0..3 {
        for _ in 0..5 {
            auth.authenticate(&headers(key.expose_secret()))
                .await
                .unwrap();
        }
        tracker.flush().await.unwrap();
    }
    let first = audit_lines(&record.id, "first_use");
    assert_eq!(
        first.len(),
        1,
        "told once, though the cache still shows no use: {first:?}"
    );

    let rotated = store
        .rotate(&record.id, Duration::from_secs(60))
        .await
        .unwrap();
    let auth = Authenticator::builder(store.clone())
        .last_use(tracker.clone())
        .build()
        .unwrap();
    for _ in 0..4 {
        auth.authenticate(&headers(key.expose_secret()))
            .await
            .unwrap();
    }
    tracker.flush().await.unwrap();
    let grace = audit_lines(&record.id, "grace_use");
    assert_eq!(grace.len(), 1, "{grace:?}");
    assert!(grace[0].contains("uses=4"), "{}", grace[0]);
    let (_, new_key) = rotated.new.reveal();
    let log = common::Log::captured().text();
    assert!(!log.contains(&key.expose_secret()[9..]));
    assert!(!log.contains(&new_key.expose_secret()[9..]));
}

/// The tracker's queue is bounded however many notes come while its task
/// is stuck on a slow write: memory does not grow with requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_store_does_not_hold_up_requests() {
    let store = Counting::default();
    let (_, key) = store
        .create(NewKey::named("stalled"))
        .await
        .unwrap()
        .reveal();
    store.stall.store(true, Ordering::SeqCst);
    let tracker = LastUseTracker::builder(store.clone())
        .interval(Duration::from_millis(100))
        .queue_capacity(1024)
        .spawn();
    let auth = Authenticator::builder(store.clone())
        .last_use(tracker.clone())
        .build()
        .unwrap();
    auth.authenticate(&headers(key.expose_secret()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await; // the write is now stuck
    let served = Arc::new(AtomicUsize::new(0));
    let started = std::time::Instant::now();
    for _ in 0..20_000 {
        auth.authenticate(&headers(key.expose_secret()))
            .await
            .unwrap();
        served.fetch_add(1, Ordering::Relaxed);
    }
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(
        tracker.stats().dropped >= 20_000 - 1024,
        "{:?}",
        tracker.stats()
    );
    store.stall.store(false, Ordering::SeqCst);
    tracker.flush().await.unwrap();
}

// ---- edge cases ------------------------------------------------------------

/// A key already replaced is on its way out: it is not rotated again,
/// whether one after the other or by two rotations at once (one wins), so
/// no successor is left that nothing links to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_key_is_not_rotated_again() {
    let store = MemoryStore::new();
    let (old, _) = store.create(NewKey::named("svc")).await.unwrap().reveal();
    store
        .rotate(&old.id, Duration::from_secs(86_400))
        .await
        .unwrap();
    let again = store.rotate(&old.id, Duration::from_secs(86_400)).await;
    assert!(
        matches!(&again, Err(e) if e.is_inactive()),
        "{:?}",
        again.map(|_| ())
    );

    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::connect(&format!("sqlite:{}", dir.path().join("k.db").display()))
        .await
        .unwrap();
    let (old, _) = store.create(NewKey::named("svc")).await.unwrap().reveal();
    let (a, b) = tokio::join!(
        store.rotate(&old.id, Duration::from_secs(3600)),
        store.rotate(&old.id, Duration::from_secs(3600)),
    );
    assert!(
        a.is_ok() != b.is_ok(),
        "of two rotations of one key, exactly one succeeds: {:?} {:?}",
        a.map(|_| ()),
        b.map(|_| ())
    );
}

/// A rotation in memory is one step to a reader that takes no lock: no
/// read finds the old key retired while the new one is not stored yet.
/// `replace` stores the new key first and retires the old one after it;
/// the other way round, a lock-free reader could see neither key working,
/// and the type promises that "a read sees a record before or after a
/// write, never half of one".
#[test]
fn a_rotation_in_memory_is_never_seen_half_done() {
    const TRIALS: usize = 20_000;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let store = MemoryStore::new();
    let hasher = store.hasher();
    let mut pairs = Vec::with_capacity(TRIALS);
    let mut news = Vec::with_capacity(TRIALS);
    for _ in 0..TRIALS {
        let (old, _) = runtime
            .block_on(store.create(NewKey::named("old")))
            .unwrap()
            .reveal();
        let (new, _) = NewKey::named("new")
            .mint(&hasher, |prefix, _| prefix.to_string())
            .unwrap();
        pairs.push((old.prefix, new.prefix));
        news.push((old.id.clone(), new));
    }
    let pairs = Arc::new(pairs);
    let current = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (store, pairs, current, done) =
            (store.clone(), pairs.clone(), current.clone(), done.clone());
        std::thread::spawn(move || {
            let mut torn = 0usize;
            while !done.load(Ordering::Relaxed) {
                let (old, new) = pairs[current.load(Ordering::Relaxed)];
                let old_now = store.find_now(old).unwrap().unwrap().unwrap();
                if old_now.revoked && store.find_now(new).unwrap().unwrap().is_none() {
                    torn += 1;
                }
            }
            torn
        })
    };
    for (n, (old_id, new)) in news.into_iter().enumerate() {
        current.store(n, Ordering::Relaxed);
        // Give the reader a moment on this pair.
        for _ in 0..200 {
            std::hint::spin_loop();
        }
        runtime
            .block_on(store.replace(&old_id, new, Retirement::Revoke))
            .unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let torn = reader.join().unwrap();
    assert_eq!(
        torn, 0,
        "{torn} reads saw a rotation half done: the old key already revoked, \
         the new key not yet stored"
    );
}

/// On SQLite, whose writes run on the blocking pool and so go on after
/// their caller gave up, a rotation or a creation nobody waits for any more
/// is rolled back: no key is left whose secret nobody saw, and the old key
/// is not retired by a rotation whose new key was never shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_nobody_waits_for_is_rolled_back_on_sqlite() {
    use std::future::Future;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::connect(&format!("sqlite:{}", dir.path().join("k.db").display()))
        .await
        .unwrap();
    let (old, _) = store.create(NewKey::named("svc")).await.unwrap().reveal();
    let hasher = store.hasher();
    let (successor, _secret) = NewKey::replacing(&old, SystemTime::now())
        .mint(&hasher, |prefix, hash| store.new_id(prefix, hash))
        .unwrap();
    let successor_prefix = successor.prefix;
    // Another connection holds the write lock, so neither write can commit
    // before its caller gives up (on a loaded machine a write could
    // otherwise finish between the first poll and the drop, and a write
    // that committed is one its caller may yet be told of).
    let path = dir.path().join("k.db");
    let holder = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        std::thread::sleep(Duration::from_millis(300));
        conn.execute_batch("ROLLBACK").unwrap();
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Polled once (the write starts on the blocking pool), then given up.
    async fn give_up(future: impl Future<Output = ()>) {
        let mut future = std::pin::pin!(future);
        std::future::poll_fn(|cx| {
            let _ = future.as_mut().poll(cx);
            std::task::Poll::Ready(())
        })
        .await;
    }
    give_up(async {
        let _ = store.replace(&old.id, successor, Retirement::Revoke).await;
    })
    .await;
    let (fresh, _) = NewKey::named("never shown")
        .mint(&hasher, |prefix, hash| store.new_id(prefix, hash))
        .unwrap();
    let fresh_prefix = fresh.prefix;
    give_up(async {
        let _ = store.insert(fresh).await;
    })
    .await;
    holder.join().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stored = store.find(old.prefix).await.unwrap().unwrap();
    assert!(
        !stored.revoked && stored.replaced_by.is_none(),
        "a rotation nobody waited for went through: revoked={}, replaced by {:?}",
        stored.revoked,
        stored.replaced_by
    );
    assert!(store.find(successor_prefix).await.unwrap().is_none());
    assert!(
        store.find(fresh_prefix).await.unwrap().is_none(),
        "a key nobody was shown was stored"
    );
    // And a write that is waited for still goes through.
    store.rotate(&old.id, Duration::ZERO).await.unwrap();
}

/// An HTTP-date ends in 9999: a key expiring later (a row another tool
/// wrote, or a key given such an expiry) is answered, with the last
/// moment the header can say, never a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sunset_after_9999_is_said_as_9999_not_a_panic() {
    let far = SystemTime::UNIX_EPOCH + Duration::from_secs(300_000_000_000);
    let source = MemoryStore::new();
    let (record, key) = source.create(NewKey::named("far")).await.unwrap().reveal();
    let mut record = (*record).clone();
    record.expires = Some(far);
    record.replaced_by = Some("successor".to_owned());
    let store = MemoryStore::from_records([record]);
    for auth in [
        Authenticator::new(store.clone()),
        Authenticator::builder(store.clone())
            .sunset_on_expiry(true)
            .build()
            .unwrap(),
    ] {
        let addr = serve(
            axum::Router::new()
                .route("/", axum::routing::get(|| async { "ok" }))
                .route_layer(ApiKeyLayer::from(auth).with_inner_body()),
        )
        .await;
        let header = format!("Api-Key {}", key.expose_secret());
        let answer = http_get(addr, "/", &[("Authorization", &header)]).await;
        assert_eq!(answer.status, 200);
        assert_eq!(
            answer.header("sunset"),
            Some("Fri, 31 Dec 9999 23:59:59 GMT")
        );
    }
    let clamped = NewKey::named("far").expires_at(far);
    let (record, _) = MemoryStore::new().create(clamped).await.unwrap().reveal();
    assert_eq!(record.expires, Some(api_key_auth::store::latest_expiry()));
}

/// MySQL compares text in the column's collation, blind to case: the change
/// trigger compares bytes, so a scope changed by case alone (scopes match
/// byte for byte) still reaches the caches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_of_case_alone_is_logged_on_mysql() {
    let Some(url) = common::mysql_url("the MySQL trigger's byte comparison") else {
        return;
    };
    let store = MySqlStore::connect(&common::isolated_mysql_url(&url).await)
        .await
        .unwrap();
    let (record, _) = store
        .create(NewKey::named("ops").scopes(["keys:admin"]))
        .await
        .unwrap()
        .reveal();
    let logged = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM api_key_auth_changes WHERE prefix = ?")
            .bind(record.prefix.as_str())
            .fetch_one(store.pool())
            .await
            .unwrap()
    };
    let before = logged().await;
    sqlx::query("UPDATE api_keys SET scopes = '[\"KEYS:ADMIN\"]' WHERE prefix = ?")
        .bind(record.prefix.as_str())
        .execute(store.pool())
        .await
        .unwrap();
    assert!(
        logged().await > before,
        "a change of the scopes' case went unlogged"
    );
}
