//! The layer's behaviour beyond bad input: store failures, revocation,
//! expiry, the optional mode, stripping, custom headers, scopes and the
//! asynchronous store path.

use crate::common;

use std::time::{Duration, SystemTime};

use api_key_auth::{
    reject::{FORBIDDEN_BODY, UNAUTHORIZED_BODY, UNAVAILABLE_BODY},
    ApiKeyLayer, Authenticator, Identity, KeyManager, KeyStore, MemoryStore, NewKey,
};
use common::{authenticator, body_text, store_with_key, AsyncOnly, Echo, FailingStore, Reasons};
use http::{header, HeaderName, Request, StatusCode};
use tower::{Layer, ServiceBuilder, ServiceExt};

fn request(authorization: Option<&str>) -> Request<String> {
    let mut builder = Request::get("/");
    if let Some(value) = authorization {
        builder = builder.header(header::AUTHORIZATION, value);
    }
    builder.body(String::new()).unwrap()
}

#[tokio::test]
async fn a_valid_key_reaches_the_service_with_its_identity() {
    let (store, key) = store_with_key(NewKey::named("billing")).await;
    let echo = Echo::default();
    let service = ApiKeyLayer::new(store).layer(echo.clone());
    let response = service
        .oneshot(request(Some(&format!("Api-Key {key}"))))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // The inner service sees the key's header marked sensitive.
    assert_eq!(response.headers()["x-saw-credential"], "sensitive");
    assert_eq!(body_text(response.into_body()).await, "billing");
    assert_eq!(echo.calls(), 1);
}

#[tokio::test]
async fn a_failing_store_gives_503_with_retry_after_never_401_or_200() {
    let reasons = Reasons::default();
    let echo = Echo::default();
    let auth = Authenticator::builder(FailingStore)
        .retry_after_secs(5)
        .on_failure(reasons.hook())
        .build()
        .unwrap();
    let service = ApiKeyLayer::from(auth).layer(echo.clone());
    let response = service
        .oneshot(request(Some(
            "Api-Key n58lzybi.1M2baTIHuRgPGbzdZC3Zch0b8VC2etL0",
        )))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()[header::RETRY_AFTER], "5");
    assert!(response.headers().get(header::WWW_AUTHENTICATE).is_none());
    assert_eq!(body_text(response.into_body()).await, UNAVAILABLE_BODY);
    assert_eq!(echo.calls(), 0);
    let seen = reasons.take();
    assert!(seen[0].contains("StoreUnavailable"), "{seen:?}");
}

#[tokio::test]
async fn a_failing_store_does_not_hide_a_missing_key() {
    // Without a key there is nothing to look up: that is a 401, not a 503.
    let service = ApiKeyLayer::new(FailingStore).layer(Echo::default());
    let response = service.oneshot(request(None)).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn unknown_prefix_and_wrong_secret_are_indistinguishable() {
    let (store, key) = store_with_key(NewKey::named("k")).await;
    let service = ApiKeyLayer::new(store).layer(Echo::default());
    let (prefix, _) = key.split_once('.').unwrap();
    let wrong_secret = format!("Api-Key {prefix}.{}", "x".repeat(32));
    let unknown_prefix = format!("Api-Key zzzzzzzz.{}", "x".repeat(32));

    let a = service
        .clone()
        .oneshot(request(Some(&wrong_secret)))
        .await
        .unwrap();
    let b = service
        .oneshot(request(Some(&unknown_prefix)))
        .await
        .unwrap();
    assert_eq!(a.status(), b.status());
    assert_eq!(a.headers(), b.headers());
    assert_eq!(
        body_text(a.into_body()).await,
        body_text(b.into_body()).await
    );
}

#[tokio::test]
async fn revoked_keys_are_refused_at_once() {
    let store = MemoryStore::new();
    let (record, key) = store.create(NewKey::named("old")).await.unwrap().reveal();
    let reasons = Reasons::default();
    let service = ApiKeyLayer::from(authenticator(store.clone(), &reasons)).layer(Echo::default());
    let header = format!("Api-Key {}", key.expose_secret());

    let before = service
        .clone()
        .oneshot(request(Some(&header)))
        .await
        .unwrap();
    assert_eq!(before.status(), StatusCode::OK);
    assert!(store.revoke(&record.id).await.unwrap());
    let after = service.oneshot(request(Some(&header))).await.unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body_text(after.into_body()).await, UNAUTHORIZED_BODY);
    assert!(reasons.take()[0].starts_with("Revoked"));
}

#[tokio::test]
async fn expired_keys_are_refused_and_unexpired_ones_pass() {
    let store = MemoryStore::new();
    let past = SystemTime::now() - Duration::from_secs(1);
    let (_, expired) = store
        .create(NewKey::named("gone").expires_at(past))
        .await
        .unwrap()
        .reveal();
    let (_, fresh) = store
        .create(NewKey::named("fresh").expires_in(Duration::from_secs(3600)))
        .await
        .unwrap()
        .reveal();
    let reasons = Reasons::default();
    let service = ApiKeyLayer::from(authenticator(store, &reasons)).layer(Echo::default());

    let header = format!("Api-Key {}", expired.expose_secret());
    let response = service
        .clone()
        .oneshot(request(Some(&header)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(reasons.take()[0].starts_with("Expired"));

    let header = format!("Api-Key {}", fresh.expose_secret());
    let response = service.oneshot(request(Some(&header))).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_revoked_key_with_a_wrong_secret_is_reported_as_wrong_not_revoked() {
    let store = MemoryStore::new();
    let (record, key) = store.create(NewKey::named("old")).await.unwrap().reveal();
    store.revoke(&record.id).await.unwrap();
    let reasons = Reasons::default();
    let service = ApiKeyLayer::from(authenticator(store, &reasons)).layer(Echo::default());
    let (prefix, _) = key.expose_secret().split_once('.').unwrap();
    let guess = format!("Api-Key {prefix}.{}", "A".repeat(32));
    service.oneshot(request(Some(&guess))).await.unwrap();
    assert!(reasons.take()[0].starts_with("WrongSecret"));
}

#[tokio::test]
async fn the_optional_mode_lets_keyless_requests_through_but_not_bad_keys() {
    let (store, key) = store_with_key(NewKey::named("opt")).await;
    let auth = Authenticator::builder(store)
        .optional(true)
        .build()
        .unwrap();
    let echo = Echo::default();
    let service = ApiKeyLayer::from(auth).layer(echo.clone());

    let anonymous = service.clone().oneshot(request(None)).await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::OK);
    assert_eq!(body_text(anonymous.into_body()).await, "anonymous");

    let known = service
        .clone()
        .oneshot(request(Some(&format!("Api-Key {key}"))))
        .await
        .unwrap();
    assert_eq!(body_text(known.into_body()).await, "opt");

    let bad = service
        .oneshot(request(Some("Api-Key nope")))
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(echo.calls(), 2);
}

#[tokio::test]
async fn the_credential_can_be_removed_before_the_inner_service() {
    let (store, key) = store_with_key(NewKey::named("s")).await;
    let auth = Authenticator::builder(store)
        .strip_credential(true)
        .build()
        .unwrap();
    let service = ApiKeyLayer::from(auth).layer(Echo::default());
    let response = service
        .oneshot(request(Some(&format!("Api-Key {key}"))))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-saw-credential"], "no");
}

/// The layer reads and protects the credential in one pass when the header
/// map has room to spare, and in two when it is full (as hyper often leaves
/// it); both must give the same answers.
#[tokio::test]
async fn the_credential_is_protected_in_full_and_roomy_header_maps() {
    let (store, key) = store_with_key(NewKey::named("maps")).await;
    let credential: http::HeaderValue = format!("Api-Key {key}").parse().unwrap();
    for strip in [false, true] {
        let auth = Authenticator::builder(store.clone())
            .strip_credential(strip)
            .build()
            .unwrap();
        let service = ApiKeyLayer::from(auth).layer(Echo::default());
        let seen = if strip { "no" } else { "sensitive" };
        for spare in [0, 3] {
            for (name, value, status, credential_seen) in [
                (
                    header::AUTHORIZATION,
                    credential.clone(),
                    StatusCode::OK,
                    Some(seen),
                ),
                (
                    header::ACCEPT,
                    "*/*".parse().unwrap(),
                    StatusCode::UNAUTHORIZED,
                    None,
                ),
            ] {
                let mut headers = http::HeaderMap::with_capacity(1 + spare);
                headers.insert(name, value);
                // The premise: a full map, or one with room.
                assert_eq!(headers.keys_len() == headers.capacity(), spare == 0);
                let mut request = Request::new(String::new());
                *request.headers_mut() = headers;
                let response = service.clone().oneshot(request).await.unwrap();
                let case = format!("strip {strip}, spare {spare}, {status}");
                assert_eq!(response.status(), status, "{case}");
                let credential = response.headers().get("x-saw-credential");
                assert_eq!(
                    credential.map(|v| v.to_str().unwrap()),
                    credential_seen,
                    "{case}"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_custom_header_carries_the_bare_key() {
    let (store, key) = store_with_key(NewKey::named("custom")).await;
    let auth = Authenticator::builder(store)
        .header(HeaderName::from_static("x-api-key"))
        .build()
        .unwrap();
    let service = ApiKeyLayer::from(auth).layer(Echo::default());

    let mut good = request(None);
    good.headers_mut().insert("x-api-key", key.parse().unwrap());
    let response = service.clone().oneshot(good).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let mut with_scheme = request(None);
    with_scheme
        .headers_mut()
        .insert("x-api-key", format!("Api-Key {key}").parse().unwrap());
    let response = service.clone().oneshot(with_scheme).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // The Authorization header means nothing to this authenticator.
    let response = service
        .oneshot(request(Some(&format!("Api-Key {key}"))))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_custom_scheme_replaces_api_key() {
    let (store, key) = store_with_key(NewKey::named("bearer")).await;
    let auth = Authenticator::builder(store)
        .scheme("Bearer")
        .realm("r")
        .build()
        .unwrap();
    let service = ApiKeyLayer::from(auth).layer(Echo::default());
    let ok = service
        .clone()
        .oneshot(request(Some(&format!("bearer {key}"))))
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let refused = service
        .oneshot(request(Some(&format!("Api-Key {key}"))))
        .await
        .unwrap();
    assert_eq!(
        refused.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer realm="r""#
    );
}

#[test]
fn invalid_configuration_is_refused_with_a_reason() {
    let err = Authenticator::builder(MemoryStore::new())
        .scheme("Api Key")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("not an HTTP token"), "{err}");
    let err = Authenticator::builder(MemoryStore::new())
        .realm("a\nb")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("printable ASCII"), "{err}");
    let layer = ApiKeyLayer::new(MemoryStore::new());
    assert!(layer.require_all(Vec::<String>::new()).is_err());
    assert!(layer.require_any(["has space"]).is_err());
    assert!(layer.require_any(["quo\"te"]).is_err());
}

#[tokio::test]
async fn a_store_that_must_wait_gives_the_same_answers() {
    let (memory, key) = store_with_key(NewKey::named("slow")).await;
    let echo = Echo::default();
    let reasons = Reasons::default();
    let service = ApiKeyLayer::from(authenticator(AsyncOnly(memory), &reasons)).layer(echo.clone());

    let ok = service
        .clone()
        .oneshot(request(Some(&format!("Api-Key {key}"))))
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(body_text(ok.into_body()).await, "slow");

    let (prefix, _) = key.split_once('.').unwrap();
    let wrong = format!("Api-Key {prefix}.{}", "b".repeat(32));
    let refused = service.oneshot(request(Some(&wrong))).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body_text(refused.into_body()).await, UNAUTHORIZED_BODY);
    assert!(reasons.take()[0].starts_with("WrongSecret"));
    assert_eq!(echo.calls(), 1);
}

#[tokio::test]
async fn many_concurrent_requests_through_one_service_clone_each_get_their_answer() {
    let (memory, key) = store_with_key(NewKey::named("busy")).await;
    let service = ApiKeyLayer::new(AsyncOnly(memory)).layer(Echo::default());
    let mut tasks = Vec::new();
    for i in 0..200 {
        let service = service.clone();
        let value = if i % 2 == 0 {
            format!("Api-Key {key}")
        } else {
            "Api-Key bad".to_owned()
        };
        tasks.push(tokio::spawn(async move {
            let response = service.oneshot(request(Some(&value))).await.unwrap();
            (i, response.status())
        }));
    }
    for task in tasks {
        let (i, status) = task.await.unwrap();
        let expected = if i % 2 == 0 {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(status, expected, "request {i}");
    }
}

#[tokio::test]
async fn scopes_all_of_and_any_of() {
    let store = MemoryStore::new();
    let (_, reader) = store
        .create(NewKey::named("r").scopes(["read"]))
        .await
        .unwrap()
        .reveal();
    let (_, both) = store
        .create(NewKey::named("rw").scopes(["read", "write"]))
        .await
        .unwrap()
        .reveal();
    let auth = ApiKeyLayer::from(Authenticator::builder(store).realm("test").build().unwrap());
    let all = ServiceBuilder::new()
        .layer(auth.clone())
        .layer(auth.require_all(["read", "write"]).unwrap())
        .service(Echo::default());
    let any = ServiceBuilder::new()
        .layer(auth.clone())
        .layer(auth.require_any(["write", "admin"]).unwrap())
        .service(Echo::default());
    let header = |k: &api_key_auth::PlaintextKey| format!("Api-Key {}", k.expose_secret());

    let forbidden = all
        .clone()
        .oneshot(request(Some(&header(&reader))))
        .await
        .unwrap();
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        forbidden.headers()[header::WWW_AUTHENTICATE],
        r#"Api-Key realm="test", error="insufficient_scope", scope="read write""#
    );
    assert_eq!(body_text(forbidden.into_body()).await, FORBIDDEN_BODY);
    let ok = all
        .clone()
        .oneshot(request(Some(&header(&both))))
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);

    let forbidden = any
        .clone()
        .oneshot(request(Some(&header(&reader))))
        .await
        .unwrap();
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    let ok = any
        .clone()
        .oneshot(request(Some(&header(&both))))
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);

    // No key at all: the authentication layer's 401, before any scope check.
    let missing = all.oneshot(request(None)).await.unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_scope_layer_without_an_identity_answers_401() {
    let auth = ApiKeyLayer::new(MemoryStore::new());
    let service = auth.require_all(["admin"]).unwrap().layer(Echo::default());
    let response = service.oneshot(request(None)).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        r#"Api-Key realm="api""#
    );
}

#[tokio::test]
async fn authenticate_without_the_layer() {
    let (store, key) = store_with_key(
        NewKey::named("direct")
            .owner("ops")
            .metadata("team", "infra"),
    )
    .await;
    let auth = Authenticator::new(store);
    let mut headers = http::HeaderMap::new();
    headers.insert(
        header::AUTHORIZATION,
        format!("Api-Key {key}").parse().unwrap(),
    );
    let identity: Identity = auth.authenticate(&headers).await.unwrap().unwrap();
    assert_eq!(identity.name(), "direct");
    assert_eq!(identity.owner(), Some("ops"));
    assert_eq!(identity.metadata()["team"], "infra");
    let shown = format!("{identity:?}");
    assert!(!shown.contains(key.split_once('.').unwrap().1), "{shown}");
}

#[tokio::test]
async fn memory_store_manages_keys() {
    let store = MemoryStore::new();
    let a = store.create(NewKey::named("a")).await.unwrap();
    let b = store.create(NewKey::named("b")).await.unwrap();
    assert_ne!(a.record().prefix, b.record().prefix);
    let listed = store.list().await.unwrap();
    assert_eq!(
        listed.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    // The plaintext is nowhere in what the store keeps.
    let (_, key) = a.reveal();
    let kept = format!("{listed:?}");
    assert!(!kept.contains(key.expose_secret()));
    assert!(!store.revoke("no-such-id").await.unwrap());
    let first = &listed[0];
    assert!(store.revoke(&first.id).await.unwrap());
    assert!(
        store.revoke(&first.id).await.unwrap(),
        "revoking twice succeeds"
    );
    assert!(store.find(first.prefix).await.unwrap().unwrap().revoked);
    assert_eq!(format!("{key:?}"), "PlaintextKey(<redacted>)");
}

#[tokio::test]
async fn memory_store_creates_distinct_keys_concurrently() {
    let store = MemoryStore::new();
    let mut tasks = Vec::new();
    for i in 0..100 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .create(NewKey::named(format!("k{i}")))
                .await
                .unwrap()
                .reveal()
        }));
    }
    let mut keys = std::collections::HashSet::new();
    for task in tasks {
        let (record, key) = task.await.unwrap();
        assert!(keys.insert(key.expose_secret().to_owned()));
        assert_eq!(
            store.find(record.prefix).await.unwrap().unwrap().id,
            record.id
        );
    }
    assert_eq!(store.len(), 100);
}

/// A service that must be polled ready before every call, as tower requires;
/// a clone starts unready.
struct MustBeReady {
    ready: bool,
}

impl Clone for MustBeReady {
    fn clone(&self) -> Self {
        Self { ready: false }
    }
}

impl tower::Service<Request<String>> for MustBeReady {
    type Response = http::Response<String>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.ready = true;
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<String>) -> Self::Future {
        assert!(self.ready, "called without poll_ready");
        self.ready = false;
        std::future::ready(Ok(http::Response::new("served".to_owned())))
    }
}

#[tokio::test]
async fn the_inner_service_is_only_called_once_ready_on_both_paths() {
    use tower::Service;
    let (memory, key) = store_with_key(NewKey::named("ready")).await;
    let header = format!("Api-Key {key}");
    for layer in [
        ApiKeyLayer::new(memory.clone()),
        ApiKeyLayer::new(AsyncOnly(memory)),
    ] {
        let mut service = layer.layer(MustBeReady { ready: false });
        for round in 0..3 {
            let ready = service.ready().await.unwrap();
            let pending = ready.call(request(Some(&header)));
            // A second request goes through the same service before the first resolves.
            let second = service.ready().await.unwrap().call(request(Some(&header)));
            let (a, b) = tokio::join!(pending, second);
            assert_eq!(a.unwrap().status(), StatusCode::OK, "round {round}");
            assert_eq!(b.unwrap().status(), StatusCode::OK, "round {round}");
        }
    }
}

/// A store that never answers.
struct Hanging;

#[async_trait::async_trait]
impl KeyStore for Hanging {
    async fn find(&self, _prefix: api_key_auth::key::Prefix) -> api_key_auth::Lookup {
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_store_slower_than_the_lookup_timeout_gives_503() {
    let reasons = Reasons::default();
    let auth = Authenticator::builder(Hanging)
        .lookup_timeout(Duration::from_millis(50))
        .on_failure(reasons.hook())
        .build()
        .unwrap();
    let service = ApiKeyLayer::from(auth).layer(Echo::default());
    let started = std::time::Instant::now();
    let response = service
        .oneshot(request(Some(
            "Api-Key n58lzybi.1M2baTIHuRgPGbzdZC3Zch0b8VC2etL0",
        )))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(started.elapsed() < Duration::from_secs(2));
    let seen = reasons.take();
    assert!(
        seen[0].contains("StoreUnavailable") && seen[0].contains("Timeout"),
        "{seen:?}"
    );
}

/// The inner-body mode answers exactly as the default one, in the inner
/// service's own body type: the same statuses, headers and bodies for a good
/// key, a bad one, a missing scope and a failing store, in HTTP and gRPC mode,
/// and gRPC refusals that end with their headers.
#[tokio::test]
async fn the_inner_body_mode_gives_the_default_modes_answers() {
    use bytes::Bytes;
    use http_body::Body as _;
    use http_body_util::{BodyExt, Full};

    let (store, key) = store_with_key(NewKey::named("inner").scopes(["read"])).await;
    let handler = tower::service_fn(|request: Request<String>| async move {
        let name = request
            .extensions()
            .get::<Identity>()
            .unwrap()
            .name()
            .to_owned();
        Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from(name))))
    });
    let good = format!("Api-Key {key}");
    let authenticators = [
        Authenticator::builder(store.clone()).build().unwrap(),
        Authenticator::builder(store).grpc(true).build().unwrap(),
        Authenticator::builder(FailingStore).build().unwrap(),
        Authenticator::builder(FailingStore)
            .grpc(true)
            .build()
            .unwrap(),
    ];
    for (n, auth) in authenticators.into_iter().enumerate() {
        let default = ApiKeyLayer::from(auth.clone());
        let inner = ApiKeyLayer::from(auth).with_inner_body();
        for (authorization, needs_admin) in [
            (Some(good.as_str()), false),
            (Some(good.as_str()), true),
            (Some("Api-Key nope"), false),
            (None, false),
        ] {
            let (wrapped, own) = if needs_admin {
                let wrapped = ServiceBuilder::new()
                    .layer(default.clone())
                    .layer(default.require_all(["admin"]).unwrap())
                    .service(handler);
                let own = ServiceBuilder::new()
                    .layer(inner.clone())
                    .layer(inner.require_all(["admin"]).unwrap())
                    .service(handler);
                (
                    wrapped
                        .oneshot(request(authorization))
                        .await
                        .unwrap()
                        .map(|b| b.boxed()),
                    own.oneshot(request(authorization)).await.unwrap(),
                )
            } else {
                (
                    default
                        .layer(handler)
                        .oneshot(request(authorization))
                        .await
                        .unwrap()
                        .map(|b| b.boxed()),
                    inner
                        .layer(handler)
                        .oneshot(request(authorization))
                        .await
                        .unwrap(),
                )
            };
            // The type is the point: the inner service's own body.
            let own: http::Response<Full<Bytes>> = own;
            let case = format!("authenticator {n}, {authorization:?}, admin {needs_admin}");
            assert_eq!(own.status(), wrapped.status(), "{case}");
            assert_eq!(own.headers(), wrapped.headers(), "{case}");
            if own.headers().contains_key("grpc-status") {
                assert!(own.body().is_end_stream(), "{case}: trailers-only");
            }
            assert_eq!(
                body_text(own.into_body()).await,
                body_text(wrapped.into_body()).await,
                "{case}"
            );
        }
    }
}
