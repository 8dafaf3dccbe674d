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
    pin::Pin,
    sync::{
        atomic::{AtomicU8, Ordering},
        Arc,
    },
    time::SystemTime,
};

use bytes::Bytes;
use http::{
    header::{self, Entry},
    HeaderMap, HeaderName, HeaderValue,
};

use crate::{
    hash::{Algorithm, Hasher},
    identity::Identity,
    key::{ApiKey, KeyParseError, Prefix},
    reject::Responses,
    scheme::Scheme,
    scope::{RequireScopesLayer, ScopeMode},
    store::{KeyStore, Lookup, StoreError},
};

/// Header values longer than this are refused on sight, before any parsing,
/// hashing or store call. A valid value is at most a scheme plus 42 bytes.
pub const MAX_CREDENTIAL_LEN: usize = 256;

/// Why a request was not authenticated. Goes to `tracing` and to the
/// [`on_failure`](AuthenticatorBuilder::on_failure) hook, never to the client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthFailure {
    /// No credential header.
    #[error("no API key presented")]
    Missing,
    /// A credential header that is not a well-formed key.
    #[error("malformed API key credential: {0}")]
    Malformed(#[from] Malformed),
    /// A well-formed key whose prefix no store record has.
    #[error("unknown API key prefix {0}")]
    UnknownPrefix(Prefix),
    /// A key whose prefix is known but whose secret does not match.
    #[error("wrong secret for API key {0}")]
    WrongSecret(Prefix),
    /// A correct key that has been revoked.
    #[error("API key {0} is revoked")]
    Revoked(Prefix),
    /// A correct key past its expiry.
    #[error("API key {0} has expired")]
    Expired(Prefix),
    /// The store failed, so the key could not be checked.
    #[error("could not check API key {prefix}: {source}")]
    StoreUnavailable {
        /// The prefix being looked up.
        prefix: Prefix,
        /// What the store said.
        #[source]
        source: StoreError,
    },
}

impl AuthFailure {
    /// The HTTP status the failure is answered with: 503 for a store failure, else 401.
    pub fn status(&self) -> http::StatusCode {
        match self {
            Self::StoreUnavailable { .. } => http::StatusCode::SERVICE_UNAVAILABLE,
            _ => http::StatusCode::UNAUTHORIZED,
        }
    }

    /// The prefix of the presented key, when it got as far as being parsed.
    pub fn prefix(&self) -> Option<Prefix> {
        match self {
            Self::Missing | Self::Malformed(_) => None,
            Self::UnknownPrefix(p) | Self::WrongSecret(p) | Self::Revoked(p) | Self::Expired(p) => {
                Some(*p)
            }
            Self::StoreUnavailable { prefix, .. } => Some(*prefix),
        }
    }
}

/// How a credential header was malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Malformed {
    /// More than one credential header.
    #[error("{0} credential headers; exactly one is allowed")]
    MultipleHeaders(usize),
    /// A value longer than [`MAX_CREDENTIAL_LEN`].
    #[error("credential of {0} bytes exceeds the {MAX_CREDENTIAL_LEN}-byte limit")]
    Oversized(usize),
    /// The value does not start with the scheme and a single space.
    #[error("credential does not start with the expected scheme and one space")]
    Scheme,
    /// The key after the scheme is not `PREFIX.SECRET`.
    #[error(transparent)]
    Key(#[from] KeyParseError),
}

/// Where the key is read from.
#[derive(Debug, Clone)]
enum Source {
    /// `Authorization: <scheme> <key>`, the scheme matched case-insensitively.
    Authorization { scheme: Scheme },
    /// `<header>: <key>`, the bare key in a header of its own.
    Header(HeaderName),
}

impl Source {
    fn header(&self) -> &HeaderName {
        match self {
            Self::Authorization { .. } => &header::AUTHORIZATION,
            Self::Header(name) => name,
        }
    }
}

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
    source: Source,
    optional: bool,
    strip: bool,
    on_failure: Option<FailureHook>,
    responses: Arc<Responses>,
    #[cfg(feature = "tokio")]
    lookup_timeout: Option<std::time::Duration>,
}

/// Options of an [`Authenticator`] that do not describe a valid configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The scheme is empty or not an HTTP token.
    #[error(
        "the authorization scheme {0:?} is not an HTTP token (letters, digits and !#$%&'*+-.^_`|~)"
    )]
    Scheme(String),
    /// The realm holds control or non-ASCII characters.
    #[error("the realm {0:?} must be printable ASCII")]
    Realm(String),
    /// A scope is empty or holds a space, quote, backslash or non-printable character.
    #[error("the scope {0:?} must be 1 or more printable ASCII characters other than space, '\"' and '\\'")]
    Scope(String),
    /// A scope requirement names no scope.
    #[error("a scope requirement names at least one scope")]
    NoScopes,
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
            #[cfg(feature = "tokio")]
            lookup_timeout: None,
        }
    }

    /// Authenticates a request by its headers.
    ///
    /// `Ok(None)` means no key was presented and the authenticator is
    /// [optional](AuthenticatorBuilder::optional). Every failure is reported to
    /// `tracing` and the failure hook before it is returned.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Identity>, AuthFailure> {
        let key = match self.extract(headers) {
            Ok(Some(key)) => key,
            Ok(None) => return Ok(None),
            Err(failure) => return Err(self.report(failure)),
        };
        let lookup = match self.inner.store.find_now(key.prefix()) {
            Some(lookup) => lookup,
            None => self.find(key.prefix()).await,
        };
        self.decide(&key, lookup)
            .map(Some)
            .map_err(|f| self.report(f))
    }

    /// The HTTP response for `failure`: the challenge and the one body shared by
    /// every 401, or the 503 with `Retry-After`.
    pub fn rejection(&self, failure: &AuthFailure) -> http::Response<Bytes> {
        self.inner.responses.for_failure(failure)
    }

    /// A layer answering 403 unless the authenticated key has every one of `scopes`.
    pub fn require_all<I, S>(&self, scopes: I) -> Result<RequireScopesLayer, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        RequireScopesLayer::new(ScopeMode::All, scopes, self.inner.responses.clone())
    }

    /// A layer answering 403 unless the authenticated key has at least one of `scopes`.
    pub fn require_any<I, S>(&self, scopes: I) -> Result<RequireScopesLayer, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        RequireScopesLayer::new(ScopeMode::Any, scopes, self.inner.responses.clone())
    }

    /// Reads the key from the headers. `Ok(None)`: no key, and none is required.
    /// Does not report; callers do, once, with [`report`](Self::report).
    pub(crate) fn extract(&self, headers: &HeaderMap) -> Result<Option<ApiKey>, AuthFailure> {
        let values = headers.get_all(self.inner.source.header()).iter();
        self.extract_from(values.map(|v| v.as_bytes()))
    }

    /// Reads the key from the values of the credential header, in whatever
    /// header map a framework keeps them.
    pub(crate) fn extract_from<'a>(
        &self,
        mut values: impl Iterator<Item = &'a [u8]>,
    ) -> Result<Option<ApiKey>, AuthFailure> {
        let Some(bytes) = values.next() else {
            return if self.inner.optional {
                Ok(None)
            } else {
                Err(AuthFailure::Missing)
            };
        };
        let extra = values.count();
        if extra > 0 {
            return Err(Malformed::MultipleHeaders(extra + 1).into());
        }
        if bytes.len() > MAX_CREDENTIAL_LEN {
            return Err(Malformed::Oversized(bytes.len()).into());
        }
        // Whitespace around a field value is not part of it (RFC 9110 §5.5):
        // HTTP/1.1 parsers drop it, so drop it here too, whatever the protocol.
        let bytes = bytes.trim_ascii();
        let key = match &self.inner.source {
            Source::Authorization { scheme } => scheme.strip(bytes).ok_or(Malformed::Scheme)?,
            Source::Header(_) => bytes,
        };
        ApiKey::parse(key)
            .map(Some)
            .map_err(|e| Malformed::Key(e).into())
    }

    /// The header the key travels in.
    pub fn credential_header(&self) -> &HeaderName {
        self.inner.source.header()
    }

    /// Whether the credential header is removed before the inner service sees the request.
    #[cfg_attr(not(feature = "actix"), allow(dead_code))]
    pub(crate) fn strips_credential(&self) -> bool {
        self.inner.strip
    }

    /// The lookup, when the store can answer without waiting.
    pub(crate) fn lookup_now(&self, key: &ApiKey) -> Option<Lookup> {
        self.inner.store.find_now(key.prefix())
    }

    /// The lookup and verdict as a `'static` future, for stores that must wait.
    /// A failure comes out reported and rendered.
    pub(crate) fn check_later(&self, key: ApiKey) -> CheckFuture {
        let this = self.clone();
        Box::pin(async move {
            let lookup = this.find(key.prefix()).await;
            this.decide(&key, lookup).map_err(|f| this.refuse(f))
        })
    }

    /// Asks the store, within the lookup timeout when one is set.
    async fn find(&self, prefix: Prefix) -> Lookup {
        #[cfg(feature = "tokio")]
        if let Some(limit) = self.inner.lookup_timeout {
            return match tokio::time::timeout(limit, self.inner.store.find(prefix)).await {
                Ok(lookup) => lookup,
                Err(_) => Err(StoreError::timeout()),
            };
        }
        self.inner.store.find(prefix).await
    }

    /// The verdict on a presented key given the store's answer: the hash is
    /// checked first, in constant time, so revocation and expiry are only
    /// ever reported for the true key.
    pub(crate) fn decide(&self, key: &ApiKey, lookup: Lookup) -> Result<Identity, AuthFailure> {
        let prefix = key.prefix();
        let record = match lookup {
            Ok(Some(record)) => record,
            Ok(None) => {
                self.inner
                    .hasher
                    .verify_against_nothing_as(key, self.inner.dummy.get());
                return Err(AuthFailure::UnknownPrefix(prefix));
            }
            Err(source) => return Err(AuthFailure::StoreUnavailable { prefix, source }),
        };
        self.inner.dummy.follow(record.hash.algorithm());
        if !self.inner.hasher.verify(key, &record.hash) {
            return Err(AuthFailure::WrongSecret(prefix));
        }
        if record.revoked {
            return Err(AuthFailure::Revoked(prefix));
        }
        if record.expires.is_some() && record.is_expired_at(SystemTime::now()) {
            return Err(AuthFailure::Expired(prefix));
        }
        Ok(Identity::new(record))
    }

    /// Reports a failure to `tracing` and the hook, and hands it back.
    pub(crate) fn report(&self, failure: AuthFailure) -> AuthFailure {
        match &failure {
            AuthFailure::StoreUnavailable { .. } => {
                tracing::warn!(reason = %failure, "API key authentication unavailable");
            }
            _ => tracing::debug!(reason = %failure, "API key refused"),
        }
        if let Some(hook) = &self.inner.on_failure {
            hook(&failure);
        }
        failure
    }

    /// Reports a failure and renders its response.
    pub(crate) fn refuse(&self, failure: AuthFailure) -> http::Response<Bytes> {
        let failure = self.report(failure);
        self.rejection(&failure)
    }

    /// Reads the key from the headers, like [`extract`](Self::extract), and
    /// protects the credential on the way: removes its header, or marks it
    /// sensitive so that HTTP/2 never indexes it and `Debug` of the headers
    /// never shows it.
    pub(crate) fn take_key(&self, headers: &mut HeaderMap) -> Result<Option<ApiKey>, AuthFailure> {
        let name = self.inner.source.header();
        // An entry serves reading and marking with one lookup, but asking for
        // one grows a full map: then two lookups are cheaper.
        if headers.keys_len() < headers.capacity() {
            match headers.try_entry(name) {
                Ok(Entry::Occupied(mut entry)) => {
                    let key = self.extract_from(entry.iter().map(HeaderValue::as_bytes));
                    if self.inner.strip {
                        drop(entry.remove_entry_mult());
                    } else {
                        entry.iter_mut().for_each(|value| value.set_sensitive(true));
                    }
                    return key;
                }
                Ok(Entry::Vacant(_)) => return self.extract_from(std::iter::empty()),
                // Not with room to spare; the path below answers all the same.
                Err(_) => {}
            }
        }
        let key = self.extract(headers);
        if self.inner.strip {
            headers.remove(name);
        } else if let Some(value) = headers.get_mut(name) {
            // More than one value is refused: marking the first is enough.
            value.set_sensitive(true);
        }
        key
    }

    pub(crate) fn responses(&self) -> &Arc<Responses> {
        &self.inner.responses
    }
}

/// The boxed lookup of a store that must wait.
pub(crate) type CheckFuture =
    Pin<Box<dyn Future<Output = Result<Identity, http::Response<Bytes>>> + Send + 'static>>;

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("source", &self.inner.source)
            .field("hasher", &self.inner.hasher.algorithm())
            .field("optional", &self.inner.optional)
            .field("strip", &self.inner.strip)
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
    #[cfg(feature = "tokio")]
    lookup_timeout: Option<std::time::Duration>,
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
    #[cfg(feature = "tokio")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub fn lookup_timeout(mut self, limit: std::time::Duration) -> Self {
        self.lookup_timeout = Some(limit);
        self
    }

    /// Checks the options and builds the authenticator.
    pub fn build(self) -> Result<Authenticator, ConfigError> {
        let scheme = self.scheme;
        let source = match self.header {
            Some(name) => Source::Header(name),
            None if is_token(&scheme) => Source::Authorization {
                scheme: Scheme::new(&scheme),
            },
            None => return Err(ConfigError::Scheme(scheme)),
        };
        let responses = Responses::new(&scheme, &self.realm, self.retry_after_secs, self.grpc)?;
        let dummy = match self.store.hash_algorithm() {
            Some(algorithm) => DummyAlgorithm::fixed(algorithm),
            None => DummyAlgorithm::following(self.hasher.algorithm()),
        };
        Ok(Authenticator {
            inner: Arc::new(Inner {
                store: self.store,
                hasher: self.hasher,
                dummy,
                source,
                optional: self.optional,
                strip: self.strip,
                on_failure: self.on_failure,
                responses: Arc::new(responses),
                #[cfg(feature = "tokio")]
                lookup_timeout: self.lookup_timeout,
            }),
        })
    }
}

/// The algorithm of the records a store holds: as the store says, or, when
/// it does not, as last seen, shared by every request (one relaxed load per
/// unknown prefix, and a store only when a record of another algorithm comes by).
struct DummyAlgorithm {
    code: AtomicU8,
    follows: bool,
}

impl DummyAlgorithm {
    const ALGORITHMS: [Algorithm; 3] =
        [Algorithm::Sha256, Algorithm::Sha512, Algorithm::HmacSha256];

    /// The algorithm a store says its records use.
    fn fixed(algorithm: Algorithm) -> Self {
        Self {
            code: AtomicU8::new(Self::code(algorithm)),
            follows: false,
        }
    }

    /// A first guess, then whatever the records served show.
    fn following(algorithm: Algorithm) -> Self {
        Self {
            code: AtomicU8::new(Self::code(algorithm)),
            follows: true,
        }
    }

    fn code(algorithm: Algorithm) -> u8 {
        match algorithm {
            Algorithm::Sha256 => 0,
            Algorithm::Sha512 => 1,
            Algorithm::HmacSha256 => 2,
        }
    }

    fn get(&self) -> Algorithm {
        Self::ALGORITHMS[usize::from(self.code.load(Ordering::Relaxed)) % Self::ALGORITHMS.len()]
    }

    fn follow(&self, algorithm: Algorithm) {
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
        store::{KeyManager, KeyRecord},
        MemoryStore, NewKey,
    };

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
        let drf = MemoryStore::with_hasher(Hasher::sha512_drf());
        let auth = Authenticator::new(drf);
        assert_eq!(auth.inner.dummy.get(), Algorithm::Sha512);
        let plain = Authenticator::new(MemoryStore::new());
        assert_eq!(plain.inner.dummy.get(), Algorithm::Sha256);
    }

    /// What a store says holds, whatever odd record passes by (a store with
    /// mixed hashes does not make the dummy flip back and forth).
    #[test]
    fn a_store_that_says_is_not_second_guessed() {
        let store = MemoryStore::with_hasher(Hasher::sha512_drf());
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
        let memory = MemoryStore::with_hasher(Hasher::sha512_drf());
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
}
