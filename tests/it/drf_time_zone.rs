//! Django with `USE_TZ = False` writes naive local times into SQLite's
//! text dates and MySQL's `DATETIME`s. Read as UTC, an expiry east of UTC
//! comes hours late: a key expired an hour ago in Tokyo would pass for
//! eight more hours. With the table's time zone named, such a key is
//! refused, and what the crate writes there is in that zone too.
#![cfg(all(feature = "sqlite", feature = "mysql"))]

use crate::common;

use std::time::{Duration, SystemTime};

use api_key_auth::{
    store::{mysql::MySqlStore, rfc3339, sqlite::SqliteStore, Schema},
    AuthFailure, Authenticator, KeyManager, NewKey, PlaintextKey,
};

/// Asia/Tokyo keeps UTC+9 all year: no daylight saving to reckon with.
const ZONE: &str = "Asia/Tokyo";
const OFFSET: Duration = Duration::from_secs(9 * 3600);

/// `at` as Django writes a naive datetime in Tokyo: `YYYY-MM-DD HH:MM:SS`.
fn tokyo(at: SystemTime) -> String {
    rfc3339(at + OFFSET).replace('T', " ").replace('Z', "")
}

fn headers(key: &PlaintextKey) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "authorization",
        format!("Api-Key {}", key.expose_secret()).parse().unwrap(),
    );
    headers
}

/// On `utc` and `local` (one table, read as UTC and in Tokyo): a key whose
/// expiry Django wrote in Tokyo an hour ago passes the first (the bug) and
/// is refused by the second; a key the Tokyo store creates, expiring in a
/// day, is written in Tokyo's time, and both agree on when it ends.
async fn naive_dates_are_read_in_their_zone<S: KeyManager + Clone>(
    utc: S,
    local: S,
    set_expiry: impl AsyncFn(&str, String),
    expiry_of: impl AsyncFn(&str) -> String,
) {
    let (record, key) = local
        .create(NewKey::named("in Tokyo"))
        .await
        .unwrap()
        .reveal();
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    set_expiry(record.prefix.as_str(), tokyo(hour_ago)).await;
    assert!(
        Authenticator::new(utc.clone())
            .authenticate(&headers(&key))
            .await
            .is_ok(),
        "read as UTC, the expiry is eight hours ahead: the key still passes"
    );
    match Authenticator::new(local.clone())
        .authenticate(&headers(&key))
        .await
    {
        Err(AuthFailure::Expired(_)) => {}
        other => panic!("read in {ZONE}, an expiry an hour ago: {other:?}"),
    }

    let (record, _) = local
        .create(NewKey::named("made here").expires_in(Duration::from_secs(86_400)))
        .await
        .unwrap()
        .reveal();
    let expires = record.expires.unwrap();
    let stored = expiry_of(record.prefix.as_str()).await;
    assert!(
        stored.starts_with(&tokyo(expires)[..16]),
        "written as {stored:?}, not Tokyo's {:?}",
        tokyo(expires)
    );
    let read = local.find(record.prefix).await.unwrap().unwrap();
    let apart = read
        .expires
        .unwrap()
        .duration_since(expires)
        .unwrap_or_else(|e| e.duration());
    assert!(apart < Duration::from_secs(1), "read back {apart:?} apart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_naive_dates_are_read_in_the_table_s_zone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("django.sqlite3");
    let django = rusqlite::Connection::open(&path).unwrap();
    django
        .execute_batch(
            "CREATE TABLE rest_framework_api_key_apikey (\
               id varchar(150) NOT NULL PRIMARY KEY, created datetime NOT NULL, \
               name varchar(50) NOT NULL, revoked bool NOT NULL, expiry_date datetime NULL, \
               hashed_key varchar(150) NOT NULL, prefix varchar(8) NOT NULL UNIQUE)",
        )
        .unwrap();
    let url = format!("sqlite:{}", path.display());
    let utc = SqliteStore::open(&url, Schema::drf()).await.unwrap();
    let local = SqliteStore::open(&url, Schema::drf().with_naive_time_zone(ZONE).unwrap())
        .await
        .unwrap();
    let django = std::sync::Mutex::new(django);
    naive_dates_are_read_in_their_zone(
        utc,
        local,
        async |prefix, at| {
            django
                .lock()
                .unwrap()
                .execute(
                    "UPDATE rest_framework_api_key_apikey SET expiry_date = ?1 WHERE prefix = ?2",
                    (at, prefix),
                )
                .unwrap();
        },
        async |prefix| {
            django
                .lock()
                .unwrap()
                .query_row(
                    "SELECT expiry_date FROM rest_framework_api_key_apikey WHERE prefix = ?1",
                    [prefix],
                    |row| row.get(0),
                )
                .unwrap()
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_naive_dates_are_read_in_the_table_s_zone() {
    let Some(url) = common::mysql_url("drf_time_zone::mysql") else {
        return;
    };
    let url = common::isolated_mysql_url(&url).await;
    let django = sqlx::MySqlPool::connect(&url).await.unwrap();
    sqlx::query(
        "CREATE TABLE rest_framework_api_key_apikey (\
           id varchar(150) NOT NULL PRIMARY KEY, created datetime(6) NOT NULL, \
           name varchar(50) NOT NULL, revoked bool NOT NULL, expiry_date datetime(6) NULL, \
           hashed_key varchar(150) NOT NULL, prefix varchar(8) NOT NULL UNIQUE)",
    )
    .execute(&django)
    .await
    .unwrap();
    let utc = MySqlStore::open(&url, Schema::drf()).await.unwrap();
    let local = MySqlStore::open(&url, Schema::drf().with_naive_time_zone(ZONE).unwrap())
        .await
        .unwrap();
    naive_dates_are_read_in_their_zone(
        utc,
        local,
        async |prefix, at| {
            sqlx::query(
                "UPDATE rest_framework_api_key_apikey SET expiry_date = ? WHERE prefix = ?",
            )
            .bind(at)
            .bind(prefix)
            .execute(&django)
            .await
            .unwrap();
        },
        async |prefix| {
            sqlx::query_scalar(
                "SELECT CAST(expiry_date AS CHAR) FROM rest_framework_api_key_apikey WHERE prefix = ?",
            )
            .bind(prefix)
            .fetch_one(&django)
            .await
            .unwrap()
        },
    )
    .await;
}
