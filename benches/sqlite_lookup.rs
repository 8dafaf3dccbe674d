//! A cache miss on SQLite: one key looked up by prefix in a file of 100,000
//! keys, through the store (rusqlite on tokio's blocking pool, checked into a
//! `KeyRecord`), side by side with the bare statement through rusqlite on
//! the blocking pool, and inline (the floor: no thread hop, which would
//! stall the runtime in a server).
//!
//! ```text
//! cargo bench --bench sqlite_lookup -- --sample-count 3000
//! ```
//!
//! The store ran on sqlx until 0.3; at commit 1367207 this bench measured
//! sqlx's driver beside rusqlite in one run: sqlx 78.5 us, rusqlite on the
//! blocking pool 23.5 us, inline 8.8 us (medians). sqlx cannot be measured
//! here any more: its SQLite and rusqlite's link different SQLite versions.

use std::sync::{Arc, Mutex, OnceLock};

use api_key_auth::{key::Prefix, store::sqlite::SqliteStore, KeyStore};

const KEYS: u32 = 100_000;

/// The statement the store runs for a lookup (pinned in crates/sql/src/statements.sql).
const FIND: &str = "SELECT id, prefix, hashed_key, name, created_ms, expires_ms, \
    expires_ms IS NOT NULL AS has_expiry, \
    CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, \
    scopes, owner, metadata FROM api_keys WHERE prefix = ?1";

fn main() {
    divan::main();
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

struct Fixture {
    store: SqliteStore,
    rusqlite: Arc<Mutex<rusqlite::Connection>>,
    _dir: tempfile::TempDir,
}

/// A SQLite file (WAL, as `SqliteStore::connect` opens it) holding 100,000
/// keys with prefixes `00000001` ... `00100000`.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.db");
        let store = runtime().block_on(async {
            SqliteStore::connect(&format!("sqlite:{}", path.display()))
                .await
                .unwrap()
        });
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(&format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {KEYS}) \
                 INSERT INTO api_keys (id, prefix, hashed_key, name, created_ms, expires_ms, revoked, scopes, owner, metadata) \
                 SELECT printf('%08d', i), printf('%08d', i), 'sha256$$' || hex(zeroblob(32)), 'key ' || i, i, NULL, 0, '[\"read\"]', NULL, '{{}}' FROM n"
        ))
        .unwrap();
        Fixture {
            store,
            rusqlite: Arc::new(Mutex::new(conn)),
            _dir: dir,
        }
    })
}

/// Prefixes spread over the table, one per iteration in turn.
fn prefixes() -> Vec<Prefix> {
    (0..1000)
        .map(|i| Prefix::parse(format!("{:08}", 1 + i * 97)).unwrap())
        .collect()
}

type Row = (
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
    bool,
    Option<bool>,
    String,
    Option<String>,
    String,
);

fn read(conn: &rusqlite::Connection, prefix: &str) -> Option<Row> {
    let mut statement = conn.prepare_cached(FIND).unwrap();
    let mut rows = statement.query([prefix]).unwrap();
    rows.next().unwrap().map(|row| {
        (
            row.get(0).unwrap(),
            row.get(1).unwrap(),
            row.get(2).unwrap(),
            row.get(3).unwrap(),
            row.get(4).unwrap(),
            row.get(5).unwrap(),
            row.get(6).unwrap(),
            row.get(7).unwrap(),
            row.get(8).unwrap(),
            row.get(9).unwrap(),
            row.get(10).unwrap(),
        )
    })
}

/// The store's lookup.
#[divan::bench]
fn store_find(bencher: divan::Bencher) {
    let fixture = fixture();
    let prefixes = prefixes();
    let mut i = 0;
    bencher.bench_local(|| {
        i = (i + 1) % prefixes.len();
        let prefix = prefixes[i];
        runtime().block_on(async { fixture.store.find(prefix).await.unwrap().unwrap() })
    });
}

/// The same statement through rusqlite on tokio's blocking pool.
#[divan::bench]
fn rusqlite_spawn_blocking(bencher: divan::Bencher) {
    let fixture = fixture();
    let prefixes = prefixes();
    let mut i = 0;
    bencher.bench_local(|| {
        i = (i + 1) % prefixes.len();
        let prefix = prefixes[i];
        let conn = fixture.rusqlite.clone();
        runtime().block_on(async move {
            tokio::task::spawn_blocking(move || read(&conn.lock().unwrap(), prefix.as_str()))
                .await
                .unwrap()
                .unwrap()
        })
    });
}

/// The floor: rusqlite called inline, no thread hop.
#[divan::bench]
fn rusqlite_inline(bencher: divan::Bencher) {
    let fixture = fixture();
    let prefixes = prefixes();
    let mut i = 0;
    bencher.bench_local(|| {
        i = (i + 1) % prefixes.len();
        read(&fixture.rusqlite.lock().unwrap(), prefixes[i].as_str()).unwrap()
    });
}
