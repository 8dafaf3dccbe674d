//! What following the change log costs while nothing changes: the process's
//! CPU time and (MySQL) the queries the server answers, over a quiet window
//! without a feed and one with a feed, side by side in one run.
//!
//! ```text
//! cargo bench --bench feed_idle                       # SQLite
//! APIKEY_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test cargo bench --bench feed_idle
//! ```
//!
//! CPU time is the process's own (`getrusage`). MySQL's `Questions` counter
//! is server-wide: run it on a quiet server.

use std::time::Duration;

use api_key_auth::{cache::CachedStore, store::sqlite::SqliteStore, KeyManager, NewKey};

const WINDOW: Duration = Duration::from_secs(10);

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("keys.db").display());
        let store = SqliteStore::connect(&url).await.unwrap();
        store.create(NewKey::named("idle")).await.unwrap();
        let quiet = window().await;
        let feed = store.revocations();
        let cached = CachedStore::new(store.clone()).with_invalidations(feed);
        tokio::time::sleep(Duration::from_millis(500)).await; // its first read
        let following = window().await;
        report("SQLite", quiet, following);
        drop(cached); // its feed stops with it

        if let Ok(server) = std::env::var("APIKEY_TEST_MYSQL_URL") {
            mysql(&server).await;
        } else {
            eprintln!("MySQL skipped: set APIKEY_TEST_MYSQL_URL to measure it");
        }
    });
}

async fn mysql(server: &str) {
    use api_key_auth::store::mysql::MySqlStore;
    use sqlx::Connection;
    let store = MySqlStore::connect(server).await.unwrap();
    let mut probe = sqlx::MySqlConnection::connect(server).await.unwrap();
    let before = questions(&mut probe).await;
    let quiet = window().await;
    let quiet_q = questions(&mut probe).await - before - 1;
    let _cached = CachedStore::new(store.clone()).with_invalidations(store.revocations());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = questions(&mut probe).await;
    let following = window().await;
    let following_q = questions(&mut probe).await - before - 1;
    report("MySQL", quiet, following);
    let per_s = |n: u64| n as f64 / WINDOW.as_secs_f64();
    println!(
        "MySQL: server queries {:.1}/s without a feed, {:.1}/s with one",
        per_s(quiet_q),
        per_s(following_q)
    );
}

/// CPU time the process used over a quiet window.
async fn window() -> Duration {
    let start = cpu();
    tokio::time::sleep(WINDOW).await;
    cpu() - start
}

fn report(what: &str, quiet: Duration, following: Duration) {
    let per_s = |d: Duration| d.as_secs_f64() * 1e3 / WINDOW.as_secs_f64();
    println!(
        "{what}: process CPU {:.3} ms/s without a feed, {:.3} ms/s with one (+{:.3} ms/s, {:.4}% of a core)",
        per_s(quiet),
        per_s(following),
        per_s(following.saturating_sub(quiet)),
        per_s(following.saturating_sub(quiet)) / 10.0,
    );
}

/// The process's CPU time so far (`getrusage`, through the cpu-time crate),
/// threads that have ended included.
fn cpu() -> Duration {
    cpu_time::ProcessTime::now().as_duration()
}

/// MySQL's server-wide count of statements clients sent (this one included).
async fn questions(conn: &mut sqlx::MySqlConnection) -> u64 {
    let (_, value): (String, String) = sqlx::query_as("SHOW GLOBAL STATUS LIKE 'Questions'")
        .fetch_one(conn)
        .await
        .unwrap();
    value.parse().unwrap()
}
