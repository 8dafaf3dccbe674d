//! The tower form of a [`ScopeRequirement`]: a layer to put inside
//! [`ApiKeyLayer`](crate::ApiKeyLayer).

use std::{
    marker::PhantomData,
    task::{Context, Poll},
};

use http::{Request, Response};
use tower::{Layer, Service};

use super::ScopeRequirement;
use crate::{
    body::{BodyMode, InnerBody, WrappedBody},
    future::ResponseFuture,
    identity::{Identity, Unauthenticated},
};

/// Refuses requests whose key lacks the required scopes. Made by
/// [`ApiKeyLayer::require_all`](crate::ApiKeyLayer::require_all) or
/// [`require_any`](crate::ApiKeyLayer::require_any), or from a
/// [`ScopeRequirement`].
///
/// `M` says how responses carry their bodies, as for [`ApiKeyLayer`](crate::ApiKeyLayer).
#[derive(Debug, Clone)]
pub struct RequireScopesLayer<M = WrappedBody> {
    requirement: ScopeRequirement,
    mode: PhantomData<M>,
}

/// The tower layer of a requirement, answering in the default body mode.
///
/// ```
/// use api_key_auth::{scope::RequireScopesLayer, Authenticator, MemoryStore};
/// use tower::ServiceBuilder;
///
/// let auth = Authenticator::new(MemoryStore::new());
/// let admin_only = RequireScopesLayer::from(auth.require_all(["admin"]).unwrap());
/// let _stack = ServiceBuilder::new().layer(admin_only.clone());
/// let _for_axum = admin_only.with_inner_body();
/// ```
impl From<ScopeRequirement> for RequireScopesLayer {
    fn from(requirement: ScopeRequirement) -> Self {
        Self::in_mode(requirement)
    }
}

impl<M> RequireScopesLayer<M> {
    /// `requirement` as a layer answering in body mode `M`.
    pub(crate) fn in_mode(requirement: ScopeRequirement) -> Self {
        Self {
            requirement,
            mode: PhantomData,
        }
    }

    /// Answers in the inner service's own body type, as
    /// [`ApiKeyLayer::with_inner_body`](crate::ApiKeyLayer::with_inner_body) does.
    pub fn with_inner_body(self) -> RequireScopesLayer<InnerBody> {
        RequireScopesLayer::in_mode(self.requirement)
    }

    /// The scopes required.
    pub fn scopes(&self) -> &[String] {
        self.requirement.scopes()
    }
}

impl<S, M> Layer<S> for RequireScopesLayer<M> {
    type Service = RequireScopesService<S, M>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireScopesService {
            inner,
            requirement: self.requirement.clone(),
            mode: PhantomData,
        }
    }
}

/// Refuses requests whose key lacks the required scopes. See [`RequireScopesLayer`].
#[derive(Debug, Clone)]
pub struct RequireScopesService<S, M = WrappedBody> {
    inner: S,
    requirement: ScopeRequirement,
    mode: PhantomData<M>,
}

impl<S, ReqBody, ResBody, M> Service<Request<ReqBody>> for RequireScopesService<S, M>
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
        let refusal = self.requirement.refusal(
            extensions.get::<Identity>(),
            extensions.get::<Unauthenticated>(),
        );
        match refusal {
            None => ResponseFuture::called(self.inner.call(request), crate::auth::Sunset::NONE),
            Some(refusal) => ResponseFuture::refused(Box::new(refusal)),
        }
    }
}
