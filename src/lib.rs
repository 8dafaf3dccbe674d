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

// The crate a user adds: the core under its own paths, and each member a
// feature turns on, where 0.2 had it.
pub use api_key_auth_core::*;

pub mod store {
    //! The key store contract ([`KeyStore`] finds a key's record by its
    //! prefix, [`KeyManager`] creates, lists and revokes keys), the
    //! in-memory store, and each store a feature turns on.

    pub use api_key_auth_core::store::*;

    #[cfg(feature = "mysql")]
    #[cfg_attr(docsrs, doc(cfg(feature = "mysql")))]
    pub use api_key_auth_sql::mysql;
    #[cfg(feature = "postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    pub use api_key_auth_sql::postgres;
    #[cfg(feature = "sqlite")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
    pub use api_key_auth_sql::sqlite;
    #[cfg(feature = "_sql")]
    #[cfg_attr(
        docsrs,
        doc(cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql")))
    )]
    pub use api_key_auth_sql::{DrfTable, Schema};

    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub use api_key_auth_redis as redis;

    pub mod open;
}

pub mod rate_limit {
    //! Keys' rate limits, enforced in this process (feature `rate-limit`)
    //! or, with the `redis` feature too, shared by every instance through
    //! Redis.

    pub use api_key_auth_core::rate_limit::*;

    #[cfg(all(feature = "redis", feature = "rate-limit"))]
    #[cfg_attr(docsrs, doc(cfg(all(feature = "redis", feature = "rate-limit"))))]
    pub use api_key_auth_redis::RedisRateLimiter;
}

#[cfg(feature = "admin")]
#[cfg_attr(docsrs, doc(cfg(feature = "admin")))]
pub use api_key_auth_admin as admin;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
