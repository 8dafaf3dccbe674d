//! The contract of a rate limiter: what the authenticator asks of one for
//! each request of a rate-limited key.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;

use crate::store::{KeyRecord, RateLimit, StoreError};

/// What a rate limiter says of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateDecision {
    /// Whether the request may go through.
    pub allowed: bool,
    /// How many more requests may come at once now.
    pub remaining: u32,
    /// When a refused request may be tried again.
    pub retry_after: Duration,
}

impl RateDecision {
    /// A request let through, with `remaining` more allowed at once.
    pub fn allow(remaining: u32) -> Self {
        Self {
            allowed: true,
            remaining,
            retry_after: Duration::ZERO,
        }
    }

    /// A request refused, to be tried again after `retry_after`.
    pub fn refuse(retry_after: Duration) -> Self {
        Self {
            allowed: false,
            remaining: 0,
            retry_after,
        }
    }
}

/// Decides whether a request of a rate-limited key may go through.
///
/// Implemented in this process (`LocalRateLimiter`, the default, feature
/// `rate-limit`) and on Redis, shared by many instances.
#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// The decision at once, when the limiter can make it without waiting
    /// (in this process); `None` means "ask [`check`](Self::check)".
    fn check_now(&self, key: &KeyRecord, limit: &RateLimit) -> Option<RateDecision> {
        let _ = (key, limit);
        None
    }

    /// The decision, waiting for it when the limiter is elsewhere. A
    /// limiter that cannot answer gives an error: the request is refused
    /// (503), never let through unlimited.
    async fn check(&self, key: &KeyRecord, limit: &RateLimit) -> Result<RateDecision, StoreError>;

    /// The decision at once on the budget all of `owner`'s keys share
    /// ([`OwnerLimits`](super::OwnerLimits)), when the limiter can make it
    /// without waiting; `None` means "ask [`check_owner`](Self::check_owner)".
    fn check_owner_now(&self, owner: &str, limit: &RateLimit) -> Option<RateDecision> {
        let _ = (owner, limit);
        None
    }

    /// The decision on the budget all of `owner`'s keys share. The default
    /// says the limiter keeps no such budgets: the request is refused
    /// (503), never let through unlimited.
    async fn check_owner(
        &self,
        owner: &str,
        limit: &RateLimit,
    ) -> Result<RateDecision, StoreError> {
        let _ = (owner, limit);
        Err(StoreError::unsupported(
            "this rate limiter keeps no budgets shared by an owner's keys",
        ))
    }
}

/// Whose budget a key's requests spend: its own, or, for a key a rotation made,
/// the first key of its chain of rotations (so no rotation hands out a fresh
/// budget, and a key and its successor share one through the grace period).
///
/// A key rotated before lineages were kept spends the budget of the key it
/// replaced.
#[doc(hidden)]
pub fn budget_of(key: &KeyRecord) -> &str {
    key.lineage
        .as_deref()
        .or(key.replaces.as_deref())
        .unwrap_or(&key.id)
}

#[async_trait]
impl<T: RateLimiter + ?Sized> RateLimiter for Arc<T> {
    fn check_now(&self, key: &KeyRecord, limit: &RateLimit) -> Option<RateDecision> {
        (**self).check_now(key, limit)
    }

    async fn check(&self, key: &KeyRecord, limit: &RateLimit) -> Result<RateDecision, StoreError> {
        (**self).check(key, limit).await
    }

    fn check_owner_now(&self, owner: &str, limit: &RateLimit) -> Option<RateDecision> {
        (**self).check_owner_now(owner, limit)
    }

    async fn check_owner(
        &self,
        owner: &str,
        limit: &RateLimit,
    ) -> Result<RateDecision, StoreError> {
        (**self).check_owner(owner, limit).await
    }
}
