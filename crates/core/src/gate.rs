//! A verdict server for gateways (feature `gate`): nginx `auth_request`,
//! Traefik `ForwardAuth`, Caddy `forward_auth` and Envoy's HTTP
//! `ext_authz` ask it whether a request may pass, and copy the identity it
//! answers with to the service behind them, written in any language.
//!
//! ```
//! use api_key_auth::{gate::{Gate, Route, Rules}, Authenticator, KeyManager, MemoryStore, NewKey};
//! use http::{Request, StatusCode};
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! let (_, key) = store.create(NewKey::named("shop").scopes(["orders"])).await?.reveal();
//! let auth = Authenticator::new(store);
//! let rules = Rules::new([
//!     Route::path("/health")?.open(),
//!     Route::path("/orders/*")?.require(auth.require_all(["orders"])?),
//! ]);
//! let gate = Gate::builder(auth).rules(rules).build()?;
//!
//! // What Traefik's ForwardAuth sends (from a trusted proxy it would be
//! // believed; here the gate's own path is the request's).
//! let ask = Request::get("/orders/7")
//!     .header("authorization", format!("Api-Key {}", key.expose_secret()))
//!     .body(String::new())?;
//! let answer = gate.clone().oneshot(ask).await?;
//! assert_eq!(answer.status(), StatusCode::OK);
//! assert_eq!(answer.headers()["x-api-key-name"], "shop");
//! assert_eq!(answer.headers()["cache-control"], "no-store");
//!
//! let anonymous = Request::get("/orders/7").body(String::new())?;
//! assert_eq!(gate.oneshot(anonymous).await?.status(), StatusCode::UNAUTHORIZED);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! Every answer says `Cache-Control: no-store`, but a gateway's own cache
//! of verdicts (ingress-nginx keeps them 5 minutes when asked to) delays a
//! revocation by as long as it keeps them.
//!
//! The answers:
//!
//! | the request | status | what else |
//! |---|---|---|
//! | passes | 200 | the identity headers (`X-Api-Key-Id`, `-Name`, `-Prefix`, `-Owner`, `-Scopes`), `Sunset` in a rotation's grace period; never the secret |
//! | no key, or a wrong, revoked or expired one | 401 | `WWW-Authenticate` |
//! | a key without the route's scopes, or a closed route | 403 | `WWW-Authenticate` with `error="insufficient_scope"` |
//! | a key over its rate limit, a throttled client | 429 | `Retry-After`, the `RateLimit` fields |
//! | the store cannot answer | 503 | `Retry-After` |
//!
//! nginx's `auth_request` passes on only 401 and 403 and makes anything
//! else a 500: in [`GateMode::Nginx`] a 429 or 503 is answered 403, and
//! every refusal says its real status in `X-Api-Key-Status`, which
//! `auth_request_set` and `error_page` turn back into it.

#[cfg(feature = "ext-authz")]
mod ext_authz;
mod original;
mod rules;

use std::{
    convert::Infallible,
    future::Future,
    net::IpAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{header, HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;

use crate::{
    auth::{Admitted, Passed, Verdict},
    client_addr::{self, Client, TrustedProxies},
    error::ConfigError,
    identity::Identity,
    scope::ScopeRequirement,
    Authenticator,
};
#[cfg(feature = "ext-authz")]
#[cfg_attr(docsrs, doc(cfg(feature = "ext-authz")))]
pub use ext_authz::ExtAuthz;
use original::Original;
use rules::Access;
pub use rules::{Route, Rules};

/// How refusals are told to the gateway.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum GateMode {
    /// Each refusal with its own status: Traefik, Caddy, Envoy.
    #[default]
    Standard,
    /// 429 and 503 answered 403, for nginx's `auth_request`, which passes
    /// on 401 and 403 only; `X-Api-Key-Status` keeps the real status.
    Nginx,
}

/// Answers gateways' questions about requests: a tower service, for any
/// server. Cheap to clone.
#[derive(Clone)]
pub struct Gate {
    inner: Arc<Inner>,
}

struct Inner {
    auth: Authenticator,
    /// Swapped whole when the rules change; a request keeps the rules it
    /// began with.
    rules: arc_swap::ArcSwap<Rules>,
    proxies: TrustedProxies,
    strip_prefix: String,
    mode: GateMode,
    names: IdentityNames,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("mode", &self.inner.mode)
            .field("rules", &self.inner.rules.load())
            .finish_non_exhaustive()
    }
}

/// The names of the identity headers of a pass.
#[derive(Debug, Clone)]
struct IdentityNames {
    id: HeaderName,
    name: HeaderName,
    prefix: HeaderName,
    owner: HeaderName,
    scopes: HeaderName,
}

impl IdentityNames {
    fn starting(with: &str) -> Result<Self, ConfigError> {
        let named = |suffix: &str| {
            let name = format!("{with}{suffix}");
            HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
                .map_err(|_| ConfigError::HeaderName(name))
        };
        Ok(Self {
            id: named("Id")?,
            name: named("Name")?,
            prefix: named("Prefix")?,
            owner: named("Owner")?,
            scopes: named("Scopes")?,
        })
    }
}

/// Configures a [`Gate`]; see [`Gate::builder`].
#[derive(Debug)]
#[must_use]
pub struct GateBuilder {
    auth: Authenticator,
    rules: Rules,
    proxies: TrustedProxies,
    strip_prefix: String,
    mode: GateMode,
    header_prefix: String,
}

impl Gate {
    /// Starts configuring a gate over `auth`: every request needs a valid
    /// key until [`rules`](GateBuilder::rules) say otherwise.
    pub fn builder(auth: Authenticator) -> GateBuilder {
        GateBuilder {
            auth,
            rules: Rules::default(),
            proxies: TrustedProxies::none(),
            strip_prefix: String::new(),
            mode: GateMode::Standard,
            header_prefix: "X-Api-Key-".to_owned(),
        }
    }

    /// Puts `rules` in force for the requests that come from now on (a
    /// file re-read, say); requests under way keep the rules they began
    /// with.
    pub fn set_rules(&self, rules: Rules) {
        self.inner.rules.store(Arc::new(rules));
    }

    /// The authenticator the gate asks.
    pub fn authenticator(&self) -> &Authenticator {
        &self.inner.auth
    }

    /// The answer to the gateway's request `request`.
    async fn answer(
        self,
        original: Original,
        mut headers: HeaderMap,
        client: Client,
    ) -> Response<Full<Bytes>> {
        let inner = &self.inner;
        let rules = inner.rules.load();
        let (access, cost) = if original.readable {
            rules.access(&original)
        } else {
            tracing::debug!("a gateway's forwarded request does not read; refused as closed");
            (&rules::Access::Closed, 0)
        };
        // A closed route refuses every key: it spends none of its credits.
        let (requirement, closed, cost) = match access {
            Access::Open => return self.allowed(None),
            Access::Key(requirement) => (requirement.clone(), false, cost),
            Access::Closed => (None, true, 0),
        };
        let passed = match inner.auth.begin(&mut headers, |_| client, cost) {
            Verdict::Pass(Admitted::Key(passed)) => passed,
            // An optional authenticator let a request without a key through:
            // the gate asks for one all the same.
            Verdict::Pass(Admitted::Anonymous(_)) => {
                return self.refused(inner.auth.responses().unauthorized())
            }
            Verdict::Refuse(refusal) => return self.refused(*refusal),
            Verdict::Pending(check) => match check.await {
                Ok(passed) => passed,
                Err(refusal) => return self.refused(*refusal),
            },
        };
        if closed {
            let responses = inner.auth.responses();
            return self.refused(responses.forbidden(&responses.closed_challenge()));
        }
        if let Some(refusal) = requirement
            .as_ref()
            .and_then(|required: &ScopeRequirement| required.refusal(Some(&passed.identity), None))
        {
            return self.refused(refusal);
        }
        self.allowed(Some(passed))
    }

    /// A pass: 200, with the identity of the key when there is one.
    fn allowed(&self, passed: Option<Passed>) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(Bytes::new()));
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(passed) = passed {
            self.identity_headers(&passed.identity, headers);
            if let Some(sunset) = passed.sunset.header() {
                headers.insert(HeaderName::from_static("sunset"), sunset);
            }
        }
        response
    }

    fn identity_headers(&self, identity: &Identity, headers: &mut HeaderMap) {
        let names = &self.inner.names;
        headers.insert(names.id.clone(), shown(identity.id()));
        headers.insert(names.name.clone(), shown(identity.name()));
        headers.insert(names.prefix.clone(), shown(identity.prefix().as_str()));
        if let Some(owner) = identity.owner() {
            headers.insert(names.owner.clone(), shown(owner));
        }
        headers.insert(names.scopes.clone(), shown(&identity.scopes().join(" ")));
    }

    /// A refusal as the mode tells it, with its real status in
    /// `X-Api-Key-Status`.
    fn refused(&self, refusal: Response<Bytes>) -> Response<Full<Bytes>> {
        let mut refusal = refusal.map(Full::new);
        let status = refusal.status();
        let headers = refusal.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            HeaderName::from_static("x-api-key-status"),
            HeaderValue::from(status.as_u16()),
        );
        if self.inner.mode == GateMode::Nginx
            && status != StatusCode::UNAUTHORIZED
            && status != StatusCode::FORBIDDEN
        {
            *refusal.status_mut() = StatusCode::FORBIDDEN;
        }
        refusal
    }
}

/// The client a request from `peer`, no listed gateway, comes from: the
/// peer itself, unless no gateway is listed at all, when every request
/// comes from some gateway and its address is counted by the throttle but
/// is no client's for an address allowlist.
pub(crate) fn gateway_or_client(proxies: &TrustedProxies, peer: IpAddr) -> Client {
    if proxies.is_empty() {
        Client::vouched_by_proxy(peer)
    } else {
        Client::known(Some(peer))
    }
}

/// A header value showing `text`: visible ASCII and spaces as they are,
/// `%` and every other byte percent-encoded, so a name from the store can
/// neither break the header nor pass for another.
fn shown(text: &str) -> HeaderValue {
    let plain = |byte: u8| (byte == b' ' || byte.is_ascii_graphic()) && byte != b'%';
    if text.bytes().all(plain) {
        if let Ok(value) = HeaderValue::from_str(text) {
            return value;
        }
    }
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if plain(byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    HeaderValue::from_str(&out).unwrap_or_else(|_| HeaderValue::from_static(""))
}

impl GateBuilder {
    /// Which requests need a key, and which scopes; by default every
    /// request needs a valid key.
    pub fn rules(mut self, rules: Rules) -> Self {
        self.rules = rules;
        self
    }

    /// The gateways: their forwarded headers (the original method, path and
    /// host, and the client's address that the throttle counts by) are
    /// believed from these addresses and ignored from any other.
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.proxies = proxies;
        self
    }

    /// For Envoy's HTTP `ext_authz`, which asks with the client's own
    /// method and path under `path_prefix`: the path the rules see is the
    /// rest.
    pub fn strip_prefix(mut self, path_prefix: impl Into<String>) -> Self {
        self.strip_prefix = path_prefix.into();
        self
    }

    /// How refusals are told; [`GateMode::Standard`] by default.
    pub fn mode(mut self, mode: GateMode) -> Self {
        self.mode = mode;
        self
    }

    /// The start of the identity headers' names; `X-Api-Key-` by default
    /// (`X-Api-Key-Id`, `-Name`, `-Prefix`, `-Owner`, `-Scopes`).
    pub fn identity_headers(mut self, prefix: impl Into<String>) -> Self {
        self.header_prefix = prefix.into();
        self
    }

    /// Checks the options and builds the gate.
    pub fn build(self) -> Result<Gate, ConfigError> {
        let names = IdentityNames::starting(&self.header_prefix)?;
        Ok(Gate {
            inner: Arc::new(Inner {
                auth: self.auth,
                rules: arc_swap::ArcSwap::from_pointee(self.rules),
                proxies: self.proxies,
                strip_prefix: self.strip_prefix,
                mode: self.mode,
                names,
            }),
        })
    }
}

impl<B> tower::Service<Request<B>> for Gate {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let inner = &self.inner;
        let peer = client_addr::peer(request.extensions());
        let original = Original::of(&request, peer, &inner.proxies, &inner.strip_prefix);
        let headers = request.headers();
        let client = match peer {
            None => Client::default(),
            Some(peer) if inner.proxies.contains(peer) => inner.proxies.resolve(peer, |name| {
                headers
                    .get_all(name)
                    .iter()
                    .map(HeaderValue::as_bytes)
                    .collect()
            }),
            Some(peer) => gateway_or_client(&inner.proxies, peer),
        };
        let (parts, _) = request.into_parts();
        let gate = self.clone();
        Box::pin(async move { Ok(gate.answer(original, parts.headers, client).await) })
    }
}
