//! The pipeline's step for a key with a rate limit: the limiter asked at
//! once when it can answer at once, else waited for (a limiter elsewhere,
//! Redis).

use std::sync::Arc;

use super::{Authenticator, Decision, Passed};
use crate::{
    error::AuthFailure,
    rate_limit::{RateDecision, RateLimit},
    store::KeyRecord,
};

impl Authenticator {
    /// A rate-limited key: through if the limiter says so now, refused if
    /// it says not, or to wait for a limiter elsewhere. A server with no
    /// limiter cannot enforce the limit, and refuses (503) rather than let
    /// the key through unlimited.
    pub(super) fn check_rate(&self, record: Arc<KeyRecord>, limit: RateLimit) -> Decision {
        let Some(limiter) = &self.inner.limiter else {
            return Decision::Made(Err(no_limiter(&record)));
        };
        match limiter.check_now(&record, &limit) {
            Some(decision) => Decision::Made(self.rate_verdict(record, limit, decision)),
            None => Decision::RemoteLimit(record, limit),
        }
    }

    /// Asks a limiter elsewhere (Redis); one that cannot answer refuses (503).
    pub(super) async fn check_rate_remotely(
        &self,
        record: Arc<KeyRecord>,
        limit: RateLimit,
    ) -> Result<Passed, AuthFailure> {
        let Some(limiter) = &self.inner.limiter else {
            return Err(no_limiter(&record));
        };
        match limiter.check(&record, &limit).await {
            Ok(decision) => self.rate_verdict(record, limit, decision),
            Err(source) => Err(AuthFailure::StoreUnavailable {
                prefix: record.prefix,
                source,
            }),
        }
    }

    fn rate_verdict(
        &self,
        record: Arc<KeyRecord>,
        limit: RateLimit,
        decision: RateDecision,
    ) -> Result<Passed, AuthFailure> {
        if decision.allowed {
            return Ok(self.pass(record));
        }
        Err(AuthFailure::RateLimited {
            prefix: record.prefix,
            limit,
            retry_after: decision.retry_after,
        })
    }
}

/// The refusal of a rate-limited key by a server that cannot enforce it.
fn no_limiter(record: &KeyRecord) -> AuthFailure {
    AuthFailure::Unsupported {
        prefix: record.prefix,
        reason: "the key has a rate limit and this server has no rate limiter \
                 (feature `rate-limit`, or `AuthenticatorBuilder::rate_limiter`)",
    }
}
