//! The tower layer: every request must carry a valid API key.
//!
//! ```
//! use api_key_auth::{ApiKeyLayer, KeyManager, MemoryStore, NewKey};
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use bytes::Bytes;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! let (_, key) = store.create(NewKey::named("docs")).await?.reveal();
//!
//! let service = ServiceBuilder::new()
//!     .layer(ApiKeyLayer::new(store))
//!     .service(service_fn(|_req: Request<Full<Bytes>>| async {
//!         Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from("hello"))))
//!     }));
//!
//! let request = Request::get("/")
//!     .header("authorization", format!("Api-Key {}", key.expose_secret()))
//!     .body(Full::default())?;
//! assert_eq!(service.clone().oneshot(request).await?.status(), StatusCode::OK);
//!
//! let request = Request::get("/").body(Full::default())?;
//! let response = service.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(response.headers()["www-authenticate"], r#"Api-Key realm="api""#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::{
    sync::Arc,
    task::{Context, Poll},
};

use http::{Request, Response};
use tower::{Layer, Service};

use crate::{
    auth::{Authenticator, ConfigError},
    body::AuthBody,
    future::ResponseFuture,
    reject::Responses,
    scope::RequireScopesLayer,
    store::KeyStore,
};

/// Applies [`ApiKeyService`] to a service: requests without a valid key are
/// refused, and authenticated ones carry an [`Identity`](crate::Identity) in
/// their extensions.
#[derive(Clone, Debug)]
pub struct ApiKeyLayer {
    auth: Authenticator,
}

impl ApiKeyLayer {
    /// A layer with the default [`Authenticator`] over `store`.
    pub fn new(store: impl KeyStore) -> Self {
        Self::from(Authenticator::new(store))
    }

    /// The authenticator the layer uses.
    pub fn authenticator(&self) -> &Authenticator {
        &self.auth
    }

    /// A layer, to put inside this one, answering 403 unless the key has every one of `scopes`.
    pub fn require_all<I, S>(&self, scopes: I) -> Result<RequireScopesLayer, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.auth.require_all(scopes)
    }

    /// A layer, to put inside this one, answering 403 unless the key has at least one of `scopes`.
    pub fn require_any<I, S>(&self, scopes: I) -> Result<RequireScopesLayer, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.auth.require_any(scopes)
    }
}

impl From<Authenticator> for ApiKeyLayer {
    fn from(auth: Authenticator) -> Self {
        Self { auth }
    }
}

impl<S> Layer<S> for ApiKeyLayer {
    type Service = ApiKeyService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ApiKeyService {
            inner,
            auth: self.auth.clone(),
        }
    }
}

/// Marks a request let through without a key by an optional authenticator,
/// so extractors can refuse it with the layer's own challenge.
#[derive(Clone, Debug)]
pub(crate) struct Unauthenticated(pub(crate) Arc<Responses>);

/// Authenticates each request before the inner service sees it. See [`ApiKeyLayer`].
#[derive(Clone, Debug)]
pub struct ApiKeyService<S> {
    inner: S,
    auth: Authenticator,
}

impl<S> ApiKeyService<S> {
    /// Wraps `inner` with `auth`.
    pub fn new(inner: S, auth: Authenticator) -> Self {
        Self { inner, auth }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for ApiKeyService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
{
    type Response = Response<AuthBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let key = match self.auth.take_key(request.headers_mut()) {
            Ok(Some(key)) => key,
            Ok(None) => {
                let marker = Unauthenticated(self.auth.responses().clone());
                request.extensions_mut().insert(marker);
                return ResponseFuture::called(self.inner.call(request));
            }
            Err(failure) => return ResponseFuture::refused(self.auth.refuse(failure)),
        };
        match self.auth.lookup_now(&key) {
            Some(lookup) => match self.auth.decide(&key, lookup) {
                Ok(identity) => {
                    request.extensions_mut().insert(identity);
                    ResponseFuture::called(self.inner.call(request))
                }
                Err(failure) => ResponseFuture::refused(self.auth.refuse(failure)),
            },
            None => {
                // The service made ready by `poll_ready` goes with the request;
                // a fresh clone stays behind for the next `poll_ready`.
                let fresh = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, fresh);
                ResponseFuture::checking(self.auth.check_later(key), request, ready)
            }
        }
    }
}
