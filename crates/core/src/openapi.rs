//! The `Api-Key` security scheme for an OpenAPI document made with utoipa
//! (feature `utoipa`), so a service documents how its routes are guarded.
//!
//! ```
//! use api_key_auth::openapi::ApiKeySecurity;
//! use utoipa::OpenApi;
//!
//! #[derive(OpenApi)]
//! #[openapi(modifiers(&ApiKeySecurity), security(("api_key" = [])))]
//! struct ServiceDoc;
//!
//! let doc = ServiceDoc::openapi();
//! let schemes = &doc.components.as_ref().unwrap().security_schemes;
//! assert!(schemes.contains_key(api_key_auth::openapi::SECURITY_SCHEME));
//! ```

use utoipa::{
    openapi::{
        security::{ApiKey, ApiKeyValue, SecurityScheme},
        OpenApi,
    },
    Modify,
};

/// The name the scheme is registered under: refer to it in `security(...)`.
pub const SECURITY_SCHEME: &str = "api_key";

/// Adds the `Api-Key` security scheme to a document: the key in the
/// `Authorization` header, as `Api-Key <prefix>.<secret>`.
pub fn add_security_scheme(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        SECURITY_SCHEME,
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "Authorization",
            "An API key: `Authorization: Api-Key <prefix>.<secret>` (8 and 32 characters of [A-Za-z0-9]).",
        ))),
    );
}

/// [`add_security_scheme`] as a utoipa modifier: `#[openapi(modifiers(&ApiKeySecurity))]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiKeySecurity;

impl Modify for ApiKeySecurity {
    fn modify(&self, doc: &mut OpenApi) {
        add_security_scheme(doc);
    }
}
