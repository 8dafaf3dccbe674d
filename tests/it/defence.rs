//! Defence in depth: the throttle of failed attempts per client address,
//! per-key rate limits (in this process and shared on Redis), and branded
//! keys whose checksum is read before anything else.
#![cfg(all(feature = "throttle", feature = "rate-limit"))]

use crate::common;

use std::{
    net::{IpAddr, SocketAddr},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use api_key_auth::{
    client_addr::{ClientAddr, TrustedProxies},
    key::Prefix,
    key_format::KeyFormat,
    rate_limit::RateLimit,
    rate_limit::RedisRateLimiter,
    store::redis::RedisStore,
    throttle::Throttle,
    ApiKeyLayer, AuthFailure, Authenticator, Identity, KeyManager, KeyStore, Lookup, MemoryStore,
    NewKey,
};
use common::RawResponse;
use tokio::io::AsyncWriteExt;
use tower::{Layer, ServiceExt};

/// A memory store that counts its lookups.
#[derive(Clone, Default)]
struct Counting {
    memory: MemoryStore,
    lookups: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl KeyStore for Counting {
    async fn find(&self, prefix: Prefix) -> Lookup {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.memory.find(prefix).await
    }
    fn find_now(&self, prefix: Prefix) -> Option<Lookup> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.memory.find_now(prefix)
    }
}

/// A memory store that takes 50 ms to answer, and counts its lookups.
#[derive(Clone, Default)]
struct Slow(Counting);

#[async_trait::async_trait]
impl KeyStore for Slow {
    async fn find(&self, prefix: Prefix) -> Lookup {
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.0.find(prefix).await
    }
}

/// An axum server that gives the layer its clients' addresses.
async fn server(auth: Authenticator) -> SocketAddr {
    async fn whoami(identity: Identity) -> String {
        identity.id().to_owned()
    }
    let app = axum::Router::new()
        .route("/whoami", axum::routing::get(whoami))
        .route_layer(ApiKeyLayer::from(auth).with_inner_body());
    common::serve_with_peers(app).await
}

/// `GET /whoami` with `key`, sent from the loopback address `from`.
async fn get_from(from: &str, addr: SocketAddr, key: &str) -> RawResponse {
    let value = format!("Api-Key {key}");
    common::http_get_from(from, addr, "/whoami", &[("Authorization", &value)]).await
}

/// The issue's test: a flood of wrong secrets for prefix P from 127.0.0.2
/// gets 429 (with `Retry-After`) once that address spent its 10 failures,
/// and from then on its requests reach no store; the real key for P from
/// 127.0.0.3 still gets 200. Nothing is counted per prefix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_guesses_throttles_its_address_and_never_the_key() {
    let store = Counting::default();
    let (record, key) = store
        .memory
        .create(NewKey::named("customer"))
        .await
        .unwrap()
        .reveal();
    let auth = Authenticator::builder(store.clone())
        .throttle(Throttle::default())
        .build()
        .unwrap();
    let addr = server(auth.clone()).await;
    let guess = |i: usize| format!("{}.{:0>32}", record.prefix, i);
    let mut statuses = Vec::new();
    for i in 0..14 {
        statuses.push(get_from("127.0.0.2", addr, &guess(i)).await);
    }
    let codes: Vec<u16> = statuses.iter().map(|r| r.status).collect();
    assert_eq!(
        &codes[..10],
        &[401; 10],
        "the first ten guesses are answered: {codes:?}"
    );
    assert_eq!(
        &codes[10..],
        &[429; 4],
        "then the address is throttled: {codes:?}"
    );
    let retry: u64 = statuses[13].header("retry-after").unwrap().parse().unwrap();
    assert!((1..=6).contains(&retry), "Retry-After {retry}");
    // Throttled requests reach no store: lookups stop at the tenth guess.
    let lookups = store.lookups.load(Ordering::SeqCst);
    assert_eq!(lookups, 10, "a throttled request was looked up");
    // The real key from that address is throttled too (before it is read)...
    assert_eq!(
        get_from("127.0.0.2", addr, key.expose_secret())
            .await
            .status,
        429
    );
    // ...and from another address it works: the prefix was never locked.
    for _ in 0..3 {
        let answer = get_from("127.0.0.3", addr, key.expose_secret()).await;
        assert_eq!(
            answer.status, 200,
            "the customer's own key from another address"
        );
    }
    let stats = auth.throttle_stats().unwrap();
    assert_eq!(stats.refused, 1, "{stats:?}");
}

/// A memory store whose lookups never answer until `open` is set, counting
/// the lookups it was asked: the store a client can hang up on.
#[derive(Clone, Default)]
struct Stalled {
    memory: MemoryStore,
    asked: Arc<AtomicUsize>,
    open: Arc<std::sync::atomic::AtomicBool>,
}

#[async_trait::async_trait]
impl KeyStore for Stalled {
    async fn find(&self, prefix: Prefix) -> Lookup {
        self.asked.fetch_add(1, Ordering::SeqCst);
        while !self.open.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.memory.find(prefix).await
    }
}

/// Waits (up to a minute, polling) until `done` says so.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "waited a minute for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A client that hangs up before its verdict is counted as a failed
/// attempt, so an address cannot make lookups without end by resetting
/// each before the store answers. Its ten hang-ups each reach the store,
/// as ten answered guesses would, and then it is refused before any
/// lookup, as after ten answered guesses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_up_before_the_verdict_spends_the_budget_as_an_answer_would() {
    let store = Stalled::default();
    let (record, _) = store
        .memory
        .create(NewKey::named("customer"))
        .await
        .unwrap()
        .reveal();
    let auth = Authenticator::builder(store.clone())
        .throttle(Throttle::default())
        .build()
        .unwrap();
    let addr = server(auth.clone()).await;
    for i in 0..10 {
        let mut stream = common::connect_from("127.0.0.8", addr).await;
        let request = format!(
            "GET /whoami HTTP/1.1\r\nHost: test\r\nAuthorization: Api-Key {}.{i:0>32}\r\n\r\n",
            record.prefix
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        until("the guess to reach the store", || {
            store.asked.load(Ordering::SeqCst) == i + 1
        })
        .await;
        // A reset, as a client that gives up sends it.
        stream.set_zero_linger().unwrap();
        drop(stream);
    }
    until("the address to be refused", || {
        auth.throttle_stats().unwrap().refused == 1
    })
    .await;
    store.open.store(true, Ordering::SeqCst);
    let guess = format!("{}.{:0>32}", record.prefix, 10);
    let refused = get_from("127.0.0.8", addr, &guess).await;
    assert_eq!(refused.status, 429, "the eleventh guess");
    assert!(refused.header("retry-after").is_some());
    assert_eq!(
        store.asked.load(Ordering::SeqCst),
        10,
        "it reached no store"
    );
    // Another address is not concerned.
    assert_eq!(get_from("127.0.0.9", addr, &guess).await.status, 401);
}

/// The same through the authenticator's own future: dropped before its
/// verdict, it is charged; one that gets its verdict is charged as the
/// verdict says (a success, nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_check_is_charged_and_an_answered_success_is_not() {
    let store = Stalled::default();
    let (_, key) = store
        .memory
        .create(NewKey::named("k"))
        .await
        .unwrap()
        .reveal();
    let auth = Authenticator::builder(store.clone())
        .throttle(Throttle::new(2, Duration::from_secs(60)))
        .build()
        .unwrap();
    let client: IpAddr = "198.51.100.9".parse().unwrap();
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "authorization",
        format!("Api-Key {}", key.expose_secret()).parse().unwrap(),
    );
    // Successes, answered: no charge, however many.
    store.open.store(true, Ordering::SeqCst);
    for _ in 0..5 {
        auth.authenticate_from(&headers, Some(client))
            .await
            .unwrap();
    }
    assert_eq!(auth.throttle_stats().unwrap().refused, 0);
    // The same right key, dropped twice before the store answers: the
    // budget of two is spent.
    store.open.store(false, Ordering::SeqCst);
    for _ in 0..2 {
        let check = auth.authenticate_from(&headers, Some(client));
        assert!(
            tokio::time::timeout(Duration::from_millis(20), check)
                .await
                .is_err(),
            "the stalled store answered"
        );
    }
    store.open.store(true, Ordering::SeqCst);
    assert!(matches!(
        auth.authenticate_from(&headers, Some(client)).await,
        Err(AuthFailure::Throttled { .. })
    ));
}

/// A limiter that stalls until `open`: the edge a rate-limited key waits on.
#[derive(Clone, Default)]
struct StalledLimiter {
    open: Arc<std::sync::atomic::AtomicBool>,
}

#[async_trait::async_trait]
impl api_key_auth::rate_limit::RateLimiter for StalledLimiter {
    fn check_now(
        &self,
        _: &api_key_auth::KeyRecord,
        _: &RateLimit,
    ) -> Option<api_key_auth::rate_limit::RateDecision> {
        None
    }

    async fn check(
        &self,
        key: &api_key_auth::KeyRecord,
        limit: &RateLimit,
    ) -> Result<api_key_auth::rate_limit::RateDecision, api_key_auth::StoreError> {
        while !self.open.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        api_key_auth::rate_limit::LocalRateLimiter::new()
            .check(key, limit)
            .await
    }
}

/// A request whose key matched, dropped while its rate limiter is waited
/// for, made no guess: it is not charged, so a slow Redis limiter and
/// clients that time out do not throttle good keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_after_the_key_matched_is_no_failed_attempt() {
    let store = MemoryStore::new();
    let (_, key) = store
        .create(NewKey::named("limited").rate_limit("1000/s".parse().unwrap()))
        .await
        .unwrap()
        .reveal();
    let limiter = StalledLimiter::default();
    let auth = Authenticator::builder(store)
        .throttle(Throttle::new(2, Duration::from_secs(3600)))
        .rate_limiter(limiter.clone())
        .build()
        .unwrap();
    let client: IpAddr = "198.51.100.11".parse().unwrap();
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "authorization",
        format!("Api-Key {}", key.expose_secret()).parse().unwrap(),
    );
    for _ in 0..5 {
        let check = auth.authenticate_from(&headers, Some(client));
        assert!(tokio::time::timeout(Duration::from_millis(20), check)
            .await
            .is_err());
    }
    limiter.open.store(true, Ordering::SeqCst);
    auth.authenticate_from(&headers, Some(client))
        .await
        .expect("the key, after its client left five times while the limiter stalled");
}

/// A burst of guesses sent at once, over a store that takes its time: all
/// pass the first look at the budget before any has failed, but the budget
/// is looked at again when the store answers, so no more are decided than
/// it allows (not every guess in flight), and a right guess answered after
/// it ran out is refused too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_guesses_in_flight_gets_no_more_answers_than_the_budget() {
    let store = Slow::default();
    let (record, key) = store
        .0
        .memory
        .create(NewKey::named("k"))
        .await
        .unwrap()
        .reveal();
    let auth = Authenticator::builder(store.clone())
        .throttle(Throttle::new(3, Duration::from_secs(60)))
        .build()
        .unwrap();
    let service = ApiKeyLayer::from(auth).layer(tower::service_fn(|_| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
    }));
    let wrong = format!("Api-Key {}.{}", record.prefix, "x".repeat(32));
    let right = format!("Api-Key {}", key.expose_secret());
    let send = |value: &str| {
        let mut request = http::Request::get("/")
            .header("authorization", value)
            .body(String::new())
            .unwrap();
        request
            .extensions_mut()
            .insert(ClientAddr("198.51.100.7:1".parse().unwrap()));
        tokio::spawn(service.clone().oneshot(request))
    };
    let mut guesses: Vec<_> = (0..199).map(|_| send(&wrong)).collect();
    // The right guess goes out before any of them is answered, and is
    // answered after them.
    tokio::time::sleep(Duration::from_millis(10)).await;
    guesses.push(send(&right));
    let mut statuses = Vec::new();
    for guess in guesses {
        statuses.push(guess.await.unwrap().unwrap().status().as_u16());
    }
    let answered = statuses.iter().filter(|s| **s != 429).count();
    // The budget, and at most one more for each worker thread racing it.
    assert!(
        answered <= 3 + 2,
        "{answered} guesses answered: {statuses:?}"
    );
    assert_eq!(
        statuses[199], 429,
        "the right guess, answered after the budget ran out"
    );
}

/// A server that gives the layer no client address cannot be throttled,
/// and that is not silent: the stats count such requests and the first is
/// a warning.
#[tokio::test]
async fn requests_without_an_address_are_counted_as_such() {
    let auth = Authenticator::builder(MemoryStore::new())
        .throttle(Throttle::new(2, Duration::from_secs(60)))
        .build()
        .unwrap();
    let service = ApiKeyLayer::from(auth.clone()).layer(tower::service_fn(|_| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
    }));
    for _ in 0..5 {
        let request = http::Request::get("/")
            .header(
                "authorization",
                "Api-Key ZZZZZZZZ.1M2baTIHuRgPGbzdZC3Zch0b8VC2etL0",
            )
            .body(String::new())
            .unwrap();
        assert_eq!(
            service.clone().oneshot(request).await.unwrap().status(),
            401
        );
    }
    let stats = auth.throttle_stats().unwrap();
    assert_eq!((stats.unaddressed, stats.addresses), (5, 0), "{stats:?}");
}

/// Successes do not count: an address that uses its key all the time is
/// never throttled by it, and a budget comes back with time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn successes_do_not_count_and_the_budget_comes_back() {
    let store = MemoryStore::new();
    let (record, key) = store.create(NewKey::named("busy")).await.unwrap().reveal();
    let auth = Authenticator::builder(store)
        .throttle(Throttle::new(3, Duration::from_millis(600)))
        .build()
        .unwrap();
    let addr = server(auth).await;
    for _ in 0..20 {
        assert_eq!(
            get_from("127.0.0.4", addr, key.expose_secret())
                .await
                .status,
            200
        );
    }
    let wrong = format!("{}.{}", record.prefix, "x".repeat(32));
    for _ in 0..3 {
        assert_eq!(get_from("127.0.0.4", addr, &wrong).await.status, 401);
    }
    assert_eq!(
        get_from("127.0.0.4", addr, key.expose_secret())
            .await
            .status,
        429
    );
    // One failure's share comes back every 200 ms.
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(
        get_from("127.0.0.4", addr, key.expose_secret())
            .await
            .status,
        200
    );
}

/// Forwarding headers are believed only from the proxies one lists: behind
/// a trusted proxy each client named by `X-Forwarded-For` has a budget of
/// its own; without it (or from a peer that is not listed) the header is
/// ignored and the peer is what counts.
#[tokio::test]
async fn forwarded_addresses_count_only_behind_trusted_proxies() {
    let store = MemoryStore::new();
    let (record, _) = store.create(NewKey::named("k")).await.unwrap().reveal();
    let wrong = format!("Api-Key {}.{}", record.prefix, "x".repeat(32));
    let request = |peer: &str, forwarded_for: &str| {
        let mut request = http::Request::get("/")
            .header("authorization", &wrong)
            .header("x-forwarded-for", forwarded_for)
            .body(String::new())
            .unwrap();
        request
            .extensions_mut()
            .insert(ClientAddr(format!("{peer}:1234").parse().unwrap()));
        request
    };
    let inner = tower::service_fn(|_: http::Request<String>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
    });
    let behind = Authenticator::builder(store.clone())
        .throttle(Throttle::new(2, Duration::from_secs(60)))
        .trusted_proxies(TrustedProxies::new(["10.0.0.0/8"]).unwrap())
        .build()
        .unwrap();
    let service = ApiKeyLayer::from(behind).layer(inner);
    let status = |request| {
        let service = service.clone();
        async move { service.oneshot(request).await.unwrap().status().as_u16() }
    };
    for _ in 0..2 {
        assert_eq!(
            status(request("10.0.0.1", "6.6.6.6, 198.51.100.7")).await,
            401
        );
    }
    assert_eq!(
        status(request("10.0.0.1", "198.51.100.7")).await,
        429,
        "the client behind the proxy"
    );
    assert_eq!(
        status(request("10.0.0.1", "198.51.100.8")).await,
        401,
        "another client, same proxy"
    );
    // A peer that is no listed proxy: its header is not believed.
    for _ in 0..2 {
        assert_eq!(status(request("203.0.113.5", "198.51.100.9")).await, 401);
    }
    assert_eq!(
        status(request("203.0.113.5", "198.51.100.10")).await,
        429,
        "the peer counts"
    );

    let none = Authenticator::builder(store)
        .throttle(Throttle::new(1, Duration::from_secs(60)))
        .build()
        .unwrap();
    let service = ApiKeyLayer::from(none).layer(inner);
    let status = |request| {
        let service = service.clone();
        async move { service.oneshot(request).await.unwrap().status().as_u16() }
    };
    assert_eq!(status(request("10.0.0.1", "198.51.100.1")).await, 401);
    assert_eq!(
        status(request("10.0.0.1", "198.51.100.2")).await,
        429,
        "by default no forwarding header is believed"
    );
}

/// IPv6 counts by /64: guesses spread over one network's addresses share
/// one budget.
#[tokio::test]
async fn ipv6_guesses_share_their_64s_budget() {
    let store = MemoryStore::new();
    let (record, _) = store.create(NewKey::named("k")).await.unwrap().reveal();
    let auth = Authenticator::builder(store)
        .throttle(Throttle::new(3, Duration::from_secs(60)))
        .build()
        .unwrap();
    let wrong = {
        let mut headers = http::HeaderMap::new();
        let value = format!("Api-Key {}.{}", record.prefix, "x".repeat(32));
        headers.insert("authorization", value.parse().unwrap());
        headers
    };
    for i in 1..=3 {
        let from: IpAddr = format!("2001:db8:1:2::{i:x}").parse().unwrap();
        let refused = auth
            .authenticate_from(&wrong, Some(from))
            .await
            .unwrap_err();
        assert_eq!(refused.status(), 401);
    }
    let next: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap();
    let refused = auth
        .authenticate_from(&wrong, Some(next))
        .await
        .unwrap_err();
    assert_eq!(refused.status(), 429, "the same /64");
    let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
    assert_eq!(
        auth.authenticate_from(&wrong, Some(other))
            .await
            .unwrap_err()
            .status(),
        401
    );
}

/// Memory stays bounded however many addresses fail: at most
/// `max_addresses` budgets are kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_throttle_keeps_at_most_its_bound_of_addresses() {
    let store = MemoryStore::new();
    let auth = Authenticator::builder(store)
        .throttle(Throttle::default().max_addresses(2_000))
        .build()
        .unwrap();
    let unknown = {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "authorization",
            "Api-Key ZZZZZZZZ.1M2baTIHuRgPGbzdZC3Zch0b8VC2etL0"
                .parse()
                .unwrap(),
        );
        headers
    };
    for i in 0..50_000u32 {
        let from = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
        let _ = auth.authenticate_from(&unknown, Some(from)).await;
    }
    let stats = auth.throttle_stats().unwrap();
    assert!(stats.addresses <= 2_200, "{stats:?}");

    // Addresses refused are bounded as well: each of 50,000 spends its
    // whole budget (one failure an hour), and at most 2,000 are held.
    let auth = Authenticator::builder(MemoryStore::new())
        .throttle(Throttle::new(1, Duration::from_secs(3600)).max_addresses(2_000))
        .build()
        .unwrap();
    for i in 0..50_000u32 {
        let from = IpAddr::V4(std::net::Ipv4Addr::from(0x0b00_0000 + i));
        let _ = auth.authenticate_from(&unknown, Some(from)).await;
    }
    let stats = auth.throttle_stats().unwrap();
    assert!((1_000..=2_000).contains(&stats.refused), "{stats:?}");
    // The latest ones are among those kept, and still refused.
    let last = IpAddr::V4(std::net::Ipv4Addr::from(0x0b00_0000 + 49_999));
    let refusal = auth
        .authenticate_from(&unknown, Some(last))
        .await
        .unwrap_err();
    assert!(
        matches!(refusal, AuthFailure::Throttled { .. }),
        "{refusal:?}"
    );
}

/// A key over its rate limit gets 429 with `Retry-After` and the IETF
/// `RateLimit-Policy` / `RateLimit` fields; its budget comes back at the
/// limit's pace; another key is not touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_over_its_limit_is_told_when_to_come_back() {
    let store = MemoryStore::new();
    let limit = "3/s".parse::<RateLimit>().unwrap();
    let (_, limited) = store
        .create(NewKey::named("metered").rate_limit(limit))
        .await
        .unwrap()
        .reveal();
    let (_, free) = store.create(NewKey::named("free")).await.unwrap().reveal();
    let addr = server(Authenticator::new(store)).await;
    for _ in 0..3 {
        assert_eq!(
            get_from("127.0.0.5", addr, limited.expose_secret())
                .await
                .status,
            200
        );
    }
    let over = get_from("127.0.0.5", addr, limited.expose_secret()).await;
    assert_eq!(over.status, 429);
    assert_eq!(over.header("retry-after"), Some("1"));
    assert_eq!(over.header("ratelimit-policy"), Some("\"key\";q=3;w=1"));
    assert_eq!(over.header("ratelimit"), Some("\"key\";r=0;t=1"));
    for _ in 0..10 {
        assert_eq!(
            get_from("127.0.0.5", addr, free.expose_secret())
                .await
                .status,
            200
        );
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        get_from("127.0.0.5", addr, limited.expose_secret())
            .await
            .status,
        200
    );
    assert_eq!(
        get_from("127.0.0.5", addr, limited.expose_secret())
            .await
            .status,
        429
    );
}

/// In gRPC mode a throttled client and a key over its limit get
/// RESOURCE_EXHAUSTED (8), trailers-only.
#[tokio::test]
async fn grpc_says_resource_exhausted() {
    let store = MemoryStore::new();
    let (record, key) = store
        .create(NewKey::named("g").rate_limit("1/s".parse().unwrap()))
        .await
        .unwrap()
        .reveal();
    let auth = Authenticator::builder(store)
        .grpc(true)
        .throttle(Throttle::new(1, Duration::from_secs(60)))
        .build()
        .unwrap();
    let inner = tower::service_fn(|_: http::Request<String>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
    });
    let service = ApiKeyLayer::from(auth).layer(inner);
    let call = |key: String, peer: &str| {
        let mut request = http::Request::post("/grpc.health.v1.Health/Check")
            .header("authorization", format!("Api-Key {key}"))
            .header("content-type", "application/grpc")
            .body(String::new())
            .unwrap();
        request
            .extensions_mut()
            .insert(ClientAddr(format!("{peer}:1").parse().unwrap()));
        let service = service.clone();
        async move { service.oneshot(request).await.unwrap() }
    };
    assert_eq!(
        call(key.expose_secret().to_owned(), "192.0.2.1")
            .await
            .status(),
        200
    );
    let limited = call(key.expose_secret().to_owned(), "192.0.2.1").await;
    assert_eq!(limited.headers()["grpc-status"], "8");
    let wrong = format!("{}.{}", record.prefix, "x".repeat(32));
    assert_eq!(
        call(wrong.clone(), "192.0.2.9").await.headers()["grpc-status"],
        "16"
    );
    assert_eq!(call(wrong, "192.0.2.9").await.headers()["grpc-status"], "8");
}

/// The issue's test: three authenticators (three instances) on one Redis
/// share one limit between them; what they let through together stays
/// within it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_on_one_redis_keep_one_limit() {
    let Some(url) = common::redis_url("the shared rate limit on Redis") else {
        return;
    };
    let namespace = common::namespace();
    let store = RedisStore::connect(&url)
        .await
        .unwrap()
        .with_namespace(&namespace);
    let limit = RateLimit::new(20, Duration::from_secs(1))
        .unwrap()
        .with_burst(5)
        .unwrap();
    let (_, key) = store
        .create(NewKey::named("shared").rate_limit(limit))
        .await
        .unwrap()
        .reveal();
    let headers = {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "authorization",
            format!("Api-Key {}", key.expose_secret()).parse().unwrap(),
        );
        headers
    };
    let admitted = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let run_for = Duration::from_secs(2);
    let mut instances = tokio::task::JoinSet::new();
    for _ in 0..3 {
        let instance = RedisStore::connect(&url)
            .await
            .unwrap()
            .with_namespace(&namespace);
        let auth = Authenticator::builder(instance.clone())
            .rate_limiter(RedisRateLimiter::new(&instance))
            .build()
            .unwrap();
        let (headers, admitted) = (headers.clone(), admitted.clone());
        instances.spawn(async move {
            while started.elapsed() < run_for {
                match auth.authenticate(&headers).await {
                    Ok(_) => {
                        admitted.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(refused) => assert_eq!(refused.status(), 429, "{refused}"),
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
    }
    while let Some(done) = instances.join_next().await {
        done.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let allowed = 5.0 + 20.0 * elapsed;
    let admitted = admitted.load(Ordering::SeqCst) as f64;
    assert!(
        admitted <= allowed + 1.0,
        "three instances let {admitted} through in {elapsed:.2} s; the limit allows {allowed:.0}"
    );
    assert!(
        admitted >= allowed * 0.8,
        "only {admitted} of {allowed:.0} were let through"
    );
}

/// A Redis limiter that cannot answer refuses (503): a limited key never
/// goes through unlimited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limiter_that_cannot_answer_refuses() {
    let Some(url) = common::redis_url("a Redis limiter that is down") else {
        return;
    };
    let target = common::host_port(&url);
    let proxy = common::Proxy::start(&target).await;
    let namespace = common::namespace();
    let store = RedisStore::connect(&proxy.url(&url, &target))
        .await
        .unwrap()
        .with_namespace(&namespace);
    let memory = MemoryStore::new();
    let (_, key) = memory
        .create(NewKey::named("limited").rate_limit("100/s".parse().unwrap()))
        .await
        .unwrap()
        .reveal();
    let auth = Authenticator::builder(memory)
        .rate_limiter(RedisRateLimiter::new(&store))
        .build()
        .unwrap();
    let headers = {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "authorization",
            format!("Api-Key {}", key.expose_secret()).parse().unwrap(),
        );
        headers
    };
    auth.authenticate(&headers).await.unwrap();
    proxy.cut();
    let refused = auth.authenticate(&headers).await.unwrap_err();
    assert_eq!(refused.status(), 503, "{refused}");
    proxy.restore();
}

/// The scanner pattern finds every branded key and nothing else: not DRF
/// keys, not random text; a branded key with a changed character fails its
/// checksum before any hash or store call; DRF's form is refused once only
/// branded keys are accepted.
#[tokio::test]
async fn branded_keys_are_found_by_one_pattern_and_checked_before_anything_else() {
    let format = KeyFormat::branded("myco").unwrap();
    // The README gives this very expression, on its own and in its
    // gitleaks rule.
    let readme = include_str!("../../README.md");
    assert_eq!(
        format.pattern(),
        r"\bmyco_[A-Za-z0-9]{8}\.[A-Za-z0-9]{38}\b"
    );
    assert!(readme.contains(&format!("\n{}\n", format.pattern())));
    assert!(readme.contains(&format!("regex = '''{}'''", format.pattern())));
    let pattern = regex::Regex::new(&format.pattern()).unwrap();
    let store = Counting::default();
    let mut branded = Vec::new();
    let mut drf = Vec::new();
    for i in 0..2_000 {
        let (_, key) = store
            .memory
            .create(NewKey::named(format!("k{i}")))
            .await
            .unwrap()
            .reveal();
        let text = format.render(&key);
        assert!(pattern.is_match(&text), "{}", &*text);
        assert_eq!(
            pattern
                .find(&format!("token: {} end", &*text))
                .unwrap()
                .as_str(),
            &*text
        );
        branded.push(text.to_string());
        drf.push(key.expose_secret().to_owned());
    }
    for key in &drf {
        assert!(!pattern.is_match(key), "a DRF key matched");
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/+= \n";
    for _ in 0..20_000 {
        let len = (next() % 200) as usize;
        let text: String = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize] as char)
            .collect();
        assert!(!pattern.is_match(&text), "random text matched: {text:?}");
    }
    for near in [
        "myco_short",
        "mycoX_n58lzybi.1M2baTIHuRgPGbzdZC3Zch0b8VC2etL0abcdef",
        "acme_n58lzybi.1M2baTIHuRgPGbzdZC3Zch0b8VC2etL0abcdef",
    ] {
        assert!(!pattern.is_match(near), "{near}");
    }

    let auth = Authenticator::builder(store.clone())
        .accept(format.clone())
        .build()
        .unwrap();
    let headers = |key: &str| {
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", format!("Api-Key {key}").parse().unwrap());
        headers
    };
    assert!(auth.authenticate(&headers(&branded[0])).await.is_ok());
    assert!(
        auth.authenticate(&headers(&drf[1])).await.is_ok(),
        "DRF keys still accepted"
    );
    let before = store.lookups.load(Ordering::SeqCst);
    let mut mistyped = branded[2].clone().into_bytes();
    mistyped[20] = if mistyped[20] == b'a' { b'b' } else { b'a' };
    let refused = auth
        .authenticate(&headers(std::str::from_utf8(&mistyped).unwrap()))
        .await
        .unwrap_err();
    assert_eq!(refused.status(), 401);
    assert!(refused.to_string().contains("checksum"), "{refused}");
    assert_eq!(
        store.lookups.load(Ordering::SeqCst),
        before,
        "a bad checksum reached the store"
    );

    let branded_only = Authenticator::builder(store.clone())
        .accept(format)
        .drf_keys(false)
        .build()
        .unwrap();
    assert!(branded_only
        .authenticate(&headers(&branded[3]))
        .await
        .is_ok());
    assert_eq!(
        branded_only
            .authenticate(&headers(&drf[3]))
            .await
            .unwrap_err()
            .status(),
        401
    );
}

use crate::quickstart;

/// The quickstart honours a key's limit over every store: memory, SQLite,
/// and PostgreSQL, MySQL, Redis and a Redis Cluster when their variables are set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quickstart_honours_rate_limits_over_any_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut urls = vec![
        "memory".to_owned(),
        format!("sqlite:{}", dir.path().join("keys.db").display()),
    ];
    if let Some(url) = common::postgres_url("the quickstart's limits on PostgreSQL") {
        let schema = common::isolated_pg_schema(&url).await;
        urls.push(format!("{url}?options=-c%20search_path%3D{schema}"));
    }
    if let Some(url) = common::mysql_url("the quickstart's limits on MySQL") {
        urls.push(common::isolated_mysql_url(&url).await);
    }
    if common::redis_url("the quickstart's limits on Redis").is_some() {
        urls.push(std::env::var("APIKEY_TEST_REDIS_URL").unwrap());
    }
    if let Some(url) = common::redis_cluster_url("the quickstart's limits on a Redis Cluster") {
        urls.push(url);
    }
    for url in urls {
        let store = api_key_auth::store::open::open(&url, false)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"))
            .into_manager();
        let limit = RateLimit::new(2, Duration::from_secs(60)).unwrap();
        let (_, key) = store
            .create(NewKey::named("limited").rate_limit(limit))
            .await
            .unwrap()
            .reveal();
        let auth = quickstart::authenticator(store, None).unwrap();
        let addr = server(auth).await;
        let codes: Vec<u16> = {
            let mut codes = Vec::new();
            for _ in 0..3 {
                codes.push(
                    get_from("127.0.0.6", addr, key.expose_secret())
                        .await
                        .status,
                );
            }
            codes
        };
        assert_eq!(codes, [200, 200, 429], "{url}");
    }
}
