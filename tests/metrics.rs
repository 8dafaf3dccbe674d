//! The crate's metrics, as Prometheus scrapes them from the admin example's
//! `/metrics` after a few requests: requests by outcome, store lookups,
//! cache hits and misses, last-use writes. A binary of its own: the
//! recorder is global to a process, and requests of any other test there
//! would be counted too.
#![cfg(feature = "metrics")]

#[path = "it/common/mod.rs"]
mod common;

#[path = "../examples/admin.rs"]
#[allow(dead_code)]
mod admin_example;

use std::{sync::Arc, time::Duration};

use api_key_auth::{
    cache::CachedStore, last_use::LastUseTracker, Authenticator, KeyManager, MemoryStore, NewKey,
};
use common::http_get;

/// The value of the sample `name{labels}` in a Prometheus text page.
fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok()).flatten()
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_example_exposes_counts_prometheus_can_scrape() {
    let metrics = admin_example::metrics().unwrap();
    let store: Arc<dyn KeyManager> = Arc::new(MemoryStore::new());
    let (_, reader) = store
        .create(NewKey::named("reader").scopes(["read"]))
        .await
        .unwrap()
        .reveal();
    let (_, old) = store.create(NewKey::named("old")).await.unwrap().reveal();
    store.revoke(&old.expose_secret()[..8]).await.unwrap();
    let (_, paused) = store
        .create(NewKey::named("paused"))
        .await
        .unwrap()
        .reveal();
    store.suspend(&paused.expose_secret()[..8]).await.unwrap();
    let (_, confined) = store
        .create(NewKey::named("confined").allow_from("192.0.2.0/24".parse().unwrap()))
        .await
        .unwrap()
        .reveal();
    let tracker = LastUseTracker::builder(store.clone())
        .interval(Duration::from_millis(100))
        .spawn();
    // With the peers' addresses, which a confined key is checked against.
    let addr =
        common::serve_with_peers(admin_example::app(store.clone(), tracker.clone(), metrics)).await;

    let reader = format!("Api-Key {}", reader.expose_secret());
    let revoked = format!("Api-Key {}", old.expose_secret());
    let suspended = format!("Api-Key {}", paused.expose_secret());
    let confined = format!("Api-Key {}", confined.expose_secret());
    let wrong = format!("Api-Key {}.{}", &reader[8..16], "x".repeat(32));
    let get = |path: &'static str, auth: Option<String>| async move {
        let headers: Vec<(&str, &str)> = match &auth {
            Some(value) => vec![("Authorization", value.as_str())],
            None => vec![],
        };
        http_get(addr, path, &headers).await.status
    };
    for _ in 0..3 {
        assert_eq!(get("/whoami", Some(reader.clone())).await, 200);
    }
    assert_eq!(get("/whoami", Some(wrong.clone())).await, 401);
    assert_eq!(get("/whoami", Some(wrong)).await, 401);
    assert_eq!(get("/whoami", None).await, 401);
    assert_eq!(get("/whoami", Some(revoked)).await, 401);
    assert_eq!(get("/whoami", Some(suspended)).await, 401);
    assert_eq!(get("/whoami", Some(confined)).await, 403, "from 127.0.0.1");
    assert_eq!(get("/whoami", Some("Api-Key nope".into())).await, 401);
    // A key without the admin scope: authenticated, then forbidden.
    assert_eq!(get("/admin/keys", Some(reader.clone())).await, 403);
    tracker.flush().await.unwrap();

    // A cache and a store that must be waited for, counted by the same recorder.
    let cached = CachedStore::new(common::AsyncOnly(MemoryStore::new()));
    let inner = cached.inner().0.clone();
    let (_, key) = inner
        .create(NewKey::named("cached"))
        .await
        .unwrap()
        .reveal();
    let auth = Authenticator::new(cached);
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "authorization",
        format!("Api-Key {}", key.expose_secret()).parse().unwrap(),
    );
    for _ in 0..4 {
        auth.authenticate(&headers).await.unwrap();
    }

    let page = http_get(addr, "/metrics", &[]).await;
    assert_eq!(page.status, 200);
    let page = page.body;
    let requests = |outcome: &str| {
        sample(
            &page,
            &format!("api_key_auth_requests_total{{outcome=\"{outcome}\"}}"),
        )
        .unwrap_or_else(|| panic!("no {outcome} count in\n{page}"))
    };
    // 3 readers, the forbidden reader, 4 through the cache.
    assert_eq!(requests("ok"), 8.0, "{page}");
    assert_eq!(requests("wrong_secret"), 2.0);
    assert_eq!(requests("missing"), 1.0);
    assert_eq!(requests("revoked"), 1.0);
    assert_eq!(requests("suspended"), 1.0);
    assert_eq!(requests("address_refused"), 1.0);
    assert_eq!(requests("malformed"), 1.0);
    assert_eq!(requests("forbidden"), 1.0);
    assert_eq!(requests("unknown"), 0.0);
    assert_eq!(
        sample(&page, "api_key_auth_cache_misses_total"),
        Some(1.0),
        "{page}"
    );
    assert_eq!(
        sample(&page, "api_key_auth_cache_hits_total"),
        Some(3.0),
        "{page}"
    );
    assert_eq!(
        sample(&page, "api_key_auth_store_lookup_seconds_count"),
        Some(1.0),
        "the one lookup the cache could not answer: {page}"
    );
    assert_eq!(
        sample(&page, "api_key_auth_last_use_written_total"),
        Some(1.0),
        "{page}"
    );
    assert_eq!(
        sample(&page, "api_key_auth_last_use_dropped_total"),
        Some(0.0),
        "{page}"
    );
}
