//! Configuring an [`Authenticator`].

use std::{fmt, sync::Arc};

use http::HeaderName;

use super::{is_token, Authenticator, Decoys, FailureHook, Inner, Policies};
#[cfg(feature = "drf-legacy")]
use super::{KeyTurns, SlowChecks};
use crate::{
    client_addr::TrustedProxies,
    credential::Credential,
    error::{AuthFailure, ConfigError},
    hash::Hasher,
    policy::Policy,
    rate_limit::RateLimiter,
    reject::Responses,
    store::KeyStore,
};

/// Configures an [`Authenticator`]; see [`Authenticator::builder`].
#[must_use]
pub struct AuthenticatorBuilder {
    pub(super) store: Arc<dyn KeyStore>,
    pub(super) hasher: Hasher,
    pub(super) scheme: String,
    pub(super) header: Option<HeaderName>,
    pub(super) realm: String,
    pub(super) retry_after_secs: u32,
    pub(super) optional: bool,
    pub(super) strip: bool,
    pub(super) grpc: bool,
    pub(super) on_failure: Option<FailureHook>,
    pub(super) sunset_on_expiry: bool,
    #[cfg(feature = "timeout")]
    pub(super) lookup_timeout: Option<std::time::Duration>,
    #[cfg(feature = "last-use")]
    pub(super) last_use: Option<crate::last_use::LastUseTracker>,
    #[cfg(feature = "drf-legacy")]
    pub(super) slow_checks: usize,
    #[cfg(feature = "drf-legacy")]
    pub(super) slow_wait: std::time::Duration,
    #[cfg(feature = "throttle")]
    pub(super) throttle: Option<crate::throttle::Throttle>,
    pub(super) proxies: TrustedProxies,
    pub(super) limiter: Option<Arc<dyn RateLimiter>>,
    pub(super) owner_limits: crate::rate_limit::OwnerLimits,
    #[cfg(feature = "credit-leases")]
    pub(super) leases: Option<crate::credit_leases::CreditLeases>,
    pub(super) brands: Vec<crate::key_format::Brand>,
    pub(super) drf_keys: bool,
}

impl fmt::Debug for AuthenticatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticatorBuilder")
            .field("scheme", &self.scheme)
            .field("header", &self.header)
            .field("realm", &self.realm)
            .field("optional", &self.optional)
            .field("strip", &self.strip)
            .field("grpc", &self.grpc)
            .finish_non_exhaustive()
    }
}

impl AuthenticatorBuilder {
    /// The defaults over `store`; see [`Authenticator::builder`].
    pub(super) fn new(store: impl KeyStore) -> Self {
        Self {
            store: Arc::new(store),
            hasher: Hasher::default(),
            scheme: "Api-Key".to_owned(),
            header: None,
            realm: "api".to_owned(),
            retry_after_secs: 1,
            optional: false,
            strip: false,
            grpc: false,
            on_failure: None,
            sunset_on_expiry: false,
            #[cfg(feature = "timeout")]
            lookup_timeout: None,
            #[cfg(feature = "last-use")]
            last_use: None,
            #[cfg(feature = "drf-legacy")]
            slow_checks: std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)),
            #[cfg(feature = "drf-legacy")]
            slow_wait: std::time::Duration::from_secs(2),
            #[cfg(feature = "throttle")]
            throttle: None,
            proxies: TrustedProxies::none(),
            limiter: default_limiter(),
            owner_limits: crate::rate_limit::OwnerLimits::none(),
            #[cfg(feature = "credit-leases")]
            leases: None,
            brands: Vec::new(),
            drf_keys: true,
        }
    }

    /// The scheme of `Authorization: <scheme> <key>`; `Api-Key` by default.
    /// Matched case-insensitively.
    pub fn scheme(mut self, scheme: impl Into<String>) -> Self {
        self.scheme = scheme.into();
        self.header = None;
        self
    }

    /// Reads the bare key from a header of its own, such as `X-Api-Key`,
    /// instead of `Authorization`.
    pub fn header(mut self, name: HeaderName) -> Self {
        self.header = Some(name);
        self
    }

    /// The realm named in the `WWW-Authenticate` challenge; `api` by default.
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = realm.into();
        self
    }

    /// Seconds a client is told to wait (`Retry-After`) when the store fails; 1 by default.
    pub fn retry_after_secs(mut self, secs: u32) -> Self {
        self.retry_after_secs = secs;
        self
    }

    /// The hasher that verifies keys: it must hold the pepper of any
    /// `hmac-sha256` hashes in the store.
    pub fn hasher(mut self, hasher: Hasher) -> Self {
        self.hasher = hasher;
        self
    }

    /// Lets requests without any key through with no identity. A key that is
    /// presented must still be valid.
    pub fn optional(mut self, optional: bool) -> Self {
        self.optional = optional;
        self
    }

    /// Removes the credential header before the inner service sees the request.
    pub fn strip_credential(mut self, strip: bool) -> Self {
        self.strip = strip;
        self
    }

    /// Answers refusals as gRPC does, for a tonic (or any gRPC) server: a
    /// trailers-only response with `grpc-status` 16 UNAUTHENTICATED, 7
    /// PERMISSION_DENIED (from a scope layer) or 14 UNAVAILABLE, never a
    /// bare HTTP 401. The key arrives as the `authorization` metadata entry.
    pub fn grpc(mut self, grpc: bool) -> Self {
        self.grpc = grpc;
        self
    }

    /// Calls `hook` with the reason for every refused request (the client only
    /// ever sees the uniform response). Keep it quick: it runs on the request path.
    pub fn on_failure(mut self, hook: impl Fn(&AuthFailure) + Send + Sync + 'static) -> Self {
        self.on_failure = Some(Arc::new(hook));
        self
    }

    /// Gives every store lookup at most `limit`; one that takes longer is a
    /// store failure (503): the store is put in a
    /// [`TimeoutStore`](crate::store::TimeoutStore). Needs a tokio runtime
    /// with its timer enabled.
    #[cfg(feature = "timeout")]
    #[cfg_attr(docsrs, doc(cfg(feature = "timeout")))]
    pub fn lookup_timeout(mut self, limit: std::time::Duration) -> Self {
        self.lookup_timeout = Some(limit);
        self
    }

    /// Hands every key that passes to `tracker`, which records when it was
    /// last used, off the request path (feature `last-use`).
    #[cfg(feature = "last-use")]
    #[cfg_attr(docsrs, doc(cfg(feature = "last-use")))]
    pub fn last_use(mut self, tracker: crate::last_use::LastUseTracker) -> Self {
        self.last_use = Some(tracker);
        self
    }

    /// Sends `Sunset` (RFC 8594) with the expiry of every key that has one,
    /// not only of keys in a rotation's grace period. For a
    /// djangorestframework-api-key table, which has no column saying a key
    /// was replaced: there a rotation is an expiry and nothing more.
    pub fn sunset_on_expiry(mut self, every_expiring_key: bool) -> Self {
        self.sunset_on_expiry = every_expiring_key;
        self
    }

    /// How many checks against slow hashes (Django password hashes, from
    /// djangorestframework-api-key before 3.0) run at once, on the blocking
    /// pool; half the cores by default, at least 1.
    ///
    /// One key is checked once at a time, its other requests waiting their turn
    /// in order, and a request waits at most
    /// [`slow_hash_wait`](Self::slow_hash_wait) in all for its turn (two
    /// seconds by default), then is answered 503. Guesses at such a key delay
    /// its holder by the checks queued first (bounded by the guessers'
    /// [throttle](Self::throttle): a guess whose client hangs up is counted
    /// too), and cost other keys no more than a check's wait.
    #[cfg(feature = "drf-legacy")]
    #[cfg_attr(docsrs, doc(cfg(feature = "drf-legacy")))]
    pub fn slow_hash_checks(mut self, at_once: usize) -> Self {
        self.slow_checks = at_once.max(1);
        self
    }

    /// How long a request for a key with a slow hash waits at most for its turn
    /// at a check (behind the checks of that key queued before it, and for the
    /// pool), before it is answered 503; two seconds by default.
    ///
    /// Longer makes a guessed-at key's holder wait rather than retry.
    #[cfg(feature = "drf-legacy")]
    #[cfg_attr(docsrs, doc(cfg(feature = "drf-legacy")))]
    pub fn slow_hash_wait(mut self, wait: std::time::Duration) -> Self {
        self.slow_wait = wait;
        self
    }

    /// Throttles failed attempts per client address (feature `throttle`):
    /// an address over `throttle`'s budget gets 429 before its request is
    /// read. The client is the connection's peer ([`client_addr`](crate::client_addr)
    /// says where the layer finds it), or behind
    /// [`trusted_proxies`](Self::trusted_proxies) the client they name.
    #[cfg(feature = "throttle")]
    #[cfg_attr(docsrs, doc(cfg(feature = "throttle")))]
    pub fn throttle(mut self, throttle: crate::throttle::Throttle) -> Self {
        self.throttle = Some(throttle);
        self
    }

    /// Believes `Forwarded` / `X-Forwarded-For` from these proxies (and
    /// only these) when telling the client address; none by default. The
    /// [throttle](Self::throttle) counts by that address, and a key's
    /// [address allowlist](crate::store::AddressAllowlist) is checked against it.
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.proxies = proxies;
        self
    }

    /// Rate limits shared by all of an owner's keys (Unkey's identities):
    /// each request of a key with an owner that `limits` names spends the
    /// owner's budget as well as its own, on the same
    /// [`rate_limiter`](Self::rate_limiter) (in this process by default;
    /// `RedisRateLimiter` holds every instance to one budget per owner). Over
    /// it, the key gets 429, `AuthFailure::OwnerRateLimited`.
    pub fn owner_rate_limits(mut self, limits: crate::rate_limit::OwnerLimits) -> Self {
        self.owner_limits = limits;
        self
    }

    /// Spends keys' usage credits from blocks this instance takes from the
    /// store, `leases` at a time, rather than on the store request by
    /// request: a request waits for the store only when its key's block
    /// runs out. What that gives up is in [`credit_leases`](crate::credit_leases).
    #[cfg(feature = "credit-leases")]
    #[cfg_attr(docsrs, doc(cfg(feature = "credit-leases")))]
    pub fn credit_leases(mut self, leases: crate::credit_leases::CreditLeases) -> Self {
        self.leases = Some(leases);
        self
    }

    /// Enforces keys' rate limits with `limiter` instead of a
    /// `LocalRateLimiter` of this authenticator's own (feature
    /// `rate-limit`): a `RedisRateLimiter` (`api_key_auth::rate_limit`)
    /// shares one limit among instances. With neither, a key that has a
    /// rate limit is refused (503).
    pub fn rate_limiter(mut self, limiter: impl RateLimiter) -> Self {
        self.limiter = Some(Arc::new(limiter));
        self
    }

    /// Reads keys in `format` too: a [branded](crate::key_format) format
    /// while clients move to it (DRF's own form stays accepted until
    /// [`drf_keys(false)`](Self::drf_keys)).
    pub fn accept(mut self, format: crate::key_format::KeyFormat) -> Self {
        match format {
            crate::key_format::KeyFormat::Drf => self.drf_keys = true,
            crate::key_format::KeyFormat::Branded(brand) => {
                if !self.brands.contains(&brand) {
                    self.brands.push(brand);
                }
            }
        }
        self
    }

    /// Whether keys in DRF's own form (`PREFIX.SECRET`, no brand) are
    /// read; yes by default. Once every client has a branded key, `false`
    /// refuses the old form.
    pub fn drf_keys(mut self, accepted: bool) -> Self {
        self.drf_keys = accepted;
        self
    }

    /// Checks the options and builds the authenticator.
    pub fn build(self) -> Result<Authenticator, ConfigError> {
        let scheme = self.scheme;
        let credential = match self.header {
            Some(name) => Credential::header(name, self.optional, self.strip),
            None if is_token(&scheme) => {
                Credential::authorization(&scheme, self.optional, self.strip)
            }
            None => return Err(ConfigError::Scheme(scheme)),
        };
        if !self.drf_keys && self.brands.is_empty() {
            return Err(ConfigError::NoKeyFormat);
        }
        let credential = credential.with_formats(self.brands, self.drf_keys);
        let responses = Responses::new(&scheme, &self.realm, self.retry_after_secs, self.grpc)?;
        let dummy = match self.store.hash_algorithm() {
            Some(algorithm) => Decoys::fixed(algorithm, &self.hasher),
            None => Decoys::following(self.hasher.algorithm(), &self.hasher),
        };
        // The bound on lookups is a store around the store.
        #[cfg(feature = "timeout")]
        let store: Arc<dyn KeyStore> = match self.lookup_timeout {
            Some(limit) => Arc::new(crate::store::TimeoutStore::new(self.store, limit)),
            None => self.store,
        };
        #[cfg(not(feature = "timeout"))]
        let store = self.store;
        // The policies, in the order they are told; the throttle first, as
        // it refuses before anything else is done.
        #[allow(unused_mut)] // built without any policy, it stays empty
        let mut policies: Vec<Arc<dyn Policy>> = Vec::new();
        #[cfg(feature = "throttle")]
        if let Some(throttle) = self.throttle {
            policies.push(Arc::new(crate::throttle::Throttler::new(throttle)));
        }
        #[cfg(feature = "last-use")]
        if let Some(tracker) = self.last_use {
            policies.push(Arc::new(tracker));
        }
        #[cfg(feature = "metrics")]
        policies.push(Arc::new(crate::metrics::RequestMetrics::new()));
        Ok(Authenticator {
            inner: Arc::new(Inner {
                store,
                hasher: self.hasher,
                dummy,
                credential,
                on_failure: self.on_failure,
                responses: Arc::new(responses),
                sunset_on_expiry: self.sunset_on_expiry,
                policies: Policies::new(policies, self.proxies),
                #[cfg(feature = "drf-legacy")]
                slow: SlowChecks {
                    permits: Arc::new(tokio::sync::Semaphore::new(self.slow_checks)),
                    wait: self.slow_wait,
                    turns: KeyTurns::default(),
                },
                limiter: self.limiter,
                owner_limits: self.owner_limits,
                #[cfg(feature = "credit-leases")]
                leases: self.leases.map(crate::credit_leases::Leases::new),
            }),
        })
    }
}

/// The limiter of an authenticator given none: this process's own, when
/// it is built in.
fn default_limiter() -> Option<Arc<dyn RateLimiter>> {
    #[cfg(feature = "rate-limit")]
    return Some(Arc::new(crate::rate_limit::LocalRateLimiter::new()));
    #[cfg(not(feature = "rate-limit"))]
    None
}
