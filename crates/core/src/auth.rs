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
    client_addr::Client,
    credential::{Credential, CredentialHeaders},
    error::{AuthFailure, Chain},
    hash::Hasher,
    identity::{Identity, Unauthenticated},
    key::{ApiKey, Prefix},
    rate_limit::RateLimiter,
    reject::Responses,
    store::{KeyRecord, KeyStore, Lookup},
};

mod builder;
mod decoys;
mod limits;
mod policies;
#[cfg(feature = "drf-legacy")]
mod slow_checks;
mod verdict;

pub use builder::AuthenticatorBuilder;
use decoys::Decoys;
use policies::Policies;
#[cfg(feature = "drf-legacy")]
use slow_checks::{KeyTurns, SlowChecks};
pub(crate) use verdict::{Admitted, CheckFuture, Passed, Sunset, Verdict};
use verdict::{Decision, FirstLook, Limits, Owed};

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
    /// The throttle, last use and metrics, told what happens.
    policies: Policies,
    #[cfg(feature = "drf-legacy")]
    slow: SlowChecks,
    /// The rate limiter of keys that have a limit; without one, such a key
    /// is refused.
    limiter: Option<Arc<dyn RateLimiter>>,
    /// The limits owners' keys share.
    owner_limits: crate::rate_limit::OwnerLimits,
    /// The blocks of keys' credits this instance holds, when it leases.
    #[cfg(feature = "credit-leases")]
    leases: Option<crate::credit_leases::Leases>,
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
        AuthenticatorBuilder::new(store)
    }

    /// The client address of a request whose connection came from `peer`:
    /// the peer, or behind [trusted proxies](AuthenticatorBuilder::trusted_proxies)
    /// the client they name (or, where they name none that reads, the
    /// nearest of them, which only the throttle counts by).
    #[inline]
    pub(crate) fn client_of(
        &self,
        peer: impl FnOnce() -> Option<IpAddr>,
        headers: &impl CredentialHeaders,
    ) -> Client {
        self.inner.policies.client_of(peer, headers)
    }

    /// Authenticates a request by its headers.
    ///
    /// `Ok(None)` means no key was presented and the authenticator is
    /// [optional](AuthenticatorBuilder::optional). Every failure is reported to
    /// `tracing` and the failure hook before it is returned. No client
    /// address is known here, so the [throttle](AuthenticatorBuilder::throttle)
    /// neither refuses nor counts, and a key with an address allowlist is
    /// refused as [`Unsupported`](AuthFailure::Unsupported); see
    /// [`authenticate_from`](Self::authenticate_from).
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
        let given = Client::known(client);
        if let Some(failure) = self.throttled(client) {
            return Err(self.report(failure, None));
        }
        let values = headers.get_all(self.inner.credential.name()).iter();
        let key = self
            .inner
            .credential
            .read(values.map(HeaderValue::as_bytes));
        let decided = match self.first_look(key, || client, 1) {
            FirstLook::Decided(decided) => decided,
            FirstLook::NeedsLookup(key) => {
                let owed = Owed::new(self, key.prefix(), given, 1);
                let decided = self.look_up_and_decide(&key, &owed).await;
                owed.paid();
                decided.map(Some)
            }
            FirstLook::NeedsWait(waiting) => {
                let (key, decision) = *waiting;
                let owed = Owed::new(self, key.prefix(), given, 1);
                let decided = self.finish(&key, decision, &owed).await;
                owed.paid();
                decided.map(Some)
            }
        };
        decided
            .map(|passed| passed.map(|p| p.identity))
            .map_err(|failure| self.report(failure, client))
    }

    /// Runs the request path, in one place for every adapter.
    ///
    /// It refuses a client out of its budget of failures, reads the key
    /// from `headers` and protects its header (removed or marked
    /// sensitive), finds the record (at once when the store can answer so),
    /// decides, and on a refusal reports it (and counts it against the
    /// client) and renders the response.
    ///
    /// `client` works the request's client address out from its headers,
    /// and is called only when something needs the address: the throttle,
    /// a key with an address allowlist, or a verdict that must wait (which
    /// keeps it). A valid key served at once with neither costs no lookup.
    /// `cost` is what the request costs a key with usage credits (none: the
    /// route is free).
    pub(crate) fn begin<H: CredentialHeaders>(
        &self,
        headers: &mut H,
        client: impl FnOnce(&H) -> Client,
        cost: u64,
    ) -> Verdict {
        let mut from = LazyClient::new(client);
        let counts = self.inner.policies.counts_clients();
        let client = if counts {
            from.get(headers).counted()
        } else {
            None
        };
        if let Some(failure) = self.throttled(client) {
            return Verdict::Refuse(Box::new(self.refuse(failure, None)));
        }
        let key = headers.take_key(&self.inner.credential);
        let look = self.first_look(key, || from.get(headers).checked(), cost);
        match look {
            FirstLook::Decided(Ok(Some(passed))) => Verdict::Pass(Admitted::Key(passed)),
            FirstLook::Decided(Ok(None)) => Verdict::Pass(Admitted::Anonymous(Unauthenticated(
                self.inner.responses.clone(),
            ))),
            FirstLook::Decided(Err(failure)) => {
                Verdict::Refuse(Box::new(self.refuse(failure, client)))
            }
            FirstLook::NeedsLookup(key) => {
                let this = self.clone();
                let from = from.get(headers);
                let client = from.counted();
                let owed = Owed::new(self, key.prefix(), from, cost);
                Verdict::Pending(Box::pin(async move {
                    let decided = this.look_up_and_decide(&key, &owed).await;
                    owed.paid();
                    decided.map_err(|failure| Box::new(this.refuse(failure, client)))
                }))
            }
            FirstLook::NeedsWait(waiting) => self.pending(*waiting, from.get(headers), cost),
        }
    }

    /// The pending verdict of a record whose decision must wait (a slow
    /// hash, a remote rate limiter): the rare paths, kept out of the common
    /// one's code.
    #[cold]
    #[inline(never)]
    fn pending(&self, (key, decision): (ApiKey, Decision), from: Client, cost: u64) -> Verdict {
        let this = self.clone();
        let client = from.counted();
        let owed = Owed::new(self, key.prefix(), from, cost);
        Verdict::Pending(Box::pin(async move {
            let decided = this.finish(&key, decision, &owed).await;
            owed.paid();
            decided.map_err(|failure| Box::new(this.refuse(failure, client)))
        }))
    }

    /// The first step: a client address out of its budget of failed
    /// attempts is refused before anything else is done.
    #[inline]
    fn throttled(&self, client: Option<IpAddr>) -> Option<AuthFailure> {
        self.inner.policies.throttled(client)
    }

    /// The steps that need no waiting: the credential read, then the
    /// decision when the store can answer at once. `client` is the address
    /// a key's allowlist is checked against; `cost` what the request costs
    /// a key with usage credits.
    fn first_look(
        &self,
        key: Result<Option<ApiKey>, AuthFailure>,
        client: impl FnOnce() -> Option<IpAddr>,
        cost: u64,
    ) -> FirstLook {
        let key = match key {
            Ok(Some(key)) => key,
            Ok(None) => return FirstLook::Decided(Ok(None)),
            Err(failure) => return FirstLook::Decided(Err(failure)),
        };
        match self.inner.store.find_now(key.prefix()) {
            Some(lookup) => match self.decide(&key, lookup, client, cost) {
                Decision::Made(decided) => FirstLook::Decided(decided.map(Some)),
                waits => FirstLook::NeedsWait(Box::new((key, waits))),
            },
            None => FirstLook::NeedsLookup(key),
        }
    }

    /// The lookup the store must be waited for, then the decision.
    ///
    /// The client's budget is looked at again once the store has answered:
    /// a burst of guesses sent at once all pass the first look before any
    /// of them has failed, and those answered after the budget ran out get
    /// 429 too, a right guess among them included, so no more of them are
    /// decided than the budget allows.
    async fn look_up_and_decide(&self, key: &ApiKey, owed: &Owed) -> Result<Passed, AuthFailure> {
        let lookup = self.find(key).await;
        if let Some(throttled) = self.throttled(owed.client) {
            return Err(throttled);
        }
        let decision = self.decide(key, lookup, || owed.checked, owed.cost);
        self.finish(key, decision, owed).await
    }

    /// Waits for what a decision waits for, until it is made.
    // Only a slow hash is decided in steps, and needs the key and client.
    #[cfg_attr(not(feature = "drf-legacy"), allow(unused_mut, unused_variables))]
    async fn finish(
        &self,
        key: &ApiKey,
        mut decision: Decision,
        owed: &Owed,
    ) -> Result<Passed, AuthFailure> {
        loop {
            match decision {
                Decision::Made(decided) => return decided,
                #[cfg(feature = "drf-legacy")]
                Decision::SlowHash(record) => {
                    decision = self.decide_slowly(key, record, owed).await
                }
                Decision::RemoteLimit(record, limits) => {
                    // The key matched: a client that leaves now made no guess.
                    owed.nothing_at_stake();
                    return self.check_rate_remotely(record, limits).await;
                }
                Decision::Credits(record, cost) => {
                    owed.nothing_at_stake();
                    return self.spend_credits(record, cost).await;
                }
            }
        }
    }

    /// Asks the store.
    async fn find(&self, key: &ApiKey) -> Lookup {
        let prefix = key.prefix();
        let timer = self.inner.policies.lookup_started();
        let lookup = self.inner.store.find(prefix).await;
        self.inner.policies.lookup_done(timer);
        lookup
    }

    /// The verdict on a presented key given the store's answer: the hash is
    /// checked first, in constant time, so revocation and expiry are only
    /// ever reported for the true key. `client` gives the request's
    /// address, asked for a key with an address allowlist only.
    fn decide(
        &self,
        key: &ApiKey,
        lookup: Lookup,
        client: impl FnOnce() -> Option<IpAddr>,
        cost: u64,
    ) -> Decision {
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
                    return Decision::Made(Err(AuthFailure::UnknownPrefix(prefix)));
                }
            },
            Err(source) => {
                return Decision::Made(Err(AuthFailure::StoreUnavailable { prefix, source }))
            }
        };
        #[cfg(feature = "drf-legacy")]
        if record.hash.is_slow() {
            return Decision::SlowHash(record);
        }
        self.inner.dummy.follow(record.hash.algorithm());
        // `&`, not `&&`: no branch on whether the prefix is known.
        let matched = self.inner.hasher.verify(key, &record.hash) & known;
        let decision = self.after_hash(prefix, record, matched, client, cost);
        if !known {
            return Decision::Made(Err(AuthFailure::UnknownPrefix(prefix)));
        }
        decision
    }

    /// The verdict once the hash is checked: revocation, suspension, expiry
    /// and the address allowlist are only ever reported for the true key;
    /// then the key's rate limit.
    fn after_hash(
        &self,
        prefix: Prefix,
        record: Arc<KeyRecord>,
        matched: bool,
        client: impl FnOnce() -> Option<IpAddr>,
        cost: u64,
    ) -> Decision {
        if !matched {
            return Decision::Made(Err(AuthFailure::WrongSecret(prefix)));
        }
        if record.revoked {
            return Decision::Made(Err(AuthFailure::Revoked(prefix)));
        }
        if record.suspended {
            return Decision::Made(Err(AuthFailure::Suspended(prefix)));
        }
        if record.expires.is_some() && record.is_expired_at(SystemTime::now()) {
            return Decision::Made(Err(AuthFailure::Expired(prefix)));
        }
        if let Some(allowed) = &record.allowed_from {
            if let Some(refused) = address_refusal(&record, allowed, client()) {
                return Decision::Made(Err(refused));
            }
        }
        let owner = self.owner_limit(&record);
        if record.rate_limit.is_some() || owner.is_some() {
            let key = record.rate_limit;
            return self.check_rate(record, Limits { key, owner, cost });
        }
        self.admit(record, cost)
    }

    /// A key let through: its use noted for the last-use tracker (a push
    /// onto its queue, nothing more), counted, and its sunset read.
    #[inline]
    fn pass(&self, record: Arc<KeyRecord>) -> Passed {
        self.inner.policies.passed(&record);
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

    /// Reports a failure to `tracing`, the metrics and the hook, counts it
    /// against `client` for the throttle when it is a failed attempt, and
    /// hands it back.
    fn report(&self, failure: AuthFailure, client: Option<IpAddr>) -> AuthFailure {
        self.inner.policies.refused(&failure, client);
        match &failure {
            AuthFailure::StoreUnavailable { .. } | AuthFailure::Unsupported { .. } => {
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

    /// The responses this authenticator answers with, shared with the
    /// requirements it makes.
    pub(crate) fn responses(&self) -> Arc<Responses> {
        self.inner.responses.clone()
    }

    /// What the failed-attempt throttle holds, when there is one.
    #[cfg(feature = "throttle")]
    #[cfg_attr(docsrs, doc(cfg(feature = "throttle")))]
    pub fn throttle_stats(&self) -> Option<crate::throttle::ThrottleStats> {
        let throttle = self.inner.policies.get::<crate::throttle::Throttler>()?;
        Some(throttle.stats())
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

/// A request's client address, worked out once, when first asked for.
struct LazyClient<F> {
    work_out: Option<F>,
    found: Client,
}

impl<F> LazyClient<F> {
    fn new(work_out: F) -> Self {
        Self {
            work_out: Some(work_out),
            found: Client::default(),
        }
    }

    #[inline]
    fn get<H>(&mut self, headers: &H) -> Client
    where
        F: FnOnce(&H) -> Client,
    {
        if let Some(work_out) = self.work_out.take() {
            self.found = work_out(headers);
        }
        self.found
    }
}

/// The refusal of a key whose allowlist does not hold `client` (an audit
/// event too); with no address known, the key cannot be checked and is
/// refused as unsupported.
#[inline]
fn address_refusal(
    record: &KeyRecord,
    allowed: &crate::store::AddressAllowlist,
    client: Option<IpAddr>,
) -> Option<AuthFailure> {
    let prefix = record.prefix;
    match client {
        Some(client) if allowed.contains(client) => None,
        Some(client) => {
            crate::audit::address_refused(record, client);
            Some(AuthFailure::AddressRefused { prefix, client })
        }
        None => Some(AuthFailure::Unsupported {
            prefix,
            reason:
                "the key may be used only from listed addresses, and no client address is known",
        }),
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
