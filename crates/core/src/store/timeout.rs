//! A bound on every lookup of a store (feature `timeout`).

use std::time::Duration;

use async_trait::async_trait;

use super::{KeyRecord, KeyStore, Lookup, StoreError};
use crate::{
    hash::{Algorithm, StoredHash},
    key::Prefix,
};

/// `S` with every [`find`](KeyStore::find) given at most a fixed time: one
/// that takes longer is a store failure ([`StoreError::timeout`], answered
/// 503), and its future is dropped. Answers a store gives at once
/// ([`find_now`](KeyStore::find_now)) pass as they are.
///
/// [`AuthenticatorBuilder::lookup_timeout`](crate::AuthenticatorBuilder::lookup_timeout)
/// puts the authenticator's store in one. Needs a tokio runtime with its
/// timer enabled.
///
/// ```
/// use std::time::Duration;
/// use api_key_auth::{store::TimeoutStore, Authenticator, MemoryStore};
///
/// let store = TimeoutStore::new(MemoryStore::new(), Duration::from_secs(2));
/// let auth = Authenticator::new(store);
/// # let _ = auth;
/// ```
#[derive(Debug, Clone)]
pub struct TimeoutStore<S> {
    inner: S,
    limit: Duration,
}

impl<S: KeyStore> TimeoutStore<S> {
    /// `inner`, each lookup bounded by `limit`.
    pub fn new(inner: S, limit: Duration) -> Self {
        Self { inner, limit }
    }

    /// The store inside.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The bound on each lookup.
    pub fn limit(&self) -> Duration {
        self.limit
    }
}

#[async_trait]
impl<S: KeyStore> KeyStore for TimeoutStore<S> {
    async fn find(&self, prefix: Prefix) -> Lookup {
        tokio::time::timeout(self.limit, self.inner.find(prefix))
            .await
            .unwrap_or_else(|_| Err(StoreError::timeout()))
    }

    fn find_now(&self, prefix: Prefix) -> Option<Lookup> {
        self.inner.find_now(prefix)
    }

    fn hash_algorithm(&self) -> Option<Algorithm> {
        self.inner.hash_algorithm()
    }

    async fn upgrade_hash(&self, record: &KeyRecord, new: StoredHash) -> Result<bool, StoreError> {
        self.inner.upgrade_hash(record, new).await
    }

    async fn spend_credits(
        &self,
        record: &KeyRecord,
        cost: u64,
    ) -> Result<crate::store::CreditSpend, StoreError> {
        tokio::time::timeout(self.limit, self.inner.spend_credits(record, cost))
            .await
            .unwrap_or_else(|_| Err(StoreError::timeout()))
    }

    fn spend_credits_now(
        &self,
        record: &KeyRecord,
        cost: u64,
    ) -> Option<Result<crate::store::CreditSpend, StoreError>> {
        self.inner.spend_credits_now(record, cost)
    }

    async fn lease_credits(
        &self,
        record: &KeyRecord,
        up_to: u64,
    ) -> Result<crate::store::CreditLease, StoreError> {
        tokio::time::timeout(self.limit, self.inner.lease_credits(record, up_to))
            .await
            .unwrap_or_else(|_| Err(StoreError::timeout()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{key::ApiKey, MemoryStore};

    /// A store that never answers.
    struct Stalled;

    #[async_trait]
    impl KeyStore for Stalled {
        async fn find(&self, _prefix: Prefix) -> Lookup {
            std::future::pending().await
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_lookup_past_the_limit_is_a_timeout_and_one_within_it_passes() {
        let prefix = ApiKey::generate().unwrap().prefix();
        let stalled = TimeoutStore::new(Stalled, Duration::from_secs(2));
        let err = stalled.find(prefix).await.unwrap_err();
        assert!(err.is_timeout(), "{err}");
        let memory = TimeoutStore::new(MemoryStore::new(), Duration::from_secs(2));
        assert!(memory.find(prefix).await.unwrap().is_none());
        assert!(memory.find_now(prefix).unwrap().unwrap().is_none());
    }
}
