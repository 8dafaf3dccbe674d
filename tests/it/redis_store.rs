//! The Redis store against a real server (`APIKEY_TEST_REDIS_URL`): the
//! conformance kit, no plaintext at rest, reconnection, revocations
//! published for other instances. Batches whose answer comes late stall
//! the server, so they are tested in `tests/redis_stalls.rs`, alone.
#![cfg(feature = "redis")]

use crate::common;

use std::time::Duration;

use api_key_auth::{store::redis::RedisStore, testkit::Conformance, KeyManager, KeyStore, NewKey};
use common::{host_port, redis_url, Proxy};

/// A store under a namespace of the test's own.
async fn store(test: &str) -> Option<RedisStore> {
    let url = redis_url(test)?;
    let namespace = common::namespace();
    let store = RedisStore::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("APIKEY_TEST_REDIS_URL is set but Redis is unreachable: {e}"));
    Some(store.with_namespace(&namespace))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_keeps_the_contract() {
    let Some(store) = store("redis::store_keeps_the_contract").await else {
        return;
    };
    Conformance::new(store).run().await.unwrap();
}

#[tokio::test]
async fn redis_holds_no_plaintext() {
    let Some(store) = store("redis::redis_holds_no_plaintext").await else {
        return;
    };
    let (_, key) = store
        .create(NewKey::named("n").owner("o"))
        .await
        .unwrap()
        .reveal();
    let secret = &key.expose_secret()[9..];
    let mut conn = store
        .client()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:*", store.namespace()))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys.len(), 4, "{keys:?}");
    let mut everything = String::new();
    for key in keys {
        let dump: redis::Value = redis::cmd("DUMP")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        everything.push_str(&format!("{key} {dump:?}"));
    }
    assert!(!everything.contains(secret));
}

#[tokio::test]
async fn the_store_reconnects_after_its_connection_is_cut() {
    let Some(url) = redis_url("redis::the_store_reconnects_after_its_connection_is_cut") else {
        return;
    };
    let target = host_port(&url);
    let proxy = Proxy::start(&target).await;
    let store = RedisStore::connect(&proxy.url(&url, &target))
        .await
        .unwrap()
        .with_namespace("apikey-test-reconnect");
    let (record, _) = store.create(NewKey::named("n")).await.unwrap().reveal();

    proxy.cut();
    let err = store.find(record.prefix).await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");

    proxy.restore();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match store.find(record.prefix).await {
            Ok(Some(found)) => break assert_eq!(found.id, record.id),
            _ if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            other => panic!("still failing 5 s after the line came back: {other:?}"),
        }
    }
    store.revoke(&record.id).await.unwrap();
}

#[tokio::test]
async fn revocations_are_published() {
    let Some(store) = store("redis::revocations_are_published").await else {
        return;
    };
    let (record, _) = store.create(NewKey::named("n")).await.unwrap().reveal();
    let mut pubsub = store.client().get_async_pubsub().await.unwrap();
    pubsub.subscribe(store.revocation_channel()).await.unwrap();
    store.revoke(&record.id).await.unwrap();
    use futures_util::StreamExt;
    let message = tokio::time::timeout(Duration::from_secs(2), pubsub.on_message().next())
        .await
        .expect("a message within 2 s")
        .expect("the stream is open");
    let payload: String = message.get_payload().unwrap();
    assert_eq!(payload, record.prefix.as_str());
}

#[tokio::test]
async fn an_empty_namespace_lists_nothing() {
    let Some(store) = store("redis::an_empty_namespace_lists_nothing").await else {
        return;
    };
    assert!(store.list().await.unwrap().is_empty());
}

/// A key whose Redis record a test edits by hand, and how to ask for it.
struct HandEdited {
    record: std::sync::Arc<api_key_auth::KeyRecord>,
    conn: redis::aio::MultiplexedConnection,
    /// The record's hash.
    record_key: String,
    auth: api_key_auth::Authenticator,
    /// The key's `Authorization` header.
    headers: http::HeaderMap,
}

async fn hand_edited(store: &RedisStore) -> HandEdited {
    let (record, key) = store.create(NewKey::named("flag")).await.unwrap().reveal();
    let conn = store
        .client()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let record_key = format!("{}:key:{}", store.namespace(), record.prefix);
    let auth = api_key_auth::Authenticator::new(store.clone());
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        format!("Api-Key {}", key.expose_secret()).parse().unwrap(),
    );
    HandEdited {
        record,
        conn,
        record_key,
        auth,
        headers,
    }
}

/// A `revoked` field set to anything but exactly "0" or "1" (by an operator
/// or another tool) is a record the store cannot read: the layer answers 503,
/// never lets the key in. A missing field too.
#[tokio::test]
async fn a_revoked_flag_other_than_0_or_1_is_refused_not_passed() {
    let Some(store) = store("redis::a_revoked_flag_other_than_0_or_1_is_refused_not_passed").await
    else {
        return;
    };
    let HandEdited {
        record,
        mut conn,
        record_key,
        auth,
        headers,
    } = hand_edited(&store).await;
    let mut hset_conn = conn.clone();
    let mut set_revoked = async |value: &str| {
        let () = redis::cmd("HSET")
            .arg(&record_key)
            .arg("revoked")
            .arg(value)
            .query_async(&mut hset_conn)
            .await
            .unwrap();
    };
    for value in ["true", "TRUE", "yes", " 1", "1 ", "01", "2", ""] {
        set_revoked(value).await;
        let err = store.find(record.prefix).await.unwrap_err();
        assert!(err.is_invalid_record(), "revoked = {value:?}: {err}");
        let failure = auth.authenticate(&headers).await.unwrap_err();
        assert_eq!(failure.status(), 503, "revoked = {value:?}");
    }
    let () = redis::cmd("HDEL")
        .arg(&record_key)
        .arg("revoked")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(store
        .find(record.prefix)
        .await
        .unwrap_err()
        .is_invalid_record());
    for (value, revoked) in [("0", false), ("1", true)] {
        set_revoked(value).await;
        assert_eq!(
            store.find(record.prefix).await.unwrap().unwrap().revoked,
            revoked
        );
    }
}

/// A suspension flag set by hand to anything but "0" or "1" refuses the key
/// (503); a record written before suspensions were kept has no field and
/// is not suspended.
#[tokio::test]
async fn a_suspended_flag_other_than_0_or_1_is_refused_not_passed() {
    let Some(store) =
        store("redis::a_suspended_flag_other_than_0_or_1_is_refused_not_passed").await
    else {
        return;
    };
    let HandEdited {
        record,
        mut conn,
        record_key,
        auth,
        headers,
    } = hand_edited(&store).await;
    for value in ["true", "yes", " 1", "01", "2", ""] {
        let () = redis::cmd("HSET")
            .arg(&record_key)
            .arg("suspended")
            .arg(value)
            .query_async(&mut conn)
            .await
            .unwrap();
        let failure = auth.authenticate(&headers).await.unwrap_err();
        assert_eq!(failure.status(), 503, "suspended = {value:?}");
    }
    let () = redis::cmd("HDEL")
        .arg(&record_key)
        .arg("suspended")
        .query_async(&mut conn)
        .await
        .unwrap();
    auth.authenticate(&headers).await.unwrap();
    assert!(store.suspend(&record.id).await.unwrap());
    assert!(matches!(
        auth.authenticate(&headers).await,
        Err(api_key_auth::AuthFailure::Suspended(_))
    ));
}

/// An address allowlist set by hand that does not read exactly as the
/// store writes it (a JSON array of networks) refuses the key (503) from
/// inside and outside alike; one that reads is enforced.
#[tokio::test]
async fn an_allowlist_that_does_not_read_is_refused_not_passed() {
    let Some(store) = store("redis::an_allowlist_that_does_not_read_is_refused_not_passed").await
    else {
        return;
    };
    let HandEdited {
        record_key,
        mut conn,
        auth,
        headers,
        ..
    } = hand_edited(&store).await;
    let mut set = async |value: &str| {
        let () = redis::cmd("HSET")
            .arg(&record_key)
            .arg("allowed_from")
            .arg(value)
            .query_async(&mut conn)
            .await
            .unwrap();
    };
    let from = |ip: &str| Some(ip.parse().unwrap());
    for value in [
        "",
        "10.0.0.0/8",
        "[]",
        "[\"10.0.0.1/8\"]",
        "[\"10.0.0.0/8\", 7]",
        "[\"10.0.0.1\"]",
    ] {
        set(value).await;
        for client in ["10.1.1.1", "192.0.2.1"] {
            let failure = auth
                .authenticate_from(&headers, from(client))
                .await
                .unwrap_err();
            assert_eq!(
                failure.status(),
                503,
                "allowed_from = {value:?} from {client}"
            );
        }
    }
    set("[\"10.0.0.0/8\"]").await;
    auth.authenticate_from(&headers, from("10.1.1.1"))
        .await
        .unwrap();
    let failure = auth
        .authenticate_from(&headers, from("192.0.2.1"))
        .await
        .unwrap_err();
    assert_eq!(failure.status(), 403);
}

/// Keys stored before the store kept its ordered set of ids (no `ns:ids`,
/// no `ns:ids:complete`) are all listed: the set is filled once, first.
#[tokio::test]
async fn keys_stored_before_the_ordered_ids_are_listed() {
    let Some(store) = store("redis::keys_stored_before_the_ordered_ids_are_listed").await else {
        return;
    };
    let mut ids = Vec::new();
    for name in ["a", "b", "c"] {
        ids.push(
            store
                .create(NewKey::named(name))
                .await
                .unwrap()
                .record()
                .id
                .clone(),
        );
    }
    let mut conn = store
        .client()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let removed: i64 = redis::cmd("DEL")
        .arg(format!("{}:ids", store.key_base()))
        .arg(format!("{}:ids:complete", store.key_base()))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        removed, 1,
        "a store that lists nothing has not marked its ids complete"
    );
    let page = store
        .list_page(&api_key_auth::store::PageRequest::first(2))
        .await
        .unwrap();
    let next = page.next.clone().expect("a second page");
    let rest = store
        .list_page(&api_key_auth::store::PageRequest::first(2).after(next))
        .await
        .unwrap();
    let mut listed: Vec<String> = page
        .keys
        .iter()
        .chain(&rest.keys)
        .map(|r| r.id.clone())
        .collect();
    listed.sort();
    ids.sort();
    assert_eq!(listed, ids);
}
