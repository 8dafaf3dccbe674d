//! The key store contract: [`KeyStore`] finds a key's record by its prefix,
//! [`KeyManager`] creates, lists and revokes keys.
//!
//! Implement [`KeyStore`] against your own database; the layer needs nothing more.
//!
//! ```
//! use std::sync::Arc;
//! use api_key_auth::{KeyRecord, KeyStore, StoreError};
//! use api_key_auth::key::Prefix;
//!
//! /// Keys kept in a user's own table; here, a vector.
//! struct MyStore {
//!     rows: Vec<Arc<KeyRecord>>,
//! }
//!
//! #[async_trait::async_trait]
//! impl KeyStore for MyStore {
//!     async fn find(&self, prefix: Prefix) -> Result<Option<Arc<KeyRecord>>, StoreError> {
//!         Ok(self.rows.iter().find(|r| r.prefix == prefix).cloned())
//!     }
//! }
//! ```

#[cfg(feature = "cache")]
mod invalidation;
pub mod memory;
#[cfg(feature = "_stored")]
#[doc(hidden)]
pub mod row;

#[cfg(feature = "cache")]
#[cfg_attr(docsrs, doc(cfg(feature = "cache")))]
pub use invalidation::{Invalidation, InvalidationSource};
#[cfg(all(feature = "cache", feature = "_stored"))]
#[doc(hidden)]
pub use invalidation::{Line, Listener};

mod allowlist;
mod contract;
mod credits;
mod error;
mod new_key;
mod paging;
pub(crate) mod rate_limit;
mod record;
mod time;
#[cfg(feature = "timeout")]
mod timeout;

pub(crate) use allowlist::canonical;
pub use allowlist::{AddressAllowlist, AllowlistError, MAX_ALLOWED_NETWORKS};
pub use contract::{check_batch, KeyManager, KeyStore, Lookup, OwnedChange, EVERY_KEY, MAX_BATCH};
pub use credits::{CreditLease, CreditSpend, Credits, CreditsError, Refill, MAX_CREDITS};
pub use error::StoreError;
pub use new_key::{CreatedKey, InvalidNewKey, NewKey, PlaintextKey, Rotated, MAX_NAME, MAX_OWNER};
pub use paging::{KeyFilter, Page, PageRequest, MAX_PAGE};
// Public as `rate_limit::RateLimit`, beside the limiter; defined here,
// as a record holds one.
pub(crate) use rate_limit::RateLimit;
pub use record::{KeyRecord, KeyStatus, KeyUse, Retirement};
pub use time::{latest_expiry, rfc3339, LATEST_EXPIRY_SECS};
#[cfg(feature = "timeout")]
#[cfg_attr(docsrs, doc(cfg(feature = "timeout")))]
pub use timeout::TimeoutStore;
