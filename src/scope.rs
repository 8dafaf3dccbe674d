//! Requiring scopes: a layer to put inside [`ApiKeyLayer`](crate::ApiKeyLayer)
//! (in axum, on a route with `route_layer`).
//!
//! A request whose key lacks the scopes gets `403 Forbidden` with
//! `WWW-Authenticate: Api-Key realm="…", error="insufficient_scope", scope="…"`;
//! one with no authenticated key at all gets the layer's 401.
//!
//! ```
//! use api_key_auth::{ApiKeyLayer, KeyManager, MemoryStore, NewKey};
//! use http::{Request, Response, StatusCode};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! let (_, reader) = store.create(NewKey::named("r").scopes(["read"])).await?.reveal();
//! let auth = ApiKeyLayer::new(store);
//!
//! let admin_only = ServiceBuilder::new()
//!     .layer(auth.clone())
//!     .layer(auth.require_all(["admin"])?)
//!     .service(service_fn(|_req: Request<String>| async {
//!         Ok::<_, std::convert::Infallible>(Response::new(String::new()))
//!     }));
//!
//! let request = Request::get("/")
//!     .header("authorization", format!("Api-Key {}", reader.expose_secret()))
//!     .body(String::new())?;
//! let response = admin_only.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::FORBIDDEN);
//! assert_eq!(
//!     response.headers()["www-authenticate"],
//!     r#"Api-Key realm="api", error="insufficient_scope", scope="admin""#
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::{
    marker::PhantomData,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use tower::{Layer, Service};

use crate::{
    auth::ConfigError,
    body::{BodyMode, Inner, Wrapped},
    future::ResponseFuture,
    identity::Identity,
    layer::Unauthenticated,
    reject::Responses,
};

/// Whether a key needs every scope of a requirement or any one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScopeMode {
    All,
    Any,
}

#[derive(Debug)]
struct Requirement {
    mode: ScopeMode,
    scopes: Vec<String>,
    challenge: HeaderValue,
    responses: Arc<Responses>,
}

impl Requirement {
    fn is_met_by(&self, identity: &Identity) -> bool {
        match self.mode {
            ScopeMode::All => self.scopes.iter().all(|s| identity.has_scope(s)),
            ScopeMode::Any => self.scopes.iter().any(|s| identity.has_scope(s)),
        }
    }

    /// The refusal of a request, if it is refused: none when its key has the
    /// scopes, else 403, or the authentication layer's 401 (with its
    /// challenge, when it left one) for a request with no key at all.
    fn refusal(
        &self,
        identity: Option<&Identity>,
        challenge: Option<&Arc<Responses>>,
    ) -> Option<Response<Bytes>> {
        match identity {
            Some(identity) if self.is_met_by(identity) => None,
            Some(identity) => {
                tracing::debug!(prefix = %identity.prefix(), required = ?self.scopes, "API key lacks scope");
                Some(self.responses.forbidden(&self.challenge))
            }
            None => Some(challenge.unwrap_or(&self.responses).unauthorized()),
        }
    }
}

/// Refuses requests whose key lacks the required scopes. Made by
/// [`ApiKeyLayer::require_all`](crate::ApiKeyLayer::require_all) or
/// [`require_any`](crate::ApiKeyLayer::require_any).
///
/// `M` says how responses carry their bodies, as for [`ApiKeyLayer`](crate::ApiKeyLayer).
#[derive(Debug, Clone)]
pub struct RequireScopesLayer<M = Wrapped> {
    requirement: Arc<Requirement>,
    mode: PhantomData<M>,
}

impl RequireScopesLayer {
    pub(crate) fn new<I, S>(
        mode: ScopeMode,
        scopes: I,
        responses: Arc<Responses>,
    ) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        if scopes.is_empty() {
            return Err(ConfigError::NoScopes);
        }
        if let Some(bad) = scopes.iter().find(|s| !is_scope_token(s)) {
            return Err(ConfigError::Scope(bad.clone()));
        }
        let challenge = responses.scope_challenge(&scopes)?;
        Ok(Self {
            requirement: Arc::new(Requirement {
                mode,
                scopes,
                challenge,
                responses,
            }),
            mode: PhantomData,
        })
    }

    /// The same requirement, its responses carrying bodies in mode `M`.
    pub(crate) fn in_mode<M>(self) -> RequireScopesLayer<M> {
        RequireScopesLayer {
            requirement: self.requirement,
            mode: PhantomData,
        }
    }
}

impl<M> RequireScopesLayer<M> {
    /// Answers in the inner service's own body type, as
    /// [`ApiKeyLayer::with_inner_body`](crate::ApiKeyLayer::with_inner_body) does.
    pub fn with_inner_body(self) -> RequireScopesLayer<Inner> {
        RequireScopesLayer {
            requirement: self.requirement,
            mode: PhantomData,
        }
    }

    /// The scopes required.
    pub fn scopes(&self) -> &[String] {
        &self.requirement.scopes
    }

    /// The refusal, if any, of a request with `identity` (none if
    /// unauthenticated), for framework adapters that run no tower layers.
    #[cfg_attr(not(feature = "actix"), allow(dead_code))]
    pub(crate) fn refusal(
        &self,
        identity: Option<&Identity>,
        challenge: Option<&Arc<Responses>>,
    ) -> Option<Response<Bytes>> {
        self.requirement.refusal(identity, challenge)
    }
}

/// A scope as RFC 6750 allows it: printable ASCII but for space, `"` and `\`.
fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
}

impl<S, M> Layer<S> for RequireScopesLayer<M> {
    type Service = RequireScopes<S, M>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireScopes {
            inner,
            requirement: self.requirement.clone(),
            mode: PhantomData,
        }
    }
}

/// Refuses requests whose key lacks the required scopes. See [`RequireScopesLayer`].
#[derive(Debug, Clone)]
pub struct RequireScopes<S, M = Wrapped> {
    inner: S,
    requirement: Arc<Requirement>,
    mode: PhantomData<M>,
}

impl<S, ReqBody, ResBody, M> Service<Request<ReqBody>> for RequireScopes<S, M>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    M: BodyMode<ResBody>,
{
    type Response = Response<M::Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody, M>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let extensions = request.extensions();
        let challenge = extensions.get::<Unauthenticated>().map(|u| &u.0);
        match self
            .requirement
            .refusal(extensions.get::<Identity>(), challenge)
        {
            None => ResponseFuture::called(self.inner.call(request)),
            Some(refusal) => ResponseFuture::refused(refusal),
        }
    }
}
