//! Rate limits shared by all of an owner's keys, in this process and on
//! Redis: a budget per owner spent by every key it has, on top of each
//! key's own, and never another owner's.
#![cfg(feature = "rate-limit")]

use crate::common;

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

use api_key_auth::{
    key::Prefix,
    rate_limit::{OwnerLimits, RateLimit, RedisRateLimiter},
    store::{redis::RedisStore, Page, PageRequest},
    ApiKeyLayer, AuthFailure, Authenticator, KeyManager, KeyRecord, KeyStore, Lookup, MemoryStore,
    NewKey, StoreError,
};
use tower::{Layer, ServiceExt};

use crate::common::key_headers as headers;

async fn key_of(store: &impl KeyManager, name: &str, owner: Option<&str>) -> String {
    let new = NewKey::named(name);
    let new = match owner {
        Some(owner) => new.owner(owner),
        None => new,
    };
    let (_, key) = store.create(new).await.unwrap().reveal();
    key.expose_secret().to_owned()
}

/// Two keys of acme share acme's 3 an hour between them; the fourth request
/// is 429 with the owner's policy, while another owner's key and a key of no
/// owner go on; an owner named has its own limit.
#[tokio::test]
async fn an_owner_s_keys_share_one_budget_in_this_process() {
    let store = MemoryStore::new();
    let a = key_of(&store, "a", Some("acme")).await;
    let b = key_of(&store, "b", Some("acme")).await;
    let twin = key_of(&store, "twin", Some("ACME")).await;
    let big = key_of(&store, "big", Some("initech")).await;
    let lone = key_of(&store, "lone", None).await;
    let limits = OwnerLimits::every("3/h".parse::<RateLimit>().unwrap())
        .with("initech", "10/h".parse().unwrap());
    let auth = Authenticator::builder(store)
        .owner_rate_limits(limits)
        .build()
        .unwrap();
    for key in [&a, &b, &a] {
        auth.authenticate(&headers(key)).await.unwrap();
    }
    let over = auth.authenticate(&headers(&b)).await.unwrap_err();
    assert!(
        matches!(over, AuthFailure::OwnerRateLimited { .. }),
        "{over}"
    );
    assert!(!over.is_failed_attempt());
    let response = auth.rejection(&over);
    assert_eq!(response.status(), 429);
    assert_eq!(
        response.headers()["ratelimit-policy"],
        "\"owner\";q=3;w=3600"
    );
    assert!(response.headers().contains_key("retry-after"));
    for _ in 0..3 {
        auth.authenticate(&headers(&twin)).await.unwrap();
    }
    for _ in 0..10 {
        auth.authenticate(&headers(&big)).await.unwrap();
    }
    assert!(auth.authenticate(&headers(&big)).await.is_err());
    for _ in 0..20 {
        auth.authenticate(&headers(&lone)).await.unwrap();
    }

    // Through the layer, the same 429.
    let inner = tower::service_fn(|_: http::Request<String>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
    });
    let mut request = http::Request::new(String::new());
    *request.headers_mut() = headers(&a);
    let answer = ApiKeyLayer::from(auth)
        .layer(inner)
        .oneshot(request)
        .await
        .unwrap();
    assert_eq!(answer.status(), 429);
}

/// A key's own limit is spent first: a key over its own limit does not
/// spend its owner's budget.
#[tokio::test]
async fn a_key_over_its_own_limit_spends_nothing_of_its_owner_s() {
    let store = MemoryStore::new();
    let (_, tight) = store
        .create(
            NewKey::named("tight")
                .owner("acme")
                .rate_limit("1/h".parse().unwrap()),
        )
        .await
        .unwrap()
        .reveal();
    let other = key_of(&store, "other", Some("acme")).await;
    let auth = Authenticator::builder(store)
        .owner_rate_limits(OwnerLimits::every("3/h".parse().unwrap()))
        .build()
        .unwrap();
    let tight = tight.expose_secret().to_owned();
    auth.authenticate(&headers(&tight)).await.unwrap();
    for _ in 0..5 {
        let refused = auth.authenticate(&headers(&tight)).await.unwrap_err();
        assert!(
            matches!(refused, AuthFailure::RateLimited { .. }),
            "{refused}"
        );
    }
    for _ in 0..2 {
        auth.authenticate(&headers(&other)).await.unwrap();
    }
    let refused = auth.authenticate(&headers(&other)).await.unwrap_err();
    assert!(
        matches!(refused, AuthFailure::OwnerRateLimited { .. }),
        "{refused}"
    );
}

/// Three instances on one Redis, each serving another of acme's keys, all
/// at once: exactly acme's 5 an hour get through between them, whatever the
/// interleaving, and another owner's key is untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_on_one_redis_share_an_owner_s_budget() {
    let Some(url) = common::redis_url("owners::instances_on_one_redis_share_an_owner_s_budget")
    else {
        return;
    };
    let namespace = common::namespace();
    let store = RedisStore::connect(&url)
        .await
        .unwrap()
        .with_namespace(&namespace);
    let mut keys = Vec::new();
    for name in ["a", "b", "c"] {
        keys.push(key_of(&store, name, Some("acme")).await);
    }
    let other = key_of(&store, "other", Some("globex")).await;
    let admitted = Arc::new(AtomicUsize::new(0));
    let mut instances = tokio::task::JoinSet::new();
    let mut auths = Vec::new();
    for key in keys {
        let instance = RedisStore::connect(&url)
            .await
            .unwrap()
            .with_namespace(&namespace);
        let auth = Authenticator::builder(instance.clone())
            .rate_limiter(RedisRateLimiter::new(&instance))
            .owner_rate_limits(OwnerLimits::every("5/h".parse().unwrap()))
            .build()
            .unwrap();
        auths.push(auth.clone());
        let admitted = admitted.clone();
        instances.spawn(async move {
            for _ in 0..10 {
                match auth.authenticate(&headers(&key)).await {
                    Ok(_) => {
                        admitted.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(refused) => assert!(
                        matches!(refused, AuthFailure::OwnerRateLimited { .. }),
                        "{refused}"
                    ),
                }
            }
        });
    }
    while let Some(done) = instances.join_next().await {
        done.unwrap();
    }
    assert_eq!(admitted.load(Ordering::SeqCst), 5);
    for _ in 0..5 {
        auths[0].authenticate(&headers(&other)).await.unwrap();
    }
}

/// A store whose second revocation fails (the edge a test may mock).
struct FailsSecondRevoke {
    memory: MemoryStore,
    revokes: AtomicUsize,
}

#[async_trait::async_trait]
impl KeyStore for FailsSecondRevoke {
    async fn find(&self, prefix: Prefix) -> Lookup {
        self.memory.find(prefix).await
    }
}

#[async_trait::async_trait]
impl KeyManager for FailsSecondRevoke {
    async fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
        self.memory.insert(record).await
    }
    async fn list(&self) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        self.memory.list().await
    }
    async fn list_page(&self, request: &PageRequest) -> Result<Page, StoreError> {
        self.memory.list_page(request).await
    }
    async fn revoke(&self, id: &str) -> Result<bool, StoreError> {
        if self.revokes.fetch_add(1, Ordering::SeqCst) == 1 {
            return Err(StoreError::unavailable("the database went away"));
        }
        self.memory.revoke(id).await
    }
}

/// A change to an owner's keys that stops part way says which keys it
/// changed before it stopped, and why, so each is still audited; the admin
/// API answers 503 saying how many were changed.
#[tokio::test]
async fn a_change_stopped_part_way_reports_what_it_changed() {
    let memory = MemoryStore::new();
    for name in ["a", "b", "c"] {
        key_of(&memory, name, Some("acme")).await;
    }
    let store = FailsSecondRevoke {
        memory: memory.clone(),
        revokes: AtomicUsize::new(0),
    };
    let change = store.revoke_owned("acme").await;
    assert_eq!(change.changed.len(), 1);
    assert!(change.changed[0].revoked);
    assert!(change.stopped.as_ref().is_some_and(|e| e.is_unavailable()));
    let revoked = memory
        .list()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.revoked)
        .count();
    assert_eq!(revoked, 1, "the report matches the store");

    let (_, admin) = memory
        .create(NewKey::named("admin").scopes(["keys:admin"]))
        .await
        .unwrap()
        .reveal();
    let store = FailsSecondRevoke {
        memory,
        revokes: AtomicUsize::new(0),
    };
    let router = api_key_auth::admin::AdminApi::new(store).router().unwrap();
    let request = http::Request::post("/owners/acme/revoke")
        .header(
            "authorization",
            format!("Api-Key {}", admin.expose_secret()),
        )
        .body(axum::body::Body::empty())
        .unwrap();
    let response = router.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 503);
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.contains("1 key(s) were changed before it stopped"),
        "{body}"
    );
}
