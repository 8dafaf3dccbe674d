//! Metrics (feature `metrics`), through the [`metrics`](https://docs.rs/metrics)
//! facade: whichever exporter the service installs (Prometheus,
//! OpenTelemetry, StatsD) picks them up.
//!
//! | name | kind | labels | what |
//! |---|---|---|---|
//! | `api_key_auth_requests_total` | counter | `outcome` | requests by outcome: `ok`, `missing`, `malformed`, `unknown`, `wrong_secret`, `revoked`, `suspended`, `expired`, `forbidden`, `store_unavailable`, `unsupported` (a key this server cannot check), `throttled`, `rate_limited`, `abandoned` (the client left before the verdict) |
//! | `api_key_auth_store_lookup_seconds` | histogram | | lookups the store was waited for (cache misses, stores without a synchronous answer) |
//! | `api_key_auth_cache_hits_total` | counter | | `CachedStore` lookups answered from the cache |
//! | `api_key_auth_cache_misses_total` | counter | | `CachedStore` lookups passed to the store |
//! | `api_key_auth_last_use_dropped_total` | counter | | last-use notes dropped because the tracker's queue was full |
//! | `api_key_auth_last_use_written_total` | counter | | key uses written by the tracker |
//!
//! Handles are registered when the authenticator (cache, tracker) is
//! built, so install the exporter's recorder first:
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?; first, then:
//! let auth = api_key_auth::Authenticator::new(api_key_auth::MemoryStore::new());
//! # let _ = auth; Ok(()) }
//! ```
//!
//! Counting costs a few nanoseconds a request (an atomic add through a
//! handle made once); nothing is looked up by name on the request path.

use metrics::{Counter, Histogram};

use crate::error::AuthFailure;

/// Requests by outcome.
pub const REQUESTS: &str = "api_key_auth_requests_total";
/// Store lookups waited for, in seconds.
pub const STORE_LOOKUP: &str = "api_key_auth_store_lookup_seconds";
/// Cache hits.
pub const CACHE_HITS: &str = "api_key_auth_cache_hits_total";
/// Cache misses.
pub const CACHE_MISSES: &str = "api_key_auth_cache_misses_total";
/// Last-use notes dropped.
pub const LAST_USE_DROPPED: &str = "api_key_auth_last_use_dropped_total";
/// Key uses written.
pub const LAST_USE_WRITTEN: &str = "api_key_auth_last_use_written_total";

/// The counters of an authenticator, one handle per outcome.
#[derive(Clone)]
pub(crate) struct RequestMetrics {
    ok: Counter,
    missing: Counter,
    malformed: Counter,
    unknown: Counter,
    wrong_secret: Counter,
    revoked: Counter,
    suspended: Counter,
    address_refused: Counter,
    expired: Counter,
    store_unavailable: Counter,
    unsupported: Counter,
    throttled: Counter,
    rate_limited: Counter,
    owner_rate_limited: Counter,
    out_of_credits: Counter,
    abandoned: Counter,
    lookup: Histogram,
}

impl RequestMetrics {
    pub(crate) fn new() -> Self {
        metrics::describe_counter!(REQUESTS, "API-key checks by outcome");
        metrics::describe_histogram!(
            STORE_LOOKUP,
            metrics::Unit::Seconds,
            "API-key store lookups that were waited for"
        );
        let outcome = |name: &'static str| metrics::counter!(REQUESTS, "outcome" => name);
        Self {
            ok: outcome("ok"),
            missing: outcome("missing"),
            malformed: outcome("malformed"),
            unknown: outcome("unknown"),
            wrong_secret: outcome("wrong_secret"),
            revoked: outcome("revoked"),
            suspended: outcome("suspended"),
            address_refused: outcome("address_refused"),
            expired: outcome("expired"),
            store_unavailable: outcome("store_unavailable"),
            unsupported: outcome("unsupported"),
            throttled: outcome("throttled"),
            rate_limited: outcome("rate_limited"),
            owner_rate_limited: outcome("owner_rate_limited"),
            out_of_credits: outcome("out_of_credits"),
            abandoned: outcome("abandoned"),
            lookup: metrics::histogram!(STORE_LOOKUP),
        }
    }

    /// The counter of `failure`'s outcome.
    fn outcome(&self, failure: &AuthFailure) -> &Counter {
        match failure {
            AuthFailure::Missing => &self.missing,
            AuthFailure::Malformed(_) => &self.malformed,
            AuthFailure::UnknownPrefix(_) => &self.unknown,
            AuthFailure::WrongSecret(_) => &self.wrong_secret,
            AuthFailure::Revoked(_) => &self.revoked,
            AuthFailure::Suspended(_) => &self.suspended,
            AuthFailure::AddressRefused { .. } => &self.address_refused,
            AuthFailure::Expired(_) => &self.expired,
            AuthFailure::StoreUnavailable { .. } => &self.store_unavailable,
            AuthFailure::Unsupported { .. } => &self.unsupported,
            AuthFailure::Throttled { .. } => &self.throttled,
            AuthFailure::RateLimited { .. } => &self.rate_limited,
            AuthFailure::OwnerRateLimited { .. } => &self.owner_rate_limited,
            AuthFailure::OutOfCredits { .. } => &self.out_of_credits,
            AuthFailure::Abandoned(_) => &self.abandoned,
        }
    }
}

/// The request metrics as a policy: every outcome counted, every lookup
/// waited for timed.
impl crate::policy::Policy for RequestMetrics {
    fn wants_lookup_times(&self) -> bool {
        true
    }

    #[inline]
    fn passed(&self, _record: &std::sync::Arc<crate::store::KeyRecord>) {
        self.ok.increment(1);
    }

    fn refused(&self, failure: &AuthFailure, _client: Option<std::net::IpAddr>) {
        self.outcome(failure).increment(1);
    }

    fn looked_up(&self, elapsed: std::time::Duration) {
        self.lookup.record(elapsed.as_secs_f64());
    }
}

/// The 403s of a scope requirement.
pub(crate) fn forbidden() -> Counter {
    metrics::counter!(REQUESTS, "outcome" => "forbidden")
}

/// A cache's hit and miss counters.
#[derive(Clone)]
#[cfg_attr(not(feature = "cache"), allow(dead_code))]
pub(crate) struct CacheMetrics {
    pub(crate) hits: Counter,
    pub(crate) misses: Counter,
}

#[cfg_attr(not(feature = "cache"), allow(dead_code))]
impl CacheMetrics {
    pub(crate) fn new() -> Self {
        metrics::describe_counter!(CACHE_HITS, "API-key cache lookups answered from the cache");
        metrics::describe_counter!(CACHE_MISSES, "API-key cache lookups passed to the store");
        Self {
            hits: metrics::counter!(CACHE_HITS),
            misses: metrics::counter!(CACHE_MISSES),
        }
    }
}

/// A last-use tracker's counters.
#[cfg_attr(not(feature = "last-use"), allow(dead_code))]
pub(crate) struct LastUseMetrics {
    pub(crate) dropped: Counter,
    pub(crate) written: Counter,
}

#[cfg_attr(not(feature = "last-use"), allow(dead_code))]
impl LastUseMetrics {
    pub(crate) fn new() -> Self {
        metrics::describe_counter!(
            LAST_USE_DROPPED,
            "last-use notes dropped because the queue was full"
        );
        metrics::describe_counter!(LAST_USE_WRITTEN, "key uses written to the store");
        Self {
            dropped: metrics::counter!(LAST_USE_DROPPED),
            written: metrics::counter!(LAST_USE_WRITTEN),
        }
    }
}
