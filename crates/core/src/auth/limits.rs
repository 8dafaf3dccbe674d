//! The pipeline's step for a key with a rate limit, or whose owner's keys
//! share one: the limiter asked at once when it can answer at once, else
//! waited for (a limiter elsewhere, Redis). The key's own budget is spent
//! first, then its owner's.

use std::sync::Arc;

use super::{Authenticator, Decision, Limits, Passed};
use crate::{
    error::AuthFailure,
    rate_limit::{RateDecision, RateLimit},
    store::{CreditSpend, KeyRecord, MAX_CREDITS},
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
                    let (owner, cost) = (limits.owner, limits.cost);
                    let rest = Limits {
                        key: None,
                        owner,
                        cost,
                    };
                    return Decision::RemoteLimit(record, rest);
                }
            }
        }
        self.admit(record, limits.cost)
    }

    /// A key that passed every check: let through, once `cost` of its
    /// usage credits (if it has any) are spent; at once when they can be:
    /// from this instance's lease, or a store in this process.
    pub(super) fn admit(&self, record: Arc<KeyRecord>, cost: u64) -> Decision {
        if record.credits.is_none() || cost == 0 {
            return Decision::Made(Ok(self.pass(record)));
        }
        if cost > MAX_CREDITS {
            // More than any key holds: never spendable.
            return Decision::Made(Err(out_of_credits(&record, None)));
        }
        #[cfg(feature = "credit-leases")]
        if let Some(leases) = &self.inner.leases {
            if leases.leases(cost) {
                return match self.lease_now(leases, &record, cost) {
                    Some(Ok(())) => Decision::Made(Ok(self.pass(record))),
                    Some(Err(next_refill)) => {
                        Decision::Made(Err(out_of_credits(&record, next_refill)))
                    }
                    None => Decision::Credits(record, cost),
                };
            }
        }
        match self.inner.store.spend_credits_now(&record, cost) {
            Some(spent) => Decision::Made(self.credit_verdict(record, spent)),
            None => Decision::Credits(record, cost),
        }
    }

    /// Spends `cost` credits from `record`'s lease if it holds them, and
    /// starts taking the next block once it runs low; `None` when it must
    /// be waited for.
    #[cfg(feature = "credit-leases")]
    #[inline]
    fn lease_now(
        &self,
        leases: &crate::credit_leases::Leases,
        record: &Arc<KeyRecord>,
        cost: u64,
    ) -> Option<Result<(), Option<std::time::SystemTime>>> {
        use crate::credit_leases::LeaseSpend;
        match leases.spend_now(record, cost) {
            LeaseSpend::Spent => Some(Ok(())),
            LeaseSpend::SpentRunningLow(lease) => {
                leases.top_up(self.inner.store.clone(), record.clone(), lease);
                Some(Ok(()))
            }
            LeaseSpend::Exhausted(next_refill) => Some(Err(next_refill)),
            LeaseSpend::Wait | LeaseSpend::Exact => None,
        }
    }

    /// Spends `cost` credits where that must be waited for: the next block
    /// of a lease, or the store.
    pub(super) async fn spend_credits(
        &self,
        record: Arc<KeyRecord>,
        cost: u64,
    ) -> Result<Passed, AuthFailure> {
        if record.credits.is_none() || cost == 0 {
            return Ok(self.pass(record));
        }
        if cost > MAX_CREDITS {
            return Err(out_of_credits(&record, None));
        }
        #[cfg(feature = "credit-leases")]
        if let Some(leases) = self.inner.leases.as_ref().filter(|l| l.leases(cost)) {
            if let Some(now) = self.lease_now(leases, &record, cost) {
                return match now {
                    Ok(()) => Ok(self.pass(record)),
                    Err(next_refill) => Err(out_of_credits(&record, next_refill)),
                };
            }
            if let Some(spent) = leases.spend(&self.inner.store, &record, cost).await {
                let spent = spent.map(|spent| match spent {
                    Ok(()) => CreditSpend::Spent { remaining: None },
                    Err(next_refill) => CreditSpend::Exhausted { next_refill },
                });
                return self.credit_verdict(record, spent);
            }
        }
        let spent = self.inner.store.spend_credits(&record, cost).await;
        self.credit_verdict(record, spent)
    }

    fn credit_verdict(
        &self,
        record: Arc<KeyRecord>,
        spent: Result<CreditSpend, crate::store::StoreError>,
    ) -> Result<Passed, AuthFailure> {
        match spent {
            Ok(CreditSpend::Spent { .. }) => Ok(self.pass(record)),
            Ok(CreditSpend::Exhausted { next_refill }) => Err(out_of_credits(&record, next_refill)),
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
        self.spend_credits(record, limits.cost).await
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

fn out_of_credits(record: &KeyRecord, next_refill: Option<std::time::SystemTime>) -> AuthFailure {
    AuthFailure::OutOfCredits {
        prefix: record.prefix,
        next_refill,
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
