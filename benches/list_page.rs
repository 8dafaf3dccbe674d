//! Paged listing over 100,000 keys, and creating one key, in one run:
//!
//! ```text
//! APIKEY_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench list_page
//! ```
//!
//! Targets (issue 10): a page of 1000 keys out of 100,000 within 50 ms on
//! SQLite and PostgreSQL; creating a key on SQLite within 2 ms. The SQLite
//! store is a file in WAL mode, as `SqliteStore::connect` opens it. Without
//! the variable the PostgreSQL benches are skipped.

use std::sync::OnceLock;

use api_key_auth::{
    store::{postgres::PostgresStore, sqlite::SqliteStore, KeyFilter, PageRequest, Schema},
    KeyManager, NewKey,
};

const KEYS: u32 = 100_000;

fn main() {
    let mut divan = divan::Divan::from_args();
    if std::env::var("APIKEY_TEST_POSTGRES_URL").is_err() {
        eprintln!("postgres benches skipped: set APIKEY_TEST_POSTGRES_URL to run them");
        divan = divan.skip_regex("postgres");
    }
    divan.main();
    // Leave the database as it was found.
    if let (Some(_), Ok(url)) = (POSTGRES.get(), std::env::var("APIKEY_TEST_POSTGRES_URL")) {
        runtime().block_on(async {
            let admin = sqlx::PgPool::connect(&url).await.unwrap();
            sqlx::query(&format!("DROP SCHEMA {} CASCADE", bench_schema()))
                .execute(&admin)
                .await
                .unwrap();
        });
    }
}

static POSTGRES: OnceLock<PostgresStore> = OnceLock::new();

fn bench_schema() -> String {
    format!("apikey_bench_{}", std::process::id())
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

/// A SQLite file holding 100,000 keys with ids `00000001` ... `00100000`.
fn sqlite() -> &'static (SqliteStore, tempfile::TempDir) {
    static STORE: OnceLock<(SqliteStore, tempfile::TempDir)> = OnceLock::new();
    STORE.get_or_init(|| {
        runtime().block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite:{}", dir.path().join("keys.db").display());
            let store = SqliteStore::connect(&url).await.unwrap();
            rusqlite::Connection::open(dir.path().join("keys.db"))
                .unwrap()
                .execute_batch(&format!(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {KEYS}) \
                     INSERT INTO api_keys (id, prefix, hashed_key, name, created_ms, expires_ms, revoked, scopes, owner, metadata) \
                     SELECT printf('%08d', i), printf('%08d', i), 'sha256$$' || hex(zeroblob(32)), 'key ' || i, i, NULL, i % 10 = 0, '[]', NULL, '{{}}' FROM n"
                ))
                .unwrap();
            (store, dir)
        })
    })
}

/// The same 100,000 keys in a PostgreSQL schema of the bench's own.
fn postgres() -> &'static PostgresStore {
    POSTGRES.get_or_init(|| {
        runtime().block_on(async {
            let url = std::env::var("APIKEY_TEST_POSTGRES_URL").unwrap();
            let schema = bench_schema();
            let admin = sqlx::PgPool::connect(&url).await.unwrap();
            sqlx::query(&format!("CREATE SCHEMA {schema}"))
                .execute(&admin)
                .await
                .unwrap();
            use std::str::FromStr;
            let options = sqlx::postgres::PgConnectOptions::from_str(&url)
                .unwrap()
                .options([("search_path", schema.as_str())]);
            let pool = sqlx::PgPool::connect_with(options).await.unwrap();
            let store = PostgresStore::new(pool, Schema::Native);
            store.migrate().await.unwrap();
            sqlx::query(&format!(
                "INSERT INTO api_keys (id, prefix, hashed_key, name, created_ms, expires_ms, revoked, scopes, owner, metadata) \
                 SELECT lpad(i::text, 8, '0'), lpad(i::text, 8, '0'), 'sha256$$' || repeat('00', 32), 'key ' || i, i, NULL, i % 10 = 0, '[]', NULL, '{{}}' \
                 FROM generate_series(1, {KEYS}) AS i"
            ))
            .execute(store.pool())
            .await
            .unwrap();
            sqlx::query("ANALYZE api_keys").execute(store.pool()).await.unwrap();
            store
        })
    })
}

/// A page from the middle of the listing.
fn middle(filter: KeyFilter) -> PageRequest {
    PageRequest::first(1000).filter(filter).after("00050000")
}

/// Reads a page of 1000 from the middle of `store`'s listing, as `filter` selects.
fn page_of_1000(bencher: divan::Bencher, store: &dyn KeyManager, filter: KeyFilter) {
    bencher.bench(|| {
        let page = runtime()
            .block_on(store.list_page(&middle(filter)))
            .unwrap();
        assert_eq!(page.keys.len(), 1000);
    });
}

#[divan::bench(sample_count = 50)]
fn sqlite_page_of_1000(bencher: divan::Bencher) {
    page_of_1000(bencher, &sqlite().0, KeyFilter::All);
}

#[divan::bench(sample_count = 50)]
fn sqlite_page_of_1000_active(bencher: divan::Bencher) {
    page_of_1000(bencher, &sqlite().0, KeyFilter::Active);
}

#[divan::bench(sample_count = 50)]
fn sqlite_create(bencher: divan::Bencher) {
    let (store, _) = sqlite();
    bencher.bench(|| {
        runtime()
            .block_on(store.create(NewKey::named("bench")))
            .unwrap()
    });
}

#[divan::bench(sample_count = 50)]
fn postgres_page_of_1000(bencher: divan::Bencher) {
    page_of_1000(bencher, postgres(), KeyFilter::All);
}

#[divan::bench(sample_count = 50)]
fn postgres_page_of_1000_active(bencher: divan::Bencher) {
    page_of_1000(bencher, postgres(), KeyFilter::Active);
}
