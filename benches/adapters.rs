//! What each adapter adds per request over the same handler bare, beside the
//! usual hand-rolled alternative:
//!
//! ```text
//! cargo bench --bench adapters                # 300 rounds of 64 requests per variant
//! ROUNDS=1000 cargo bench --bench adapters
//! ```
//!
//! - tower (also what guards hyper and tonic): `ApiKeyLayer` (HTTP and gRPC
//!   mode) vs tower-http's `ValidateRequestHeaderLayer::bearer`, a plain
//!   string comparison, and vs `hand_rolled`: the least any layer of this
//!   scheme must do (a map lookup of the prefix, SHA-256 of the key, a
//!   constant-time compare, the caller put into the request's extensions),
//!   written out bare, without parsing rules, reporting or protections.
//! - the gate (`gate::Gate`): a gateway's question answered, 200 with the
//!   identity as headers, beside `ApiKeyLayer` on the same store.
//! - axum: a router with the handler bare vs behind `route_layer`: tower-http's
//!   bearer, and `ApiKeyLayer` in the inner-body mode axum users are shown and
//!   in the default one.
//! - actix-web: `ApiKeyAuth` vs actix-web-httpauth's bearer middleware with a
//!   plain string comparison.
//!
//! Target: our overhead over bare within 2x of the plain comparisons', though
//! we hash and look up.
//!
//! The variants run interleaved (see `support/interleave.rs`): every figure
//! is a median over rounds of a per-round difference or ratio.

mod support;

use std::{
    collections::HashMap,
    convert::Infallible,
    future::{ready, Ready},
    sync::Arc,
    task::{Context, Poll},
};

use api_key_auth::{
    actix::ApiKeyAuth, ApiKeyLayer, Authenticator, KeyManager, MemoryStore, NewKey,
};
use http::{header::AUTHORIZATION, Request, Response, StatusCode};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tower::{Layer, Service, ServiceExt};

use support::{
    interleave::{self, Variant},
    now, tower_variant, Trivial,
};

const TOKEN: &str = "n58lzybi.1M2baTIHuRgPGbzdZC3Zch0b8VC2etL0";

/// A store with one key, and the key.
fn keyed() -> (MemoryStore, String) {
    let store = MemoryStore::new();
    let (_, key) = now(store.create(NewKey::named("bench"))).unwrap().reveal();
    (store, key.expose_secret().to_owned())
}

fn main() {
    let mut variants = tower_adapter::variants();
    variants.extend(axum_adapter::variants());
    variants.extend(actix_adapter::variants());
    let timings = interleave::run(variants, 300);
    timings.print_table();
    for (label, group, ours, theirs) in [
        (
            "tower: ApiKeyLayer / tower-http bearer",
            "tower",
            "api_key_layer",
            "tower_http_bearer",
        ),
        (
            "tower: ApiKeyLayer / hand-rolled floor",
            "tower",
            "api_key_layer",
            "hand_rolled",
        ),
        (
            "tower: the gate's verdict / ApiKeyLayer",
            "tower",
            "gate",
            "api_key_layer",
        ),
        (
            "axum: ApiKeyLayer (inner body) / tower-http bearer",
            "axum",
            "api_key_layer",
            "tower_http_bearer",
        ),
        (
            "axum: ApiKeyLayer (wrapped) / tower-http bearer",
            "axum",
            "api_key_layer_wrapped",
            "tower_http_bearer",
        ),
        (
            "actix-web: ApiKeyAuth / actix-web-httpauth bearer",
            "actix",
            "api_key_auth",
            "httpauth_bearer",
        ),
    ] {
        timings.print_ratio(label, group, ours, theirs);
    }
}

/// The floor of the scheme as a tower service in front of [`Trivial`]: the
/// steps no implementation can skip, and nothing else.
#[derive(Clone)]
struct HandRolled {
    keys: Arc<Digests>,
}

/// Prefix to the key's SHA-256 and its holder's name.
type Digests = HashMap<[u8; 8], ([u8; 32], Arc<str>), foldhash::fast::RandomState>;

impl HandRolled {
    /// The one key of `store`, `key`, as the floor's map holds it.
    fn over(store: &MemoryStore, key: &str) -> Self {
        let record = now(store.list()).unwrap().pop().unwrap();
        let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        let mut keys = HashMap::default();
        keys.insert(
            *record.prefix.as_bytes(),
            (digest, Arc::from(record.name.as_str())),
        );
        Self {
            keys: Arc::new(keys),
        }
    }
}

impl Service<Request<String>> for HandRolled {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<String>) -> Self::Future {
        let name = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|value| value.as_bytes().strip_prefix(b"Api-Key "))
            .filter(|key| key.len() == 41)
            .and_then(|key| {
                let (expected, name) = self.keys.get(&key[..8])?;
                let digest: [u8; 32] = Sha256::digest(key).into();
                bool::from(digest.ct_eq(expected)).then(|| name.clone())
            });
        match name {
            Some(name) => {
                request.extensions_mut().insert(name);
                Trivial.call(request)
            }
            None => {
                let mut response = Response::new(String::new());
                *response.status_mut() = StatusCode::UNAUTHORIZED;
                ready(Ok(response))
            }
        }
    }
}

mod tower_adapter {
    use super::*;
    use tower_http::validate_request::ValidateRequestHeaderLayer;

    /// Every variant times requests that are let through.
    fn variant<S, B>(name: &'static str, service: S, authorization: String) -> Variant
    where
        S: Service<Request<String>, Response = Response<B>, Error = Infallible> + 'static,
    {
        let request = move || {
            Request::get("/")
                .header("authorization", &authorization)
                .body(String::new())
                .unwrap()
        };
        tower_variant("tower", name, service, request, 200)
    }

    #[allow(deprecated)] // "too basic for real applications": the plain comparison we measure against
    pub fn variants() -> Vec<Variant> {
        let (store, key) = keyed();
        let ours = format!("Api-Key {key}");
        let grpc = Authenticator::builder(store.clone())
            .grpc(true)
            .build()
            .unwrap();
        vec![
            variant("bare", Trivial, format!("Bearer {TOKEN}")),
            variant(
                "tower_http_bearer",
                ValidateRequestHeaderLayer::bearer(TOKEN).layer(Trivial),
                format!("Bearer {TOKEN}"),
            ),
            variant("hand_rolled", HandRolled::over(&store, &key), ours.clone()),
            variant(
                "api_key_layer",
                ApiKeyLayer::new(store.clone()).layer(Trivial),
                ours.clone(),
            ),
            variant(
                "api_key_layer_grpc",
                ApiKeyLayer::from(grpc).layer(Trivial),
                ours.clone(),
            ),
            // A gateway's question, answered with the identity in headers.
            variant(
                "gate",
                api_key_auth::gate::Gate::builder(Authenticator::new(store))
                    .build()
                    .unwrap(),
                ours,
            ),
        ]
    }
}

mod axum_adapter {
    use super::*;
    use axum::{body::Body, routing::get, Router};
    use tower_http::validate_request::ValidateRequestHeaderLayer;

    fn variant(name: &'static str, router: Router, authorization: String) -> Variant {
        let request = move || {
            Request::get("/whoami")
                .header("authorization", &authorization)
                .body(Body::empty())
                .unwrap()
        };
        let first = now(router.clone().oneshot(request())).unwrap();
        assert!(
            first.status().is_success(),
            "axum::{name}: {}",
            first.status()
        );
        Variant::new("axum", name, request, move |r| {
            now(router.clone().oneshot(r)).unwrap()
        })
    }

    fn routes() -> Router {
        Router::new().route("/whoami", get(|| async { "ok" }))
    }

    #[allow(deprecated)] // the plain comparison we measure against
    pub fn variants() -> Vec<Variant> {
        let (store, key) = keyed();
        let ours = format!("Api-Key {key}");
        vec![
            variant("bare", routes(), String::new()),
            variant(
                "tower_http_bearer",
                routes().route_layer(ValidateRequestHeaderLayer::bearer(TOKEN)),
                format!("Bearer {TOKEN}"),
            ),
            variant(
                "api_key_layer",
                routes().route_layer(ApiKeyLayer::new(store.clone()).with_inner_body()),
                ours.clone(),
            ),
            // The default mode: axum boxes the layer's `AuthBody` again.
            variant(
                "api_key_layer_wrapped",
                routes().route_layer(ApiKeyLayer::new(store)),
                ours,
            ),
        ]
    }
}

mod actix_adapter {
    use super::*;
    use actix_web::{
        dev::{Service as _, ServiceFactory, ServiceRequest, ServiceResponse},
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

    /// `app` on an actix system of its own; each request is one `block_on`.
    fn variant<T, B>(name: &'static str, authorization: String, app: App<T>) -> Variant
    where
        T: ServiceFactory<
                ServiceRequest,
                Config = (),
                Response = ServiceResponse<B>,
                Error = actix_web::Error,
                InitError = (),
            > + 'static,
        B: actix_web::body::MessageBody + 'static,
    {
        let system = actix_web::rt::System::new();
        let app = system.block_on(test::init_service(app));
        let request = move || {
            test::TestRequest::get()
                .uri("/whoami")
                .insert_header(("authorization", authorization.as_str()))
                .to_request()
        };
        let first = system.block_on(app.call(request())).unwrap();
        assert!(
            first.status().is_success(),
            "actix::{name}: {}",
            first.status()
        );
        Variant::new("actix", name, request, move |r| {
            system.block_on(app.call(r)).unwrap()
        })
    }

    pub fn variants() -> Vec<Variant> {
        let (store, key) = keyed();
        let route = || App::new().route("/whoami", web::get().to(handler));
        vec![
            variant("bare", String::new(), route()),
            variant(
                "httpauth_bearer",
                format!("Bearer {TOKEN}"),
                route().wrap(HttpAuthentication::bearer(plain_comparison)),
            ),
            variant(
                "api_key_auth",
                format!("Api-Key {key}"),
                route().wrap(ApiKeyAuth::new(store)),
            ),
        ]
    }
}
