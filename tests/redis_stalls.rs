//! The Redis store while its server is stalled by another client's long
//! script: a batch answered late is given whole to its caller or not stored
//! at all. A binary of its own: the stall would time out every other test
//! on the same server.
#![cfg(feature = "redis")]

#[path = "it/common/mod.rs"]
mod common;

use std::time::Duration;

use api_key_auth::{store::redis::RedisStore, KeyManager, NewKey};
use common::redis_url;

/// A batch whose answer comes late (here: Redis runs its script behind
/// another client's 4-second one) is either given whole to its caller or
/// not stored at all. Reported failed yet stored, its keys would be active
/// with nobody holding their secrets, and `api-key create --count` would
/// print "N of M keys were made and printed before this batch failed" while
/// up to 1000 more keys it never printed existed and worked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_answered_late_is_given_whole_or_not_stored() {
    let Some(url) = redis_url("redis::a_batch_answered_late_is_given_whole_or_not_stored") else {
        return;
    };
    let namespace = common::namespace();
    let store = RedisStore::connect(&url)
        .await
        .unwrap()
        .with_namespace(&namespace);
    // The script is loaded (no NOSCRIPT round trip below).
    store
        .create_many(vec![NewKey::named("warm up")])
        .await
        .unwrap();

    let mut probe = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let mut busy = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let blocker = tokio::spawn(async move {
        let _: redis::RedisResult<redis::Value> = redis::cmd("EVAL")
            .arg(
                "local s = tonumber(redis.call('TIME')[1]) \
                 while tonumber(redis.call('TIME')[1]) - s < 4 do end return 1",
            )
            .arg(0)
            .query_async(&mut busy)
            .await;
    });
    // Wait until Redis is busy with it: a PING gets no answer in 100 ms.
    for _ in 0..50 {
        let ping = redis::cmd("PING");
        let answer = ping.query_async::<String>(&mut probe);
        if tokio::time::timeout(Duration::from_millis(100), answer)
            .await
            .is_err()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let result = store
        .create_many(
            (0..50)
                .map(|n| NewKey::named(format!("late {n}")))
                .collect(),
        )
        .await;
    blocker.await.unwrap();
    // Answered after everything sent before it: the script's writes, if
    // it ran, are in.
    let _: String = redis::cmd("PING").query_async(&mut probe).await.unwrap();
    let stored = store
        .list()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.name.starts_with("late ") && !r.revoked)
        .count();
    match result {
        // The store asked again, on the same line, after the script ran.
        Ok(made) => assert_eq!(
            (made.len(), stored),
            (50, 50),
            "a batch answered late is given whole to its caller"
        ),
        Err(e) => assert_eq!(
            stored, 0,
            "create_many answered {e:?}, but {stored} active keys of that batch are stored \
             and nobody has their secrets"
        ),
    }
}
