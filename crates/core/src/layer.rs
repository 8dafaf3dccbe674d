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
    fmt,
    marker::PhantomData,
    sync::Arc,
    task::{Context, Poll},
};

use http::{Method, Request, Response, Uri};
use tower::{Layer, Service};

use crate::{
    auth::{Authenticator, Verdict},
    body::{BodyMode, InnerBody, WrappedBody},
    error::ConfigError,
    future::ResponseFuture,
    scope::RequireScopesLayer,
    store::KeyStore,
};

/// Applies [`ApiKeyService`] to a service: requests without a valid key are
/// refused, and authenticated ones carry an [`Identity`](crate::Identity) in
/// their extensions.
///
/// `M` says how responses carry their bodies: in an [`AuthBody`](crate::body::AuthBody)
/// by default, or in the inner service's own body type after
/// [`with_inner_body`](Self::with_inner_body).
#[derive(Clone, Debug)]
pub struct ApiKeyLayer<M = WrappedBody> {
    auth: Authenticator,
    cost: CreditCost,
    mode: PhantomData<M>,
}

/// What a request costs a key with usage credits.
#[derive(Clone)]
enum CreditCost {
    Each(u64),
    By(CostOfRoute),
}

/// What a request costs, by its method and URI.
type CostOfRoute = Arc<dyn Fn(&Method, &Uri) -> u64 + Send + Sync>;

impl CreditCost {
    #[inline]
    fn of<B>(&self, request: &Request<B>) -> u64 {
        match self {
            Self::Each(cost) => *cost,
            Self::By(cost) => cost(request.method(), request.uri()),
        }
    }
}

impl fmt::Debug for CreditCost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Each(cost) => write!(f, "{cost} each"),
            Self::By(_) => f.write_str("by route"),
        }
    }
}

impl ApiKeyLayer {
    /// A layer with the default [`Authenticator`] over `store`.
    pub fn new(store: impl KeyStore) -> Self {
        Self::from(Authenticator::new(store))
    }
}

impl<M> ApiKeyLayer<M> {
    /// Answers in the inner service's own body type `B` rather than an
    /// [`AuthBody`](crate::body::AuthBody) around it, making refusals' bodies with
    /// `B::from(Bytes)`. For axum (`route_layer`), whose `Body` is built so,
    /// this spares boxing every response again; hyper's `Full<Bytes>` works too.
    ///
    /// ```
    /// use api_key_auth::{ApiKeyLayer, MemoryStore};
    /// use axum::{routing::get, Router};
    ///
    /// let app: Router = Router::new()
    ///     .route("/whoami", get(|| async { "hello" }))
    ///     .route_layer(ApiKeyLayer::new(MemoryStore::new()).with_inner_body());
    /// ```
    pub fn with_inner_body(self) -> ApiKeyLayer<InnerBody> {
        ApiKeyLayer {
            auth: self.auth,
            cost: self.cost,
            mode: PhantomData,
        }
    }

    /// Charges a key that has [usage credits](crate::store::Credits) `cost`
    /// of them for each request through this layer, rather than one; 0
    /// makes its routes free (let through even with none left). One layer
    /// per group of routes, in axum with `route_layer`:
    ///
    /// ```
    /// use api_key_auth::{ApiKeyLayer, MemoryStore};
    /// use axum::{routing::{get, post}, Router};
    ///
    /// let keys = ApiKeyLayer::new(MemoryStore::new()).with_inner_body();
    /// let app: Router = Router::new()
    ///     .route("/reports", post(|| async { "made" }))
    ///     .route_layer(keys.clone().credit_cost(10))
    ///     .merge(Router::new().route("/status", get(|| async { "up" })).route_layer(keys));
    /// ```
    pub fn credit_cost(mut self, cost: u64) -> Self {
        self.cost = CreditCost::Each(cost);
        self
    }

    /// Charges a key that has usage credits what `cost` says of each
    /// request, by its method and URI.
    ///
    /// ```
    /// use api_key_auth::{ApiKeyLayer, MemoryStore};
    /// use http::Method;
    ///
    /// let layer = ApiKeyLayer::new(MemoryStore::new()).credit_cost_by(|method, uri| {
    ///     match (method, uri.path()) {
    ///         (&Method::POST, "/reports") => 10,
    ///         (_, "/status") => 0,
    ///         _ => 1,
    ///     }
    /// });
    /// ```
    pub fn credit_cost_by(
        mut self,
        cost: impl Fn(&Method, &Uri) -> u64 + Send + Sync + 'static,
    ) -> Self {
        self.cost = CreditCost::By(Arc::new(cost));
        self
    }

    /// The authenticator the layer uses.
    pub fn authenticator(&self) -> &Authenticator {
        &self.auth
    }

    /// A layer, to put inside this one, answering 403 unless the key has
    /// every one of `scopes`. Its responses carry bodies as this layer's do.
    pub fn require_all<I, S>(&self, scopes: I) -> Result<RequireScopesLayer<M>, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.auth
            .require_all(scopes)
            .map(RequireScopesLayer::in_mode)
    }

    /// A layer, to put inside this one, answering 403 unless the key has at
    /// least one of `scopes`. Its responses carry bodies as this layer's do.
    pub fn require_any<I, S>(&self, scopes: I) -> Result<RequireScopesLayer<M>, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.auth
            .require_any(scopes)
            .map(RequireScopesLayer::in_mode)
    }
}

impl From<Authenticator> for ApiKeyLayer {
    fn from(auth: Authenticator) -> Self {
        Self {
            auth,
            cost: CreditCost::Each(1),
            mode: PhantomData,
        }
    }
}

impl<S, M> Layer<S> for ApiKeyLayer<M> {
    type Service = ApiKeyService<S, M>;

    fn layer(&self, inner: S) -> Self::Service {
        ApiKeyService {
            inner,
            auth: self.auth.clone(),
            cost: self.cost.clone(),
            mode: PhantomData,
        }
    }
}

/// Authenticates each request before the inner service sees it. See [`ApiKeyLayer`].
#[derive(Clone, Debug)]
pub struct ApiKeyService<S, M = WrappedBody> {
    inner: S,
    auth: Authenticator,
    cost: CreditCost,
    mode: PhantomData<M>,
}

impl<S> ApiKeyService<S> {
    /// Wraps `inner` with `auth`.
    pub fn new(inner: S, auth: Authenticator) -> Self {
        Self {
            inner,
            auth,
            cost: CreditCost::Each(1),
            mode: PhantomData,
        }
    }
}

impl<S, M> ApiKeyService<S, M> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, ReqBody, ResBody, M> Service<Request<ReqBody>> for ApiKeyService<S, M>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    M: BodyMode<ResBody>,
{
    type Response = Response<M::Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody, M>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // The extensions aside while the headers are lent out, so that the
        // client's address is read from them only if something needs it.
        let cost = self.cost.of(&request);
        let extensions = std::mem::take(request.extensions_mut());
        let client = |headers: &_| {
            self.auth
                .client_of(|| crate::client_addr::peer(&extensions), headers)
        };
        let verdict = self.auth.begin(request.headers_mut(), client, cost);
        *request.extensions_mut() = extensions;
        match verdict {
            Verdict::Pass(admitted) => {
                let sunset = admitted.sunset();
                admitted.insert_into(request.extensions_mut());
                ResponseFuture::called(self.inner.call(request), sunset)
            }
            Verdict::Refuse(refusal) => ResponseFuture::refused(refusal),
            Verdict::Pending(check) => {
                // The service made ready by `poll_ready` goes with the request;
                // a fresh clone stays behind for the next `poll_ready`.
                let fresh = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, fresh);
                ResponseFuture::checking(check, request, ready)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{identity::Unauthenticated, Identity, KeyManager, MemoryStore, NewKey};

    /// What the service puts into the request for its handler: the identity
    /// of a good key, or, from an optional authenticator and no key, the
    /// marker that lets extractors answer with this layer's 401.
    #[test]
    fn the_service_hands_the_verdict_to_the_inner_service() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let store = MemoryStore::new();
        let (record, key) = runtime
            .block_on(store.create(NewKey::named("k")))
            .unwrap()
            .reveal();
        let seen = |auth: Authenticator, value: Option<String>| {
            let inner = tower::service_fn(|request: Request<()>| async move {
                let id = request
                    .extensions()
                    .get::<Identity>()
                    .map(|i| i.id().to_owned());
                let anonymous = request.extensions().get::<Unauthenticated>().is_some();
                let seen = format!("{id:?} {anonymous}");
                Ok::<_, std::convert::Infallible>(Response::new(bytes::Bytes::from(seen)))
            });
            let mut service = ApiKeyLayer::from(auth).with_inner_body().layer(inner);
            let mut request = Request::new(());
            if let Some(value) = value {
                request
                    .headers_mut()
                    .insert(http::header::AUTHORIZATION, value.parse().unwrap());
            }
            let response = runtime.block_on(service.call(request)).unwrap();
            response.into_body()
        };
        let good = format!("Api-Key {}", key.expose_secret());
        assert_eq!(
            seen(Authenticator::new(store.clone()), Some(good)),
            format!("Some({:?}) false", record.id)
        );
        let optional = Authenticator::builder(store)
            .optional(true)
            .build()
            .unwrap();
        assert_eq!(seen(optional, None), "None true");
    }
}
