//! What the layer adds per request, beside the bare service, in one run:
//!
//! ```text
//! cargo bench --bench layer
//! ```
//!
//! Both sides get a fresh request (built outside the timing) and answer with
//! an empty 200. The target: the layer adds at most 250 ns.

use std::{
    convert::Infallible,
    future::{ready, Future, Ready},
    hint::black_box,
    pin::pin,
    task::{Context, Poll, Waker},
};

use api_key_auth::{ApiKeyLayer, KeyManager, MemoryStore, NewKey};
use http::{Request, Response};
use tower::{Layer, Service};

fn main() {
    divan::main();
}

fn now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("nothing here waits"),
    }
}

#[derive(Clone)]
struct Trivial;

impl Service<Request<String>> for Trivial {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<String>) -> Self::Future {
        drop(request);
        ready(Ok(Response::new(String::new())))
    }
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
