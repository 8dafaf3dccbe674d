//! What the benches share: polling a future that is ready at once, a
//! trivial inner service, timing variants interleaved, and reading the
//! process's resident memory.
#![allow(dead_code)]

pub mod dudect;
pub mod interleave;
pub mod timing_cases;

use std::{
    convert::Infallible,
    future::{ready, Future, Ready},
    pin::pin,
    task::{Context, Poll, Waker},
};

use http::{Request, Response};

/// This process's resident memory, in bytes (Linux's `/proc/self/statm`;
/// 0 elsewhere).
pub fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Headers carrying `key` as `Authorization: Api-Key <key>`.
pub fn authorization(key: &str) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        http::HeaderValue::try_from(format!("Api-Key {key}")).unwrap(),
    );
    headers
}

/// Polls a future once and takes its output: everything benched here is
/// ready at once (in-memory lookups, cache hits), and a future that is not
/// would be a bug in the bench.
pub fn now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a benched future had to wait"),
    }
}

/// The inner service of the layer benches: drops the request, answers an empty 200.
#[derive(Clone)]
pub struct Trivial;

impl tower::Service<Request<String>> for Trivial {
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

/// A variant timing `service` on requests from `request`, after checking
/// that it answers the first one with `status`.
pub fn tower_variant<S, B>(
    group: &'static str,
    name: &'static str,
    mut service: S,
    request: impl Fn() -> Request<String> + 'static,
    status: u16,
) -> interleave::Variant
where
    S: tower::Service<Request<String>, Response = Response<B>> + 'static,
    S::Error: std::fmt::Debug,
{
    let first = now(service.call(request())).unwrap();
    assert_eq!(first.status(), status, "{group}::{name}");
    interleave::Variant::new(group, name, request, move |r| now(service.call(r)).unwrap())
}
