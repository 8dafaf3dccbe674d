//! Requiring scopes: a [`ScopeRequirement`] made by the authenticator, as a
//! tower layer ([`RequireScopesLayer`]) to put inside [`ApiKeyLayer`](crate::ApiKeyLayer)
//! (in axum, on a route with `route_layer`), or as an actix-web guard.
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

mod layer;
mod requirement;

pub use layer::{RequireScopesLayer, RequireScopesService};
pub use requirement::ScopeRequirement;
