//! The pipeline's step for a key with a rate limit, or whose owner's keys
//! share one: the limiter asked at once when it can answer at once, else
//! waited for (a limiter elsewhere, Redis). The key's own budget is spent
//! first, then its owner's.

use std::sync::Arc;

use super::{Authenticator, Decision, Limits, Passed};
use crate::{
    error::AuthFailure,
    rate_limit::{RateDecision, RateLimit},
    store::{CreditSpend, KeyRecord},
};

impl Authenticator {
    /// The limit `record`'s owner's keys share, if its owner has one.
    #[inline]
    pub(super) fn owner_limit(&self, record: &KeyRecord) -> Option<RateLimit> {
        let limits = &self.inner.owner_limits;
        if limits.is_empty() {
            return None;
        }
        limits.of(record.owner.as_deref()?)
    }

    /// A rate-limited key: through if the limiter says so now, refused if
    /// it says not, or to wait for a limiter elsewhere. A server with no
    /// limiter cannot enforce the limit, and refuses (503) rather than let
    /// the key through unlimited.
    pub(super) fn check_rate(&self, record: Arc<KeyRecord>, limits: Limits) -> Decision {
        let Some(limiter) = &self.inner.limiter else {
            return Decision::Made(Err(no_limiter(&record)));
        };
        if let Some(limit) = limits.key {
            match limiter.check_now(&record, &limit) {
                Some(decision) if decision.allowed => {}
                Some(decision) => return Decision::Made(Err(over_key(&record, limit, decision))),
                None => return Decision::RemoteLimit(record, limits),
            }
        }
        if let (Some(limit), Some(owner)) = (limits.owner, record.owner.as_deref()) {
            match limiter.check_owner_now(owner, &limit) {
                Some(decision) if decision.allowed => {}
                Some(decision) => return Decision::Made(Err(over_owner(&record, limit, decision))),
                None => {
                    let owner = limits.owner;
                    return Decision::RemoteLimit(record, Limits { key: None, owner });
                }
            }
        }
        self.admit(record)
    }

    /// A key that passed every check: let through, once its usage credits
    /// (if it has any) are spent; at once when the store can spend at once.
    pub(super) fn admit(&self, record: Arc<KeyRecord>) -> Decision {
        if record.credits.is_none() {
            return Decision::Made(Ok(self.pass(record)));
        }
        match self.inner.store.spend_credits_now(&record, 1) {
            Some(spent) => Decision::Made(self.credit_verdict(record, spent)),
            None => Decision::Credits(record),
        }
    }

    /// Spends a credit on a store that must be waited for.
    pub(super) async fn spend_credits(
        &self,
        record: Arc<KeyRecord>,
    ) -> Result<Passed, AuthFailure> {
        if record.credits.is_none() {
            return Ok(self.pass(record));
        }
        let spent = self.inner.store.spend_credits(&record, 1).await;
        self.credit_verdict(record, spent)
    }

    fn credit_verdict(
        &self,
        record: Arc<KeyRecord>,
        spent: Result<CreditSpend, crate::store::StoreError>,
    ) -> Result<Passed, AuthFailure> {
        match spent {
            Ok(CreditSpend::Spent { .. }) => Ok(self.pass(record)),
            Ok(CreditSpend::Exhausted { next_refill }) => Err(AuthFailure::OutOfCredits {
                prefix: record.prefix,
                next_refill,
            }),
            Err(source) if source.is_unsupported() => Err(AuthFailure::Unsupported {
                prefix: record.prefix,
                reason: "the key has usage credits and this server's store keeps none",
            }),
            Err(source) => Err(AuthFailure::StoreUnavailable {
                prefix: record.prefix,
                source,
            }),
        }
    }

    /// Asks a limiter elsewhere (Redis) about what is left of `limits`;
    /// one that cannot answer refuses (503).
    pub(super) async fn check_rate_remotely(
        &self,
        record: Arc<KeyRecord>,
        limits: Limits,
    ) -> Result<Passed, AuthFailure> {
        let Some(limiter) = &self.inner.limiter else {
            return Err(no_limiter(&record));
        };
        let unavailable = |source| AuthFailure::StoreUnavailable {
            prefix: record.prefix,
            source,
        };
        if let Some(limit) = limits.key {
            let decision = limiter.check(&record, &limit).await.map_err(unavailable)?;
            if !decision.allowed {
                return Err(over_key(&record, limit, decision));
            }
        }
        if let (Some(limit), Some(owner)) = (limits.owner, record.owner.as_deref()) {
            let decision = limiter.check_owner(owner, &limit).await.map_err(|source| {
                if source.is_unsupported() {
                    // The limiter was built without owner budgets: this server
                    // cannot enforce the limit, which no retry will change.
                    AuthFailure::Unsupported {
                        prefix: record.prefix,
                        reason: "the key's owner has a shared rate limit and this server's \
                                 rate limiter keeps no budgets for owners",
                    }
                } else {
                    unavailable(source)
                }
            })?;
            if !decision.allowed {
                return Err(over_owner(&record, limit, decision));
            }
        }
        self.spend_credits(record).await
    }
}

fn over_key(record: &KeyRecord, limit: RateLimit, decision: RateDecision) -> AuthFailure {
    AuthFailure::RateLimited {
        prefix: record.prefix,
        limit,
        retry_after: decision.retry_after,
    }
}

fn over_owner(record: &KeyRecord, limit: RateLimit, decision: RateDecision) -> AuthFailure {
    AuthFailure::OwnerRateLimited {
        prefix: record.prefix,
        limit,
        retry_after: decision.retry_after,
    }
}

/// The refusal of a rate-limited key by a server that cannot enforce it.
fn no_limiter(record: &KeyRecord) -> AuthFailure {
    AuthFailure::Unsupported {
        prefix: record.prefix,
        reason: "the key (or its owner) has a rate limit and this server has no rate limiter \
                 (feature `rate-limit`, or `AuthenticatorBuilder::rate_limiter`)",
    }
}
