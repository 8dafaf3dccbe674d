//! Address allowlists: a key used from outside its networks is refused
//! with 403 once the key is verified, the refusal counts against the
//! client, and a wrong key is the same 401 from everywhere.
#![cfg(feature = "throttle")]

use crate::common;

use std::time::Duration;

use api_key_auth::{
    client_addr::{ClientAddr, TrustedProxies},
    reject::{ADDRESS_REFUSED_BODY, UNAUTHORIZED_BODY},
    store::AddressAllowlist,
    throttle::Throttle,
    ApiKeyLayer, AuthFailure, Authenticator, KeyManager, MemoryStore, NewKey,
};
use http_body_util::BodyExt;
use tower::{Layer, ServiceExt};

fn request(key: &str, peer: Option<&str>, forwarded_for: Option<&str>) -> http::Request<String> {
    let mut request = http::Request::get("/")
        .header("authorization", format!("Api-Key {key}"))
        .body(String::new())
        .unwrap();
    if let Some(forwarded_for) = forwarded_for {
        request
            .headers_mut()
            .insert("x-forwarded-for", forwarded_for.parse().unwrap());
    }
    if let Some(peer) = peer {
        let addr = std::net::SocketAddr::new(peer.parse().unwrap(), 1234);
        request.extensions_mut().insert(ClientAddr(addr));
    }
    request
}

async fn answer(
    auth: &Authenticator,
    request: http::Request<String>,
) -> (u16, String, Option<String>) {
    let inner = tower::service_fn(|_: http::Request<String>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new("hello".to_owned()))
    });
    let service = ApiKeyLayer::from(auth.clone()).layer(inner);
    let response = service.oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap(), challenge)
}

/// The test: from inside the list (IPv4, IPv6, IPv4 as a dual-stack
/// socket shows it) the key passes; from outside it gets 403 with a body
/// naming no network; a wrong secret for the same prefix is the uniform 401
/// from inside and outside alike.
#[tokio::test]
async fn a_key_passes_only_from_its_networks_and_a_wrong_key_is_401_everywhere() {
    let store = MemoryStore::new();
    let allowed: AddressAllowlist = "10.0.0.0/8, 2001:db8::/32".parse().unwrap();
    let (record, key) = store
        .create(NewKey::named("office").allow_from(allowed.clone()))
        .await
        .unwrap()
        .reveal();
    assert_eq!(record.allowed_from.as_ref(), Some(&allowed));
    let auth = Authenticator::new(store);
    let key = key.expose_secret();

    for inside in ["10.1.2.3", "2001:db8::7", "::ffff:10.9.9.9"] {
        let (status, body, _) = answer(&auth, request(key, Some(inside), None)).await;
        assert_eq!((status, body.as_str()), (200, "hello"), "from {inside}");
    }
    for outside in ["11.0.0.1", "2001:db9::1", "127.0.0.1", "::1"] {
        let (status, body, challenge) = answer(&auth, request(key, Some(outside), None)).await;
        assert_eq!(status, 403, "from {outside}");
        assert_eq!(body, ADDRESS_REFUSED_BODY);
        assert!(!body.contains("10.0.0.0") && !body.contains("2001"));
        assert_eq!(challenge, None);
    }
    let wrong = format!("{}.{}", record.prefix, "x".repeat(32));
    for from in ["10.1.2.3", "11.0.0.1"] {
        let (status, body, challenge) = answer(&auth, request(&wrong, Some(from), None)).await;
        assert_eq!(
            (status, body.as_str()),
            (401, UNAUTHORIZED_BODY),
            "from {from}"
        );
        assert!(challenge.is_some());
    }
}

/// A key's allowlist is checked against the client the trusted proxies
/// name, not the proxy; from an untrusted peer the header is not believed.
#[tokio::test]
async fn the_client_behind_trusted_proxies_is_what_is_checked() {
    let store = MemoryStore::new();
    let (_, key) = store
        .create(NewKey::named("office").allow_from("198.51.100.0/24".parse().unwrap()))
        .await
        .unwrap()
        .reveal();
    let auth = Authenticator::builder(store)
        .trusted_proxies(TrustedProxies::new(["10.0.0.0/8"]).unwrap())
        .build()
        .unwrap();
    let key = key.expose_secret();
    let status = |peer, forwarded| {
        let auth = auth.clone();
        async move { answer(&auth, request(key, Some(peer), forwarded)).await.0 }
    };
    assert_eq!(status("10.0.0.1", Some("198.51.100.7")).await, 200);
    assert_eq!(status("10.0.0.1", Some("203.0.113.1")).await, 403);
    assert_eq!(
        status("10.0.0.1", None).await,
        503,
        "a proxy that names no client: no address to check"
    );
    assert_eq!(
        status("203.0.113.5", Some("198.51.100.7")).await,
        403,
        "a forwarded address from an untrusted peer is not believed"
    );
}

/// A refusal from outside the list is a failed attempt: a stolen key tried
/// from one place again and again gets that place throttled.
#[tokio::test]
async fn a_refused_address_counts_as_a_failed_attempt() {
    let store = MemoryStore::new();
    let (_, key) = store
        .create(NewKey::named("office").allow_from("10.0.0.0/8".parse().unwrap()))
        .await
        .unwrap()
        .reveal();
    let auth = Authenticator::builder(store)
        .throttle(Throttle::new(3, Duration::from_secs(3600)))
        .build()
        .unwrap();
    let key = key.expose_secret();
    for _ in 0..3 {
        assert_eq!(
            answer(&auth, request(key, Some("203.0.113.9"), None))
                .await
                .0,
            403
        );
    }
    assert_eq!(
        answer(&auth, request(key, Some("203.0.113.9"), None))
            .await
            .0,
        429,
        "the fourth try from outside is throttled"
    );
    assert_eq!(
        answer(&auth, request(key, Some("10.0.0.9"), None)).await.0,
        200
    );
    let failure = auth
        .authenticate_from(
            &request(key, None, None).headers().clone(),
            Some("203.0.113.10".parse().unwrap()),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(failure, AuthFailure::AddressRefused { client, .. } if client.to_string() == "203.0.113.10"),
        "{failure:?}"
    );
    assert!(failure.is_failed_attempt());
}

/// With no client address (a server that gives none, or `authenticate`),
/// a key with an allowlist cannot be checked: 503, never a pass.
#[tokio::test]
async fn without_a_client_address_an_allowlisted_key_is_refused() {
    let store = MemoryStore::new();
    let (_, listed) = store
        .create(NewKey::named("office").allow_from("10.0.0.0/8".parse().unwrap()))
        .await
        .unwrap()
        .reveal();
    let (_, open) = store.create(NewKey::named("open")).await.unwrap().reveal();
    let auth = Authenticator::new(store);
    assert_eq!(
        answer(&auth, request(listed.expose_secret(), None, None))
            .await
            .0,
        503
    );
    assert_eq!(
        answer(&auth, request(open.expose_secret(), None, None))
            .await
            .0,
        200
    );
    let failure = auth
        .authenticate(request(listed.expose_secret(), None, None).headers())
        .await
        .unwrap_err();
    assert!(
        matches!(failure, AuthFailure::Unsupported { .. }),
        "{failure:?}"
    );
}

/// A rotation keeps the allowlist: the successor is as confined as the key
/// it replaces.
#[tokio::test]
async fn a_rotation_keeps_the_allowlist() {
    let store = MemoryStore::new();
    let allowed: AddressAllowlist = "10.0.0.0/8".parse().unwrap();
    let (old, _) = store
        .create(NewKey::named("office").allow_from(allowed.clone()))
        .await
        .unwrap()
        .reveal();
    let rotated = store.rotate(&old.id, Duration::ZERO).await.unwrap();
    assert_eq!(rotated.new.record().allowed_from, Some(allowed));
}

/// A refusal from outside the list is an audit event naming the key and
/// the address, and the creation's event names the networks.
#[tokio::test]
async fn refusals_and_creations_are_audited() {
    let log = common::Log::captured();
    let store = MemoryStore::new();
    let (record, key) = store
        .create(NewKey::named("audited").allow_from("10.0.0.0/8".parse().unwrap()))
        .await
        .unwrap()
        .reveal();
    api_key_auth::audit::created(&record, api_key_auth::audit::Actor::named("test"));
    let line = log
        .wait_for(&["API key created", &format!("prefix={}", record.prefix)])
        .await;
    assert!(line.contains("allowed_from=10.0.0.0/8"), "{line}");
    let auth = Authenticator::new(store);
    let status = answer(
        &auth,
        request(key.expose_secret(), Some("203.0.113.77"), None),
    )
    .await
    .0;
    assert_eq!(status, 403);
    let line = log
        .wait_for(&[
            "event=\"address_refused\"",
            &format!("prefix={}", record.prefix),
        ])
        .await;
    assert!(line.contains(&format!("key_id={:?}", record.id)), "{line}");
    assert!(line.contains("client=203.0.113.77"), "{line}");
    assert!(!line.contains(&key.expose_secret()[9..]), "{line}");
}

/// Behind trusted proxies whose network the list holds, a request whose
/// forwarding header names no client of its own (none, one that does not
/// read, bytes that are not UTF-8, only trusted hops) cannot be checked: 503,
/// never taken for the proxy's own request.
#[tokio::test]
async fn a_proxy_that_names_no_client_is_not_taken_for_one() {
    let store = MemoryStore::new();
    let (_, key) = store
        .create(
            NewKey::named("internal").allow_from("10.0.0.0/8, 198.51.100.0/24".parse().unwrap()),
        )
        .await
        .unwrap()
        .reveal();
    let auth = Authenticator::builder(store)
        .trusted_proxies(TrustedProxies::new(["10.0.0.0/8"]).unwrap())
        .build()
        .unwrap();
    let key = key.expose_secret();
    let status = |forwarded: Option<http::HeaderValue>| {
        let auth = auth.clone();
        async move {
            let mut request = request(key, Some("10.0.0.1"), None);
            if let Some(value) = forwarded {
                request.headers_mut().insert("x-forwarded-for", value);
            }
            answer(&auth, request).await.0
        }
    };
    let value = |bytes: &[u8]| Some(http::HeaderValue::from_bytes(bytes).unwrap());
    assert_eq!(status(value(b"198.51.100.5")).await, 200, "a client inside");
    assert_eq!(status(value(b"8.8.8.8")).await, 403, "a client outside");
    for (what, forwarded) in [
        ("no header", None),
        ("unknown", value(b"unknown")),
        ("not UTF-8", value(b"\x80, 8.8.8.8")),
        ("only proxies", value(b"10.9.9.9, 10.0.0.7")),
    ] {
        assert_eq!(status(forwarded).await, 503, "{what}");
    }
}

/// A store that must be waited for (a database's) gets the same verdicts:
/// the client's address goes with the pending verdict.
#[tokio::test]
async fn a_store_that_must_be_waited_for_checks_the_list_too() {
    let memory = MemoryStore::new();
    let (_, key) = memory
        .create(NewKey::named("office").allow_from("10.0.0.0/8".parse().unwrap()))
        .await
        .unwrap()
        .reveal();
    let auth = Authenticator::new(common::AsyncOnly(memory));
    let key = key.expose_secret();
    assert_eq!(
        answer(&auth, request(key, Some("10.1.1.1"), None)).await.0,
        200
    );
    assert_eq!(
        answer(&auth, request(key, Some("192.0.2.1"), None)).await.0,
        403
    );
    assert_eq!(answer(&auth, request(key, None, None)).await.0, 503);
}
