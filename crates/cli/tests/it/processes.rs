//! Three real server processes of the quickstart on one store, each with
//! its own cache: a key revoked by the `api-key` command (a fourth process)
//! is refused by all three within a second, and a key the command creates
//! is accepted by all three at once. On SQLite always; on PostgreSQL,
//! Redis and a Redis Cluster when their variables are set.
//!
//! Each server is this test binary run again as the quickstart (its
//! `main`, a module of this binary), so the processes run the quickstart's
//! code as built with this test and need no other binary.

use crate::{
    binary::{api_key, created},
    common,
};

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::quickstart;

/// Set in the environment of the processes this test starts as servers.
const AS_QUICKSTART: &str = "APIKEY_TEST_AS_QUICKSTART";

/// Not a test: the entry point of each server process the tests start
/// (`--ignored --exact as_a_quickstart_process`), which runs the quickstart.
#[test]
#[ignore = "the quickstart, run as a server process by the tests in this file"]
fn as_a_quickstart_process() {
    if std::env::var_os(AS_QUICKSTART).is_some() {
        quickstart::main().expect("the quickstart serves");
    }
}

/// A running quickstart process, stopped when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(store: &str) -> Server {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "processes::as_a_quickstart_process",
                "--nocapture",
            ])
            .env(AS_QUICKSTART, "1")
            .env("APIKEY_STORE", store)
            .env("PORT", "0")
            .env_remove("APIKEY_STORE_SCHEMA")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the test binary runs again as a server");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("the quickstart on {store} stopped before listening"))
                .unwrap();
            if let Some(addr) = line.strip_prefix("listening on http://") {
                break addr.parse().unwrap();
            }
        };
        // Keep reading, so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Server { child, addr }
    }

    async fn status(&self, key: &str) -> u16 {
        common::http_get(
            self.addr,
            "/whoami",
            &[("Authorization", &format!("Api-Key {key}"))],
        )
        .await
        .status
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A key the command creates: its id and the key itself.
fn create(store: &str, name: &str) -> (String, String) {
    created(store, &["--name", name])
}

async fn three_servers_follow_the_command(store: &str) {
    let shown = api_key_auth::store::open::redacted(store);
    let (id, key) = create(store, "before the servers");
    let servers: Vec<Server> = (0..3).map(|_| Server::start(store)).collect();
    for server in &servers {
        // The second answer comes from the server's cache.
        assert_eq!(server.status(&key).await, 200, "{shown}");
        assert_eq!(server.status(&key).await, 200, "{shown}");
    }

    let asked = Instant::now();
    api_key(store, &["revoke", &id, "--yes"]);
    let revoked = Instant::now();
    for (n, server) in servers.iter().enumerate() {
        loop {
            match server.status(&key).await {
                401 => break,
                200 if revoked.elapsed() < Duration::from_secs(1) => {
                    tokio::time::sleep(Duration::from_millis(10)).await
                }
                other => panic!(
                    "{shown}: server {n} answered {other} {:?} after the command revoked the key",
                    revoked.elapsed()
                ),
            }
        }
    }
    println!(
        "{shown}: all three servers refused the key {:?} after the command returned ({:?} after it started)",
        revoked.elapsed(),
        asked.elapsed()
    );

    let (_, new_key) = create(store, "while they run");
    for (n, server) in servers.iter().enumerate() {
        assert_eq!(
            server.status(&new_key).await,
            200,
            "{shown}: server {n} on the key just created"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_follow_the_command_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    three_servers_follow_the_command(&format!("sqlite:{}", dir.path().join("keys.db").display()))
        .await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_follow_the_command_on_postgres() {
    let Some(url) = common::postgres_url("processes::on PostgreSQL") else {
        return;
    };
    let schema = common::isolated_pg_schema(&url).await;
    three_servers_follow_the_command(&format!("{url}?options=-c%20search_path%3D{schema}")).await;
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_follow_the_command_on_redis() {
    let Some(url) = common::redis_url("processes::on Redis") else {
        return;
    };
    three_servers_follow_the_command(&url).await;
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_follow_the_command_on_a_redis_cluster() {
    let Some(url) = common::redis_cluster_url("processes::on a Redis Cluster") else {
        return;
    };
    three_servers_follow_the_command(&url).await;
}

/// A record that does not read costs its own key a 503, never the server:
/// one row whose `revoked` holds the text `'true'` must not stop the
/// quickstart from starting. The server starts, serves the other keys, and refuses that
/// one as a store failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_that_does_not_read_costs_its_key_not_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    let store = format!("sqlite:{}", path.display());
    let (_, good) = create(&store, "good");
    let (bad_id, bad) = create(&store, "bad");
    // A flag no store of this crate writes, as a hand or another tool might.
    let rows = rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE api_keys SET revoked = 'true' WHERE id = ?1",
            [&bad_id],
        )
        .unwrap();
    assert_eq!(rows, 1);
    let server = Server::start(&store);
    assert_eq!(server.status(&good).await, 200, "the key that reads");
    assert_eq!(server.status(&bad).await, 503, "the key that does not");
    let health = common::http_get(server.addr, "/health", &[]).await;
    assert_eq!(health.status, 200);
}
