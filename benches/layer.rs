//! What the layer adds per request, beside the bare service:
//!
//! ```text
//! cargo bench --bench layer
//! ROUNDS=3000 cargo bench --bench layer
//! ```
//!
//! Every variant gets a fresh request (built outside the timing) and answers
//! with an empty 200, or the layer's 401 for a refused key. The variants run
//! interleaved (see `support/interleave.rs`). The target: the layer adds at
//! most 250 ns; last-use tracking (a push onto the tracker's queue, drained
//! by its task on another thread) at most 20 ns more; a key's rate limit,
//! checked in this process, at most 40 ns more. The throttle's step on a
//! request that passes is shown beside the path without it, both while no
//! address is refused (one atomic load) and while one is (a cache lookup).
//! A store that cannot answer at once (`waited_key`: the verdict is a boxed
//! future, and what a request dropped before its verdict owes is set up)
//! is shown beside the one that can. A key's address allowlist and its
//! suspension flag are each shown beside the plain valid key (aim: at most
//! 20 ns).

mod support;

use std::net::SocketAddr;

use api_key_auth::{
    client_addr::ClientAddr,
    key::Prefix,
    last_use::LastUseTracker,
    rate_limit::{OwnerLimits, RateLimit},
    throttle::Throttle,
    ApiKeyLayer, Authenticator, CreditLeases, KeyManager, KeyStore, Lookup, MemoryStore, NewKey,
};

/// The memory store without its answer at once: every lookup is a future
/// (ready at its first poll), as a database's would be.
struct Waited(MemoryStore);

#[async_trait::async_trait]
impl KeyStore for Waited {
    async fn find(&self, prefix: Prefix) -> Lookup {
        self.0.find(prefix).await
    }
}
use http::Request;
use tower::{Layer, Service};

use support::{
    interleave::{self, Variant},
    now, tower_variant, Trivial,
};

fn requests(header: String) -> impl Fn() -> Request<String> {
    requests_from(header, "127.0.0.1:40000".parse().unwrap())
}

/// Requests from `peer`, as a server puts its connection's address on them.
fn requests_from(header: String, peer: SocketAddr) -> impl Fn() -> Request<String> {
    move || {
        let mut request = Request::get("/whoami")
            .header("authorization", &header)
            .header("host", "localhost")
            .body(String::new())
            .unwrap();
        request.extensions_mut().insert(ClientAddr(peer));
        request
    }
}

/// A variant serving requests with `header` through `service`, which must
/// answer them with `status`.
fn variant<S, B>(name: &'static str, service: S, header: String, status: u16) -> Variant
where
    S: Service<Request<String>, Response = http::Response<B>> + 'static,
    S::Error: std::fmt::Debug,
{
    tower_variant("layer", name, service, requests(header), status)
}

fn main() {
    let store = MemoryStore::new();
    let (_, key) = now(store.create(NewKey::named("bench"))).unwrap().reveal();
    let header = format!("Api-Key {}", key.expose_secret());
    // A limit the loop never reaches: every request is checked and let through.
    let limit = RateLimit::new(1_000_000, std::time::Duration::from_secs(1))
        .and_then(|limit| limit.with_burst(u32::MAX))
        .unwrap();
    let (_, limited) = now(store.create(NewKey::named("limited").rate_limit(limit)))
        .unwrap()
        .reveal();
    let limited = format!("Api-Key {}", limited.expose_secret());
    let (paused, suspended) = now(store.create(NewKey::named("suspended")))
        .unwrap()
        .reveal();
    assert!(now(store.suspend(&paused.id)).unwrap());
    let suspended = format!("Api-Key {}", suspended.expose_secret());
    // Two networks, the client's the second: the list is scanned to its end.
    let networks = "10.0.0.0/8, 127.0.0.0/8".parse().unwrap();
    let (_, confined) = now(store.create(NewKey::named("confined").allow_from(networks)))
        .unwrap()
        .reveal();
    let confined = format!("Api-Key {}", confined.expose_secret());
    // Credits the loop never spends, each request one, exactly (the memory
    // store's writer lock).
    let (_, metered) = now(store.create(NewKey::named("metered").credits(1 << 52, None)))
        .unwrap()
        .reveal();
    let metered = format!("Api-Key {}", metered.expose_secret());
    // An owner's shared limit the loop never reaches, on a key of that owner.
    let (_, owned) = now(store.create(NewKey::named("owned").owner("acme")))
        .unwrap()
        .reveal();
    let owned = format!("Api-Key {}", owned.expose_secret());
    let shared = ApiKeyLayer::from(
        Authenticator::builder(store.clone())
            .owner_rate_limits(OwnerLimits::every(limit))
            .build()
            .unwrap(),
    );
    let layer = ApiKeyLayer::new(store.clone());
    // The same credits leased a million at a time: a request spends from
    // this instance's block, and the store is asked once a million.
    let leased = ApiKeyLayer::from(
        Authenticator::builder(store.clone())
            .credit_leases(CreditLeases::blocks_of(1 << 20).unwrap())
            .build()
            .unwrap(),
    );
    let waited = ApiKeyLayer::new(Waited(store.clone()));
    let waited_throttled = ApiKeyLayer::from(
        Authenticator::builder(Waited(store.clone()))
            .throttle(Throttle::default())
            .build()
            .unwrap(),
    );
    let throttled = ApiKeyLayer::from(
        Authenticator::builder(store.clone())
            .throttle(Throttle::default())
            .build()
            .unwrap(),
    );
    // The same throttle once one address has spent its budget: a request
    // from any other address then looks its own address up.
    let throttled_busy = {
        let auth = Authenticator::builder(store.clone())
            .throttle(Throttle::new(1, std::time::Duration::from_secs(3600)))
            .build()
            .unwrap();
        let mut guesses = http::HeaderMap::new();
        guesses.insert(
            "authorization",
            "Api-Key ZZZZZZZZ.1M2baTIHuRgPGbzdZC3Zch0b8VC2etL0"
                .parse()
                .unwrap(),
        );
        let guesser = Some("10.9.9.9".parse().unwrap());
        for _ in 0..2 {
            let _ = now(auth.authenticate_from(&guesses, guesser));
        }
        assert_eq!(auth.throttle_stats().unwrap().refused, 1);
        ApiKeyLayer::from(auth)
    };
    // The tracker's task runs on a runtime of its own thread, draining the
    // queue every 100 ms as in a server; the queue holds what 100 ms of
    // this loop pushes, so the bench times pushes, not drops.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let tracker = {
        let _inside = runtime.enter();
        LastUseTracker::builder(store.clone())
            .queue_capacity(1 << 21)
            .spawn()
    };
    let tracked = ApiKeyLayer::from(
        Authenticator::builder(store)
            .last_use(tracker.clone())
            .build()
            .unwrap(),
    );
    let timings = interleave::run(
        vec![
            variant("bare", Trivial, header.clone(), 200),
            variant("valid_key", layer.layer(Trivial), header.clone(), 200),
            variant(
                "valid_key+last_use",
                tracked.layer(Trivial),
                header.clone(),
                200,
            ),
            variant("valid_key+rate_limit", layer.layer(Trivial), limited, 200),
            variant(
                "valid_key+allowlist",
                layer.layer(Trivial),
                confined.clone(),
                200,
            ),
            variant(
                "valid_key+throttle+allowlist",
                throttled.layer(Trivial),
                confined,
                200,
            ),
            variant(
                "valid_key+credits",
                layer.layer(Trivial),
                metered.clone(),
                200,
            ),
            variant(
                "valid_key+credits_leased",
                leased.layer(Trivial),
                metered,
                200,
            ),
            variant("owned_key", layer.layer(Trivial), owned.clone(), 200),
            variant(
                "owned_key+owner_rate_limit",
                shared.layer(Trivial),
                owned,
                200,
            ),
            variant(
                "valid_key+throttle",
                throttled.layer(Trivial),
                header.clone(),
                200,
            ),
            variant(
                "valid_key+throttle_busy",
                throttled_busy.layer(Trivial),
                header.clone(),
                200,
            ),
            variant("waited_key", waited.layer(Trivial), header.clone(), 200),
            variant(
                "waited_key+throttle",
                waited_throttled.layer(Trivial),
                header,
                200,
            ),
            variant("suspended_key", layer.layer(Trivial), suspended, 401),
            variant(
                "refused",
                layer.layer(Trivial),
                "Api-Key ZZZZZZZZ.1M2baTIHuRgPGbzdZC3Zch0b8VC2etL0".to_owned(),
                401,
            ),
        ],
        1000,
    );
    timings.print_table();
    timings.print_step(
        "a suspended key, refused after its hash is checked, over the valid key",
        "layer",
        "suspended_key",
        "valid_key",
    );
    timings.print_step(
        "a key's address allowlist (two networks, the client in the second), over the valid key",
        "layer",
        "valid_key+allowlist",
        "valid_key",
    );
    timings.print_step(
        "the allowlist where the throttle already needs the address, over the throttle alone",
        "layer",
        "valid_key+throttle+allowlist",
        "valid_key+throttle",
    );
    timings.print_step(
        "a credit spent exactly (memory store), over the valid key without credits",
        "layer",
        "valid_key+credits",
        "valid_key",
    );
    timings.print_step(
        "a credit spent from this instance's lease, over the valid key without credits",
        "layer",
        "valid_key+credits_leased",
        "valid_key",
    );
    timings.print_step(
        "an owner's shared rate limit (in this process), over the same key without one",
        "layer",
        "owned_key+owner_rate_limit",
        "owned_key",
    );
    timings.print_step(
        "last-use tracking, over the valid key without it",
        "layer",
        "valid_key+last_use",
        "valid_key",
    );
    timings.print_step(
        "a key's rate limit (in this process), over the valid key without one",
        "layer",
        "valid_key+rate_limit",
        "valid_key",
    );
    timings.print_step(
        "the throttle, no address refused, over the valid key without it",
        "layer",
        "valid_key+throttle",
        "valid_key",
    );
    timings.print_step(
        "the throttle, one address refused, over the valid key without it",
        "layer",
        "valid_key+throttle_busy",
        "valid_key",
    );
    timings.print_step(
        "a store that must be waited for, over one that answers at once",
        "layer",
        "waited_key",
        "valid_key",
    );
    timings.print_step(
        "the throttle, on a store that must be waited for",
        "layer",
        "waited_key+throttle",
        "waited_key",
    );
    let stats = tracker.stats();
    println!(
        "tracker: {} uses written, {} notes dropped",
        stats.written, stats.dropped
    );
    drop(runtime);
}
