//! How the stores' cost grows from 1,000 keys to 1,000,000:
//!
//! ```text
//! cargo bench --bench million_keys                     # memory, cache, SQLite
//! APIKEY_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//! APIKEY_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test \
//!   cargo bench --bench million_keys                   # and PostgreSQL, MySQL
//! KEYS=1000,100000 STORES=memory,cached cargo bench --bench million_keys
//! ```
//!
//! Each (store, size) runs in a process of its own, so none starts on memory
//! an earlier one freed. For each it prints:
//!
//! - `memory` (`MemoryStore`) and `cached` (`CachedStore` holding every key,
//!   in front of a memory store): the resident bytes a key adds, and the
//!   time of one lookup (`find_now`), of a hot key (one of 100 looked up in
//!   turn) and of a key drawn uniformly from all of them; and a whole
//!   verification (the authenticator: parse, lookup, hash, compare) of each.
//!   Beside them, a `std` `HashMap` of the same records read the same ways:
//!   how far a lookup of a key drawn from a million is the memory's latency
//!   and not the store's.
//! - `sqlite`, `postgres`, `mysql` (this crate's table, uncached): the
//!   median and 99th percentile of a lookup (`find`) of a hot key (the same
//!   one 2,000 times) and of cold keys (2,000 drawn from all, each looked up
//!   once, none looked up before).
//! - every store: the time to create the keys through the library
//!   (`create_many`, 1000 to a batch), and for the SQL stores through the
//!   command (`api-key create --count N --json`, into a fresh table).
//!
//! The target: a memory or cached lookup at most 1.5x slower at 1,000,000.

use std::{
    collections::HashMap,
    hint::black_box,
    process::{Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use api_key_auth::{
    cache::CachedStore,
    store::open::{open, Opened},
    Authenticator, KeyManager, KeyRecord, KeyStore, MemoryStore, NewKey, Prefix,
};
use http::HeaderMap;

mod support;

use support::{authorization as header, now, resident_bytes};

const CASE: &str = "MILLION_KEYS_CASE";

/// A small deterministic generator (xorshift), so every run draws alike.
struct Draw(u64);

impl Draw {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// Creates `n` keys in `store` through `create_many`; the prefixes, `keep`
/// of the keys themselves (spread over all), and how long it took.
fn fill(
    rt: &tokio::runtime::Runtime,
    store: &dyn KeyManager,
    n: usize,
    keep: usize,
) -> (Vec<Prefix>, Vec<String>, Duration) {
    let mut prefixes = Vec::with_capacity(n);
    let mut keys = Vec::with_capacity(keep);
    let every = (n / keep.max(1)).max(1);
    let started = Instant::now();
    rt.block_on(async {
        while prefixes.len() < n {
            let size = (n - prefixes.len()).min(1000);
            let batch = store
                .create_many(vec![NewKey::named("million"); size])
                .await
                .unwrap();
            for created in batch {
                let (record, key) = created.reveal();
                if prefixes.len() % every == 0 && keys.len() < keep {
                    keys.push(key.expose_secret().to_owned());
                }
                prefixes.push(record.prefix);
            }
        }
    });
    (prefixes, keys, started.elapsed())
}

/// Nanoseconds per call of `f` over `order`, the median of five passes.
fn per_call<T>(order: &[T], mut f: impl FnMut(&T)) -> f64 {
    let mut passes: Vec<f64> = (0..5)
        .map(|_| {
            let started = Instant::now();
            for item in order {
                f(item);
            }
            started.elapsed().as_nanos() as f64 / order.len() as f64
        })
        .collect();
    passes.sort_by(f64::total_cmp);
    passes[2]
}

/// The orders a store is read in: a hot key (one of 100 in turn), and keys
/// drawn uniformly from all `n`.
fn orders<T: Clone>(all: &[T], draws: usize) -> (Vec<T>, Vec<T>) {
    let mut draw = Draw(0x9e37_79b9_7f4a_7c15);
    let hot: Vec<T> = (0..draws)
        .map(|i| all[i % 100.min(all.len())].clone())
        .collect();
    let uniform: Vec<T> = (0..draws)
        .map(|_| all[draw.below(all.len())].clone())
        .collect();
    (hot, uniform)
}

fn in_memory(kind: &str, n: usize) {
    let rt = runtime();
    let memory = MemoryStore::new();
    let before = resident_bytes();
    let (prefixes, keys, took) = fill(&rt, &memory, n, 10_000.min(n));
    // Less the list of prefixes this bench keeps, 8 bytes a key.
    let mut grown = resident_bytes().saturating_sub(before + 8 * n as u64);
    let store: Arc<dyn KeyStore> = match kind {
        "memory" => Arc::new(memory.clone()),
        _ => {
            // Every key held by the cache: its own bytes are what warming adds.
            let cached = CachedStore::builder(memory.clone())
                .max_capacity(n as u64 + 1)
                .ttl(Duration::from_secs(3600))
                .build();
            let before = resident_bytes();
            rt.block_on(async {
                for prefix in &prefixes {
                    cached.find(*prefix).await.unwrap().unwrap();
                }
            });
            grown = resident_bytes().saturating_sub(before);
            Arc::new(cached)
        }
    };
    let per_key = grown as f64 / n as f64;
    let (hot, uniform) = orders(&prefixes, 1_000_000);
    let lookup = |prefix: &Prefix| {
        black_box(
            store
                .find_now(black_box(*prefix))
                .unwrap()
                .unwrap()
                .unwrap(),
        );
    };
    let (lookup_hot, lookup_uniform) = (per_call(&hot, lookup), per_call(&uniform, lookup));

    let auth = Authenticator::new(store.clone());
    let headers: Vec<HeaderMap> = keys.iter().map(|k| header(k)).collect();
    let (verify_hot, verify_uniform) = orders(&headers, 200_000);
    let verify = |headers: &HeaderMap| {
        black_box(now(auth.authenticate(black_box(headers))).unwrap().unwrap());
    };
    let (verify_hot, verify_uniform) = (
        per_call(&verify_hot, verify),
        per_call(&verify_uniform, verify),
    );

    // The same records in a std HashMap, read the same ways: the floor.
    let records: Vec<Arc<KeyRecord>> = rt.block_on(memory.list()).unwrap();
    let map: HashMap<Prefix, Arc<KeyRecord>> = records.into_iter().map(|r| (r.prefix, r)).collect();
    let floor = |prefix: &Prefix| {
        black_box(map.get(black_box(prefix)).unwrap().clone());
    };
    let (floor_hot, floor_uniform) = (per_call(&hot, floor), per_call(&uniform, floor));
    println!(
        "{kind:<8} {n:>9} keys  {per_key:>6.0} B/key  lookup hot {lookup_hot:>6.1} ns uniform {lookup_uniform:>6.1} ns  \
         verify hot {verify_hot:>6.1} ns uniform {verify_uniform:>6.1} ns  \
         std HashMap hot {floor_hot:>5.1} ns uniform {floor_uniform:>6.1} ns  created in {took:.2?} ({:.1} us/key)",
        took.as_secs_f64() * 1e6 / n as f64
    );
}

/// Median and 99th percentile of `samples`, in microseconds.
fn quantiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
    (at(0.5), at(0.99))
}

/// The server URL of `kind` from its variable, or `None` (SQLite has none).
fn server_url(kind: &str) -> Option<String> {
    match kind {
        "postgres" => std::env::var("APIKEY_TEST_POSTGRES_URL").ok(),
        "mysql" => std::env::var("APIKEY_TEST_MYSQL_URL").ok(),
        _ => None,
    }
}

/// Runs `statements` on the server of `kind`, unprepared, in turn.
fn administer(rt: &tokio::runtime::Runtime, kind: &str, url: &str, statements: &[String]) {
    rt.block_on(async {
        match kind {
            "postgres" => {
                let admin = sqlx::PgPool::connect(url).await.unwrap();
                for statement in statements {
                    sqlx::raw_sql(statement).execute(&admin).await.unwrap();
                }
            }
            _ => {
                let admin = sqlx::MySqlPool::connect(url).await.unwrap();
                for statement in statements {
                    sqlx::raw_sql(statement).execute(&admin).await.unwrap();
                }
            }
        }
    });
}

/// A fresh database (or file) named `name` for `kind`, as a store URL;
/// `None` when its variable is unset.
fn fresh_url(
    rt: &tokio::runtime::Runtime,
    kind: &str,
    name: &str,
    dir: &std::path::Path,
) -> Option<String> {
    if kind == "sqlite" {
        return Some(format!(
            "sqlite:{}",
            dir.join(format!("{name}.db")).display()
        ));
    }
    let url = server_url(kind)?;
    administer(
        rt,
        kind,
        &url,
        &[
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name}"),
        ],
    );
    let (server, _) = url.rsplit_once('/').unwrap();
    Some(format!("{server}/{name}"))
}

fn drop_database(rt: &tokio::runtime::Runtime, kind: &str, name: &str) {
    if let Some(url) = server_url(kind) {
        // PostgreSQL drops a database others are still connected to only when forced.
        let force = if kind == "postgres" {
            " WITH (FORCE)"
        } else {
            ""
        };
        administer(
            rt,
            kind,
            &url,
            &[format!("DROP DATABASE IF EXISTS {name}{force}")],
        );
    }
}

fn in_sql(kind: &str, n: usize) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let name = format!("apikey_million_{n}");
    let Some(url) = fresh_url(&rt, kind, &name, dir.path()) else {
        eprintln!(
            "{kind} skipped: set APIKEY_TEST_{}_URL to run it",
            kind.to_uppercase()
        );
        return;
    };
    let store = rt.block_on(open(&url, false)).unwrap();
    // Opened and migrated; the lookups go to the database, uncached.
    let store: Arc<dyn KeyManager> = match store {
        Opened::Sqlite(store) => Arc::new(store),
        Opened::Postgres(store) => Arc::new(store),
        Opened::MySql(store) => Arc::new(store),
        other => panic!("not a SQL store: {other:?}"),
    };
    let (prefixes, _, took) = fill(&rt, &*store, n, 0);
    let time = |prefix: Prefix| {
        let started = Instant::now();
        let found = rt.block_on(store.find(prefix)).unwrap();
        let took = started.elapsed();
        assert!(found.is_some());
        took
    };
    // Warm the connections and the statements first.
    for prefix in prefixes.iter().take(50) {
        time(*prefix);
    }
    let hot = quantiles((0..2000).map(|_| time(prefixes[0])).collect());
    let mut draw = Draw(0x2545_f491_4f6c_dd1d);
    let cold = quantiles(
        (0..2000)
            .map(|_| time(prefixes[50 + draw.below(prefixes.len() - 50)]))
            .collect(),
    );
    drop(store);

    // The command, into a table of its own.
    let cli_dir = tempfile::tempdir().unwrap();
    drop_database(&rt, kind, &name);
    let name = format!("apikey_million_{n}_cli");
    let command_took = fresh_url(&rt, kind, &name, cli_dir.path())
        .zip(api_key_command())
        .map(|(url, command)| {
            let started = Instant::now();
            let status = Command::new(command)
                .args(["--store", &url, "create", "--name", "million", "--count"])
                .arg(n.to_string())
                .arg("--json")
                .env_remove("APIKEY_STORE")
                .env("RUST_LOG", "off")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success(), "api-key create --count {n} on {kind}");
            started.elapsed()
        });
    drop_database(&rt, kind, &name);
    println!(
        "{kind:<8} {n:>9} keys  find hot p50 {:>6.1} us p99 {:>6.1} us  cold p50 {:>6.1} us p99 {:>6.1} us  \
         created in {took:.1?} ({:.1} us/key), by api-key in {}",
        hot.0,
        hot.1,
        cold.0,
        cold.1,
        took.as_secs_f64() * 1e6 / n as f64,
        command_took.map_or("-".to_owned(), |t| format!(
            "{t:.1?} ({:.1} us/key)",
            t.as_secs_f64() * 1e6 / n as f64
        )),
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches; this one has none to list.
    }
    if let Ok(case) = std::env::var(CASE) {
        let (kind, n) = case.split_once(':').unwrap();
        let n: usize = n.parse().unwrap();
        return match kind {
            "memory" | "cached" => in_memory(kind, n),
            _ => in_sql(kind, n),
        };
    }
    let sizes: Vec<usize> = std::env::var("KEYS")
        .unwrap_or_else(|_| "1000,1000000".to_owned())
        .split(',')
        .map(|n| n.trim().parse().expect("KEYS is a list of numbers"))
        .collect();
    let stores = std::env::var("STORES")
        .unwrap_or_else(|_| "memory,cached,sqlite,postgres,mysql".to_owned());
    let me = std::env::current_exe().unwrap();
    for kind in stores.split(',').map(str::trim) {
        assert!(
            ["memory", "cached", "sqlite", "postgres", "mysql"].contains(&kind),
            "STORES lists memory, cached, sqlite, postgres or mysql, not {kind:?}"
        );
        for n in &sizes {
            let status = Command::new(&me)
                .env(CASE, format!("{kind}:{n}"))
                .arg("--bench")
                .status()
                .unwrap();
            assert!(status.success(), "{kind} at {n} keys");
        }
    }
}

/// The `api-key` command of the same profile, built beside this bench's
/// own binary (`target/release/`); `None`, said once, when it was not built.
fn api_key_command() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let command = exe.parent()?.parent()?.join("api-key");
    if command.is_file() {
        return Some(command);
    }
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        eprintln!(
            "million_keys: {} not built, so the command is not timed \
             (cargo build --release -p api-key-cli first)",
            command.display()
        )
    });
    None
}
