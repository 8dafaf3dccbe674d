//! actix-web integration (feature `actix`): actix-web runs no tower layers,
//! so this is the same [`Authenticator`] as middleware, with the same
//! answers, an [`Identity`] extractor, and scope guards.
//!
//! ```
//! use actix_web::{web, App, HttpResponse};
//! use api_key_auth::{actix::{ApiKeyAuth, RequireScopes}, Identity, MemoryStore};
//!
//! async fn whoami(identity: Identity) -> HttpResponse {
//!     HttpResponse::Ok().body(format!("hello, {}", identity.name()))
//! }
//!
//! let auth = ApiKeyAuth::new(MemoryStore::new());
//! let admin_only = RequireScopes::from(auth.authenticator().require_all(["admin"]).unwrap());
//! let app = App::new()
//!     .wrap(auth)
//!     .route("/whoami", web::get().to(whoami))
//!     .service(web::scope("/admin").wrap(admin_only).route("", web::get().to(whoami)));
//! ```
//!
//! `Option<Identity>` extracts `None` where there is no authenticated key;
//! `Identity` answers the middleware's 401 there, never a 500.

use std::{
    fmt,
    future::{ready, Future, Ready},
    pin::Pin,
    rc::Rc,
    sync::Arc,
};

use actix_web::{
    body::{EitherBody, MessageBody},
    dev::{forward_ready, Payload, Service, ServiceRequest, ServiceResponse, Transform},
    http::{
        header::{HeaderName, HeaderValue},
        StatusCode,
    },
    Error, FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError,
};
use bytes::Bytes;

use crate::{
    auth::Authenticator, identity::Identity, layer::Unauthenticated, reject::Responses,
    scope::RequireScopesLayer, store::KeyStore,
};

/// The middleware factory: `App::new().wrap(ApiKeyAuth::new(store))`.
#[derive(Clone, Debug)]
pub struct ApiKeyAuth {
    auth: Authenticator,
}

impl ApiKeyAuth {
    /// The middleware with the default [`Authenticator`] over `store`.
    pub fn new(store: impl KeyStore) -> Self {
        Self::from(Authenticator::new(store))
    }

    /// The authenticator the middleware uses.
    pub fn authenticator(&self) -> &Authenticator {
        &self.auth
    }
}

impl From<Authenticator> for ApiKeyAuth {
    fn from(auth: Authenticator) -> Self {
        Self { auth }
    }
}

impl<S, B> Transform<S, ServiceRequest> for ApiKeyAuth
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = ApiKeyMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(ApiKeyMiddleware {
            service: Rc::new(service),
            auth: self.auth.clone(),
        }))
    }
}

/// The middleware [`ApiKeyAuth`] makes.
pub struct ApiKeyMiddleware<S> {
    service: Rc<S>,
    auth: Authenticator,
}

impl<S> fmt::Debug for ApiKeyMiddleware<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyMiddleware")
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

impl<S, B> Service<ServiceRequest> for ApiKeyMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, mut request: ServiceRequest) -> Self::Future {
        let auth = &self.auth;
        let name = auth.credential_header().as_str();
        let extracted =
            auth.extract_from(request.headers().get_all(name).map(HeaderValue::as_bytes));
        let key = match extracted {
            Ok(Some(key)) => key,
            Ok(None) => {
                request
                    .extensions_mut()
                    .insert(Unauthenticated(auth.responses().clone()));
                return passed(&self.service, request);
            }
            Err(failure) => return refused(request, auth.refuse(failure)),
        };
        if auth.strips_credential() {
            request.headers_mut().remove(name);
        } else if let Some(value) = request.headers_mut().get_mut(name) {
            value.set_sensitive(true);
        }
        match auth.lookup_now(&key) {
            Some(lookup) => match auth.decide(&key, lookup) {
                Ok(identity) => {
                    request.extensions_mut().insert(identity);
                    passed(&self.service, request)
                }
                Err(failure) => refused(request, auth.refuse(failure)),
            },
            None => {
                let check = auth.check_later(key);
                let service = self.service.clone();
                Box::pin(async move {
                    match check.await {
                        Ok(identity) => {
                            request.extensions_mut().insert(identity);
                            service
                                .call(request)
                                .await
                                .map(ServiceResponse::map_into_left_body)
                        }
                        Err(refusal) => Ok(request
                            .into_response(to_actix(refusal))
                            .map_into_right_body()),
                    }
                })
            }
        }
    }
}

fn passed<S, B>(
    service: &Rc<S>,
    request: ServiceRequest,
) -> LocalBoxFuture<Result<ServiceResponse<EitherBody<B>>, Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    let called = service.call(request);
    Box::pin(async move { called.await.map(ServiceResponse::map_into_left_body) })
}

fn refused<B: 'static>(
    request: ServiceRequest,
    refusal: http::Response<Bytes>,
) -> LocalBoxFuture<Result<ServiceResponse<EitherBody<B>>, Error>> {
    let response = request
        .into_response(to_actix(refusal))
        .map_into_right_body();
    Box::pin(ready(Ok(response)))
}

/// The core's response, status, headers and body, as actix-web's.
fn to_actix(response: http::Response<Bytes>) -> HttpResponse {
    let (parts, body) = response.into_parts();
    let status =
        StatusCode::from_u16(parts.status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = HttpResponse::build(status);
    for (name, value) in &parts.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            builder.append_header((name, value));
        }
    }
    builder.body(body)
}

/// The rejection of the [`Identity`] extractor: the middleware's 401.
pub struct MissingIdentity(Arc<Responses>);

impl fmt::Debug for MissingIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MissingIdentity")
    }
}

impl fmt::Display for MissingIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no authenticated API key")
    }
}

impl ResponseError for MissingIdentity {
    fn status_code(&self) -> StatusCode {
        StatusCode::UNAUTHORIZED
    }

    fn error_response(&self) -> HttpResponse {
        to_actix(self.0.unauthorized())
    }
}

impl FromRequest for Identity {
    type Error = Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let extensions = request.extensions();
        if let Some(identity) = extensions.get::<Identity>() {
            return ready(Ok(identity.clone()));
        }
        let responses = match extensions.get::<Unauthenticated>() {
            Some(Unauthenticated(responses)) => responses.clone(),
            None => {
                tracing::error!(
                    path = %request.path(),
                    "Identity extracted on a route no ApiKeyAuth guards; answering 401"
                );
                Arc::new(Responses::default())
            }
        };
        ready(Err(MissingIdentity(responses).into()))
    }
}

/// A scope guard for a scope or a resource, inside [`ApiKeyAuth`]: 403 with
/// an `insufficient_scope` challenge unless the key has the scopes; made from
/// [`Authenticator::require_all`] or [`Authenticator::require_any`].
#[derive(Clone, Debug)]
pub struct RequireScopes {
    requirement: RequireScopesLayer,
}

impl From<RequireScopesLayer> for RequireScopes {
    fn from(requirement: RequireScopesLayer) -> Self {
        Self { requirement }
    }
}

impl<S, B> Transform<S, ServiceRequest> for RequireScopes
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = RequireScopesMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequireScopesMiddleware {
            service: Rc::new(service),
            requirement: self.requirement.clone(),
        }))
    }
}

/// The middleware [`RequireScopes`] makes.
pub struct RequireScopesMiddleware<S> {
    service: Rc<S>,
    requirement: RequireScopesLayer,
}

impl<S> fmt::Debug for RequireScopesMiddleware<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireScopesMiddleware")
            .field("scopes", &self.requirement.scopes())
            .finish_non_exhaustive()
    }
}

impl<S, B> Service<ServiceRequest> for RequireScopesMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let refusal = {
            let extensions = request.extensions();
            let challenge = extensions.get::<Unauthenticated>().map(|u| u.0.clone());
            self.requirement
                .refusal(extensions.get::<Identity>(), challenge.as_ref())
        };
        match refusal {
            None => passed(&self.service, request),
            Some(refusal) => refused(request, refusal),
        }
    }
}
