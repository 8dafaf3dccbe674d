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
//! by its task on another thread) at most 20 ns more.

mod support;

use api_key_auth::{
    last_use::LastUseTracker, ApiKeyLayer, Authenticator, KeyManager, MemoryStore, NewKey,
};
use http::Request;
use tower::{Layer, Service};

use support::{
    interleave::{self, Variant},
    now, tower_variant, Trivial,
};

fn requests(header: String) -> impl Fn() -> Request<String> {
    move || {
        Request::get("/whoami")
            .header("authorization", &header)
            .header("host", "localhost")
            .body(String::new())
            .unwrap()
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
    let layer = ApiKeyLayer::new(store.clone());
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
            variant("valid_key+last_use", tracked.layer(Trivial), header, 200),
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
        "last-use tracking, over the valid key without it",
        "layer",
        "valid_key+last_use",
        "valid_key",
    );
    let stats = tracker.stats();
    println!(
        "tracker: {} uses written, {} notes dropped",
        stats.written, stats.dropped
    );
    drop(runtime);
}
