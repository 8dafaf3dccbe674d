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

use std::{
    fmt,
    future::Future,
    net::IpAddr,
    pin::Pin,
    sync::{
        atomic::{AtomicU8, Ordering},
        Arc,
    },
    time::SystemTime,
};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response};

use crate::{
    credential::{Credential, CredentialHeaders},
    error::{AuthFailure, Chain, ConfigError},
    hash::{Algorithm, Hasher},
    identity::{Identity, Unauthenticated},
    key::{ApiKey, Prefix},
    limit::RateLimit,
    reject::Responses,
    requirement::{ScopeMode, ScopeRequirement},
    store::{KeyRecord, KeyStore, Lookup},
};

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
    dummy: DummyAlgorithm,
    credential: Credential,
    on_failure: Option<FailureHook>,
    responses: Arc<Responses>,
    /// Whether every key with an expiry gets `Sunset`, not only those a
    /// rotation replaced.
    sunset_on_expiry: bool,
    #[cfg(feature = "timeout")]
    lookup_timeout: Option<std::time::Duration>,
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

/// The bound on checks against slow (Django password) hashes: so many at
/// once on the blocking pool, each request waiting so long at most for its
/// turn, and one check of a key at a time, its requests queued in order.
#[cfg(feature = "drf-legacy")]
struct SlowChecks {
    permits: Arc<tokio::sync::Semaphore>,
    wait: std::time::Duration,
    turns: KeyTurns,
}

/// The queues of requests waiting to check a key's slow hash. One check of
/// a key runs at a time, so a flood of guesses at one key holds one of the
/// pool's permits, not all of them. The key's other requests wait their
/// turn: first those from addresses with no failed attempt on record, in
/// the order they came, then those from addresses that have failed (the
/// guessers), so a key's holder waits behind other clean requests only,
/// never behind the guesses of addresses the throttle has seen fail. A
/// key's entry lives while a request waits for or holds its turn.
#[cfg(feature = "drf-legacy")]
#[derive(Clone, Default)]
struct KeyTurns(Arc<std::sync::Mutex<std::collections::HashMap<Prefix, KeyQueue>>>);

#[cfg(feature = "drf-legacy")]
#[derive(Default)]
struct KeyQueue {
    /// Whether a request holds the turn.
    busy: bool,
    /// Waiters from addresses with no failure on record, and from the rest:
    /// the turn goes to the first of `clean`, else of `suspect`. A waiter
    /// that left has a closed sender, skipped when its turn comes.
    clean: std::collections::VecDeque<tokio::sync::oneshot::Sender<()>>,
    suspect: std::collections::VecDeque<tokio::sync::oneshot::Sender<()>>,
    /// Requests waiting for or holding the turn: the entry goes at zero.
    members: usize,
}

#[cfg(feature = "drf-legacy")]
impl KeyQueue {
    /// Hands the turn to the next waiter still there, or frees it.
    fn pass_on(&mut self) {
        while let Some(next) = self.clean.pop_front().or_else(|| self.suspect.pop_front()) {
            if next.send(()).is_ok() {
                return;
            }
        }
        self.busy = false;
    }
}

#[cfg(feature = "drf-legacy")]
impl KeyTurns {
    fn queues(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<Prefix, KeyQueue>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes a place in `prefix`'s queue, among the clean requests or the
    /// suspect ones.
    fn join(&self, prefix: Prefix, clean: bool) -> KeyTurn {
        self.queues().entry(prefix).or_default().members += 1;
        KeyTurn {
            turns: self.clone(),
            prefix,
            clean,
            called: None,
            held: false,
        }
    }

    /// Keys with a request waiting for or holding a turn.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.queues().len()
    }
}

/// A request's place in its key's queue, holding the turn once
/// [`wait`](Self::wait) returns. Dropped, wherever that happens (the check
/// ended, the request gave up waiting, its client hung up), it passes the
/// turn on if it held it or had just been given it, and leaves the queue.
#[cfg(feature = "drf-legacy")]
struct KeyTurn {
    turns: KeyTurns,
    prefix: Prefix,
    clean: bool,
    /// Where the turn arrives, while waiting for it.
    called: Option<tokio::sync::oneshot::Receiver<()>>,
    held: bool,
}

#[cfg(feature = "drf-legacy")]
impl KeyTurn {
    async fn wait(&mut self) {
        let called = {
            let mut queues = self.turns.queues();
            let queue = queues.entry(self.prefix).or_default();
            if !queue.busy {
                queue.busy = true;
                self.held = true;
                return;
            }
            let (call, called) = tokio::sync::oneshot::channel();
            if self.clean {
                queue.clean.push_back(call);
            } else {
                queue.suspect.push_back(call);
            }
            self.called.insert(called)
        };
        // The sender goes only with the queue entry, which lives while this
        // request is a member: the turn comes, or the wait is cut short.
        if called.await.is_ok() {
            self.called = None;
            self.held = true;
        }
    }
}

#[cfg(feature = "drf-legacy")]
impl Drop for KeyTurn {
    fn drop(&mut self) {
        let mut queues = self.turns.queues();
        let Some(queue) = queues.get_mut(&self.prefix) else {
            return;
        };
        // Given the turn as it gave up: it must pass it on all the same.
        let handed = self
            .called
            .as_mut()
            .is_some_and(|called| called.try_recv().is_ok());
        if self.held || handed {
            queue.pass_on();
        } else if queue.clean.len() + queue.suspect.len() > 2 * queue.members {
            // Waiters that left stay until their turn comes round; past
            // twice the members, they go now, so the queue stays bounded.
            queue.clean.retain(|call| !call.is_closed());
            queue.suspect.retain(|call| !call.is_closed());
        }
        queue.members -= 1;
        if queue.members == 0 {
            queues.remove(&self.prefix);
        }
    }
}

/// What a request whose verdict must be waited for owes should its caller
/// drop it first (its client hung up, a timeout around the service gave
/// up): while work whose verdict would count is under way (the store asked,
/// a slow hash checked), a drop is reported as [`AuthFailure::Abandoned`],
/// a failed attempt, so that hanging up before each answer escapes no
/// count. While nothing is at stake (waiting in a key's queue, or the key
/// already matched and a rate limiter is waited for) a drop costs nothing.
/// A request that gets its verdict pays what the verdict says, in `report`.
#[must_use]
struct Owed {
    auth: Authenticator,
    prefix: Prefix,
    client: Option<IpAddr>,
    /// Whether a drop now would be reported.
    at_stake: std::sync::atomic::AtomicBool,
}

impl Owed {
    fn new(auth: &Authenticator, prefix: Prefix, client: Option<IpAddr>) -> Self {
        Self {
            auth: auth.clone(),
            prefix,
            client,
            at_stake: std::sync::atomic::AtomicBool::new(true),
        }
    }

    /// Work whose verdict counts is under way (again).
    #[cfg_attr(not(feature = "drf-legacy"), allow(dead_code))]
    fn at_stake(&self) {
        self.at_stake.store(true, Ordering::Relaxed);
    }

    /// Nothing is at stake for now.
    fn nothing_at_stake(&self) {
        self.at_stake.store(false, Ordering::Relaxed);
    }

    /// The verdict is in: `report` charges what is due.
    #[inline]
    fn settle(self) {
        self.nothing_at_stake();
    }
}

impl Drop for Owed {
    fn drop(&mut self) {
        if self.at_stake.load(Ordering::Relaxed) {
            self.auth
                .report(AuthFailure::Abandoned(self.prefix), self.client);
        }
    }
}

/// A key let through: its identity, and when it stops working if it is in
/// a rotation's grace period (the response's `Sunset`).
#[derive(Debug)]
pub(crate) struct Passed {
    pub(crate) identity: Identity,
    pub(crate) sunset: Sunset,
}

/// When a key in its grace period stops, in whole seconds since the epoch
/// (what an HTTP-date holds), or 0 for none: eight bytes in every response
/// future rather than an `Option<SystemTime>`'s sixteen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Sunset(u64);

impl Sunset {
    pub(crate) const NONE: Self = Self(0);

    fn of(at: Option<SystemTime>) -> Self {
        // An HTTP-date ends with the year 9999: a later expiry (a row
        // another tool wrote) is told as the last moment one can say.
        let secs = at
            .and_then(|at| at.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0, |since| {
                since.as_secs().clamp(1, crate::store::LATEST_EXPIRY_SECS)
            });
        Self(secs)
    }

    /// The `Sunset` header (RFC 8594) of a response, if there is a sunset.
    #[inline]
    pub(crate) fn header(self) -> Option<HeaderValue> {
        if self.0 == 0 {
            return None;
        }
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(self.0);
        HeaderValue::try_from(httpdate::fmt_http_date(at)).ok()
    }
}

/// What the core decided about a request, for a framework adapter to carry
/// out. Every adapter asks [`Authenticator::begin`] and maps these three
/// answers to its framework; nothing else of the path lives in an adapter.
pub(crate) enum Verdict {
    /// Let the request through, with what to put into its extensions.
    Pass(Admitted),
    /// Answer this instead of calling the inner service (already reported).
    Refuse(Box<Response<Bytes>>),
    /// The store must be waited for: the future gives the identity, or the
    /// refusal (already reported).
    Pending(CheckFuture),
}

/// What a request let through carries into its handlers.
pub(crate) enum Admitted {
    /// The key it presented.
    Key(Passed),
    /// No key, let through by an optional authenticator: a marker, so that
    /// extractors and scope guards answer with this authenticator's 401.
    Anonymous(Unauthenticated),
}

impl Admitted {
    /// Puts what was admitted into a request's (or response's) extensions.
    #[inline]
    pub(crate) fn insert_into(self, extensions: &mut http::Extensions) {
        match self {
            Self::Key(passed) => drop(extensions.insert(passed.identity)),
            Self::Anonymous(marker) => drop(extensions.insert(marker)),
        }
    }

    /// When the admitted key stops working, if it is in a grace period.
    #[inline]
    pub(crate) fn sunset(&self) -> Sunset {
        match self {
            Self::Key(passed) => passed.sunset,
            Self::Anonymous(_) => Sunset::NONE,
        }
    }
}

/// The boxed lookup of a store that must wait.
pub(crate) type CheckFuture =
    Pin<Box<dyn Future<Output = Result<Passed, Box<Response<Bytes>>>> + Send + 'static>>;

/// How far the steps that need no waiting got: to a decision, or to what
/// must be waited for.
enum Progress {
    Decided(Result<Option<Passed>, AuthFailure>),
    /// The store must be asked.
    Wait(ApiKey),
    /// The record is at hand but its verdict needs waiting for: a slow hash
    /// to check off the async threads, or a rate limiter elsewhere. Boxed:
    /// the rare paths keep the common ones small.
    #[cfg_attr(
        not(any(feature = "drf-legacy", feature = "rate-limit")),
        allow(dead_code)
    )]
    Later(Box<(ApiKey, Decision)>),
}

/// The verdict on a key and the store's answer: made, or to be made by
/// waiting for something.
enum Decision {
    Done(Result<Passed, AuthFailure>),
    /// The record's hash is slow (a Django password hash): checked on the
    /// blocking pool.
    #[cfg(feature = "drf-legacy")]
    Slow(Arc<KeyRecord>),
    /// The key is rate-limited and the limiter must be waited for.
    #[cfg(feature = "rate-limit")]
    Limit(Arc<KeyRecord>),
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

    /// Asks the store, within the lookup timeout when one is set.
    async fn find(&self, key: &ApiKey) -> Lookup {
        let prefix = key.prefix();
        #[cfg(feature = "metrics")]
        let started = std::time::Instant::now();
        #[cfg(feature = "timeout")]
        let lookup = match self.inner.lookup_timeout {
            Some(limit) => match tokio::time::timeout(limit, self.inner.store.find(prefix)).await {
                Ok(lookup) => lookup,
                Err(_) => Err(crate::store::StoreError::timeout()),
            },
            None => self.inner.store.find(prefix).await,
        };
        #[cfg(not(feature = "timeout"))]
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

/// Configures an [`Authenticator`]; see [`Authenticator::builder`].
#[must_use]
pub struct AuthenticatorBuilder {
    store: Arc<dyn KeyStore>,
    hasher: Hasher,
    scheme: String,
    header: Option<HeaderName>,
    realm: String,
    retry_after_secs: u32,
    optional: bool,
    strip: bool,
    grpc: bool,
    on_failure: Option<FailureHook>,
    sunset_on_expiry: bool,
    #[cfg(feature = "timeout")]
    lookup_timeout: Option<std::time::Duration>,
    #[cfg(feature = "last-use")]
    last_use: Option<crate::last_use::LastUseTracker>,
    #[cfg(feature = "drf-legacy")]
    slow_checks: usize,
    #[cfg(feature = "drf-legacy")]
    slow_wait: std::time::Duration,
    #[cfg(feature = "throttle")]
    throttle: Option<crate::throttle::Throttle>,
    #[cfg(feature = "throttle")]
    proxies: crate::client::TrustedProxies,
    #[cfg(feature = "rate-limit")]
    limiter: Option<Arc<dyn crate::rate_limit::RateLimiter>>,
    brands: Vec<crate::key_format::Brand>,
    drf_keys: bool,
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
    /// store failure (503). Needs a tokio runtime with its timer enabled.
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
    /// pool; half the cores by default, at least 1. One key is checked once
    /// at a time, its other requests waiting their turn in order, and a
    /// request waits at most [`slow_hash_wait`](Self::slow_hash_wait) in
    /// all for its turn (two seconds by default), then is answered 503. Guesses at such a key delay its holder by the checks
    /// queued first (bounded by the guessers' [throttle](Self::throttle):
    /// a guess whose client hangs up is counted too), and cost other keys
    /// no more than a check's wait.
    #[cfg(feature = "drf-legacy")]
    #[cfg_attr(docsrs, doc(cfg(feature = "drf-legacy")))]
    pub fn slow_hash_checks(mut self, at_once: usize) -> Self {
        self.slow_checks = at_once.max(1);
        self
    }

    /// How long a request for a key with a slow hash waits at most for its
    /// turn at a check (behind the checks of that key queued before it, and
    /// for the pool), before it is answered 503; two seconds by default.
    /// Longer makes a guessed-at key's holder wait rather than retry.
    #[cfg(feature = "drf-legacy")]
    #[cfg_attr(docsrs, doc(cfg(feature = "drf-legacy")))]
    pub fn slow_hash_wait(mut self, wait: std::time::Duration) -> Self {
        self.slow_wait = wait;
        self
    }

    /// Throttles failed attempts per client address (feature `throttle`):
    /// an address over `throttle`'s budget gets 429 before its request is
    /// read. The client is the connection's peer ([`client`](crate::client)
    /// says where the layer finds it), or behind
    /// [`trusted_proxies`](Self::trusted_proxies) the client they name.
    #[cfg(feature = "throttle")]
    #[cfg_attr(docsrs, doc(cfg(feature = "throttle")))]
    pub fn throttle(mut self, throttle: crate::throttle::Throttle) -> Self {
        self.throttle = Some(throttle);
        self
    }

    /// Believes `Forwarded` / `X-Forwarded-For` from these proxies (and
    /// only these) when telling the client address; none by default.
    #[cfg(feature = "throttle")]
    #[cfg_attr(docsrs, doc(cfg(feature = "throttle")))]
    pub fn trusted_proxies(mut self, proxies: crate::client::TrustedProxies) -> Self {
        self.proxies = proxies;
        self
    }

    /// Enforces keys' rate limits with `limiter` (feature `rate-limit`)
    /// instead of a [`LocalRateLimiter`](crate::rate_limit::LocalRateLimiter)
    /// of this authenticator's own: a `RedisRateLimiter` (`api_key_auth::rate_limit`)
    /// shares one limit among instances.
    #[cfg(feature = "rate-limit")]
    #[cfg_attr(docsrs, doc(cfg(feature = "rate-limit")))]
    pub fn rate_limiter(mut self, limiter: impl crate::rate_limit::RateLimiter) -> Self {
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
            Some(algorithm) => DummyAlgorithm::fixed(algorithm, &self.hasher),
            None => DummyAlgorithm::following(self.hasher.algorithm(), &self.hasher),
        };
        Ok(Authenticator {
            inner: Arc::new(Inner {
                store: self.store,
                hasher: self.hasher,
                dummy,
                credential,
                on_failure: self.on_failure,
                responses: Arc::new(responses),
                sunset_on_expiry: self.sunset_on_expiry,
                #[cfg(feature = "timeout")]
                lookup_timeout: self.lookup_timeout,
                #[cfg(feature = "last-use")]
                last_use: self.last_use,
                #[cfg(feature = "metrics")]
                metrics: crate::metrics::RequestMetrics::new(),
                #[cfg(feature = "drf-legacy")]
                slow: SlowChecks {
                    permits: Arc::new(tokio::sync::Semaphore::new(self.slow_checks)),
                    wait: self.slow_wait,
                    turns: KeyTurns::default(),
                },
                #[cfg(feature = "throttle")]
                throttle: self.throttle.map(crate::throttle::Throttler::new),
                #[cfg(feature = "throttle")]
                proxies: self.proxies,
                #[cfg(feature = "rate-limit")]
                limiter: self
                    .limiter
                    .unwrap_or_else(|| Arc::new(crate::rate_limit::LocalRateLimiter::new())),
            }),
        })
    }
}

/// The algorithm of the records a store holds: as the store says, or, when
/// it does not, as last seen, shared by every request (one relaxed load per
/// unknown prefix, and a store only when a record of another algorithm comes
/// by); and a decoy record of each algorithm for unknown prefixes.
struct DummyAlgorithm {
    code: AtomicU8,
    follows: bool,
    /// Records hashed from keys nobody holds, by algorithm code.
    decoys: [Option<Arc<KeyRecord>>; 3],
}

impl DummyAlgorithm {
    const ALGORITHMS: [Algorithm; 3] =
        [Algorithm::Sha256, Algorithm::Sha512, Algorithm::HmacSha256];

    /// The algorithm a store says its records use.
    fn fixed(algorithm: Algorithm, hasher: &Hasher) -> Self {
        Self {
            code: AtomicU8::new(Self::code(algorithm)),
            follows: false,
            decoys: Self::decoys(hasher),
        }
    }

    /// A first guess, then whatever the records served show.
    fn following(algorithm: Algorithm, hasher: &Hasher) -> Self {
        Self {
            code: AtomicU8::new(Self::code(algorithm)),
            follows: true,
            decoys: Self::decoys(hasher),
        }
    }

    fn decoys(hasher: &Hasher) -> [Option<Arc<KeyRecord>>; 3] {
        Self::ALGORITHMS.map(|algorithm| {
            let hash = hasher.decoy(algorithm)?;
            let prefix = ApiKey::generate().ok()?.prefix();
            Some(Arc::new(KeyRecord::new("", "", prefix, hash)))
        })
    }

    /// The decoy record of the algorithm now followed.
    #[inline]
    fn decoy(&self) -> Option<Arc<KeyRecord>> {
        let code = usize::from(self.code.load(Ordering::Relaxed)) % Self::ALGORITHMS.len();
        self.decoys[code].clone()
    }

    fn code(algorithm: Algorithm) -> u8 {
        match algorithm {
            Algorithm::Sha256 => 0,
            Algorithm::Sha512 => 1,
            Algorithm::HmacSha256 => 2,
            _ => 1,
        }
    }

    fn get(&self) -> Algorithm {
        Self::ALGORITHMS[usize::from(self.code.load(Ordering::Relaxed)) % Self::ALGORITHMS.len()]
    }

    fn follow(&self, algorithm: Algorithm) {
        // A slow hash is never the dummy's model: it would make every
        // unknown prefix cost a password hash.
        if algorithm.is_slow() {
            return;
        }
        let code = Self::code(algorithm);
        if self.follows && self.code.load(Ordering::Relaxed) != code {
            self.code.store(code, Ordering::Relaxed);
        }
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
mod tests {
    use super::*;
    use crate::{
        key::Prefix,
        store::{KeyManager, KeyRecord},
        MemoryStore, NewKey,
    };
    use http::header;

    fn headers(key: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            format!("Api-Key {key}").parse().unwrap(),
        );
        headers
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    /// A store that says nothing of its hashes, holding DRF (`sha512$$`) records.
    struct Quiet(MemoryStore);

    #[async_trait::async_trait]
    impl KeyStore for Quiet {
        async fn find(&self, prefix: Prefix) -> Lookup {
            self.0.find(prefix).await
        }
    }

    /// A store that says its records are SHA-512 has unknown prefixes
    /// checked at SHA-512's cost from the first request on, whatever the
    /// authenticator's own hasher.
    #[test]
    fn the_dummy_check_costs_what_the_stores_records_cost() {
        let drf = MemoryStore::new().with_hasher(Hasher::sha512_drf());
        let auth = Authenticator::new(drf);
        assert_eq!(auth.inner.dummy.get(), Algorithm::Sha512);
        let plain = Authenticator::new(MemoryStore::new());
        assert_eq!(plain.inner.dummy.get(), Algorithm::Sha256);
    }

    /// What a store says holds, whatever odd record passes by (a store with
    /// mixed hashes does not make the dummy flip back and forth).
    #[test]
    fn a_store_that_says_is_not_second_guessed() {
        let store = MemoryStore::new().with_hasher(Hasher::sha512_drf());
        let (_, odd) = block_on(MemoryStore::new().create(NewKey::named("sha256")))
            .unwrap()
            .reveal();
        let record = KeyRecord::new(
            "odd",
            "odd",
            ApiKey::parse(odd.expose_secret().as_bytes())
                .unwrap()
                .prefix(),
            Hasher::default().hash(&ApiKey::parse(odd.expose_secret().as_bytes()).unwrap()),
        );
        block_on(store.insert(record)).unwrap();
        let auth = Authenticator::new(store);
        assert!(block_on(auth.authenticate(&headers(odd.expose_secret()))).is_ok());
        assert_eq!(auth.inner.dummy.get(), Algorithm::Sha512);
    }

    /// A store that does not say follows the records it serves.
    #[test]
    fn the_dummy_check_follows_the_records_seen() {
        let memory = MemoryStore::new().with_hasher(Hasher::sha512_drf());
        let (record, key): (Arc<KeyRecord>, _) = block_on(memory.create(NewKey::named("drf")))
            .unwrap()
            .reveal();
        assert_eq!(record.hash.algorithm(), Algorithm::Sha512);
        let auth = Authenticator::new(Quiet(memory));
        assert_eq!(auth.inner.dummy.get(), Algorithm::Sha256);
        let wrong = format!("{}.{}", record.prefix, "x".repeat(32));
        assert!(block_on(auth.authenticate(&headers(&wrong))).is_err());
        assert_eq!(auth.inner.dummy.get(), Algorithm::Sha512);
        assert!(block_on(auth.authenticate(&headers(key.expose_secret()))).is_ok());
        assert_eq!(auth.inner.dummy.get(), Algorithm::Sha512);
    }

    fn verdict_of(auth: &Authenticator, value: Option<&str>) -> (Verdict, HeaderMap) {
        let mut headers = HeaderMap::with_capacity(8);
        if let Some(value) = value {
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
        }
        let verdict = auth.begin(&mut headers, None);
        (verdict, headers)
    }

    /// The one entry every adapter calls: a good key passes with its
    /// identity and its header marked sensitive; a bad one is refused with
    /// the uniform 401, reported once; no key passes anonymously only when
    /// the authenticator is optional.
    #[test]
    fn begin_passes_refuses_and_marks_the_credential() {
        let store = MemoryStore::new();
        let (record, key) = block_on(store.create(NewKey::named("k"))).unwrap().reveal();
        let refusals = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = refusals.clone();
        let auth = Authenticator::builder(store)
            .on_failure(move |_| {
                counted.fetch_add(1, Ordering::SeqCst);
            })
            .build()
            .unwrap();

        let (verdict, headers) =
            verdict_of(&auth, Some(&format!("Api-Key {}", key.expose_secret())));
        match verdict {
            Verdict::Pass(Admitted::Key(passed)) => assert_eq!(passed.identity.id(), record.id),
            _ => panic!("a good key passes with its identity"),
        }
        assert!(headers[header::AUTHORIZATION].is_sensitive());

        let wrong = format!("Api-Key {}.{}", record.prefix, "x".repeat(32));
        for value in [None, Some("Basic abc"), Some(wrong.as_str())] {
            match verdict_of(&auth, value).0 {
                Verdict::Refuse(response) => {
                    assert_eq!(response.status(), 401, "{value:?}");
                    assert_eq!(
                        response.headers()["www-authenticate"],
                        r#"Api-Key realm="api""#
                    );
                }
                _ => panic!("{value:?} is refused"),
            }
        }
        assert_eq!(
            refusals.load(Ordering::SeqCst),
            3,
            "each refusal reported once"
        );

        let optional = Authenticator::builder(MemoryStore::new())
            .optional(true)
            .build()
            .unwrap();
        assert!(matches!(
            verdict_of(&optional, None).0,
            Verdict::Pass(Admitted::Anonymous(_))
        ));
    }

    /// Requests for one slow key wait their turn in order, and every one
    /// leaves the queue however it ends: checked, given up while waiting,
    /// or dropped (its client gone). A key nobody waits for has no entry.
    #[cfg(feature = "drf-legacy")]
    #[test]
    fn a_slow_key_s_queue_keeps_nobody_who_left() {
        // Made by Django 2.2: PBKDF2-SHA256 with 150,000 iterations.
        const KEY: &str = "zIQLmSOy.D8yvJ3mgFrkHvhgj7vTrHInRPUKFX24B";
        const HASH: &str =
            "pbkdf2_sha256$150000$4ATQo3LKxnXZ$xmM/tnpE0O0+X+5S4cprJLXdZnaUIHGZjFKfCtw3Ibk=";
        let prefix = Prefix::parse(&KEY[..8]).unwrap();
        let record = KeyRecord::new(
            "legacy",
            "legacy",
            prefix,
            crate::hash::StoredHash::parse(HASH).unwrap(),
        );
        // Unoptimised, a check takes near a second: the wait is no bound here.
        let auth = Authenticator::builder(MemoryStore::from_records([record]))
            .slow_hash_checks(1)
            .slow_hash_wait(std::time::Duration::from_secs(600))
            .build()
            .unwrap();
        let turns = auth.inner.slow.turns.clone();
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let right = headers(KEY);
                let wrong = headers(&format!("{}.{}", &KEY[..8], "x".repeat(32)));
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
                let until = |what: &str, done: &dyn Fn() -> bool| {
                    let failed = !done() && std::time::Instant::now() > deadline;
                    assert!(!failed, "waited a minute for {what}");
                    !done()
                };
                // Requests dropped while queued or checking leave the queue.
                let queued: Vec<_> = (0..4)
                    .map(|_| {
                        let auth = auth.clone();
                        let wrong = wrong.clone();
                        tokio::spawn(async move { auth.authenticate(&wrong).await })
                    })
                    .collect();
                while until("the requests to queue", &|| turns.len() == 1) {
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                }
                for request in &queued {
                    request.abort();
                }
                for request in queued {
                    let _ = request.await;
                }
                // A check under way runs to its end on the blocking pool,
                // holding its turn until then.
                while until("the dropped requests to leave", &|| turns.len() == 0) {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
                // Three at once: one checks, two queue; all are answered,
                // the holder's too, and none is left in the queue. (The
                // holder's success upgrades the hash: this comes last.)
                let (a, b, c) = tokio::join!(
                    auth.authenticate(&wrong),
                    auth.authenticate(&right),
                    auth.authenticate(&wrong),
                );
                assert!(matches!(a, Err(AuthFailure::WrongSecret(_))), "{a:?}");
                assert!(b.is_ok(), "the holder, queued behind a guess: {b:?}");
                assert!(matches!(c, Err(AuthFailure::WrongSecret(_))), "{c:?}");
                assert_eq!(turns.len(), 0, "answered requests left the queue");
            });
    }

    /// A store that must be waited for gives a pending verdict, whose
    /// future answers as the synchronous path would; a store failure is 503.
    #[test]
    fn begin_waits_for_a_store_that_cannot_answer_at_once() {
        let memory = MemoryStore::new();
        let (record, key) = block_on(memory.create(NewKey::named("later")))
            .unwrap()
            .reveal();
        let auth = Authenticator::new(Quiet(memory));
        let Verdict::Pending(check) =
            verdict_of(&auth, Some(&format!("Api-Key {}", key.expose_secret()))).0
        else {
            panic!("a store without find_now is waited for");
        };
        assert_eq!(block_on(check).unwrap().identity.id(), record.id);

        struct Down;
        #[async_trait::async_trait]
        impl KeyStore for Down {
            async fn find(&self, _: Prefix) -> Lookup {
                Err(crate::store::StoreError::unavailable("down (test)"))
            }
        }
        let auth = Authenticator::new(Down);
        let Verdict::Pending(check) =
            verdict_of(&auth, Some(&format!("Api-Key {}", key.expose_secret()))).0
        else {
            panic!("waited for");
        };
        let refusal = block_on(check).unwrap_err();
        assert_eq!(refusal.status(), 503);
        assert_eq!(refusal.headers()["retry-after"], "1");
    }
}
