//! Keys made by djangorestframework-api-key before 3.0, hashed with Django's
//! password hashers: checked here, upgraded to `sha512$$` on their first
//! success as DRF 3.x does (the row's primary key left as DRF leaves it), so
//! that DRF 3.1 still accepts them afterwards; and a flood of wrong secrets
//! for such a key, whose checks are slow by design, does not stall the server.
//!
//! The DRF tables are minted by the real djangorestframework-api-key 2.3.0
//! (`tests/drf/mint_keys.py --legacy`, in a virtualenv of its own) into
//! `APIKEY_TEST_DRF_LEGACY_DIR` (SQLite) and `APIKEY_TEST_DRF_LEGACY_POSTGRES_URL`;
//! `.ci/run` makes both and then has DRF 3.1 check the keys as this test left them.
#![cfg(feature = "drf-legacy")]

#[path = "it/common/mod.rs"]
mod common;

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use api_key_auth::{
    cache::CachedStore,
    hash::{Algorithm, StoredHash},
    key::{ApiKey, Prefix},
    store::{postgres::PostgresStore, sqlite::SqliteStore},
    ApiKeyLayer, AuthFailure, Authenticator, KeyManager, KeyRecord, KeyStore, MemoryStore,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
struct Minted {
    name: String,
    key: String,
    #[serde(default)]
    hasher: String,
    accepted: bool,
}

fn legacy_dir(test: &str) -> Option<PathBuf> {
    match std::env::var("APIKEY_TEST_DRF_LEGACY_DIR") {
        Ok(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => {
            common::skip_line(&format!(
                "skipping {test}: set APIKEY_TEST_DRF_LEGACY_DIR to keys minted by tests/drf/mint_keys.py --legacy (.ci/run does)"
            ));
            None
        }
    }
}

fn minted(path: &std::path::Path) -> Vec<Minted> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("APIKEY_TEST_DRF_LEGACY_DIR has no {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn headers(key: &str) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert("authorization", format!("Api-Key {key}").parse().unwrap());
    headers
}

/// Every key gets DRF 2's verdict from us; each accepted one has its hash
/// upgraded to `sha512$$` of the whole key (checked by reading the row), is
/// quick to check from then on, and the keys DRF refused keep their hash.
/// Writes what DRF 3.1 must now say of each key to `out`.
async fn check_and_upgrade(
    store: impl KeyManager + Clone,
    keys: &[Minted],
    out: PathBuf,
    row_hash: impl Fn(
        Prefix,
    )
        -> std::pin::Pin<Box<dyn std::future::Future<Output = (String, String)> + Send>>,
) {
    let cached = CachedStore::new(store.clone());
    let auth = Authenticator::builder(cached.clone())
        .slow_hash_checks(2)
        .build()
        .unwrap();
    for minted in keys {
        let key = ApiKey::parse(minted.key.as_bytes()).unwrap();
        let (id_before, hash_before) = row_hash(key.prefix()).await;
        let verdict = auth.authenticate(&headers(&minted.key)).await;
        assert_eq!(
            verdict.is_ok(),
            minted.accepted,
            "{}: DRF said {}, we said {verdict:?}",
            minted.name,
            minted.accepted
        );
        // The upgrade runs on a task of its own, off the request.
        let mut row = row_hash(key.prefix()).await;
        let deadline = Instant::now() + Duration::from_secs(60);
        while minted.accepted && !row.1.starts_with("sha512$$") && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
            row = row_hash(key.prefix()).await;
        }
        let (id_after, hash_after) = row;
        assert_eq!(
            id_after, id_before,
            "{}: DRF leaves the primary key",
            minted.name
        );
        if minted.accepted {
            let upgraded = StoredHash::parse(&hash_after).unwrap();
            assert_eq!(upgraded.algorithm(), Algorithm::Sha512, "{}", minted.name);
            assert!(api_key_auth::Hasher::sha512_drf().verify(&key, &upgraded));
            // The cache lets go of the old hash once the row is written:
            // from then on it serves the upgraded one, quick to check.
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let served = cached.find(key.prefix()).await.unwrap().unwrap();
                if served.hash.algorithm() == Algorithm::Sha512 {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{}: the cache still serves the legacy hash",
                    minted.name
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            auth.authenticate(&headers(&minted.key)).await.unwrap();
        } else if !minted.hasher.is_empty() {
            assert_eq!(
                hash_after, hash_before,
                "{}: a refused key keeps its hash",
                minted.name
            );
        }
    }
    std::fs::write(out, serde_json::to_vec_pretty(keys).unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_of_drf_before_3_are_checked_and_upgraded_on_sqlite() {
    let Some(dir) = legacy_dir("drf_legacy::sqlite") else {
        return;
    };
    let keys = minted(&dir.join("legacy-sqlite.json"));
    assert!(keys.iter().filter(|k| k.accepted).count() >= 5);
    let path = dir.join("legacy.sqlite3");
    let store = SqliteStore::connect_drf(&format!("sqlite:{}", path.display()))
        .await
        .unwrap();
    let row_hash = move |prefix: Prefix| {
        let path = path.clone();
        Box::pin(async move {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.query_row(
                "SELECT id, hashed_key FROM rest_framework_api_key_apikey WHERE prefix = ?1",
                [prefix.as_str()],
                |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)),
            )
            .unwrap()
        }) as std::pin::Pin<Box<dyn std::future::Future<Output = (String, String)> + Send>>
    };
    check_and_upgrade(store, &keys, dir.join("rust-legacy-sqlite.json"), row_hash).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_of_drf_before_3_are_checked_and_upgraded_on_postgres() {
    let Some(dir) = legacy_dir("drf_legacy::postgres") else {
        return;
    };
    let Ok(url) = std::env::var("APIKEY_TEST_DRF_LEGACY_POSTGRES_URL") else {
        common::skip_line(
            "skipping drf_legacy::postgres: set APIKEY_TEST_DRF_LEGACY_POSTGRES_URL (.ci/run does)",
        );
        return;
    };
    let keys = minted(&dir.join("legacy-postgres.json"));
    let store = PostgresStore::connect_drf(&url).await.unwrap();
    let pool = store.pool().clone();
    let row_hash = move |prefix: Prefix| {
        let pool = pool.clone();
        Box::pin(async move {
            sqlx::query_as::<_, (String, String)>(
                "SELECT id, hashed_key FROM rest_framework_api_key_apikey WHERE prefix = $1",
            )
            .bind(prefix.as_str())
            .fetch_one(&pool)
            .await
            .unwrap()
        }) as std::pin::Pin<Box<dyn std::future::Future<Output = (String, String)> + Send>>
    };
    check_and_upgrade(
        store,
        &keys,
        dir.join("rust-legacy-postgres.json"),
        row_hash,
    )
    .await;
}

/// A key minted by DRF 2.3.0 on Django 3.2 (PBKDF2, 260,000 iterations).
fn legacy_record() -> (KeyRecord, String) {
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("fixtures/django-hashes.json")).unwrap();
    let row = rows
        .iter()
        .find(|r| {
            r["hashed_key"]
                .as_str()
                .unwrap()
                .starts_with("pbkdf2_sha256$260000$")
        })
        .unwrap();
    let key = row["key"].as_str().unwrap().to_owned();
    let prefix = Prefix::parse(&key[..8]).unwrap();
    let hash = StoredHash::parse(row["hashed_key"].as_str().unwrap()).unwrap();
    (KeyRecord::new(prefix.as_str(), "legacy", prefix, hash), key)
}

/// While many clients guess at a legacy key's secret (each guess a PBKDF2
/// of 260,000 iterations), other keys are answered as quickly as ever:
/// slow checks run on the blocking pool, one at a time here and one per
/// key, so the guesses hold one turn at a time and another legacy key's
/// holder waits for no more than the check under way; a guess that cannot
/// have its turn within the wait is a 503, never a stall. No guess passes;
/// the real key still does afterwards, and is then upgraded.
///
/// Unoptimised (`cargo test`), a check takes about a second and a half, and
/// the machine may be loaded: the bounds here are wide, and the normal
/// key's latency is held to its own figure before the flood.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_guesses_at_a_legacy_key_does_not_stall_the_server() {
    let _alone = common::exclusive().await;
    let (legacy, legacy_key) = legacy_record();
    // Another legacy key, whose holder comes during the flood.
    let other = record_of(B_KEY, B_HASH);
    let store = MemoryStore::from_records([legacy.clone(), other]);
    let (_, normal) = store
        .create(api_key_auth::NewKey::named("normal"))
        .await
        .unwrap()
        .reveal();
    let auth = Authenticator::builder(store.clone())
        .slow_hash_checks(1)
        .slow_hash_wait(Duration::from_secs(5))
        .build()
        .unwrap();
    async fn whoami(identity: api_key_auth::Identity) -> String {
        identity.id().to_owned()
    }
    let app = axum::Router::new()
        .route("/whoami", axum::routing::get(whoami))
        .route_layer(ApiKeyLayer::from(auth.clone()).with_inner_body());
    let addr = common::serve(app).await;
    let normal = format!("Api-Key {}", normal.expose_secret());
    let median_of_normal_requests = || async {
        let mut took = Vec::new();
        for _ in 0..20 {
            let started = Instant::now();
            let answer = common::http_get(addr, "/whoami", &[("Authorization", &normal)]).await;
            took.push(started.elapsed());
            assert_eq!(answer.status, 200, "a normal key");
        }
        took.sort();
        took[took.len() / 2]
    };
    let before = median_of_normal_requests().await;

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let answers = Arc::new(std::sync::Mutex::new(Vec::<u16>::new()));
    let mut flood = tokio::task::JoinSet::new();
    for i in 0..48 {
        let (stop, answers) = (stop.clone(), answers.clone());
        let guess = format!("Api-Key {}.{:0>32}", legacy.prefix, i);
        flood.spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let answer = common::http_get(addr, "/whoami", &[("Authorization", &guess)]).await;
                answers.lock().unwrap().push(answer.status);
            }
        });
    }
    // The flood is under way once its first guess was checked.
    let deadline = Instant::now() + Duration::from_secs(120);
    while answers.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no guess was answered");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let during = median_of_normal_requests().await;
    // A stall (checks on the async threads) would queue each normal
    // request behind seconds of checks.
    assert!(
        during < before + Duration::from_secs(1),
        "normal keys took {during:?} (median) during the flood, {before:?} before"
    );
    // One check's turn at a time goes to the guesses, whatever their
    // number: another legacy key's holder waits for the check under way.
    let other = format!("Api-Key {B_KEY}");
    let other_answer = common::http_get(addr, "/whoami", &[("Authorization", &other)]).await;
    assert_eq!(
        other_answer.status, 200,
        "another legacy key during the flood"
    );
    // Guesses beyond what the wait allows are turned away, as a busy store.
    let deadline = Instant::now() + Duration::from_secs(120);
    while !answers.lock().unwrap().contains(&503) {
        assert!(Instant::now() < deadline, "no guess waited out its turn");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    while flood.join_next().await.is_some() {}
    let statuses = answers.lock().unwrap().clone();
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 503),
        "a guess got something other than 401 or 503: {statuses:?}"
    );

    // The real key passes (once the guesses are gone), and is upgraded.
    auth.authenticate(&headers(&legacy_key))
        .await
        .expect("the real legacy key, after the flood");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let upgraded = store.find(legacy.prefix).await.unwrap().unwrap();
        if upgraded.hash.algorithm() == Algorithm::Sha512 {
            break;
        }
        assert!(Instant::now() < deadline, "the hash was never upgraded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Clients at `from` sending guesses at `prefix` and resetting each
/// connection 50 ms later, until `stop`; `sent` counts the guesses.
fn hang_up_flood(
    from: &'static str,
    addr: std::net::SocketAddr,
    prefix: Prefix,
    stop: Arc<std::sync::atomic::AtomicBool>,
    sent: Arc<std::sync::atomic::AtomicUsize>,
) -> tokio::task::JoinSet<()> {
    let mut flood = tokio::task::JoinSet::new();
    for client in 0..4 {
        let (stop, sent) = (stop.clone(), sent.clone());
        flood.spawn(async move {
            let mut round = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                use tokio::io::AsyncWriteExt;
                let guess = format!("Api-Key {prefix}.{client}{round:0>31}");
                let mut stream = common::connect_from(from, addr).await;
                let request = common::get_request("/whoami", &[("Authorization", &guess)]);
                stream.write_all(request.as_bytes()).await.unwrap();
                sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                stream.set_zero_linger().unwrap();
                drop(stream);
                round += 1;
            }
        });
    }
    flood
}

/// A key's holder is not locked out by someone else's guesses, even by a
/// client that hangs up on each guess at a legacy key before its verdict:
/// uncounted, such guesses could run checks without end, and the holder
/// would get a 503 on every request while they ran. Guesses that hang up
/// are counted, so their address is throttled after its budget, though it
/// never waits for an answer; and the holder's requests wait their turn
/// behind the checks under way instead of being turned away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_holder_keeps_200_while_another_address_hangs_up_on_guesses() {
    let _alone = common::exclusive().await;
    let (legacy, legacy_key) = legacy_record();
    let store = MemoryStore::from_records([legacy.clone()]);
    // Unoptimised, a check takes about a second and a half: the holder may
    // wait behind a few, under load.
    let auth = Authenticator::builder(store)
        .slow_hash_checks(1)
        .slow_hash_wait(Duration::from_secs(60))
        .throttle(api_key_auth::throttle::Throttle::new(
            3,
            Duration::from_secs(60),
        ))
        .build()
        .unwrap();
    async fn whoami(identity: api_key_auth::Identity) -> String {
        identity.id().to_owned()
    }
    let app = axum::Router::new()
        .route("/whoami", axum::routing::get(whoami))
        .route_layer(ApiKeyLayer::from(auth.clone()).with_inner_body());
    let addr = common::serve_with_peers(app).await;
    let refused = |count: u64| {
        let auth = auth.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            while auth.throttle_stats().unwrap().refused < count {
                assert!(
                    Instant::now() < deadline,
                    "the guessing address was never throttled: {:?}",
                    auth.throttle_stats()
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));

    // Hang-ups alone spend an address's budget.
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut first = hang_up_flood("127.0.0.2", addr, legacy.prefix, stop.clone(), sent);
    refused(1).await;

    // While another address's hang-ups have checks under way, the holder
    // is answered, every time.
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut second = hang_up_flood("127.0.0.4", addr, legacy.prefix, stop.clone(), sent.clone());
    while sent.load(std::sync::atomic::Ordering::SeqCst) < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let holder = format!("Api-Key {legacy_key}");
    for attempt in 0..3 {
        let answer =
            common::http_get_from("127.0.0.3", addr, "/whoami", &[("Authorization", &holder)])
                .await;
        assert_eq!(
            answer.status, 200,
            "the holder's request {attempt} during the flood: {answer:?}"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    while first.join_next().await.is_some() {}
    while second.join_next().await.is_some() {}
}

/// Guessers from many addresses queue behind the key's holder once each
/// has failed. With the queue in arrival order, a steady stream of guesses
/// from 40 networks would keep more than the wait ahead of the holder, who
/// would get a 503 on every try, and waiting guesses would cost nothing.
/// Addresses with a failure on record wait behind clean ones, and their
/// waits that run out are charged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessers_that_failed_queue_behind_the_holder() {
    let _alone = common::exclusive().await;
    let store = MemoryStore::from_records([record_of(B_KEY, B_HASH)]);
    let prefix = ApiKey::parse(B_KEY.as_bytes()).unwrap().prefix();
    let auth = Authenticator::builder(store)
        .slow_hash_checks(1)
        // Long enough that, in arrival order, the holder would wait behind
        // a minute of queued guesses; it must not need to.
        .slow_hash_wait(Duration::from_secs(60))
        .throttle(api_key_auth::throttle::Throttle::new(
            1000,
            Duration::from_secs(60),
        ))
        .build()
        .unwrap();
    let networks: Vec<std::net::IpAddr> = (1..=8)
        .map(|n| format!("2001:db8:{n:x}::1").parse().unwrap())
        .collect();
    let wrong = headers(&format!("{prefix}.{}", "x".repeat(32)));
    // Every network fails once, so the throttle has them on record.
    let mut first = tokio::task::JoinSet::new();
    for network in &networks {
        let (auth, wrong, network) = (auth.clone(), wrong.clone(), *network);
        first.spawn(async move { auth.authenticate_from(&wrong, Some(network)).await });
    }
    while let Some(answer) = first.join_next().await {
        assert!(matches!(answer.unwrap(), Err(AuthFailure::WrongSecret(_))));
    }
    // Then they guess steadily, far faster than checks are made.
    let mut flood = tokio::task::JoinSet::new();
    let (auth_flood, networks_flood) = (auth.clone(), networks.clone());
    flood.spawn(async move {
        let mut guesses = tokio::task::JoinSet::new();
        for round in 0.. {
            let network = networks_flood[round % networks_flood.len()];
            let (auth, wrong) = (auth_flood.clone(), wrong.clone());
            guesses.spawn(async move { auth.authenticate_from(&wrong, Some(network)).await });
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let holder: std::net::IpAddr = "198.51.100.77".parse().unwrap();
    for attempt in 0..3 {
        let started = Instant::now();
        let answer = auth.authenticate_from(&headers(B_KEY), Some(holder)).await;
        assert!(
            answer.is_ok(),
            "the holder's request {attempt} after {:?}: {answer:?}",
            started.elapsed()
        );
    }
    flood.abort_all();
}

/// A request that gives up while it only waits in a key's queue made no
/// guess, and is not charged: a holder whose client times out behind
/// others' guesses is not throttled for it, right key and all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn giving_up_in_the_queue_is_no_failed_attempt() {
    let _alone = common::exclusive().await;
    let store = MemoryStore::from_records([record_of(B_KEY, B_HASH)]);
    let prefix = ApiKey::parse(B_KEY.as_bytes()).unwrap().prefix();
    let auth = Authenticator::builder(store)
        .slow_hash_checks(1)
        .slow_hash_wait(Duration::from_secs(60))
        .throttle(api_key_auth::throttle::Throttle::new(
            2,
            Duration::from_secs(3600),
        ))
        .build()
        .unwrap();
    let guesser: std::net::IpAddr = "203.0.113.1".parse().unwrap();
    let holder: std::net::IpAddr = "203.0.113.2".parse().unwrap();
    let wrong = headers(&format!("{prefix}.{}", "x".repeat(32)));
    // A guess under way holds the key's turn while the holder's requests
    // queue and give up, one after another.
    let guess = {
        let auth = auth.clone();
        tokio::spawn(async move { auth.authenticate_from(&wrong, Some(guesser)).await })
    };
    tokio::task::yield_now().await;
    for _ in 0..5 {
        let gave_up = tokio::time::timeout(
            Duration::from_millis(1),
            auth.authenticate_from(&headers(B_KEY), Some(holder)),
        )
        .await;
        assert!(gave_up.is_err() || gave_up.unwrap().is_ok());
    }
    assert!(matches!(
        guess.await.unwrap(),
        Err(AuthFailure::WrongSecret(_))
    ));
    auth.authenticate_from(&headers(B_KEY), Some(holder))
        .await
        .expect("the holder, after giving up five times in the queue");
}

/// Made by Django 3.2 and 2.2 (tests/fixtures/django-hashes.json).
const A_KEY: &str = "CI0SxFrf.06qUGKaWMGcGBFiUAUpWiB9SmWqi4qiu";
const A_HASH: &str =
    "pbkdf2_sha256$260000$VLBUhIcaWzt9e5C9ddLfCI$M3/Tpwu7Ua/Xz2U4ASBVybgtpVQGRP+Q0TDxptpPJsc=";
const B_KEY: &str = "zIQLmSOy.D8yvJ3mgFrkHvhgj7vTrHInRPUKFX24B";
const B_HASH: &str =
    "pbkdf2_sha256$150000$4ATQo3LKxnXZ$xmM/tnpE0O0+X+5S4cprJLXdZnaUIHGZjFKfCtw3Ibk=";

fn record_of(key: &str, hash: &str) -> KeyRecord {
    let prefix = ApiKey::parse(key.as_bytes()).unwrap().prefix();
    KeyRecord::new(
        prefix.as_str(),
        "legacy",
        prefix,
        StoredHash::parse(hash).unwrap(),
    )
}

/// Outside a tokio runtime (the core runs on any executor), a legacy
/// record is a 503, not a panic: its check needs tokio's blocking pool.
#[test]
fn a_legacy_hash_outside_tokio_is_refused_not_a_panic() {
    let auth = Authenticator::new(MemoryStore::from_records([record_of(B_KEY, B_HASH)]));
    let headers = headers(B_KEY);
    let mut check = std::pin::pin!(auth.authenticate(&headers));
    let polled = std::future::Future::poll(
        check.as_mut(),
        &mut std::task::Context::from_waker(std::task::Waker::noop()),
    );
    match polled {
        std::task::Poll::Ready(Err(failure @ AuthFailure::Unsupported { .. })) => {
            assert_eq!(auth.rejection(&failure).status(), 503);
        }
        other => panic!("outside tokio a legacy record gave {other:?}"),
    }
}

/// A DRF table made before DRF 2.2 has a `hashed_key` of 100 characters,
/// too narrow for `sha512$$` (136): the key passes, its hash is left whole
/// (never cut to fit). A row locked elsewhere (Django's `select_for_update`)
/// delays no request: the upgrade runs off the request, within a bound,
/// and goes through once the lock is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_narrow_or_locked_drf_row_neither_breaks_nor_delays_a_legacy_key() {
    let Some(url) = common::postgres_url("drf_legacy::narrow and locked rows") else {
        return;
    };
    let _alone = common::exclusive().await;
    common::Log::captured();
    for width in [100, 150] {
        let schema = common::isolated_pg_schema(&url).await;
        let pool = common::pg_pool_in(&url, &schema).await;
        sqlx::query(&format!(
            "CREATE TABLE rest_framework_api_key_apikey (\
             id varchar({width}) PRIMARY KEY, created timestamptz NOT NULL, \
             name varchar(50) NOT NULL, revoked boolean NOT NULL, \
             expiry_date timestamptz NULL, hashed_key varchar({width}) NOT NULL, \
             prefix varchar(8) NOT NULL UNIQUE)"
        ))
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO rest_framework_api_key_apikey \
             (id, created, name, revoked, expiry_date, hashed_key, prefix) \
             VALUES ($1, now(), 'legacy', false, NULL, $2, $3)",
        )
        .bind(format!("{}.{A_HASH}", &A_KEY[..8]))
        .bind(A_HASH)
        .bind(&A_KEY[..8])
        .execute(&pool)
        .await
        .unwrap();
        let hash_now = || async {
            sqlx::query_scalar::<_, String>(
                "SELECT hashed_key FROM rest_framework_api_key_apikey WHERE prefix = $1",
            )
            .bind(&A_KEY[..8])
            .fetch_one(&pool)
            .await
            .unwrap()
        };
        let store = PostgresStore::new(pool.clone(), api_key_auth::store::Schema::drf());
        let auth = Authenticator::builder(store)
            .lookup_timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        // What a check of this row costs here, now: a wrong secret, which
        // upgrades nothing.
        let wrong = format!("{}.{}", &A_KEY[..8], "x".repeat(32));
        let started = Instant::now();
        assert!(auth.authenticate(&headers(&wrong)).await.is_err());
        let check = started.elapsed();
        // Someone else holds the row while the key is used: the upgrade,
        // which would wait for the lock up to its 5 s bound, must not hold
        // the request up.
        let mut holder = pool.begin().await.unwrap();
        sqlx::query("SELECT 1 FROM rest_framework_api_key_apikey WHERE prefix = $1 FOR UPDATE")
            .bind(&A_KEY[..8])
            .execute(&mut *holder)
            .await
            .unwrap();
        let started = Instant::now();
        let answered = auth.authenticate(&headers(A_KEY)).await;
        let took = started.elapsed();
        assert!(
            answered.is_ok(),
            "width {width}: with the row locked elsewhere the key got {answered:?}"
        );
        assert!(
            took < check * 2 + Duration::from_secs(2),
            "width {width}: the key took {took:?} with the row locked, a check {check:?}"
        );
        drop(holder);
        let mut hash = hash_now().await;
        // The upgrade waits out the lock on a task of its own (5 s at most),
        // then writes: for the wide column, wait for it.
        let deadline = Instant::now() + Duration::from_secs(60);
        while width != 100 && !hash.starts_with("sha512$$") && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
            hash = hash_now().await;
        }
        if width == 100 {
            // The upgrade found the column too narrow and said so: the hash
            // is left whole, never cut to fit.
            let prefix = format!("prefix={}", &A_KEY[..8]);
            common::Log::captured()
                .wait_for(&["legacy key hash", &prefix])
                .await;
            assert_eq!(
                hash_now().await,
                A_HASH,
                "a narrow column keeps its hash whole"
            );
            auth.authenticate(&headers(A_KEY)).await.unwrap();
        } else {
            assert!(
                hash.starts_with("sha512$$"),
                "once the lock was gone: {hash}"
            );
        }
    }
}
