//! The gate: the verdicts a gateway gets for the requests it asks about,
//! as a tower service (the gateways themselves are driven elsewhere).
#![cfg(all(feature = "gate", feature = "throttle", feature = "rate-limit"))]

use std::{net::SocketAddr, time::Duration};

use api_key_auth::{
    client_addr::{ClientAddr, TrustedProxies},
    gate::{Gate, GateMode, Route, Rules},
    rate_limit::RateLimit,
    throttle::Throttle,
    Authenticator, KeyManager, KeyStore, Lookup, MemoryStore, NewKey, Prefix, StoreError,
};
use http::{Method, Request, Response, StatusCode};
use tower::ServiceExt;

const GATEWAY: &str = "10.0.0.2:41000";
const STRANGER: &str = "192.0.2.50:41000";

fn ask(from: &str, path: &str, headers: &[(&str, &str)]) -> Request<String> {
    let mut request = Request::get(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut request = request.body(String::new()).unwrap();
    let peer: SocketAddr = from.parse().unwrap();
    request.extensions_mut().insert(ClientAddr(peer));
    request
}

async fn verdict<B>(
    gate: &Gate,
    request: Request<B>,
) -> Response<http_body_util::Full<bytes::Bytes>>
where
    B: Send + 'static,
{
    gate.clone().oneshot(request).await.unwrap()
}

/// `headers` and the `Authorization` header `key`.
fn with<'a>(key: &'a str, mut headers: Vec<(&'a str, &'a str)>) -> Vec<(&'a str, &'a str)> {
    headers.push(("authorization", key));
    headers
}

fn proxies() -> TrustedProxies {
    TrustedProxies::new(["10.0.0.0/8"]).unwrap()
}

/// A valid key passes with its identity in headers, never its secret; no
/// key, a wrong, revoked or expired one get the 401 with its challenge.
#[tokio::test]
async fn a_valid_key_passes_with_its_identity_and_others_get_401() {
    let store = MemoryStore::new();
    let (record, key) = store
        .create(
            NewKey::named("shop")
                .scopes(["orders", "read"])
                .owner("acme"),
        )
        .await
        .unwrap()
        .reveal();
    let (revoked, revoked_key) = store.create(NewKey::named("old")).await.unwrap().reveal();
    store.revoke(&revoked.id).await.unwrap();
    let gate = Gate::builder(Authenticator::new(store.clone()))
        .trusted_proxies(proxies())
        .build()
        .unwrap();
    let authorization = format!("Api-Key {}", key.expose_secret());
    let passed = verdict(
        &gate,
        ask(GATEWAY, "/auth", &[("authorization", &authorization)]),
    )
    .await;
    assert_eq!(passed.status(), StatusCode::OK);
    let h = passed.headers();
    assert_eq!(h["x-api-key-id"], record.id.as_str());
    assert_eq!(h["x-api-key-name"], "shop");
    assert_eq!(h["x-api-key-prefix"], record.prefix.as_str());
    assert_eq!(h["x-api-key-owner"], "acme");
    assert_eq!(h["x-api-key-scopes"], "orders read");
    assert_eq!(h["cache-control"], "no-store");
    let secret = &key.expose_secret()[9..];
    for (name, value) in h {
        assert!(
            !value
                .as_bytes()
                .windows(secret.len())
                .any(|w| w == secret.as_bytes()),
            "{name} carries the secret"
        );
    }

    let wrong = format!("Api-Key {}.{}", record.prefix, "x".repeat(32));
    let revoked = format!("Api-Key {}", revoked_key.expose_secret());
    for headers in [
        vec![],
        vec![("authorization", wrong.as_str())],
        vec![("authorization", revoked.as_str())],
    ] {
        let refused = verdict(&gate, ask(GATEWAY, "/auth", &headers)).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{headers:?}");
        assert_eq!(
            refused.headers()["www-authenticate"],
            r#"Api-Key realm="api""#
        );
        assert_eq!(refused.headers()["x-api-key-status"], "401");
        assert_eq!(refused.headers()["cache-control"], "no-store");
    }
}

/// The rules see the request the gateway forwards, when the gateway is
/// trusted: an open route needs no key, a route's scopes are asked (403),
/// and a request no route matches is refused. From a stranger the
/// forwarded headers are ignored: the gate's own path is asked about.
#[tokio::test]
async fn routes_decide_on_the_forwarded_request_of_a_trusted_gateway() {
    let store = MemoryStore::new();
    let (_, reader) = store
        .create(NewKey::named("reader").scopes(["read"]))
        .await
        .unwrap()
        .reveal();
    let auth = Authenticator::new(store);
    let rules = Rules::new([
        Route::path("/health").unwrap().open(),
        Route::path("/orders/*")
            .unwrap()
            .methods([Method::GET])
            .require(auth.require_all(["read"]).unwrap()),
        Route::path("/orders/*")
            .unwrap()
            .require(auth.require_all(["write"]).unwrap()),
    ]);
    let gate = Gate::builder(auth)
        .rules(rules)
        .trusted_proxies(proxies())
        .build()
        .unwrap();
    let key = format!("Api-Key {}", reader.expose_secret());
    let forwarded = |method: &'static str, uri: &'static str| {
        vec![("x-forwarded-method", method), ("x-forwarded-uri", uri)]
    };
    let open = verdict(&gate, ask(GATEWAY, "/auth", &forwarded("GET", "/health"))).await;
    assert_eq!(open.status(), StatusCode::OK);
    assert!(open.headers().get("x-api-key-id").is_none());

    let read = verdict(
        &gate,
        ask(GATEWAY, "/auth", &with(&key, forwarded("GET", "/orders/7"))),
    )
    .await;
    assert_eq!(read.status(), StatusCode::OK);
    let write = verdict(
        &gate,
        ask(
            GATEWAY,
            "/auth",
            &with(&key, forwarded("POST", "/orders/7")),
        ),
    )
    .await;
    assert_eq!(write.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        write.headers()["www-authenticate"],
        r#"Api-Key realm="api", error="insufficient_scope", scope="write""#
    );
    let elsewhere = verdict(
        &gate,
        ask(GATEWAY, "/auth", &with(&key, forwarded("GET", "/admin"))),
    )
    .await;
    assert_eq!(
        elsewhere.status(),
        StatusCode::FORBIDDEN,
        "a closed route, with a valid key"
    );
    let anonymous = verdict(&gate, ask(GATEWAY, "/auth", &forwarded("GET", "/admin"))).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // A stranger claiming /health is asked about its own path, /auth: closed.
    let stranger = verdict(&gate, ask(STRANGER, "/auth", &forwarded("GET", "/health"))).await;
    assert_eq!(stranger.status(), StatusCode::UNAUTHORIZED);
}

/// A store that is down.
struct Down;

#[async_trait::async_trait]
impl KeyStore for Down {
    async fn find(&self, _: Prefix) -> Lookup {
        Err(StoreError::unavailable("down (test)"))
    }
}

/// 429 and 503 keep their status and `Retry-After`; for nginx, which
/// passes on 401 and 403 only, they are 403 with the real status in
/// `X-Api-Key-Status`.
#[tokio::test]
async fn over_the_limit_and_store_down_are_told_as_the_mode_says() {
    let store = MemoryStore::new();
    let limit: RateLimit = "1/h".parse().unwrap();
    let (_, key) = store
        .create(NewKey::named("metered").rate_limit(limit))
        .await
        .unwrap()
        .reveal();
    let key = format!("Api-Key {}", key.expose_secret());
    for mode in [GateMode::Standard, GateMode::Nginx] {
        let gate = Gate::builder(Authenticator::new(store.clone()))
            .mode(mode)
            .build()
            .unwrap();
        let headers = [("authorization", key.as_str())];
        assert_eq!(
            verdict(&gate, ask(GATEWAY, "/", &headers)).await.status(),
            StatusCode::OK
        );
        let over = verdict(&gate, ask(GATEWAY, "/", &headers)).await;
        let expected = if mode == GateMode::Nginx {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(over.status(), expected, "{mode:?}");
        assert_eq!(over.headers()["x-api-key-status"], "429");
        assert!(over.headers().contains_key("retry-after"));

        let down = Gate::builder(Authenticator::new(Down))
            .mode(mode)
            .build()
            .unwrap();
        let unavailable = verdict(&down, ask(GATEWAY, "/", &headers)).await;
        let expected = if mode == GateMode::Nginx {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        assert_eq!(unavailable.status(), expected, "{mode:?}");
        assert_eq!(unavailable.headers()["x-api-key-status"], "503");
        assert_eq!(unavailable.headers()["retry-after"], "1");
    }
}

/// The throttle counts a trusted gateway's failures against the client it
/// names, and a stranger's against the stranger, whatever
/// `X-Forwarded-For` it sends: forging one moves nothing.
#[tokio::test]
async fn a_forged_forwarded_for_does_not_move_the_throttle() {
    let store = MemoryStore::new();
    let (record, _) = store.create(NewKey::named("k")).await.unwrap().reveal();
    let auth = Authenticator::builder(store)
        .throttle(Throttle::new(3, Duration::from_secs(3600)))
        .build()
        .unwrap();
    let gate = Gate::builder(auth)
        .trusted_proxies(proxies())
        .build()
        .unwrap();
    let wrong = format!("Api-Key {}.{}", record.prefix, "x".repeat(32));
    for i in 0..3 {
        let forged = format!("203.0.113.{i}");
        let refused = verdict(
            &gate,
            ask(
                STRANGER,
                "/",
                &[("authorization", &wrong), ("x-forwarded-for", &forged)],
            ),
        )
        .await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    }
    let throttled = verdict(
        &gate,
        ask(
            STRANGER,
            "/",
            &[
                ("authorization", &wrong),
                ("x-forwarded-for", "198.51.100.9"),
            ],
        ),
    )
    .await;
    assert_eq!(
        throttled.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the stranger itself is counted"
    );

    // Behind the trusted gateway, each client is its own.
    for client in ["198.51.100.1", "198.51.100.2"] {
        for _ in 0..3 {
            let refused = verdict(
                &gate,
                ask(
                    GATEWAY,
                    "/",
                    &[("authorization", &wrong), ("x-forwarded-for", client)],
                ),
            )
            .await;
            assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{client}");
        }
    }
    let next = verdict(
        &gate,
        ask(
            GATEWAY,
            "/",
            &[
                ("authorization", &wrong),
                ("x-forwarded-for", "198.51.100.1"),
            ],
        ),
    )
    .await;
    assert_eq!(next.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// Text from the store cannot break a header or pass for another: what is
/// not visible ASCII is percent-encoded, `%` too.
#[tokio::test]
async fn identity_headers_escape_what_the_store_holds() {
    let store = MemoryStore::new();
    let (_, key) = store
        .create(NewKey::named("Zoë 100%").owner("Bücher GmbH"))
        .await
        .unwrap()
        .reveal();
    let gate = Gate::builder(Authenticator::new(store))
        .identity_headers("X-Key-")
        .build()
        .unwrap();
    let passed = verdict(
        &gate,
        ask(
            GATEWAY,
            "/",
            &[("authorization", &format!("Api-Key {}", key.expose_secret()))],
        ),
    )
    .await;
    assert_eq!(passed.headers()["x-key-name"], "Zo%C3%AB 100%25");
    assert_eq!(passed.headers()["x-key-owner"], "B%C3%BCcher GmbH");
    assert_eq!(passed.headers()["x-key-scopes"], "");
    assert!(Gate::builder(Authenticator::new(MemoryStore::new()))
        .identity_headers("X Bad ")
        .build()
        .is_err());
}

/// Rules put in force while the gate runs decide the requests that come
/// after: a route closed, then opened from a file's text.
#[tokio::test]
async fn rules_set_while_running_decide_the_next_requests() {
    let gate = Gate::builder(Authenticator::new(MemoryStore::new()))
        .rules(Rules::new([]))
        .build()
        .unwrap();
    let closed = verdict(&gate, ask(GATEWAY, "/status", &[])).await;
    assert_eq!(closed.status(), StatusCode::UNAUTHORIZED);
    let rules = Rules::from_toml(
        "[[route]]\npath = \"/status\"\nopen = true\n",
        gate.authenticator(),
    )
    .unwrap();
    gate.set_rules(rules);
    let open = verdict(&gate, ask(GATEWAY, "/status", &[])).await;
    assert_eq!(open.status(), StatusCode::OK);
}

/// A trusted gateway's description that does not read is refused as a
/// closed route, never matched against a guess: here the gate's own path
/// is open, and the forwarded URI does not parse.
#[tokio::test]
async fn an_unreadable_forwarded_request_is_refused_not_guessed() {
    let gate = Gate::builder(Authenticator::new(MemoryStore::new()))
        .rules(Rules::new([Route::path("/auth").unwrap().open()]))
        .trusted_proxies(proxies())
        .build()
        .unwrap();
    assert_eq!(
        verdict(&gate, ask(GATEWAY, "/auth", &[])).await.status(),
        StatusCode::OK
    );
    for headers in [
        vec![("x-forwarded-uri", "not a uri")],
        vec![("x-forwarded-method", "GE T")],
        vec![("x-original-uri", "/a"), ("x-original-uri", "/b")],
    ] {
        let refused = verdict(&gate, ask(GATEWAY, "/auth", &headers)).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{headers:?}");
    }
    // A stranger's such headers are ignored: its own path is asked about.
    let stranger = verdict(
        &gate,
        ask(STRANGER, "/auth", &[("x-forwarded-uri", "not a uri")]),
    )
    .await;
    assert_eq!(stranger.status(), StatusCode::OK);
}

/// A gate told of no gateway cannot know any client: every request comes
/// from a gateway, so a key with an address allowlist is refused (503)
/// rather than checked against the gateway's address; told of its gateway,
/// the gate checks the client the gateway names.
#[tokio::test]
async fn a_gate_told_of_no_gateway_checks_no_allowlist_against_one() {
    let store = MemoryStore::new();
    let (_, key) = store
        .create(
            NewKey::named("internal").allow_from("10.0.0.0/8, 198.51.100.0/24".parse().unwrap()),
        )
        .await
        .unwrap()
        .reveal();
    let key = format!("Api-Key {}", key.expose_secret());
    let auth = Authenticator::new(store);
    let unconfigured = Gate::builder(auth.clone()).build().unwrap();
    let answered = verdict(&unconfigured, ask(GATEWAY, "/", &with(&key, vec![]))).await;
    assert_eq!(answered.status(), StatusCode::SERVICE_UNAVAILABLE);
    let gate = Gate::builder(auth)
        .trusted_proxies(proxies())
        .build()
        .unwrap();
    for (forwarded, status) in [
        ("198.51.100.4", StatusCode::OK),
        ("203.0.113.4", StatusCode::FORBIDDEN),
    ] {
        let answered = verdict(
            &gate,
            ask(
                GATEWAY,
                "/",
                &with(&key, vec![("x-forwarded-for", forwarded)]),
            ),
        )
        .await;
        assert_eq!(answered.status(), status, "{forwarded}");
    }
    let answered = verdict(&gate, ask(GATEWAY, "/", &with(&key, vec![]))).await;
    assert_eq!(
        answered.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "the gateway named no client"
    );
}

/// A gate's routes cost what their rules say: a closed route refuses a key
/// and spends none of its credits, a route of 5 spends 5, and once too
/// few are left the key is refused (403) with nothing spent; a route of 1
/// spends the last. A cost on an open route is refused when read.
#[tokio::test]
async fn routes_spend_the_credits_their_rules_say() {
    let store = MemoryStore::new();
    let (record, key) = store
        .create(NewKey::named("metered").credits(6, None))
        .await
        .unwrap()
        .reveal();
    let auth = Authenticator::new(store.clone());
    let rules = Rules::from_toml(
        "[[route]]\npath = \"/admin/*\"\nclosed = true\n\n\
         [[route]]\npath = \"/reports\"\ncost = 5\n\n\
         [[route]]\npath = \"/*\"\n",
        &auth,
    )
    .unwrap();
    let gate = Gate::builder(auth.clone()).rules(rules).build().unwrap();
    let authorization = format!("Api-Key {}", key.expose_secret());
    let status = |path: &'static str| {
        let (gate, authorization) = (gate.clone(), authorization.clone());
        async move {
            let response = verdict(
                &gate,
                ask(GATEWAY, path, &[("authorization", &authorization)]),
            )
            .await;
            response.status()
        }
    };
    let left = || async {
        let found = store.find(record.prefix).await.unwrap().unwrap();
        found.credits.unwrap().remaining()
    };
    assert_eq!(status("/admin/users").await, StatusCode::FORBIDDEN);
    assert_eq!(left().await, 6, "a closed route spends nothing");
    assert_eq!(status("/reports").await, StatusCode::OK);
    assert_eq!(left().await, 1);
    assert_eq!(status("/reports").await, StatusCode::FORBIDDEN);
    assert_eq!(left().await, 1, "a refused request spends nothing");
    assert_eq!(status("/orders").await, StatusCode::OK);
    assert_eq!(left().await, 0);

    let costly_open = Rules::from_toml(
        "[[route]]\npath = \"/health\"\nopen = true\ncost = 2\n",
        &auth,
    );
    let refused = costly_open.unwrap_err().to_string();
    assert!(
        refused.contains("route 1") && refused.contains("no cost"),
        "{refused}"
    );
}
