//! The Redis store on a Redis Cluster (`APIKEY_TEST_REDIS_CLUSTER_URL`,
//! `redis+cluster://host:port,…`; `scripts/redis-cluster.sh` starts one): the
//! conformance kit, the keys' layout in one slot whatever the namespace,
//! records that do not read, per-key rate limits shared by instances, and
//! cluster URLs that never repeat their password. Revocations across
//! instances are in `tests/instances.rs`.
#![cfg(feature = "redis-cluster")]

use crate::common;

use std::{collections::BTreeSet, time::Duration};

use api_key_auth::{
    store::redis::RedisStore, testkit::Conformance, Authenticator, KeyManager, KeyStore, NewKey,
    PlaintextKey,
};
use common::redis_cluster_url;
use http::{header::AUTHORIZATION, HeaderMap};

/// A store on the cluster under a namespace of the test's own, and the
/// cluster's seed nodes.
async fn store(test: &str) -> Option<(RedisStore, Vec<String>)> {
    let url = redis_cluster_url(test)?;
    let namespace = common::namespace();
    let store = RedisStore::connect(&url).await.unwrap_or_else(|e| {
        panic!("APIKEY_TEST_REDIS_CLUSTER_URL is set but the cluster is unreachable: {e}")
    });
    assert!(store.is_cluster(), "a redis+cluster:// URL opens a cluster");
    let nodes = url
        .trim_start_matches("redis+cluster://")
        .split(',')
        .map(|node| format!("redis://{node}"))
        .collect();
    Some((store.with_namespace(&namespace), nodes))
}

fn headers(key: &PlaintextKey) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        format!("Api-Key {}", key.expose_secret()).parse().unwrap(),
    );
    headers
}

/// Every node's keys under `pattern`, with the node that holds each.
async fn keys_on_nodes(nodes: &[String], pattern: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for node in nodes {
        let mut conn = redis::Client::open(node.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(pattern)
            .query_async(&mut conn)
            .await
            .unwrap();
        found.extend(keys.into_iter().map(|key| (node.clone(), key)));
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_keeps_the_contract_on_a_cluster() {
    let Some((store, _)) = store("redis_cluster::the_store_keeps_the_contract_on_a_cluster").await
    else {
        return;
    };
    Conformance::new(store).run().await.unwrap();
}

/// Everything a namespace holds is named `{ns}:…` and sits on one node:
/// the scripts that touch several of its keys at once can run there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_is_in_one_slot_of_the_cluster() {
    let Some((store, nodes)) =
        store("redis_cluster::a_namespace_is_in_one_slot_of_the_cluster").await
    else {
        return;
    };
    assert_eq!(store.key_base(), format!("{{{}}}", store.namespace()));
    let (first, _) = store.create(NewKey::named("a")).await.unwrap().reveal();
    store.create(NewKey::named("b")).await.unwrap();
    store
        .rotate(&first.id, Duration::from_secs(60))
        .await
        .unwrap();
    store.revoke(&first.id).await.unwrap();
    let page = store
        .list_page(&api_key_auth::store::PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(page.keys.len(), 3);

    let found = keys_on_nodes(&nodes, &format!("*{}*", store.namespace())).await;
    // Three records, three ids, the two indexes and the mark that the ids are complete.
    assert_eq!(found.len(), 9, "{found:?}");
    let holders: BTreeSet<_> = found.iter().map(|(node, _)| node).collect();
    assert_eq!(holders.len(), 1, "all on one node: {found:?}");
    assert!(
        found
            .iter()
            .all(|(_, key)| key.starts_with(&format!("{}:", store.key_base()))),
        "{found:?}"
    );
}

/// A record a cluster holds that does not read exactly (a `revoked` flag
/// set by hand to "true") is a refusal, 503, as on one server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_that_does_not_read_is_refused_on_a_cluster() {
    let Some((store, nodes)) =
        store("redis_cluster::a_record_that_does_not_read_is_refused_on_a_cluster").await
    else {
        return;
    };
    let (record, key) = store.create(NewKey::named("flag")).await.unwrap().reveal();
    let auth = Authenticator::new(store.clone());
    auth.authenticate(&headers(&key)).await.unwrap();

    let record_key = format!("{}:key:{}", store.key_base(), record.prefix);
    let (node, _) = keys_on_nodes(&nodes, &record_key).await.remove(0);
    let mut conn = redis::Client::open(node.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let () = redis::cmd("HSET")
        .arg(&record_key)
        .arg("revoked")
        .arg("true")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(store
        .find(record.prefix)
        .await
        .unwrap_err()
        .is_invalid_record());
    assert_eq!(
        auth.authenticate(&headers(&key))
            .await
            .unwrap_err()
            .status(),
        503
    );
}

/// Three authenticators on one cluster admit one key's limit between them.
#[cfg(feature = "rate-limit")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_share_a_rate_limit_on_a_cluster() {
    use api_key_auth::{rate_limit::RateLimit, rate_limit::RedisRateLimiter};
    let Some((store, _)) =
        store("redis_cluster::three_instances_share_a_rate_limit_on_a_cluster").await
    else {
        return;
    };
    let limit = RateLimit::new(5, Duration::from_secs(60))
        .unwrap()
        .with_burst(5)
        .unwrap();
    let (_, key) = store
        .create(NewKey::named("limited").rate_limit(limit))
        .await
        .unwrap()
        .reveal();
    let instances: Vec<Authenticator> = (0..3)
        .map(|_| {
            Authenticator::builder(store.clone())
                .rate_limiter(RedisRateLimiter::new(&store))
                .build()
                .unwrap()
        })
        .collect();
    let mut admitted = 0;
    for round in 0..4 {
        for auth in &instances {
            match auth.authenticate(&headers(&key)).await {
                Ok(_) => admitted += 1,
                Err(refused) => assert_eq!(refused.status(), 429, "round {round}"),
            }
        }
    }
    assert_eq!(
        admitted, 5,
        "12 requests through three instances, a burst of 5"
    );
}

/// On a cluster the namespace is the hash tag that keeps all of a store's
/// keys in one slot. A namespace that makes no hash tag of its own ("", or
/// one starting with `}`) would leave the braces holding nothing: Redis
/// would hash each whole name, every script's keys would land in different
/// slots, and every create (and revoke) would fail CROSSSLOT. Whatever
/// `with_namespace` takes, keys can be stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_that_is_no_hash_tag_still_stores_keys_on_a_cluster() {
    let Some(url) = redis_cluster_url(
        "redis_cluster::a_namespace_that_is_no_hash_tag_still_stores_keys_on_a_cluster",
    ) else {
        return;
    };
    let base = RedisStore::connect(&url).await.unwrap();
    let mut failures = Vec::new();
    for namespace in ["", "}x"] {
        let store = base.clone().with_namespace(namespace);
        if let Err(e) = store.create(NewKey::named("n")).await {
            failures.push(format!(
                "namespace {namespace:?}: {}",
                api_key_auth::ErrorChain(&e)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "namespaces accepted by with_namespace cannot store a key on a cluster: {failures:?}"
    );
}

/// Odd cluster URLs are refused (or read) without the password
/// reaching the error, whatever the oddity: IPv6 without a port, empty
/// hosts, a password holding '/', '#', ',' or '@', a node list given its
/// credentials twice, a query string.
#[tokio::test]
async fn odd_cluster_urls_never_repeat_the_password() {
    let odd = [
        "redis+cluster://:pw-s3cret@[::1]",
        "redis+cluster://:pw-s3cret@:7000",
        "redis+cluster://:pw-s3cret@,a:7000",
        "redis+cluster://u:pw-s3cret/x@a:7000",
        "redis+cluster://u:pw-s3cret#x@a:7000",
        "redis+cluster://u:pw,s3cret@a:7000,b",
        "redis+cluster://u:pw@s3cret@a:7000,b",
        "redis+cluster://a:7000,u:pw-s3cret@b:+7000",
        "redis+cluster://:pw-s3cret@a:7000?password=s3cret",
        "redis+cluster://:pw-s3cret@::1:7000",
        "redis+cluster://:pw-s3cret@a b:7000",
    ];
    for url in odd {
        let Err(e) = api_key_auth::store::open::open(url, false).await else {
            continue;
        };
        let chain = api_key_auth::ErrorChain(&e).to_string();
        assert!(!chain.contains("s3cret"), "{url}: {chain}");
    }
}
