//! tonic integration (feature `tonic`): reading the authenticated key in a
//! gRPC handler.
//!
//! The tower layer guards a tonic server as it is; build its authenticator
//! with [`grpc(true)`](crate::AuthenticatorBuilder::grpc) so refusals are gRPC
//! statuses (16 UNAUTHENTICATED, 7 PERMISSION_DENIED, 14 UNAVAILABLE), and
//! clients send the key as the `authorization` metadata entry:
//! `authorization: Api-Key <prefix>.<secret>`.
//!
//! ```
//! use api_key_auth::{tonic::RequestIdentity, ApiKeyLayer, Authenticator, MemoryStore};
//!
//! fn handler<T>(request: &tonic::Request<T>) -> Result<String, tonic::Status> {
//!     let identity = request.require_scope("reports:read")?;
//!     Ok(format!("hello, {}", identity.name()))
//! }
//!
//! let auth = Authenticator::builder(MemoryStore::new()).grpc(true).build().unwrap();
//! let layer = ApiKeyLayer::from(auth); // tonic::transport::Server::builder().layer(layer)
//! # let _ = layer;
//! ```

use tonic::{Request, Status};

use crate::identity::Identity;

/// The authenticated key of a tonic request, put there by the layer.
pub trait RequestIdentity {
    /// The key the request was authenticated with, if any.
    fn identity(&self) -> Option<&Identity>;

    /// The key, or `UNAUTHENTICATED` (a method outside the layer, or an optional layer).
    fn require_identity(&self) -> Result<&Identity, Status> {
        self.identity()
            .ok_or_else(|| Status::unauthenticated("a valid API key is required"))
    }

    /// The key if it grants `scope`; else `PERMISSION_DENIED` (or `UNAUTHENTICATED`).
    fn require_scope(&self, scope: &str) -> Result<&Identity, Status> {
        let identity = self.require_identity()?;
        if identity.has_scope(scope) {
            Ok(identity)
        } else {
            Err(Status::permission_denied(
                "the API key lacks a scope this method requires",
            ))
        }
    }
}

impl<T> RequestIdentity for Request<T> {
    fn identity(&self) -> Option<&Identity> {
        self.extensions().get::<Identity>()
    }
}
