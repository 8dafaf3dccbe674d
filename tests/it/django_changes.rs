//! Django itself changes its keys: the real djangorestframework-api-key
//! (through `tests/drf/mint_keys.py --act`) revokes one key, deletes another
//! and moves a third's expiry into the past, in its own table on SQLite,
//! PostgreSQL and MySQL. An instance of ours that had all three cached, with
//! the change triggers installed, refuses each within a second of Django
//! finishing; a key Django left alone still passes.
//!
//! Needs `APIKEY_TEST_PYTHON`, a Python with `tests/drf/requirements.txt`
//! installed (`.ci/run` makes one); PostgreSQL and MySQL also need their
//! `APIKEY_TEST_*_URL`.
#![cfg(all(
    feature = "cache",
    feature = "sqlite",
    feature = "postgres",
    feature = "mysql"
))]

use crate::common;

use std::{path::Path, process::Command, time::Duration};

use api_key_auth::{cache::CachedStore, Authenticator, KeyManager};

const LONG: Duration = Duration::from_secs(3600);
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/drf/mint_keys.py");

/// The Python with Django and djangorestframework-api-key, if given.
fn python(test: &str) -> Option<String> {
    match std::env::var("APIKEY_TEST_PYTHON") {
        Ok(python) if !python.is_empty() => Some(python),
        _ => {
            common::skip_line(&format!(
                "skipping {test}: set APIKEY_TEST_PYTHON to a python with tests/drf/requirements.txt"
            ));
            None
        }
    }
}

/// Runs `mint_keys.py` against `target` (`--sqlite PATH`, `--postgres URL`…).
fn mint_keys(python: &str, target: &[&str], args: &[&str]) {
    let output = Command::new(python)
        .arg(SCRIPT)
        .args(target)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("APIKEY_TEST_PYTHON={python} does not run: {e}"));
    assert!(
        output.status.success(),
        "mint_keys.py {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

use crate::common::key_headers as headers;

/// The key DRF minted under `name`.
fn minted(keys: &serde_json::Value, name: &str) -> String {
    keys.as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == name)
        .unwrap_or_else(|| panic!("mint_keys.py minted no key named {name:?}"))["key"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Django mints keys into its table at `target` (listed in `keys_json`);
/// `cached` (ours, over that table, triggers installed) caches four; Django
/// revokes one, deletes one and expires one; we refuse exactly those three
/// within a second.
async fn django_changes_reach_the_cache<S>(
    python: &str,
    target: &[&str],
    keys_json: &Path,
    cached: CachedStore<S>,
) where
    S: KeyManager + Clone,
{
    let keys: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(keys_json).unwrap()).unwrap();
    let revoked = minted(&keys, "valid");
    let deleted = minted(&keys, "far future expiry");
    let expired = minted(&keys, "O'Brien \"quoted\" 名前 🔑");
    let untouched = minted(&keys, "'; DROP TABLE rest_framework_api_key_apikey; --");
    // The feed's first read flushes the cache: let it happen first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let auth = Authenticator::new(cached.clone());
    for key in [&revoked, &deleted, &expired, &untouched] {
        auth.authenticate(&headers(key)).await.unwrap();
        auth.authenticate(&headers(key)).await.unwrap();
    }
    assert!(
        cached.stats().hits >= 4,
        "the keys are served from the cache"
    );

    let prefix = |key: &str| key[..8].to_owned();
    mint_keys(
        python,
        target,
        &[
            "--act",
            &format!("revoke:{}", prefix(&revoked)),
            &format!("delete:{}", prefix(&deleted)),
            &format!("expire:{}", prefix(&expired)),
        ],
    );
    let started = tokio::time::Instant::now();
    for (what, key) in [
        ("revoked", &revoked),
        ("deleted", &deleted),
        ("expired", &expired),
    ] {
        while auth.authenticate(&headers(key)).await.is_ok() {
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{target:?}: a key Django {what} is still accepted after a second"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        println!(
            "{}: the key Django {what} refused {:?} after Django finished",
            target[0],
            started.elapsed()
        );
    }
    auth.authenticate(&headers(&untouched)).await.unwrap();
}

/// Django mints keys into its table at `target`: the file listing them.
fn mint(python: &str, target: &[&str]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.json");
    mint_keys(python, target, &["--out", &keys.display().to_string()]);
    (dir, keys)
}

/// The store, its change triggers installed, behind a cache following its feed.
macro_rules! cached_with_triggers {
    ($store:expr) => {{
        let store = $store;
        store.install_change_triggers().await.unwrap();
        CachedStore::builder(store.clone())
            .ttl(LONG)
            .build()
            .with_invalidations(store.revocations())
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn django_changes_reach_the_cache_on_sqlite() {
    use api_key_auth::store::sqlite::SqliteStore;
    let Some(python) = python("django_changes::on SQLite") else {
        return;
    };
    let db = tempfile::tempdir().unwrap();
    let path = db.path().join("django.sqlite3").display().to_string();
    let target = ["--sqlite", path.as_str()];
    let (_dir, keys) = mint(&python, &target);
    let store = SqliteStore::connect_drf(&format!("sqlite:{path}")).await;
    let cached = cached_with_triggers!(store.unwrap());
    django_changes_reach_the_cache(&python, &target, &keys, cached).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn django_changes_reach_the_cache_on_postgres() {
    use api_key_auth::store::postgres::PostgresStore;
    let Some(python) = python("django_changes::on PostgreSQL") else {
        return;
    };
    let Some(server) = common::postgres_url("django_changes::on PostgreSQL") else {
        return;
    };
    let url = fresh_database(&server, "CREATE DATABASE {}").await;
    let target = ["--postgres", url.as_str()];
    let (_dir, keys) = mint(&python, &target);
    let cached = cached_with_triggers!(PostgresStore::connect_drf(&url).await.unwrap());
    django_changes_reach_the_cache(&python, &target, &keys, cached).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn django_changes_reach_the_cache_on_mysql() {
    use api_key_auth::store::mysql::MySqlStore;
    let Some(python) = python("django_changes::on MySQL") else {
        return;
    };
    let Some(server) = common::mysql_url("django_changes::on MySQL") else {
        return;
    };
    let url = fresh_database(&server, "CREATE DATABASE {} CHARACTER SET utf8mb4").await;
    let target = ["--mysql", url.as_str()];
    let (_dir, keys) = mint(&python, &target);
    let cached = cached_with_triggers!(MySqlStore::connect_drf(&url).await.unwrap());
    django_changes_reach_the_cache(&python, &target, &keys, cached).await;
}

/// A database of the test's own on the server `url` names, made with
/// `create` (its `{}` the name): the URL of the new database.
async fn fresh_database(url: &str, create: &str) -> String {
    use sqlx::Connection;
    let name = format!(
        "apikey_django_{}",
        api_key_auth::key::ApiKey::generate()
            .unwrap()
            .prefix()
            .as_str()
            .to_lowercase()
    );
    let create = create.replace("{}", &name);
    fn unreachable<T>(e: sqlx::Error) -> T {
        panic!("the database server is set but unreachable: {e}")
    }
    if url.starts_with("mysql:") {
        let mut admin = sqlx::MySqlConnection::connect(url)
            .await
            .unwrap_or_else(unreachable);
        sqlx::raw_sql(&create).execute(&mut admin).await.unwrap();
    } else {
        let mut admin = sqlx::PgConnection::connect(url)
            .await
            .unwrap_or_else(unreachable);
        sqlx::raw_sql(&create).execute(&mut admin).await.unwrap();
    }
    // The same server and credentials, the new database.
    let (base, _) = url.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}
