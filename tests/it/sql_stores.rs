//! The SQL stores: the conformance kit, persistence, migrations, no
//! plaintext at rest, djangorestframework-api-key tables whose keys were
//! minted by DRF itself, and batches cancelled halfway.
#![cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]

use crate::common;

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use api_key_auth::{testkit::Conformance, Authenticator, KeyManager, KeyStore, NewKey};
use http::{header::AUTHORIZATION, HeaderMap};
use serde::Deserialize;

/// A key DRF minted (or a wrong one) and whether DRF itself accepts it.
#[derive(Debug, Deserialize)]
struct DrfKey {
    name: String,
    key: String,
    accepted: bool,
}

fn drf_keys(path: &Path) -> Vec<DrfKey> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let keys: Vec<DrfKey> = serde_json::from_str(&text).unwrap();
    assert!(keys.iter().any(|k| k.accepted) && keys.iter().any(|k| !k.accepted));
    keys
}

/// Asserts that `store` accepts exactly the keys DRF accepts.
async fn assert_same_verdicts(store: impl KeyStore, keys: &[DrfKey]) {
    let auth = Authenticator::builder(store).build().unwrap();
    for key in keys {
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            format!("Api-Key {}", key.key).parse().unwrap(),
        );
        let verdict = auth.authenticate(&headers).await;
        assert_eq!(
            verdict.is_ok(),
            key.accepted,
            "{:?}: DRF says {}, we say {verdict:?}",
            key.name,
            key.accepted
        );
        if let Ok(Some(identity)) = verdict {
            assert_eq!(identity.name(), key.name);
        }
    }
}

/// Creates keys through `store` in a DRF table, revokes one and lets one
/// expire, and lists them with the verdicts DRF must give, in `out`, for
/// `mint_keys.py --verify` to check with Django itself.
async fn keys_for_django<S: KeyManager>(store: &S, out: &Path) {
    use std::time::{Duration, SystemTime};
    let mut listed = Vec::new();
    let (_, fresh) = store
        .create(NewKey::named("made in rust"))
        .await
        .unwrap()
        .reveal();
    listed.push(
        serde_json::json!({"name": "made in rust", "key": fresh.expose_secret(), "accepted": true}),
    );
    let later = SystemTime::now() + Duration::from_secs(86_400);
    let (_, expiring) = store
        .create(NewKey::named("expires tomorrow").expires_at(later))
        .await
        .unwrap()
        .reveal();
    listed.push(serde_json::json!({"name": "expires tomorrow", "key": expiring.expose_secret(), "accepted": true}));
    let earlier = SystemTime::now() - Duration::from_secs(60);
    let (_, expired) = store
        .create(NewKey::named("expired").expires_at(earlier))
        .await
        .unwrap()
        .reveal();
    listed.push(
        serde_json::json!({"name": "expired", "key": expired.expose_secret(), "accepted": false}),
    );
    let (record, revoked) = store
        .create(NewKey::named("revoked in rust"))
        .await
        .unwrap()
        .reveal();
    store.revoke(&record.id).await.unwrap();
    listed.push(serde_json::json!({"name": "revoked in rust", "key": revoked.expose_secret(), "accepted": false}));
    std::fs::write(out, serde_json::to_string_pretty(&listed).unwrap()).unwrap();
}

/// The database server `mint_keys.py` filled for `db`, from `var`, if any.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn drf_server_url(db: &str, var: &str) -> Option<String> {
    let url = std::env::var(var).ok().filter(|url| !url.is_empty());
    if url.is_none() {
        common::skip_line(&format!(
            "skipping {db} DRF verdicts: set {var} to the database mint_keys.py filled"
        ));
    }
    url
}

/// A DRF table on a database server, freshly minted into by DRF: our
/// verdicts are DRF's, keys made here are listed for Django to check
/// (`rust-<db>.json`), and the store keeps the contract.
#[cfg(any(feature = "postgres", feature = "mysql"))]
async fn drf_server_table<S>(store: S, dir: &Path, db: &str)
where
    S: KeyManager + Clone + 'static,
{
    assert_same_verdicts(store.clone(), &drf_keys(&dir.join(format!("{db}.json")))).await;
    keys_for_django(&store, &dir.join(format!("rust-{db}.json"))).await;
    Conformance::new(store)
        .without_scopes_owner_metadata()
        .without_lifecycle_columns()
        .without_suspensions()
        .without_allowlists()
        .without_credits()
        .run()
        .await
        .unwrap();
}

/// The directory CI fills with freshly minted DRF databases, if any.
fn fresh_drf_dir(test: &str) -> Option<PathBuf> {
    match std::env::var("APIKEY_TEST_DRF_DIR") {
        Ok(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => {
            common::skip_line(&format!("skipping {test}: set APIKEY_TEST_DRF_DIR to a directory filled by tests/drf/mint_keys.py"));
            None
        }
    }
}

/// Expiries before, just past and far past the 32-bit Unix range: 1969-07-20
/// 20:17:40, 2039-01-01 and 2100-01-01 (UTC), in seconds from the epoch,
/// and whether a key with that expiry is expired now.
const EXPIRIES: [(i64, bool); 3] = [
    (-14_182_940, true),
    (2_177_452_800, false),
    (4_102_444_800, false),
];

fn at(secs: i64) -> std::time::SystemTime {
    let magnitude = Duration::from_secs(secs.unsigned_abs());
    if secs < 0 {
        std::time::UNIX_EPOCH - magnitude
    } else {
        std::time::UNIX_EPOCH + magnitude
    }
}

/// An address allowlist or a suspension flag written by hand (`run` runs
/// one statement on the store's database) that does not read exactly
/// refuses the key: the store says the record is invalid and the
/// authenticator answers 503, from inside the list as from outside it.
/// Written back as the store writes it, the list holds again. `flags`:
/// whether the flag column can hold a value that is no boolean.
async fn unreadable_allowlists_and_flags_refuse_the_key<S, F, Fut>(
    store: &S,
    flags: bool,
    mut run: F,
) where
    S: KeyManager + Clone,
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (record, key) = store
        .create(NewKey::named("confined").allow_from("10.0.0.0/8".parse().unwrap()))
        .await
        .unwrap()
        .reveal();
    let auth = Authenticator::new(store.clone());
    let mut headers = HeaderMap::new();
    let value = format!("Api-Key {}", key.expose_secret());
    headers.insert(AUTHORIZATION, value.parse().unwrap());
    let from = |ip: &str| Some(ip.parse().unwrap());
    let prefix = record.prefix;
    let unreadable = [
        "allowed_from = 'nonsense'",
        "allowed_from = '[]'",
        "allowed_from = '\"10.0.0.0/8\"'",
        "allowed_from = '[\"10.0.0.1/8\"]'",
        "allowed_from = '[\"0.0.0.0/33\"]'",
        "allowed_from = '[\"10.0.0.1\"]'",
        "allowed_from = '[\"10.0.0.0/8\",null]'",
        "allowed_from = ''",
        "allowed_from = '[\"10.0.0.0/8\"]', suspended = 2",
    ];
    for assignment in unreadable {
        if !flags && assignment.contains("suspended") {
            continue;
        }
        run(format!(
            "UPDATE api_keys SET {assignment} WHERE prefix = '{prefix}'"
        ))
        .await;
        let err = store
            .find(prefix)
            .await
            .err()
            .unwrap_or_else(|| panic!("{assignment}: passed"));
        assert!(err.is_invalid_record(), "{assignment}: {err}");
        for client in ["10.1.1.1", "192.0.2.1"] {
            let failure = auth
                .authenticate_from(&headers, from(client))
                .await
                .unwrap_err();
            assert_eq!(failure.status(), 503, "{assignment}, from {client}");
        }
    }
    run(format!(
        "UPDATE api_keys SET allowed_from = '[\"192.0.2.0/24\"]', suspended = FALSE WHERE prefix = '{prefix}'"
    ))
    .await;
    auth.authenticate_from(&headers, from("192.0.2.1"))
        .await
        .unwrap();
    let failure = auth
        .authenticate_from(&headers, from("10.1.1.1"))
        .await
        .unwrap_err();
    assert_eq!(failure.status(), 403, "{failure}");
}

/// Keys created with each of [`EXPIRIES`] read back with exactly that expiry,
/// and the 1969 one is refused as expired while the others pass.
async fn expiries_outside_1970_2038_are_kept<S: KeyManager + Clone>(store: &S) {
    let auth = Authenticator::new(store.clone());
    for (secs, expired) in EXPIRIES {
        let (record, key) = store
            .create(NewKey::named("dated").expires_at(at(secs)))
            .await
            .unwrap_or_else(|e| panic!("creating a key expiring at {secs} s: {e}"))
            .reveal();
        let found = store.find(record.prefix).await.unwrap().unwrap();
        assert_eq!(found.expires, Some(at(secs)), "expiry {secs} s");
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            format!("Api-Key {}", key.expose_secret()).parse().unwrap(),
        );
        let verdict = auth.authenticate(&headers).await;
        if expired {
            assert!(
                matches!(verdict, Err(api_key_auth::AuthFailure::Expired(_))),
                "expiry {secs} s: {verdict:?}"
            );
        } else {
            assert!(verdict.is_ok(), "expiry {secs} s: {verdict:?}");
        }
    }
}

/// Django's `rest_framework_api_key_apikey` table, as its migration makes it
/// (`datetime` is the database's date-time type).
fn drf_table_sql(datetime: &str, boolean: &str) -> String {
    format!(
        "CREATE TABLE rest_framework_api_key_apikey (\
           id varchar(150) NOT NULL PRIMARY KEY, \
           created {datetime} NOT NULL, \
           name varchar(50) NOT NULL, \
           revoked {boolean} NOT NULL, \
           expiry_date {datetime} NULL, \
           hashed_key varchar(150) NOT NULL, \
           prefix varchar(8) NOT NULL UNIQUE)"
    )
}

/// How a test counts the rows named `name`: through the store (SQLite), or
/// through a connection of the test's own (the sqlx stores: their pool may
/// hold a connection left in an old snapshot, see
/// `mysql::a_cancelled_batch_leaves_no_pooled_connection_in_an_old_snapshot`).
#[cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]
enum Counter {
    Store,
    Sqlx(String),
}

#[cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]
impl Counter {
    async fn count(
        &self,
        store: &dyn KeyManager,
        name: &str,
        prefixes: &[api_key_auth::key::Prefix],
    ) -> usize {
        match self {
            Counter::Store => {
                let mut n = 0;
                for p in prefixes {
                    if store.find(*p).await.unwrap().is_some() {
                        n += 1;
                    }
                }
                n
            }
            Counter::Sqlx(url) if url.starts_with("postgres") => {
                let pool = sqlx::PgPool::connect(url).await.unwrap();
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_keys WHERE name = $1")
                    .bind(name)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                pool.close().await;
                n as usize
            }
            Counter::Sqlx(url) => {
                let pool = sqlx::MySqlPool::connect(url).await.unwrap();
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_keys WHERE name = ?")
                    .bind(name)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                pool.close().await;
                n as usize
            }
        }
    }
}

/// A SQL batch cancelled at any moment (a timeout from 1 ms to
/// 40 ms over 1000 rows in four 250-row statements) leaves all of its rows
/// or none, never some, once settled; counted through a connection of the
/// test's own, as the store's own pool could count a whole batch short
/// through a connection left in an old snapshot. A batch cancelled once its
/// COMMIT was sent is committed later, and is a batch made whose secrets
/// are gone, as on Redis.
#[cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_sql_batch_leaves_all_of_its_rows_or_none() {
    use api_key_auth::{
        key::ApiKey,
        store::{sqlite::SqliteStore, MAX_BATCH},
    };
    let mut stores: Vec<(Box<dyn KeyManager>, &str, Counter)> = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    stores.push((
        Box::new(
            SqliteStore::connect(&format!("sqlite:{}", dir.path().join("k.db").display()))
                .await
                .unwrap(),
        ),
        "sqlite",
        Counter::Store,
    ));
    if let Some(url) = common::postgres_url(
        "sql_stores::a_cancelled_sql_batch_leaves_all_of_its_rows_or_none postgres",
    ) {
        use api_key_auth::store::postgres::PostgresStore;
        let schema = common::isolated_pg_schema(&url).await;
        let store = PostgresStore::new(
            common::pg_pool_in(&url, &schema).await,
            api_key_auth::store::Schema::Native,
        );
        store.migrate().await.unwrap();
        let sep = if url.contains('?') { '&' } else { '?' };
        let own = format!("{url}{sep}options=-csearch_path%3D{schema}");
        stores.push((Box::new(store), "postgres", Counter::Sqlx(own)));
    }
    if let Some(url) =
        common::mysql_url("sql_stores::a_cancelled_sql_batch_leaves_all_of_its_rows_or_none mysql")
    {
        use api_key_auth::store::mysql::MySqlStore;
        let db = common::isolated_mysql_url(&url).await;
        let store = MySqlStore::connect(&db).await.unwrap();
        stores.push((Box::new(store), "mysql", Counter::Sqlx(db)));
    }
    for (store, what, counter) in &stores {
        for ms in [1u64, 3, 6, 10, 15, 25, 40] {
            let name = format!("c{ms}-{}", ApiKey::generate().unwrap().prefix());
            let records: Vec<_> = (0..MAX_BATCH)
                .map(|_| common::fresh_record(store.as_ref(), &name))
                .collect();
            let prefixes: Vec<_> = records.iter().map(|r| r.prefix).collect();
            let _ =
                tokio::time::timeout(Duration::from_millis(ms), store.insert_many(records)).await;
            // Let a rollback or a commit under way land: count until two
            // counts half a second apart agree.
            let mut present = usize::MAX;
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let now = counter.count(store.as_ref(), &name, &prefixes).await;
                if now == present {
                    break;
                }
                present = now;
            }
            assert!(
                present == 0 || present == MAX_BATCH,
                "{what}: a batch cancelled after {ms} ms left {present} of {MAX_BATCH} rows"
            );
        }
        // The counter sees a whole batch.
        let name = format!("whole-{}", ApiKey::generate().unwrap().prefix());
        let records: Vec<_> = (0..MAX_BATCH)
            .map(|_| common::fresh_record(store.as_ref(), &name))
            .collect();
        let prefixes: Vec<_> = records.iter().map(|r| r.prefix).collect();
        store.insert_many(records).await.unwrap();
        assert_eq!(
            counter.count(store.as_ref(), &name, &prefixes).await,
            MAX_BATCH,
            "{what}"
        );
    }
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use api_key_auth::store::{sqlite::SqliteStore, Schema};

    fn copy_fixture(dir: &tempfile::TempDir, from: &Path) -> String {
        let to = dir.path().join("drf.sqlite3");
        std::fs::copy(from, &to).unwrap();
        format!("sqlite:{}", to.display())
    }

    /// A database file in `dir`: its URL, and a connection of the test's
    /// own to it, for what the store does not do (hand-made rows).
    fn file(dir: &tempfile::TempDir, name: &str) -> (String, rusqlite::Connection) {
        let path = dir.path().join(name);
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .unwrap();
        (format!("sqlite:{}", path.display()), conn)
    }

    /// The test's own connection to the database at a `sqlite:` URL.
    fn conn(url: &str) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open(url.strip_prefix("sqlite:").unwrap()).unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .unwrap();
        conn
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn in_memory_store_keeps_the_contract() {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        Conformance::new(store).run().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn file_store_keeps_the_contract_and_its_keys_across_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("keys.db").display());
        let store = SqliteStore::connect(&url).await.unwrap();
        Conformance::new(store.clone()).run().await.unwrap();
        let (record, key) = store
            .create(NewKey::named("survivor").scopes(["s"]))
            .await
            .unwrap()
            .reveal();
        drop(store);

        let reopened = SqliteStore::connect(&url).await.unwrap();
        let found = reopened
            .find(record.prefix)
            .await
            .unwrap()
            .expect("kept across reopening");
        assert_eq!(found.name, "survivor");
        let auth = Authenticator::new(reopened);
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            format!("Api-Key {}", key.expose_secret()).parse().unwrap(),
        );
        assert!(auth.authenticate(&headers).await.is_ok());
    }

    #[tokio::test]
    async fn migrations_run_once_and_again_harmlessly() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("m.db").display());
        let store = SqliteStore::connect(&url).await.unwrap();
        store.create(NewKey::named("before")).await.unwrap();
        store.migrate().await.unwrap();
        store.migrate().await.unwrap();
        let versions: Vec<i64> = conn(&url)
            .prepare("SELECT version FROM api_key_auth_migrations ORDER BY version")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            versions,
            [1, 2, 3, 4, 5, 6, 7, 8],
            "the table, its change log, the lifecycle columns, the rate limit, the lineage, the suspension, the allowlist, the credits"
        );
        assert_eq!(
            store.list().await.unwrap().len(),
            1,
            "migrating again lost nothing"
        );
    }

    /// Processes starting together on one new file: each migration is
    /// applied once (the migrating transaction holds the write lock).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stores_opening_one_file_together_migrate_it_once() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("m.db").display());
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..4 {
            let url = url.clone();
            tasks.spawn(async move { SqliteStore::connect(&url).await.map(drop) });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap().unwrap();
        }
        let count: i64 = conn(&url)
            .query_row("SELECT COUNT(*) FROM api_key_auth_migrations", [], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(count, 8);
    }

    /// URLs the store cannot use say what is wrong with them.
    #[tokio::test]
    async fn a_url_it_cannot_use_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let missing = format!("sqlite:{}?mode=rw", dir.path().join("none.db").display());
        for (url, expected) in [
            ("sqlite:", "no file named"),
            (
                "sqlite:k.db?cache=private",
                "unknown parameter \"cache=private\"",
            ),
            ("postgres://x", "must start with `sqlite:`"),
            (missing.as_str(), "cannot open SQLite database"),
        ] {
            let err = SqliteStore::connect(url).await.unwrap_err();
            let text = api_key_auth::ErrorChain(&err).to_string();
            assert!(text.contains(expected), "{url}: {text}");
        }
    }

    #[tokio::test]
    async fn the_table_holds_no_plaintext() {
        let dir = tempfile::tempdir().unwrap();
        let (url, conn) = file(&dir, "keys.db");
        let store = SqliteStore::connect(&url).await.unwrap();
        let (_, key) = store
            .create(NewKey::named("n").metadata("m", "v"))
            .await
            .unwrap()
            .reveal();
        let secret = &key.expose_secret()[9..];
        let rows: Vec<String> = conn
            .prepare(
                "SELECT id || prefix || hashed_key || name || scopes || COALESCE(owner, '') || metadata FROM api_keys",
            )
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert!(!rows[0].contains(secret));
        assert!(rows[0].contains("sha256$$"));
    }

    #[tokio::test]
    async fn a_corrupt_row_is_an_invalid_record_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let (url, conn) = file(&dir, "keys.db");
        let store = SqliteStore::connect(&url).await.unwrap();
        let (record, _) = store.create(NewKey::named("n")).await.unwrap().reveal();
        conn.execute("UPDATE api_keys SET hashed_key = 'md5$$abc'", [])
            .unwrap();
        let err = store.find(record.prefix).await.unwrap_err();
        assert!(err.is_invalid_record(), "{err}");
        // What is wrong is the error's source, printed once along the chain.
        let chain: Vec<String> =
            std::iter::successors(Some(&err as &dyn std::error::Error), |e| e.source())
                .map(ToString::to_string)
                .collect();
        assert_eq!(chain[0], "key store returned an invalid record");
        assert!(chain[1].contains("unsupported hash algorithm"), "{chain:?}");
    }

    /// A database that fails under the store (its table gone) is unavailable (503).
    #[tokio::test]
    async fn a_failing_database_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let (url, conn) = file(&dir, "keys.db");
        let store = SqliteStore::connect(&url).await.unwrap();
        let (record, _) = store.create(NewKey::named("n")).await.unwrap().reveal();
        conn.execute_batch("DROP TABLE api_keys").unwrap();
        let err = store.find(record.prefix).await.unwrap_err();
        assert!(err.is_unavailable(), "{err}");
        assert!(
            api_key_auth::ErrorChain(&err)
                .to_string()
                .contains("no such table"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn keys_minted_by_drf_get_drf_verdicts() {
        let dir = tempfile::tempdir().unwrap();
        let url = copy_fixture(&dir, Path::new("tests/fixtures/drf/keys.sqlite3"));
        let store = SqliteStore::connect_drf(&url).await.unwrap();
        assert_same_verdicts(store, &drf_keys(Path::new("tests/fixtures/drf/keys.json"))).await;
    }

    #[tokio::test]
    async fn keys_freshly_minted_by_drf_get_drf_verdicts() {
        let Some(dir) = fresh_drf_dir("keys_freshly_minted_by_drf_get_drf_verdicts (sqlite)")
        else {
            return;
        };
        let tmp = tempfile::tempdir().unwrap();
        let url = copy_fixture(&tmp, &dir.join("sqlite.sqlite3"));
        let store = SqliteStore::connect_drf(&url).await.unwrap();
        assert_same_verdicts(store, &drf_keys(&dir.join("sqlite.json"))).await;

        // Keys made here, in a copy CI hands to Django afterwards.
        let shared = dir.join("rust.sqlite3");
        std::fs::copy(dir.join("sqlite.sqlite3"), &shared).unwrap();
        let store = SqliteStore::connect_drf(&format!("sqlite:{}", shared.display()))
            .await
            .unwrap();
        keys_for_django(&store, &dir.join("rust-sqlite.json")).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_drf_table_keeps_the_contract_and_gets_drf_shaped_keys() {
        let dir = tempfile::tempdir().unwrap();
        let url = copy_fixture(&dir, Path::new("tests/fixtures/drf/keys.sqlite3"));
        let store = SqliteStore::connect_drf(&url).await.unwrap();
        assert_eq!(store.schema(), &Schema::drf());
        Conformance::new(store.clone())
            .without_scopes_owner_metadata()
            .without_lifecycle_columns()
            .without_suspensions()
            .without_allowlists()
            .without_credits()
            .run()
            .await
            .unwrap();

        let (record, _) = store
            .create(NewKey::named("from rust"))
            .await
            .unwrap()
            .reveal();
        assert!(record.hash.to_string().starts_with("sha512$$"));
        // The id handed out is the prefix; the row's primary key is DRF's own.
        assert_eq!(record.id, record.prefix.as_str());
        let (pk, created): (String, String) = conn(&url)
            .query_row(
                "SELECT id, created FROM rest_framework_api_key_apikey WHERE prefix = ?1",
                [record.prefix.as_str()],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        assert_eq!(pk, format!("{}.{}", record.prefix, record.hash));
        // Django's own text form: "YYYY-MM-DD HH:MM:SS.fff".
        assert_eq!(created.len(), 23, "{created}");
        assert_eq!(&created[10..11], " ");

        let err = store
            .create(NewKey::named("scoped").scopes(["x"]))
            .await
            .unwrap_err();
        assert!(err.is_config(), "{err}");
    }
    #[tokio::test]
    async fn expiries_outside_1970_2038_are_kept_in_both_schemas() {
        let native = SqliteStore::connect("sqlite::memory:").await.unwrap();
        expiries_outside_1970_2038_are_kept(&native).await;
        let dir = tempfile::tempdir().unwrap();
        let url = copy_fixture(&dir, Path::new("tests/fixtures/drf/keys.sqlite3"));
        let drf = SqliteStore::connect_drf(&url).await.unwrap();
        expiries_outside_1970_2038_are_kept(&drf).await;
    }

    /// A flag or a date in a row that does not read exactly as one (SQLite
    /// keeps whatever a hand-made UPDATE wrote) is an invalid record: 503,
    /// never a pass.
    #[tokio::test]
    async fn a_revoked_or_suspended_flag_or_expiry_that_does_not_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let url = copy_fixture(&dir, Path::new("tests/fixtures/drf/keys.sqlite3"));
        let (native_url, native_conn) = file(&dir, "keys.db");
        let native = SqliteStore::connect(&native_url).await.unwrap();
        let drf = SqliteStore::connect_drf(&url).await.unwrap();
        let drf_conn = conn(&url);
        for (store, table, conn) in [
            (&native, "api_keys", &native_conn),
            (&drf, "rest_framework_api_key_apikey", &drf_conn),
        ] {
            let (record, _) = store.create(NewKey::named("flag")).await.unwrap().reveal();
            for value in ["'true'", "'yes'", "2", "-1", "0.5"] {
                conn.execute(
                    &format!("UPDATE {table} SET revoked = {value} WHERE prefix = ?1"),
                    [record.prefix.as_str()],
                )
                .unwrap_or_else(|e| panic!("{table}: revoked = {value}: {e}"));
                let err = store
                    .find(record.prefix)
                    .await
                    .err()
                    .unwrap_or_else(|| panic!("{table}: revoked = {value} passed"));
                assert!(err.is_invalid_record(), "{table}: revoked = {value}: {err}");
            }
        }
        let (record, _) = native
            .create(NewKey::named("paused"))
            .await
            .unwrap()
            .reveal();
        for value in ["'true'", "'yes'", "2", "-1", "0.5"] {
            native_conn
                .execute(
                    &format!("UPDATE api_keys SET suspended = {value} WHERE prefix = ?1"),
                    [record.prefix.as_str()],
                )
                .unwrap_or_else(|e| panic!("suspended = {value}: {e}"));
            let err = native
                .find(record.prefix)
                .await
                .err()
                .unwrap_or_else(|| panic!("suspended = {value} passed"));
            assert!(err.is_invalid_record(), "suspended = {value}: {err}");
        }
        let (record, _) = drf.create(NewKey::named("dated")).await.unwrap().reveal();
        drf_conn
            .execute(
                "UPDATE rest_framework_api_key_apikey SET expiry_date = 'soon' WHERE prefix = ?1",
                [record.prefix.as_str()],
            )
            .unwrap();
        let err = drf.find(record.prefix).await.unwrap_err();
        assert!(err.is_invalid_record(), "{err}");
    }

    #[tokio::test]
    async fn an_allowlist_or_flag_that_does_not_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (url, conn) = file(&dir, "keys.db");
        let store = SqliteStore::connect(&url).await.unwrap();
        let conn = std::sync::Mutex::new(conn);
        unreadable_allowlists_and_flags_refuse_the_key(&store, true, |sql| {
            conn.lock().unwrap().execute(&sql, []).unwrap();
            async {}
        })
        .await;
    }

    /// Table names are quoted: a DRF model whose table is named by an SQL
    /// keyword works, and a name that is not letters, digits and underscores
    /// cannot be made at all.
    #[tokio::test]
    async fn drf_table_names_are_checked_and_quoted() {
        for bad in [
            "t; UPDATE t SET revoked = 1; SELECT * FROM t",
            "a\"b",
            "",
            "1t",
            "a.b.c",
        ] {
            let err = Schema::drf_table(bad).unwrap_err();
            assert!(err.is_config(), "{bad:?}: {err}");
        }
        let dir = tempfile::tempdir().unwrap();
        let (url, conn) = file(&dir, "order.db");
        conn.execute_batch(
            &drf_table_sql("datetime", "bool")
                .replace("rest_framework_api_key_apikey", "\"order\""),
        )
        .unwrap();
        let store = SqliteStore::open(&url, Schema::drf_table("order").unwrap())
            .await
            .unwrap();
        Conformance::new(store)
            .without_scopes_owner_metadata()
            .without_lifecycle_columns()
            .without_suspensions()
            .without_allowlists()
            .without_credits()
            .run()
            .await
            .unwrap();
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use api_key_auth::store::{postgres::PostgresStore, Schema};
    use common::{isolated_pg_pool, postgres_url};

    async fn store(test: &str) -> Option<PostgresStore> {
        let url = postgres_url(test)?;
        let store = PostgresStore::new(isolated_pg_pool(&url).await, Schema::Native);
        store.migrate().await.unwrap();
        Some(store)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn store_keeps_the_contract() {
        let Some(store) = store("postgres::store_keeps_the_contract").await else {
            return;
        };
        Conformance::new(store).run().await.unwrap();
    }

    #[tokio::test]
    async fn connect_migrates_and_the_table_holds_no_plaintext() {
        let Some(url) = postgres_url("postgres::connect_migrates_and_the_table_holds_no_plaintext")
        else {
            return;
        };
        let pool = isolated_pg_pool(&url).await;
        let store = PostgresStore::new(pool, Schema::Native);
        // Several instances starting at once: the advisory lock serialises them.
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..4 {
            let store = store.clone();
            tasks.spawn(async move { store.migrate().await });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap().unwrap();
        }
        let (_, key) = store
            .create(NewKey::named("n").owner("o"))
            .await
            .unwrap()
            .reveal();
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT id || prefix || hashed_key || name || scopes || COALESCE(owner, '') || metadata FROM api_keys",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        assert_eq!(rows.len(), 1);
        assert!(!rows[0].contains(&key.expose_secret()[9..]));
    }

    #[tokio::test]
    async fn keys_freshly_minted_by_drf_get_drf_verdicts() {
        let Some(dir) = fresh_drf_dir("postgres::keys_freshly_minted_by_drf_get_drf_verdicts")
        else {
            return;
        };
        let Some(url) = drf_server_url("postgres", "APIKEY_TEST_DRF_POSTGRES_URL") else {
            return;
        };
        let store = PostgresStore::connect_drf(&url).await.unwrap();
        drf_server_table(store, &dir, "postgres").await;
    }
    #[tokio::test]
    async fn expiries_outside_1970_2038_are_kept_in_both_schemas() {
        let Some(native) =
            store("postgres::expiries_outside_1970_2038_are_kept_in_both_schemas").await
        else {
            return;
        };
        expiries_outside_1970_2038_are_kept(&native).await;
        let pool = native.pool().clone();
        sqlx::query(&drf_table_sql("timestamp with time zone", "boolean"))
            .execute(&pool)
            .await
            .unwrap();
        expiries_outside_1970_2038_are_kept(&PostgresStore::new(pool, Schema::drf())).await;
    }

    /// PostgreSQL's boolean column holds only booleans (and is NOT NULL), so
    /// its flag is never unreadable; the allowlist's text column can hold
    /// anything.
    #[tokio::test]
    async fn an_allowlist_that_does_not_read_is_refused() {
        let Some(store) = store("postgres::an_allowlist_that_does_not_read_is_refused").await
        else {
            return;
        };
        let pool = store.pool().clone();
        unreadable_allowlists_and_flags_refuse_the_key(&store, false, |sql| {
            let pool = pool.clone();
            async move {
                sqlx::query(&sql).execute(&pool).await.unwrap();
            }
        })
        .await;
    }
}

#[cfg(feature = "mysql")]
mod mysql {
    use super::*;
    use api_key_auth::{
        key::Prefix,
        store::{mysql::MySqlStore, Schema},
    };
    use common::{isolated_mysql_url, mysql_url};

    async fn store(test: &str) -> Option<MySqlStore> {
        let url = isolated_mysql_url(&mysql_url(test)?).await;
        Some(MySqlStore::connect(&url).await.unwrap())
    }

    /// A DRF table as Django's migration makes it on MySQL, in the server's
    /// default (case-insensitive) collation, in the database of `native`.
    async fn drf_store(native: &MySqlStore) -> MySqlStore {
        let pool = native.pool().clone();
        sqlx::query(&drf_table_sql("datetime(6)", "bool"))
            .execute(&pool)
            .await
            .unwrap();
        MySqlStore::new(pool, Schema::drf())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn store_keeps_the_contract() {
        let Some(store) = store("mysql::store_keeps_the_contract").await else {
            return;
        };
        Conformance::new(store).run().await.unwrap();
    }

    #[tokio::test]
    async fn instances_migrate_at_once_and_the_table_holds_no_plaintext() {
        let Some(url) =
            mysql_url("mysql::instances_migrate_at_once_and_the_table_holds_no_plaintext")
        else {
            return;
        };
        let url = isolated_mysql_url(&url).await;
        // Several instances starting together: every migration statement is
        // one a second run skips.
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..4 {
            let url = url.clone();
            tasks.spawn(async move { MySqlStore::connect(&url).await });
        }
        let mut stores = Vec::new();
        while let Some(done) = tasks.join_next().await {
            stores.push(done.unwrap().unwrap());
        }
        let store = stores.pop().unwrap();
        store.migrate().await.unwrap();
        let versions: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM api_key_auth_migrations ORDER BY version")
                .fetch_all(store.pool())
                .await
                .unwrap();
        assert_eq!(
            versions,
            [1, 2, 3, 4, 5, 6, 7, 8],
            "the table, its change log, the lifecycle columns, the rate limit, the lineage, the suspension, the allowlist, the credits"
        );

        let (_, key) = store
            .create(NewKey::named("n").owner("o").metadata("m", "v"))
            .await
            .unwrap()
            .reveal();
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT CAST(CONCAT(id, prefix, hashed_key, name, scopes, COALESCE(owner, ''), metadata) AS CHAR) FROM api_keys",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        assert_eq!(rows.len(), 1);
        assert!(!rows[0].contains(&key.expose_secret()[9..]));
        assert!(rows[0].contains("sha256$$"));
    }

    /// MySQL compares text case-insensitively by default; keys are not.
    #[tokio::test]
    async fn prefixes_differing_in_case_are_different_keys() {
        let Some(store) = store("mysql::prefixes_differing_in_case_are_different_keys").await
        else {
            return;
        };
        let (record, key) = loop {
            let (record, key) = store.create(NewKey::named("cased")).await.unwrap().reveal();
            if record
                .prefix
                .as_str()
                .bytes()
                .any(|b| b.is_ascii_alphabetic())
            {
                break (record, key);
            }
        };
        let swapped: String = record
            .prefix
            .as_str()
            .chars()
            .map(|c| {
                if c.is_ascii_lowercase() {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect();
        let swapped = Prefix::parse(&swapped).unwrap();
        assert!(store.find(swapped).await.unwrap().is_none());

        // A record under the swapped prefix is a key of its own.
        let twin = api_key_auth::KeyRecord::new("twin", "twin", swapped, record.hash.clone());
        store.insert(twin).await.unwrap();
        assert_eq!(store.find(swapped).await.unwrap().unwrap().id, "twin");
        assert_eq!(
            store.find(record.prefix).await.unwrap().unwrap().id,
            record.id
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            format!("Api-Key {}", key.expose_secret()).parse().unwrap(),
        );
        let identity = Authenticator::new(store)
            .authenticate(&headers)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(identity.id(), record.id);
    }

    /// A table as Django's migration makes it on MySQL, in the server's
    /// default (case-insensitive) collation.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_drf_table_keeps_the_contract_and_gets_drf_shaped_keys() {
        let Some(url) = mysql_url("mysql::a_drf_table_keeps_the_contract_and_gets_drf_shaped_keys")
        else {
            return;
        };
        let url = isolated_mysql_url(&url).await;
        let store = drf_store(&MySqlStore::connect(&url).await.unwrap()).await;
        assert_eq!(store.schema(), &Schema::drf());
        Conformance::new(store.clone())
            .without_scopes_owner_metadata()
            .without_lifecycle_columns()
            .without_suspensions()
            .without_allowlists()
            .without_credits()
            .run()
            .await
            .unwrap();

        let before = std::time::SystemTime::now();
        let (record, _) = store
            .create(NewKey::named("from rust").expires_in(Duration::from_secs(3600)))
            .await
            .unwrap()
            .reveal();
        assert!(record.hash.to_string().starts_with("sha512$$"));
        assert_eq!(record.id, record.prefix.as_str());
        let (pk, created, expiry): (String, String, String) = sqlx::query_as(
            "SELECT id, CAST(created AS CHAR), CAST(expiry_date AS CHAR) \
             FROM rest_framework_api_key_apikey WHERE prefix = ?",
        )
        .bind(record.prefix.as_str())
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(pk, format!("{}.{}", record.prefix, record.hash));
        // Stored in UTC, as Django stores it: the hour written is the UTC hour.
        let utc_now = before
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let hour = (utc_now / 3600) % 24;
        let written: u64 = created[11..13].parse().unwrap();
        assert!(
            written == hour || written == (hour + 1) % 24,
            "{created} at UTC hour {hour}"
        );
        assert_ne!(created, expiry);
        let found = store.find(record.prefix).await.unwrap().unwrap();
        let drift = |a: std::time::SystemTime, b: std::time::SystemTime| {
            a.duration_since(b).unwrap_or_else(|e| e.duration())
        };
        assert!(drift(found.created, before) < Duration::from_secs(5));
        assert!(
            drift(found.expires.unwrap(), before + Duration::from_secs(3600))
                < Duration::from_secs(5)
        );
    }

    #[tokio::test]
    async fn keys_freshly_minted_by_drf_get_drf_verdicts() {
        let Some(dir) = fresh_drf_dir("mysql::keys_freshly_minted_by_drf_get_drf_verdicts") else {
            return;
        };
        let Some(url) = drf_server_url("mysql", "APIKEY_TEST_DRF_MYSQL_URL") else {
            return;
        };
        let store = MySqlStore::connect_drf(&url).await.unwrap();
        drf_server_table(store, &dir, "mysql").await;
    }

    /// Also a row Django wrote with a 1969 expiry, read where MariaDB's
    /// UNIX_TIMESTAMP would have given NULL ("never expires").
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn expiries_outside_1970_2038_are_kept_in_both_schemas() {
        let Some(native) =
            store("mysql::expiries_outside_1970_2038_are_kept_in_both_schemas").await
        else {
            return;
        };
        expiries_outside_1970_2038_are_kept(&native).await;
        let drf = drf_store(&native).await;
        expiries_outside_1970_2038_are_kept(&drf).await;
        let (record, _) = drf.create(NewKey::named("django")).await.unwrap().reveal();
        sqlx::query(
            "UPDATE rest_framework_api_key_apikey \
             SET expiry_date = '1969-07-20 20:17:40.000000' WHERE prefix = ?",
        )
        .bind(record.prefix.as_str())
        .execute(drf.pool())
        .await
        .unwrap();
        let found = drf.find(record.prefix).await.unwrap().unwrap();
        assert_eq!(found.expires, Some(at(-14_182_940)));
        // And what the crate writes is what Django would have written.
        let (written,): (String,) = sqlx::query_as(
            "SELECT CAST(expiry_date AS CHAR) FROM rest_framework_api_key_apikey \
             WHERE name = 'dated' ORDER BY expiry_date LIMIT 1",
        )
        .fetch_one(drf.pool())
        .await
        .unwrap();
        assert_eq!(written, "1969-07-20 20:17:40.000000");
    }

    /// DRF's table on MySQL compares prefixes without regard to case, so
    /// revoking by a case twin of a key's prefix found its row. It revokes
    /// nothing now, so a cache in front (which drops entries by the id given)
    /// can never keep serving a key the database has revoked.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn revoking_a_case_twin_of_a_drf_prefix_revokes_nothing() {
        let Some(native) =
            store("mysql::revoking_a_case_twin_of_a_drf_prefix_revokes_nothing").await
        else {
            return;
        };
        let drf = api_key_auth::cache::CachedStore::new(drf_store(&native).await);
        let (record, _) = loop {
            let created = drf.create(NewKey::named("twin")).await.unwrap().reveal();
            if created
                .0
                .prefix
                .as_str()
                .chars()
                .any(|c| c.is_ascii_alphabetic())
            {
                break created;
            }
        };
        let twin: String = record
            .prefix
            .as_str()
            .chars()
            .map(|c| {
                if c.is_ascii_uppercase() {
                    c.to_ascii_lowercase()
                } else {
                    c.to_ascii_uppercase()
                }
            })
            .collect();
        assert!(!drf.find(record.prefix).await.unwrap().unwrap().revoked);
        assert!(
            !drf.revoke(&twin).await.unwrap(),
            "no key has the id {twin}"
        );
        assert!(
            !drf.inner()
                .find(record.prefix)
                .await
                .unwrap()
                .unwrap()
                .revoked
        );
        assert!(drf.revoke(&record.id).await.unwrap());
        assert!(drf.find(record.prefix).await.unwrap().unwrap().revoked);
    }

    /// MySQL's BOOLEAN is a TINYINT, which holds 2 as readily as 1: a flag
    /// and an allowlist that do not read refuse the key.
    #[tokio::test]
    async fn an_allowlist_or_flag_that_does_not_read_is_refused() {
        let Some(store) = store("mysql::an_allowlist_or_flag_that_does_not_read_is_refused").await
        else {
            return;
        };
        let pool = store.pool().clone();
        unreadable_allowlists_and_flags_refuse_the_key(&store, true, |sql| {
            let pool = pool.clone();
            async move {
                sqlx::query(&sql).execute(&pool).await.unwrap();
            }
        })
        .await;
    }

    #[tokio::test]
    async fn an_unreachable_server_is_unavailable() {
        let err = MySqlStore::connect("mysql://root@127.0.0.1:1/test")
            .await
            .unwrap_err();
        assert!(err.is_unavailable(), "{err}");
    }

    /// A write cancelled while its BEGIN is on the wire leaves no pooled
    /// connection inside an open transaction. On sqlx 0.8.6 a caller of
    /// `pool.begin()` cancelled then would leave the server's transaction open
    /// (the `Transaction` whose drop would roll it back is made only once BEGIN
    /// has answered; upstream fixed this in sqlx 0.9, launchbadge/sqlx#3932),
    /// and the connection would go back to the pool. Under MySQL's REPEATABLE
    /// READ, every lookup later served by that connection would read the
    /// snapshot its first read took: a key revoked since found NOT revoked, and
    /// a key created since not found. Fail-open, for as long as the connection
    /// lives (until some `begin()` happens to take it, or its lifetime ends).
    ///
    /// The same holds for every `pool.begin()` of the SQL stores (revoke,
    /// rotate, migrations); `create --count` and `create_many` add one more
    /// caller that can be cancelled there, and this test cancels batches. It
    /// gives the cancellation many chances to land while BEGIN is on the wire,
    /// on a loaded machine, and reports how many transactions were left open.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_batch_leaves_no_pooled_connection_in_an_old_snapshot() {
        use api_key_auth::store::MAX_BATCH;
        use std::sync::{
            atomic::{AtomicBool, Ordering},
            Arc,
        };
        let Some(url) =
            mysql_url("mysql::a_cancelled_batch_leaves_no_pooled_connection_in_an_old_snapshot")
        else {
            return;
        };
        let db = isolated_mysql_url(&url).await;
        let store = MySqlStore::connect(&db).await.unwrap();
        let (record, _) = store
            .create(NewKey::named("to revoke"))
            .await
            .unwrap()
            .reveal();
        // Callers that give up after 1 to 6 ms, on a loaded machine (two
        // threads spinning on the two cores, as a full test run makes it).
        let stop = Arc::new(AtomicBool::new(false));
        let spinners: Vec<_> = (0..2)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        let db_name = db
            .rsplit('/')
            .next()
            .unwrap()
            .split('?')
            .next()
            .unwrap()
            .to_owned();
        let open_here = || {
            let (db, db_name) = (db.clone(), db_name.clone());
            async move {
                use sqlx::{ConnectOptions, Connection};
                use std::str::FromStr;
                let mut own = sqlx::mysql::MySqlConnectOptions::from_str(&db)
                    .unwrap()
                    .connect()
                    .await
                    .unwrap();
                let open: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM information_schema.innodb_trx t \
                     JOIN information_schema.processlist p ON t.trx_mysql_thread_id = p.id \
                     WHERE p.db = ?",
                )
                .bind(&db_name)
                .fetch_one(&mut own)
                .await
                .unwrap();
                own.close().await.unwrap();
                open
            }
        };
        let mut open = 0;
        'abandon: for round in 0..20 {
            for ms in [1u64, 2, 3, 4, 6, 8] {
                let batch: Vec<_> = (0..MAX_BATCH)
                    .map(|n| common::fresh_record(&store, &format!("abandoned {round} {ms} {n}")))
                    .collect();
                let _ =
                    tokio::time::timeout(Duration::from_millis(ms), store.insert_many(batch)).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
                // Lookups spread over the pool's connections: each reads the
                // key, and a connection left in a transaction takes its
                // snapshot now.
                for _ in 0..30 {
                    assert!(!store.find(record.prefix).await.unwrap().unwrap().revoked);
                }
                open = open_here().await;
                if open > 0 {
                    break 'abandon;
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        for spinner in spinners {
            spinner.join().unwrap();
        }
        println!("transactions left open on the store's connections: {open}");
        assert!(store.revoke(&record.id).await.unwrap());
        let mut unrevoked = 0;
        for _ in 0..200 {
            if !store.find(record.prefix).await.unwrap().unwrap().revoked {
                unrevoked += 1;
            }
        }
        assert_eq!(
            unrevoked, 0,
            "{unrevoked} of 200 lookups after the revocation found the key not revoked"
        );
    }
}
