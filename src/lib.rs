//! API-key authentication for Rust HTTP servers.
//!
//! Add one layer and every request must carry `Authorization: Api-Key <prefix>.<secret>`.
//! The layer parses the header, finds the 8-character prefix in a pluggable
//! [`KeyStore`], and checks the 32-character secret's hash in constant time.
//! Keys, hashes and databases are those of djangorestframework-api-key.
//!
//! ```
//! use api_key_auth::{ApiKeyLayer, KeyManager, MemoryStore, NewKey};
//! use http::{Request, Response, StatusCode};
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! let created = store.create(NewKey::named("billing").scopes(["invoices"])).await?;
//! let (_record, key) = created.reveal(); // shown once, never stored
//!
//! let app = ApiKeyLayer::new(store).layer(service_fn(|req: Request<String>| async move {
//!     let who = req.extensions().get::<api_key_auth::Identity>().map(|i| i.name().to_owned());
//!     Ok::<_, std::convert::Infallible>(Response::new(who.unwrap_or_default()))
//! }));
//!
//! let good = Request::get("/")
//!     .header("authorization", format!("Api-Key {}", key.expose_secret()))
//!     .body(String::new())?;
//! assert_eq!(app.clone().oneshot(good).await?.status(), StatusCode::OK);
//!
//! let bad = Request::get("/")
//!     .header("authorization", "Api-Key n58lzybi.1M2baTIHuRgPGbzdZC3Zch0b8VC2etL0")
//!     .body(String::new())?;
//! let refused = app.oneshot(bad).await?;
//! assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(refused.headers()["www-authenticate"], r#"Api-Key realm="api""#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # The pieces
//!
//! | piece | what it is |
//! |---|---|
//! | [`key`] | the key: parsed from header bytes, generated from the OS CSPRNG, secret redacted and zeroized |
//! | [`hash`] | self-describing stored hashes (SHA-256, DRF's `sha512$$`, peppered HMAC-SHA256), constant-time checks |
//! | [`KeyStore`], [`KeyManager`] | find a record by prefix; create, list, revoke |
//! | [`MemoryStore`] | an in-process store |
//! | [`Authenticator`] | headers in, [`Identity`] or [`AuthFailure`] out; framework-agnostic |
//! | [`ApiKeyLayer`] | the tower layer; [`scope`] for 403 on missing scopes |
//! | `axum` feature | [`Identity`] and `Option<Identity>` as axum extractors |
//! | `sqlite`, `postgres`, `mysql`, `redis`, `redis-cluster` features | stores in [`store`], sharing djangorestframework-api-key tables too |
//! | `cache` feature | `cache::CachedStore`, a bounded cache in front of any store |
//! | `testkit` feature | `testkit::Conformance`, the store contract as a test |
//! | [`KeyManager::rotate`] | a new key for an old one, which works on for a grace period (`Sunset` on its answers) |
//! | `last-use` feature | `last_use::LastUseTracker`: when each key was last used, written in batches off the request path |
//! | [`audit`] | `tracing` events of what happened to keys, under one target |
//! | [`text`] | text from a store or a client made safe to print (control and format characters escaped) |
//! | `metrics` feature | counters and a histogram through the `metrics` facade |
//! | `drf-legacy` features | keys of djangorestframework-api-key before 3.0 (Django password hashes), upgraded on use |
//!
//! # HTTP policy
//!
//! Missing, malformed, unknown, wrong, revoked and expired keys all get the
//! same `401` with `WWW-Authenticate: Api-Key realm="…"` and the same body; the
//! reason goes to `tracing` and to the [`on_failure`](AuthenticatorBuilder::on_failure)
//! hook. A key lacking a required scope gets `403`; a failing store `503` with
//! `Retry-After`. See [`reject`] for the table.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The modules run one way: error, key and hash, then store, then the
// authenticator, then the tower layers, then the framework adapters
// (`scripts/module-graph.py` checks that no module reaches back up).
mod auth;
pub mod client;
mod credential;
mod error;
mod identity;
mod layer;
mod require_scopes;
mod requirement;
mod scheme;

pub mod audit;
pub mod body;
pub mod future;
pub mod hash;
pub mod key;
pub mod key_format;
pub mod limit;
pub mod reject;
pub mod store;
pub mod text;

pub mod scope {
    //! Requiring scopes: a [`ScopeRequirement`] made by the authenticator, as a
    //! tower layer ([`RequireScopesLayer`]) to put inside [`ApiKeyLayer`](crate::ApiKeyLayer)
    //! (in axum, on a route with `route_layer`), or as an actix-web guard.
    //!
    //! A request whose key lacks the scopes gets `403 Forbidden` with
    //! `WWW-Authenticate: Api-Key realm="…", error="insufficient_scope", scope="…"`;
    //! one with no authenticated key at all gets the layer's 401.
    //!
    //! ```
    //! use api_key_auth::{ApiKeyLayer, KeyManager, MemoryStore, NewKey};
    //! use http::{Request, Response, StatusCode};
    //! use tower::{service_fn, ServiceBuilder, ServiceExt};
    //!
    //! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    //! let store = MemoryStore::new();
    //! let (_, reader) = store.create(NewKey::named("r").scopes(["read"])).await?.reveal();
    //! let auth = ApiKeyLayer::new(store);
    //!
    //! let admin_only = ServiceBuilder::new()
    //!     .layer(auth.clone())
    //!     .layer(auth.require_all(["admin"])?)
    //!     .service(service_fn(|_req: Request<String>| async {
    //!         Ok::<_, std::convert::Infallible>(Response::new(String::new()))
    //!     }));
    //!
    //! let request = Request::get("/")
    //!     .header("authorization", format!("Api-Key {}", reader.expose_secret()))
    //!     .body(String::new())?;
    //! let response = admin_only.oneshot(request).await?;
    //! assert_eq!(response.status(), StatusCode::FORBIDDEN);
    //! assert_eq!(
    //!     response.headers()["www-authenticate"],
    //!     r#"Api-Key realm="api", error="insufficient_scope", scope="admin""#
    //! );
    //! # Ok::<(), Box<dyn std::error::Error>>(())
    //! # }).unwrap();
    //! ```

    pub use crate::require_scopes::{RequireScopesLayer, RequireScopesService};
    pub use crate::requirement::ScopeRequirement;
}

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;

#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
pub mod actix;

#[cfg(feature = "tonic")]
#[cfg_attr(docsrs, doc(cfg(feature = "tonic")))]
pub mod tonic;

#[cfg(feature = "testkit")]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
pub mod testkit;

#[cfg(feature = "cache")]
#[cfg_attr(docsrs, doc(cfg(feature = "cache")))]
pub mod cache;

#[cfg(feature = "admin")]
#[cfg_attr(docsrs, doc(cfg(feature = "admin")))]
pub mod admin;

#[cfg(feature = "utoipa")]
#[cfg_attr(docsrs, doc(cfg(feature = "utoipa")))]
pub mod openapi;

#[cfg(feature = "last-use")]
#[cfg_attr(docsrs, doc(cfg(feature = "last-use")))]
pub mod last_use;

#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;

#[cfg(feature = "throttle")]
#[cfg_attr(docsrs, doc(cfg(feature = "throttle")))]
pub mod throttle;

#[cfg(feature = "rate-limit")]
#[cfg_attr(docsrs, doc(cfg(feature = "rate-limit")))]
pub mod rate_limit;

// What a user of the layer and a store's author need, at the root; the rest
// lives in its module, once.
pub use auth::{Authenticator, AuthenticatorBuilder};
pub use error::{AuthFailure, ConfigError, ErrorChain, Malformed, MAX_CREDENTIAL_LEN};
pub use hash::Hasher;
pub use identity::Identity;
pub use key::Prefix;
pub use layer::{ApiKeyLayer, ApiKeyService};
pub use store::{
    memory::MemoryStore, CreatedKey, InvalidNewKey, KeyManager, KeyRecord, KeyStore, Lookup,
    NewKey, PlaintextKey, Rotated, StoreError,
};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
