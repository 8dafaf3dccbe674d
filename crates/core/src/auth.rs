//! The framework-agnostic authenticator: request headers in, an identity or a
//! reasoned failure out. The tower layer and every framework adapter are thin
//! shells over it.
//!
//! ```
//! use api_key_auth::{Authenticator, AuthFailure, KeyManager, MemoryStore, NewKey};
//! use http::HeaderMap;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! let (_, key) = store.create(NewKey::named("demo")).await?.reveal();
//! let auth = Authenticator::builder(store)
//!     .realm("billing")
//!     .on_failure(|failure: &AuthFailure| eprintln!("refused: {failure}"))
//!     .build()?;
//!
//! let mut headers = HeaderMap::new();
//! headers.insert("authorization", format!("Api-Key {}", key.expose_secret()).parse()?);
//! let identity = auth.authenticate(&headers).await?.expect("a key was presented");
//! assert_eq!(identity.name(), "demo");
//!
//! let failure = auth.authenticate(&HeaderMap::new()).await.unwrap_err();
//! assert!(matches!(failure, AuthFailure::Missing));
//! assert_eq!(auth.rejection(&failure).status(), 401);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::{fmt, net::IpAddr, sync::Arc, time::SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response};

use crate::{
    credential::{Credential, CredentialHeaders},
    error::{AuthFailure, Chain, ConfigError},
    hash::Hasher,
    identity::{Identity, Unauthenticated},
    key::{ApiKey, Prefix},
    limit::RateLimit,
    reject::Responses,
    requirement::{ScopeMode, ScopeRequirement},
    store::{KeyRecord, KeyStore, Lookup},
};

mod builder;
mod decoys;
#[cfg(feature = "drf-legacy")]
mod slow_checks;
mod verdict;

pub use builder::AuthenticatorBuilder;
use decoys::Decoys;
#[cfg(feature = "drf-legacy")]
use slow_checks::{KeyTurns, SlowChecks};
pub(crate) use verdict::{Admitted, CheckFuture, Passed, Sunset, Verdict};
use verdict::{Decision, Owed, Progress};

type FailureHook = Arc<dyn Fn(&AuthFailure) + Send + Sync>;

/// Checks the API key of a request against a [`KeyStore`].
///
/// Cheap to clone (one `Arc`). Build one with [`Authenticator::builder`], or
/// take the defaults with [`Authenticator::new`]: `Authorization: Api-Key <key>`,
/// realm `api`, SHA-256 for new keys, every request must carry a key.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn KeyStore>,
    hasher: Hasher,
    /// The algorithm an unknown prefix's dummy check uses: the store's, as
    /// it says or as its records show, so that the dummy costs what a real
    /// record costs and timing does not tell which prefixes exist.
    dummy: Decoys,
    credential: Credential,
    on_failure: Option<FailureHook>,
    responses: Arc<Responses>,
    /// Whether every key with an expiry gets `Sunset`, not only those a
    /// rotation replaced.
    sunset_on_expiry: bool,
    #[cfg(feature = "last-use")]
    last_use: Option<crate::last_use::LastUseTracker>,
    #[cfg(feature = "metrics")]
    metrics: crate::metrics::RequestMetrics,
    #[cfg(feature = "drf-legacy")]
    slow: SlowChecks,
    #[cfg(feature = "throttle")]
    throttle: Option<crate::throttle::Throttler>,
    #[cfg(feature = "throttle")]
    proxies: crate::client::TrustedProxies,
    #[cfg(feature = "rate-limit")]
    limiter: Arc<dyn crate::rate_limit::RateLimiter>,
}

impl Authenticator {
    /// An authenticator with the defaults over `store`.
    pub fn new(store: impl KeyStore) -> Self {
        match Self::builder(store).build() {
            Ok(auth) => auth,
            Err(err) => unreachable!("the defaults are valid: {err}"),
        }
    }

    /// Starts configuring an authenticator over `store`.
    pub fn builder(store: impl KeyStore) -> AuthenticatorBuilder {
        AuthenticatorBuilder {
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
            #[cfg(feature = "throttle")]
            proxies: crate::client::TrustedProxies::none(),
            #[cfg(feature = "rate-limit")]
            limiter: None,
            brands: Vec::new(),
            drf_keys: true,
        }
    }

    /// The client address of a request whose connection came from `peer`:
    /// the peer, or behind [trusted proxies](AuthenticatorBuilder::trusted_proxies)
    /// the client they name. `None` without a throttle: nothing needs it.
    #[inline]
    pub(crate) fn client_of(
        &self,
        peer: impl FnOnce() -> Option<IpAddr>,
        headers: &impl CredentialHeaders,
    ) -> Option<IpAddr> {
        #[cfg(feature = "throttle")]
        if let Some(throttle) = &self.inner.throttle {
            let Some(peer) = peer() else {
                throttle.unaddressed();
                return None;
            };
            return Some(self.inner.proxies.client(peer, |name| headers.values(name)));
        }
        let _ = (peer, headers);
        None
    }

    /// Authenticates a request by its headers.
    ///
    /// `Ok(None)` means no key was presented and the authenticator is
    /// [optional](AuthenticatorBuilder::optional). Every failure is reported to
    /// `tracing` and the failure hook before it is returned. No client
    /// address is known here, so the [throttle](AuthenticatorBuilder::throttle)
    /// neither refuses nor counts; see [`authenticate_from`](Self::authenticate_from).
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Identity>, AuthFailure> {
        self.authenticate_from(headers, None).await
    }

    /// Authenticates a request by its headers, from the client address
    /// `client` (the connection's peer, or the client a trusted proxy
    /// names): throttled, and its failures counted, as the layer does.
    pub async fn authenticate_from(
        &self,
        headers: &HeaderMap,
        client: Option<IpAddr>,
    ) -> Result<Option<Identity>, AuthFailure> {
        if let Some(failure) = self.throttled(client) {
            return Err(self.report(failure, None));
        }
        let values = headers.get_all(self.inner.credential.name()).iter();
        let key = self
            .inner
            .credential
            .read(values.map(HeaderValue::as_bytes));
        let decided = match self.progress(key) {
            Progress::Decided(decided) => decided,
            Progress::Wait(key) => {
                let owed = Owed::new(self, key.prefix(), client);
                let decided = self.decide_later(&key, &owed).await;
                owed.settle();
                decided.map(Some)
            }
            Progress::Later(later) => {
                let (key, decision) = *later;
                let owed = Owed::new(self, key.prefix(), client);
                let decided = self.settle(&key, decision, &owed).await;
                owed.settle();
                decided.map(Some)
            }
        };
        decided
            .map(|passed| passed.map(|p| p.identity))
            .map_err(|failure| self.report(failure, client))
    }

    /// The request path, in one place for every adapter: refuses a client
    /// out of its budget of failures, reads the key from `headers` and
    /// protects its header (removed or marked sensitive), finds the record
    /// (at once when the store can answer so), decides, and on a refusal
    /// reports it (and counts it against `client`) and renders the response.
    pub(crate) fn begin(
        &self,
        headers: &mut impl CredentialHeaders,
        client: Option<IpAddr>,
    ) -> Verdict {
        if let Some(failure) = self.throttled(client) {
            return Verdict::Refuse(Box::new(self.refuse(failure, None)));
        }
        let key = headers.take_key(&self.inner.credential);
        match self.progress(key) {
            Progress::Decided(Ok(Some(passed))) => Verdict::Pass(Admitted::Key(passed)),
            Progress::Decided(Ok(None)) => Verdict::Pass(Admitted::Anonymous(Unauthenticated(
                self.inner.responses.clone(),
            ))),
            Progress::Decided(Err(failure)) => {
                Verdict::Refuse(Box::new(self.refuse(failure, client)))
            }
            Progress::Wait(key) => {
                let this = self.clone();
                let owed = Owed::new(self, key.prefix(), client);
                Verdict::Pending(Box::pin(async move {
                    let decided = this.decide_later(&key, &owed).await;
                    owed.settle();
                    decided.map_err(|failure| Box::new(this.refuse(failure, client)))
                }))
            }
            Progress::Later(later) => self.later(*later, client),
        }
    }

    /// The pending verdict of a record whose decision must wait (a slow
    /// hash, a remote rate limiter): the rare paths, kept out of the common
    /// one's code.
    #[cold]
    #[inline(never)]
    fn later(&self, (key, decision): (ApiKey, Decision), client: Option<IpAddr>) -> Verdict {
        let this = self.clone();
        let owed = Owed::new(self, key.prefix(), client);
        Verdict::Pending(Box::pin(async move {
            let decided = this.settle(&key, decision, &owed).await;
            owed.settle();
            decided.map_err(|failure| Box::new(this.refuse(failure, client)))
        }))
    }

    /// The first step: a client address out of its budget of failed
    /// attempts is refused before anything else is done.
    #[inline]
    fn throttled(&self, client: Option<IpAddr>) -> Option<AuthFailure> {
        #[cfg(feature = "throttle")]
        if let (Some(throttle), Some(client)) = (&self.inner.throttle, client) {
            let retry_after = throttle.refusal(crate::client::bucket(client))?;
            return Some(AuthFailure::Throttled {
                client,
                retry_after,
            });
        }
        let _ = client;
        None
    }

    /// The steps that need no waiting: the credential read, then the
    /// decision when the store can answer at once.
    fn progress(&self, key: Result<Option<ApiKey>, AuthFailure>) -> Progress {
        let key = match key {
            Ok(Some(key)) => key,
            Ok(None) => return Progress::Decided(Ok(None)),
            Err(failure) => return Progress::Decided(Err(failure)),
        };
        match self.inner.store.find_now(key.prefix()) {
            Some(lookup) => match self.decide(&key, lookup) {
                Decision::Done(decided) => Progress::Decided(decided.map(Some)),
                #[allow(unreachable_patterns)]
                later => Progress::Later(Box::new((key, later))),
            },
            None => Progress::Wait(key),
        }
    }

    /// The lookup the store must be waited for, then the decision.
    ///
    /// The client's budget is looked at again once the store has answered:
    /// a burst of guesses sent at once all pass the first look before any
    /// of them has failed, and those answered after the budget ran out get
    /// 429 too, a right guess among them included, so no more of them are
    /// decided than the budget allows.
    async fn decide_later(&self, key: &ApiKey, owed: &Owed) -> Result<Passed, AuthFailure> {
        let lookup = self.find(key).await;
        if let Some(throttled) = self.throttled(owed.client) {
            return Err(throttled);
        }
        let decision = self.decide(key, lookup);
        self.settle(key, decision, owed).await
    }

    /// Waits for what a decision waits for, until it is made.
    // Only a slow hash is decided in steps, and needs the key and client.
    #[cfg_attr(not(feature = "drf-legacy"), allow(unused_mut, unused_variables))]
    async fn settle(
        &self,
        key: &ApiKey,
        mut decision: Decision,
        owed: &Owed,
    ) -> Result<Passed, AuthFailure> {
        loop {
            match decision {
                Decision::Done(decided) => return decided,
                #[cfg(feature = "drf-legacy")]
                Decision::Slow(record) => decision = self.decide_slowly(key, record, owed).await,
                #[cfg(feature = "rate-limit")]
                Decision::Limit(record) => {
                    // The key matched: a client that leaves now made no guess.
                    owed.nothing_at_stake();
                    return self.limit_later(record).await;
                }
            }
        }
    }

    /// Asks the store.
    async fn find(&self, key: &ApiKey) -> Lookup {
        let prefix = key.prefix();
        #[cfg(feature = "metrics")]
        let started = std::time::Instant::now();
        let lookup = self.inner.store.find(prefix).await;
        #[cfg(feature = "metrics")]
        self.inner
            .metrics
            .lookup
            .record(started.elapsed().as_secs_f64());
        lookup
    }

    /// The verdict on a presented key given the store's answer: the hash is
    /// checked first, in constant time, so revocation and expiry are only
    /// ever reported for the true key.
    fn decide(&self, key: &ApiKey, lookup: Lookup) -> Decision {
        let prefix = key.prefix();
        // A prefix no store knows is checked against a decoy record (the
        // hash of a key nobody holds, as the store's records are hashed),
        // on the very path a known prefix's wrong secret takes: the same
        // record handling, hash, compare and verdict, so that timing does
        // not tell which prefixes exist.
        let (record, known) = match lookup {
            Ok(Some(record)) => (record, true),
            Ok(None) => match self.inner.dummy.decoy() {
                Some(decoy) => (decoy, false),
                None => {
                    self.inner
                        .hasher
                        .verify_against_nothing_as(key, self.inner.dummy.get());
                    return Decision::Done(Err(AuthFailure::UnknownPrefix(prefix)));
                }
            },
            Err(source) => {
                return Decision::Done(Err(AuthFailure::StoreUnavailable { prefix, source }))
            }
        };
        #[cfg(feature = "drf-legacy")]
        if record.hash.is_slow() {
            return Decision::Slow(record);
        }
        self.inner.dummy.follow(record.hash.algorithm());
        // `&`, not `&&`: no branch on whether the prefix is known.
        let matched = self.inner.hasher.verify(key, &record.hash) & known;
        let decision = self.conclude(prefix, record, matched);
        if !known {
            return Decision::Done(Err(AuthFailure::UnknownPrefix(prefix)));
        }
        decision
    }

    /// The verdict once the hash is checked: revocation and expiry are only
    /// ever reported for the true key; then the key's rate limit.
    fn conclude(&self, prefix: Prefix, record: Arc<KeyRecord>, matched: bool) -> Decision {
        if !matched {
            return Decision::Done(Err(AuthFailure::WrongSecret(prefix)));
        }
        if record.revoked {
            return Decision::Done(Err(AuthFailure::Revoked(prefix)));
        }
        if record.expires.is_some() && record.is_expired_at(SystemTime::now()) {
            return Decision::Done(Err(AuthFailure::Expired(prefix)));
        }
        if let Some(limit) = record.rate_limit {
            return self.limit(record, limit);
        }
        Decision::Done(Ok(self.pass(record)))
    }

    /// A rate-limited key: through if the limiter says so now, refused if
    /// it says not, or to wait for a limiter elsewhere. A server built
    /// without a limiter cannot enforce the limit, and refuses (503) rather
    /// than let the key through unlimited.
    fn limit(&self, record: Arc<KeyRecord>, limit: RateLimit) -> Decision {
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
    async fn limit_later(&self, record: Arc<KeyRecord>) -> Result<Passed, AuthFailure> {
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

    /// A key let through: its use noted for the last-use tracker (a push
    /// onto its queue, nothing more), counted, and its sunset read.
    #[inline]
    fn pass(&self, record: Arc<KeyRecord>) -> Passed {
        #[cfg(feature = "last-use")]
        if let Some(tracker) = &self.inner.last_use {
            tracker.note(&record);
        }
        #[cfg(feature = "metrics")]
        self.inner.metrics.passed();
        let sunset = if self.inner.sunset_on_expiry {
            record.expires.filter(|_| !record.revoked)
        } else {
            record.sunset()
        };
        Passed {
            identity: Identity::new(record),
            sunset: Sunset::of(sunset),
        }
    }

    /// Checks `key` against a record whose hash is slow (a Django password
    /// hash from djangorestframework-api-key before 3.0): on the blocking
    /// pool, one check of a key at a time and a bounded number in all. A
    /// request waits its turn, first in its key's queue and then for the
    /// pool, at most [`SlowChecks::wait`] in all, then is answered 503, as a
    /// store too busy to answer. A flood of guesses at one key thus holds at
    /// most one of the pool's permits at a time, other keys wait for no more
    /// than a check each, and the key's holder waits behind the guesses
    /// queued before it, which their client's throttle bounds. On success
    /// the stored hash is upgraded to `sha512$$`, as DRF 3.x does, off the
    /// request, so the key is quick from then on and Django still accepts it.
    #[cfg(feature = "drf-legacy")]
    async fn decide_slowly(&self, key: &ApiKey, record: Arc<KeyRecord>, owed: &Owed) -> Decision {
        use crate::store::StoreError;
        let prefix = key.prefix();
        let busy = |source: StoreError| {
            Decision::Done(Err(AuthFailure::StoreUnavailable { prefix, source }))
        };
        if tokio::runtime::Handle::try_current().is_err() {
            return busy(StoreError::unsupported(
                "checking a legacy (Django password) hash needs a tokio runtime",
            ));
        }
        let slow = &self.inner.slow;
        let suspect = self.has_failed(owed.client);
        let mut turn = slow.turns.join(prefix, !suspect);
        // Waiting is no guess: a client that leaves now costs nothing.
        owed.nothing_at_stake();
        let waited = tokio::time::timeout(slow.wait, async {
            turn.wait().await;
            slow.permits.clone().acquire_owned().await
        })
        .await;
        let permit = match waited {
            Ok(Ok(permit)) => permit,
            Ok(Err(closed)) => return busy(StoreError::unavailable(closed)),
            Err(_) => {
                // A guesser's waits are charged: flooding the queue from
                // addresses that failed is paid for, a clean wait is not.
                if suspect {
                    self.charge(owed.client);
                }
                return busy(StoreError::unavailable(
                    "the checks of legacy (Django password) hashes queued before this one \
                     took longer than the wait allowed",
                ));
            }
        };
        // Guesses sent together from one address all queued before any of
        // them failed: those whose turn comes after the budget ran out are
        // refused unchecked.
        if let Some(throttled) = self.throttled(owed.client) {
            return Decision::Done(Err(throttled));
        }
        let (presented, hash, hasher) =
            (key.clone(), record.hash.clone(), self.inner.hasher.clone());
        // The check runs to its end whatever the caller does: from here a
        // client that leaves is charged, its verdict never known.
        owed.at_stake();
        // The permit and the key's turn go with the work: a request that
        // gives up frees neither before this check ends.
        let matched = match tokio::task::spawn_blocking(move || {
            let _held = (permit, turn);
            hasher.verify(&presented, &hash)
        })
        .await
        {
            Ok(matched) => matched,
            Err(e) => return busy(StoreError::unavailable(e)),
        };
        if matched && record.is_active_at(SystemTime::now()) {
            self.upgrade_in_background(key, &record);
        }
        self.conclude(prefix, record, matched)
    }

    /// Whether `client` has a failed attempt on the throttle's record;
    /// `false` without a throttle or an address, which cannot tell.
    #[cfg(feature = "drf-legacy")]
    fn has_failed(&self, client: Option<IpAddr>) -> bool {
        #[cfg(feature = "throttle")]
        if let (Some(throttle), Some(client)) = (&self.inner.throttle, client) {
            return throttle.has_failed(crate::client::bucket(client));
        }
        let _ = client;
        false
    }

    /// Counts a failed attempt against `client`, when there is a throttle.
    #[cfg(feature = "drf-legacy")]
    fn charge(&self, client: Option<IpAddr>) {
        #[cfg(feature = "throttle")]
        if let (Some(throttle), Some(client)) = (&self.inner.throttle, client) {
            throttle.failed(crate::client::bucket(client));
        }
        let _ = client;
    }

    /// Replaces a legacy hash by `sha512$$` on a task of its own, within
    /// five seconds: a row locked elsewhere delays no request.
    #[cfg(feature = "drf-legacy")]
    fn upgrade_in_background(&self, key: &ApiKey, record: &Arc<KeyRecord>) {
        let (store, record) = (self.inner.store.clone(), record.clone());
        let upgraded = Hasher::sha512_drf().hash(key);
        tokio::spawn(async move {
            let prefix = record.prefix;
            let written = tokio::time::timeout(
                std::time::Duration::from_secs(5),
                store.upgrade_hash(&record, upgraded),
            )
            .await;
            match written {
                Ok(Ok(true)) => crate::audit::hash_upgraded(&record),
                Ok(Ok(false)) => tracing::warn!(
                    prefix = %prefix,
                    "a legacy key hash was not upgraded: the row changed meanwhile, or its \
                     hashed_key column is too narrow for sha512$$ (DRF before 2.2 made it 100 \
                     characters: run Django's migrations); the key stays slow to check"
                ),
                Ok(Err(err)) => tracing::warn!(
                    prefix = %prefix,
                    error = %Chain(&err),
                    "could not upgrade a legacy key hash; it stays slow to check"
                ),
                Err(_) => tracing::warn!(
                    prefix = %prefix,
                    "upgrading a legacy key hash took over 5 s and was given up"
                ),
            }
        });
    }

    /// Reports a failure to `tracing`, the metrics and the hook, counts it
    /// against `client` for the throttle when it is a failed attempt, and
    /// hands it back.
    fn report(&self, failure: AuthFailure, client: Option<IpAddr>) -> AuthFailure {
        #[cfg(feature = "metrics")]
        self.inner.metrics.refused(&failure);
        #[cfg(feature = "throttle")]
        if let (Some(throttle), Some(client)) = (&self.inner.throttle, client) {
            if failure.is_failed_attempt() {
                throttle.failed(crate::client::bucket(client));
            }
        }
        let _ = client;
        match &failure {
            AuthFailure::StoreUnavailable { .. } => {
                tracing::warn!(reason = %Chain(&failure), "API key authentication unavailable");
            }
            _ => tracing::debug!(reason = %Chain(&failure), "API key refused"),
        }
        if let Some(hook) = &self.inner.on_failure {
            hook(&failure);
        }
        failure
    }

    /// Reports a failure and renders its response.
    fn refuse(&self, failure: AuthFailure, client: Option<IpAddr>) -> Response<Bytes> {
        let failure = self.report(failure, client);
        self.rejection(&failure)
    }

    /// The HTTP response for `failure`: the challenge and the one body shared by
    /// every 401, or the 503 with `Retry-After`.
    pub fn rejection(&self, failure: &AuthFailure) -> Response<Bytes> {
        self.inner.responses.for_failure(failure)
    }

    /// A requirement answering 403 unless the authenticated key has every
    /// one of `scopes`: a tower layer with [`RequireScopesLayer::from`](crate::scope::RequireScopesLayer),
    /// an actix-web guard with `actix::RequireScopes::from`.
    pub fn require_all<I, S>(&self, scopes: I) -> Result<ScopeRequirement, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ScopeRequirement::new(ScopeMode::All, scopes, self.inner.responses.clone())
    }

    /// A requirement answering 403 unless the authenticated key has at least
    /// one of `scopes`; see [`require_all`](Self::require_all).
    pub fn require_any<I, S>(&self, scopes: I) -> Result<ScopeRequirement, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ScopeRequirement::new(ScopeMode::Any, scopes, self.inner.responses.clone())
    }

    /// What the failed-attempt throttle holds, when there is one.
    #[cfg(feature = "throttle")]
    #[cfg_attr(docsrs, doc(cfg(feature = "throttle")))]
    pub fn throttle_stats(&self) -> Option<crate::throttle::ThrottleStats> {
        self.inner
            .throttle
            .as_ref()
            .map(crate::throttle::Throttler::stats)
    }

    /// The header the key travels in.
    pub fn credential_header(&self) -> &HeaderName {
        self.inner.credential.name()
    }
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("credential", &self.inner.credential)
            .field("hasher", &self.inner.hasher.algorithm())
            .finish_non_exhaustive()
    }
}

/// Whether `s` is an HTTP token (RFC 9110 §5.6.2), as a scheme must be.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests;
