//! The core of [api-key-auth](https://docs.rs/api-key-auth): keys and their
//! hashes, the store contract and the in-memory store, the authenticator and
//! its tower layer, scopes, the framework adapters and the cache.
//!
//! Use it through `api-key-auth`, which re-exports all of it under the same
//! paths beside the SQL and Redis stores and the admin API; this crate is
//! what those depend on.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The modules run one way: error, key and hash, then store, then the
// authenticator, then the tower layers, then the framework adapters
// (`scripts/module-graph.py` checks that no module reaches back up).
mod auth;
pub mod client_addr;
/// The client's address, now [`client_addr`].
#[deprecated(since = "0.3.0", note = "use api_key_auth::client_addr")]
pub mod client {
    pub use crate::client_addr::{ClientAddr, ForwardingHeader, TrustedProxies};
}
mod credential;
mod error;
mod identity;
mod layer;
mod policy;
mod scheme;

pub mod audit;
pub mod body;
pub mod future;
pub mod hash;
pub mod key;
pub mod key_format;
/// A key's rate limit, now in [`rate_limit`] beside the limiter.
#[deprecated(
    since = "0.3.0",
    note = "use api_key_auth::rate_limit::{RateLimit, RateLimitError}"
)]
pub mod limit {
    pub use crate::rate_limit::{RateLimit, RateLimitError};
}
pub mod reject;
pub mod store;
pub mod text;

pub mod scope;

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

#[cfg(feature = "gate")]
#[cfg_attr(docsrs, doc(cfg(feature = "gate")))]
pub mod gate;

#[cfg(feature = "cache")]
#[cfg_attr(docsrs, doc(cfg(feature = "cache")))]
pub mod cache;

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

pub mod rate_limit;

#[cfg(feature = "credit-leases")]
#[cfg_attr(docsrs, doc(cfg(feature = "credit-leases")))]
pub mod credit_leases;
#[cfg(feature = "credit-leases")]
#[cfg_attr(docsrs, doc(cfg(feature = "credit-leases")))]
pub use credit_leases::CreditLeases;

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
