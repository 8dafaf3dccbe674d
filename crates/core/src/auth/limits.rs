//! The pipeline's step for a key with a rate limit: the limiter asked at
//! once when it can answer at once, else waited for (a limiter elsewhere,
//! Redis).

use std::sync::Arc;

#[cfg(feature = "rate-limit")]
use super::Passed;
use super::{Authenticator, Decision};
use crate::{error::AuthFailure, limit::RateLimit, store::KeyRecord};

impl Authenticator {
    /// A rate-limited key: through if the limiter says so now, refused if
    /// it says not, or to wait for a limiter elsewhere. A server built
    /// without a limiter cannot enforce the limit, and refuses (503) rather
    /// than let the key through unlimited.
    pub(super) fn limit(&self, record: Arc<KeyRecord>, limit: RateLimit) -> Decision {
        #[cfg(feature = "rate-limit")]
        return match self.inner.limiter.check_now(&record, &limit) {
            Some(decision) => Decision::Done(self.limited(record, limit, decision)),
            None => Decision::Limit(record),
        };
        #[cfg(not(feature = "rate-limit"))]
        {
            let _ = limit;
            Decision::Done(Err(AuthFailure::StoreUnavailable {
                prefix: record.prefix,
                source: crate::store::StoreError::unsupported(
                    "the key has a rate limit and this server was built without the rate-limit feature",
                ),
            }))
        }
    }

    /// Asks a limiter elsewhere (Redis); one that cannot answer refuses (503).
    #[cfg(feature = "rate-limit")]
    pub(super) async fn limit_later(&self, record: Arc<KeyRecord>) -> Result<Passed, AuthFailure> {
        let Some(limit) = record.rate_limit else {
            return Ok(self.pass(record));
        };
        match self.inner.limiter.check(&record, &limit).await {
            Ok(decision) => self.limited(record, limit, decision),
            Err(source) => Err(AuthFailure::StoreUnavailable {
                prefix: record.prefix,
                source,
            }),
        }
    }

    #[cfg(feature = "rate-limit")]
    fn limited(
        &self,
        record: Arc<KeyRecord>,
        limit: RateLimit,
        decision: crate::rate_limit::RateDecision,
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
