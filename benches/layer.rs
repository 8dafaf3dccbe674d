//! What the layer adds per request, beside the bare service, in one run:
//!
//! ```text
//! cargo bench --bench layer
//! ```
//!
//! Both sides get a fresh request (built outside the timing) and answer with
//! an empty 200. The target: the layer adds at most 250 ns.

mod support;

use std::hint::black_box;

use api_key_auth::{ApiKeyLayer, KeyManager, MemoryStore, NewKey};
use http::Request;
use tower::{Layer, Service};

use support::{now, Trivial};

fn main() {
    divan::main();
}

fn key() -> (MemoryStore, String) {
    let store = MemoryStore::new();
    let (_, key) = now(store.create(NewKey::named("bench"))).unwrap().reveal();
    (store, key.expose_secret().to_owned())
}

fn requests(header: &str) -> impl Fn() -> Request<String> + '_ {
    move || {
        Request::get("/whoami")
            .header("authorization", header)
            .header("host", "localhost")
            .body(String::new())
            .unwrap()
    }
}

#[divan::bench(sample_size = 64)]
fn bare(bencher: divan::Bencher) {
    let (_, key) = key();
    let header = format!("Api-Key {key}");
    let mut service = Trivial;
    bencher
        .with_inputs(requests(&header))
        .bench_local_values(|request| now(service.call(black_box(request))).unwrap());
}

#[divan::bench(sample_size = 64)]
fn layered_valid_key(bencher: divan::Bencher) {
    let (store, key) = key();
    let header = format!("Api-Key {key}");
    let mut service = ApiKeyLayer::new(store).layer(Trivial);
    bencher
        .with_inputs(requests(&header))
        .bench_local_values(|request| now(service.call(black_box(request))).unwrap());
}

#[divan::bench(sample_size = 64)]
fn layered_refused(bencher: divan::Bencher) {
    let (store, _) = key();
    let mut service = ApiKeyLayer::new(store).layer(Trivial);
    bencher
        .with_inputs(requests(
            "Api-Key ZZZZZZZZ.1M2baTIHuRgPGbzdZC3Zch0b8VC2etL0",
        ))
        .bench_local_values(|request| now(service.call(black_box(request))).unwrap());
}
