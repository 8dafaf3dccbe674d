//! What each adapter adds per request over the same handler bare, beside the
//! usual hand-rolled alternative, in one run:
//!
//! ```text
//! cargo bench --bench adapters
//! ```
//!
//! - tower (also what guards hyper and tonic): `ApiKeyLayer` (HTTP and gRPC
//!   mode) vs tower-http's `ValidateRequestHeaderLayer::bearer`, a plain
//!   string comparison.
//! - axum: a router with the handler bare vs behind `route_layer(ApiKeyLayer)`.
//! - actix-web: `ApiKeyAuth` vs actix-web-httpauth's bearer middleware with a
//!   plain string comparison.
//!
//! Target: our overhead over bare within 2x of the plain comparisons', though
//! we hash and look up.

mod support;

use std::hint::black_box;

use api_key_auth::{
    actix::ApiKeyAuth, ApiKeyLayer, Authenticator, KeyManager, MemoryStore, NewKey,
};
use http::Request;
use tower::{Layer, Service, ServiceExt};

use support::{now, Trivial};

fn main() {
    divan::main();
}

/// A store with one key, and the key.
fn keyed() -> (MemoryStore, String) {
    let store = MemoryStore::new();
    let (_, key) = now(store.create(NewKey::named("bench"))).unwrap().reveal();
    (store, key.expose_secret().to_owned())
}

const TOKEN: &str = "n58lzybi.1M2baTIHuRgPGbzdZC3Zch0b8VC2etL0";

mod tower_adapter {
    use super::*;
    use tower_http::validate_request::ValidateRequestHeaderLayer;

    fn requests(authorization: String) -> impl Fn() -> Request<String> {
        move || {
            Request::get("/")
                .header("authorization", &authorization)
                .body(String::new())
                .unwrap()
        }
    }

    fn run<S>(bencher: divan::Bencher, mut service: S, authorization: String)
    where
        S: Service<Request<String>>,
        S::Error: std::fmt::Debug,
    {
        bencher
            .with_inputs(requests(authorization))
            .bench_local_values(|request| now(service.call(black_box(request))).unwrap());
    }

    #[divan::bench(sample_size = 64)]
    fn bare(bencher: divan::Bencher) {
        run(bencher, Trivial, format!("Bearer {TOKEN}"));
    }

    #[divan::bench(sample_size = 64)]
    #[allow(deprecated)] // "too basic for real applications": the plain comparison we measure against
    fn tower_http_bearer(bencher: divan::Bencher) {
        run(
            bencher,
            ValidateRequestHeaderLayer::bearer(TOKEN).layer(Trivial),
            format!("Bearer {TOKEN}"),
        );
    }

    #[divan::bench(sample_size = 64)]
    fn api_key_layer(bencher: divan::Bencher) {
        let (store, key) = keyed();
        run(
            bencher,
            ApiKeyLayer::new(store).layer(Trivial),
            format!("Api-Key {key}"),
        );
    }

    #[divan::bench(sample_size = 64)]
    fn api_key_layer_grpc(bencher: divan::Bencher) {
        let (store, key) = keyed();
        let auth = Authenticator::builder(store).grpc(true).build().unwrap();
        run(
            bencher,
            ApiKeyLayer::from(auth).layer(Trivial),
            format!("Api-Key {key}"),
        );
    }
}

mod axum_adapter {
    use super::*;
    use axum::{body::Body, routing::get, Router};

    fn requests(authorization: String) -> impl Fn() -> Request<Body> {
        move || {
            Request::get("/whoami")
                .header("authorization", &authorization)
                .body(Body::empty())
                .unwrap()
        }
    }

    fn run(bencher: divan::Bencher, router: Router, authorization: String) {
        bencher
            .with_inputs(requests(authorization))
            .bench_local_values(|request| now(router.clone().oneshot(black_box(request))).unwrap());
    }

    #[divan::bench(sample_size = 64)]
    fn bare(bencher: divan::Bencher) {
        run(
            bencher,
            Router::new().route("/whoami", get(|| async { "ok" })),
            String::new(),
        );
    }

    #[divan::bench(sample_size = 64)]
    #[allow(deprecated)] // the plain comparison we measure against
    fn tower_http_bearer(bencher: divan::Bencher) {
        let router = Router::new()
            .route("/whoami", get(|| async { "ok" }))
            .route_layer(tower_http::validate_request::ValidateRequestHeaderLayer::bearer(TOKEN));
        run(bencher, router, format!("Bearer {TOKEN}"));
    }

    #[divan::bench(sample_size = 64)]
    fn api_key_layer(bencher: divan::Bencher) {
        let (store, key) = keyed();
        let router = Router::new()
            .route("/whoami", get(|| async { "ok" }))
            .route_layer(ApiKeyLayer::new(store));
        run(bencher, router, format!("Api-Key {key}"));
    }
}

mod actix_adapter {
    use super::*;
    use actix_web::{
        dev::{Service as _, ServiceRequest},
        test, web, App, HttpResponse,
    };
    use actix_web_httpauth::{extractors::bearer::BearerAuth, middleware::HttpAuthentication};

    async fn handler() -> HttpResponse {
        HttpResponse::Ok().finish()
    }

    async fn plain_comparison(
        request: ServiceRequest,
        credentials: BearerAuth,
    ) -> Result<ServiceRequest, (actix_web::Error, ServiceRequest)> {
        if credentials.token() == TOKEN {
            Ok(request)
        } else {
            Err((actix_web::error::ErrorUnauthorized("unauthorized"), request))
        }
    }

    /// Times `app` on one actix system; each iteration is one request.
    fn run<T, B>(bencher: divan::Bencher, authorization: String, build: impl FnOnce() -> App<T>)
    where
        T: actix_web::dev::ServiceFactory<
                ServiceRequest,
                Config = (),
                Response = actix_web::dev::ServiceResponse<B>,
                Error = actix_web::Error,
                InitError = (),
            > + 'static,
        B: actix_web::body::MessageBody + 'static,
    {
        let system = actix_web::rt::System::new();
        let app = system.block_on(test::init_service(build()));
        bencher
            .with_inputs(|| {
                test::TestRequest::get()
                    .uri("/whoami")
                    .insert_header(("authorization", authorization.as_str()))
                    .to_request()
            })
            .bench_local_values(|request| {
                let response = system.block_on(app.call(black_box(request))).unwrap();
                assert!(response.status().is_success());
            });
    }

    #[divan::bench(sample_size = 64)]
    fn bare(bencher: divan::Bencher) {
        run(bencher, String::new(), || {
            App::new().route("/whoami", web::get().to(handler))
        });
    }

    #[divan::bench(sample_size = 64)]
    fn httpauth_bearer(bencher: divan::Bencher) {
        run(bencher, format!("Bearer {TOKEN}"), || {
            App::new()
                .wrap(HttpAuthentication::bearer(plain_comparison))
                .route("/whoami", web::get().to(handler))
        });
    }

    #[divan::bench(sample_size = 64)]
    fn api_key_auth(bencher: divan::Bencher) {
        let (store, key) = keyed();
        run(bencher, format!("Api-Key {key}"), move || {
            App::new()
                .wrap(ApiKeyAuth::new(store))
                .route("/whoami", web::get().to(handler))
        });
    }
}
