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

pub use crate::identity::MissingIdentity;
use crate::{
    auth::{Admitted, Authenticator, Sunset, Verdict},
    credential::{Credential, CredentialHeaders},
    error::AuthFailure,
    identity::{Identity, Unauthenticated},
    key::ApiKey,
    scope::ScopeRequirement,
    store::KeyStore,
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
        let peer = request.peer_addr().map(|addr| addr.ip());
        let verdict = self.auth.begin(
            request.headers_mut(),
            |headers| self.auth.client_of(|| peer, headers),
            1,
        );
        match verdict {
            Verdict::Pass(admitted) => {
                let sunset = admitted.sunset();
                admit(&request, admitted);
                passed(&self.service, request, sunset)
            }
            Verdict::Refuse(refusal) => refused(request, *refusal),
            Verdict::Pending(check) => {
                let service = self.service.clone();
                Box::pin(async move {
                    match check.await {
                        Ok(passed) => {
                            let sunset = passed.sunset;
                            admit(&request, Admitted::Key(passed));
                            service
                                .call(request)
                                .await
                                .map(|response| with_sunset(response, sunset).map_into_left_body())
                        }
                        Err(refusal) => Ok(request
                            .into_response(to_actix(*refusal))
                            .map_into_right_body()),
                    }
                })
            }
        }
    }
}

/// actix-web's header map, read and protected by the core's rules.
impl CredentialHeaders for actix_web::http::header::HeaderMap {
    fn values(&self, name: &str) -> Vec<&[u8]> {
        self.get_all(name).map(HeaderValue::as_bytes).collect()
    }

    fn take_key(&mut self, credential: &Credential) -> Result<Option<ApiKey>, AuthFailure> {
        // actix-web's header names are its own type: convert once, not at
        // every lookup as a `&str` name would be.
        let Ok(name) = HeaderName::from_bytes(credential.name().as_str().as_bytes()) else {
            // Cannot happen (both are HTTP header names); if it did, refuse
            // rather than take the request for one without a key.
            return Err(AuthFailure::Missing);
        };
        let key = credential.read(self.get_all(&name).map(HeaderValue::as_bytes));
        if credential.strips() {
            self.remove(&name);
        } else if let Some(value) = self.get_mut(&name) {
            // More than one value is refused: marking the first is enough.
            value.set_sensitive(true);
        }
        key
    }
}

/// Puts what the core admitted into actix-web's request extensions.
fn admit(request: &ServiceRequest, admitted: Admitted) {
    let mut extensions = request.extensions_mut();
    match admitted {
        Admitted::Key(passed) => drop(extensions.insert(passed.identity)),
        Admitted::Anonymous(marker) => drop(extensions.insert(marker)),
    }
}

fn passed<S, B>(
    service: &Rc<S>,
    request: ServiceRequest,
    sunset: Sunset,
) -> LocalBoxFuture<Result<ServiceResponse<EitherBody<B>>, Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    let called = service.call(request);
    Box::pin(async move {
        called
            .await
            .map(|response| with_sunset(response, sunset).map_into_left_body())
    })
}

/// The response with `Sunset` when the key is in a rotation's grace period.
fn with_sunset<B>(mut response: ServiceResponse<B>, sunset: Sunset) -> ServiceResponse<B> {
    if let Some(value) = sunset.header() {
        if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
            response
                .headers_mut()
                .insert(HeaderName::from_static("sunset"), value);
        }
    }
    response
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

impl ResponseError for MissingIdentity {
    fn status_code(&self) -> StatusCode {
        StatusCode::UNAUTHORIZED
    }

    fn error_response(&self) -> HttpResponse {
        to_actix(self.0.clone())
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
        let refusal = MissingIdentity::of(extensions.get::<Unauthenticated>(), request.path());
        ready(Err(refusal.into()))
    }
}

/// A scope guard for a scope or a resource, inside [`ApiKeyAuth`]: 403 with
/// an `insufficient_scope` challenge unless the key has the scopes; made from
/// [`Authenticator::require_all`] or [`Authenticator::require_any`].
#[derive(Clone, Debug)]
pub struct RequireScopes {
    requirement: ScopeRequirement,
}

impl From<ScopeRequirement> for RequireScopes {
    fn from(requirement: ScopeRequirement) -> Self {
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
    requirement: ScopeRequirement,
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
            self.requirement.refusal(
                extensions.get::<Identity>(),
                extensions.get::<Unauthenticated>(),
            )
        };
        match refusal {
            None => passed(&self.service, request, Sunset::NONE),
            Some(refusal) => refused(request, refusal),
        }
    }
}
