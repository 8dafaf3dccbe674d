//! axum integration (feature `axum`): [`Identity`] and `Option<Identity>` as extractors.
//!
//! ```
//! use api_key_auth::{ApiKeyLayer, Identity, MemoryStore};
//! use axum::{routing::get, Router};
//!
//! async fn whoami(identity: Identity) -> String {
//!     format!("hello, {}", identity.name())
//! }
//!
//! async fn greet(identity: Option<Identity>) -> String {
//!     match identity {
//!         Some(identity) => format!("hello, {}", identity.name()),
//!         None => "hello, stranger".to_owned(),
//!     }
//! }
//!
//! // Answering in axum's own `Body` spares boxing each response again.
//! let auth = ApiKeyLayer::new(MemoryStore::new()).with_inner_body();
//! let app: Router = Router::new()
//!     .route("/whoami", get(whoami))
//!     .route("/admin", get(whoami).route_layer(auth.require_all(["admin"]).unwrap()))
//!     .route("/greet", get(greet))
//!     .layer(auth);
//! ```
//!
//! Extracting [`Identity`] on a route the layer lets through without a key
//! (an [optional](crate::AuthenticatorBuilder::optional) authenticator, or no
//! layer at all) answers the layer's 401, never a 500.

use std::convert::Infallible;

use axum_core::{
    extract::{FromRequestParts, OptionalFromRequestParts},
    response::{IntoResponse, Response},
};
use http::request::Parts;

pub use crate::identity::MissingIdentity;
use crate::identity::{Identity, Unauthenticated};

impl IntoResponse for MissingIdentity {
    fn into_response(self) -> Response {
        self.0.map(axum_core::body::Body::from)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Identity {
    type Rejection = MissingIdentity;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(identity) = parts.extensions.get::<Identity>() {
            return Ok(identity.clone());
        }
        let marker = parts.extensions.get::<Unauthenticated>();
        Err(MissingIdentity::of(marker, parts.uri.path()))
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Identity {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Identity>().cloned())
    }
}
