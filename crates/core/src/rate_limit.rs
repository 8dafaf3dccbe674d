//! Keys' rate limits: a [`RateLimit`] kept with a key, and the
//! [`RateLimiter`] that decides whether a request of that key may go
//! through ([`LocalRateLimiter`] in this process, feature `rate-limit`).
//!
//! ```
//! use api_key_auth::{rate_limit::RateLimit, Authenticator, KeyManager, MemoryStore, NewKey};
//! use http::HeaderMap;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! let limit = "2/s".parse::<RateLimit>()?;
//! let (_, key) = store.create(NewKey::named("metered").rate_limit(limit)).await?.reveal();
//! // Every authenticator enforces keys' limits, in this process by default.
//! let auth = Authenticator::new(store);
//! let mut headers = HeaderMap::new();
//! headers.insert("authorization", format!("Api-Key {}", key.expose_secret()).parse()?);
//! assert!(auth.authenticate(&headers).await.is_ok());
//! assert!(auth.authenticate(&headers).await.is_ok());
//! let over = auth.authenticate(&headers).await.unwrap_err();   // the third within a second
//! assert_eq!(auth.rejection(&over).status(), 429);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! The limit is a GCRA (the [`governor`](https://docs.rs/governor) crate in
//! this process; one Lua script on Redis for
//! `RedisRateLimiter` (in `api_key_auth::rate_limit`), which holds
//! many instances to one limit between them). A request over it gets `429`
//! with `Retry-After` and the IETF `RateLimit-Policy: "key";q=<requests>;w=<seconds>`
//! and `RateLimit: "key";r=0;t=<seconds>` fields
//! (draft-ietf-httpapi-ratelimit-headers).

mod limiter;
#[cfg(feature = "rate-limit")]
mod local;
mod owners;

pub use crate::store::rate_limit::{RateLimit, RateLimitError};
#[doc(hidden)]
pub use limiter::budget_of;
pub use limiter::{RateDecision, RateLimiter};
#[cfg(feature = "rate-limit")]
#[cfg_attr(docsrs, doc(cfg(feature = "rate-limit")))]
pub use local::LocalRateLimiter;
pub use owners::OwnerLimits;
