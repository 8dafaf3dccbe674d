//! api-key-auth's admin HTTP API (feature `admin`): create, list, show and revoke keys
//! over any [`KeyManager`], as an axum [`Router`] to mount under a path of
//! your choice, guarded by this crate's own layer and an admin scope.
//!
//! ```
//! use api_key_auth::{admin::AdminApi, KeyManager, MemoryStore, NewKey};
//! use axum::Router;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! // The first admin key, made once (or with `api-key create --scope keys:admin`).
//! let (_, admin_key) = store.create(NewKey::named("admin").scopes(["keys:admin"])).await?.reveal();
//! let app: Router = Router::new().nest("/admin", AdminApi::new(store).router()?);
//! # let _ = (app, admin_key);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! | route | what |
//! |---|---|
//! | `POST /keys` | creates a key: `201` with the key, shown this once, and its record |
//! | `GET /keys?status=&limit=&cursor=` | one page of keys (at most 1000) and the next page's cursor |
//! | `GET /keys/{id}` | one key's record |
//! | `POST /keys/{id}/revoke` | revokes a key (again is no error) |
//! | `POST /keys/{id}/rotate` | replaces a key: `201` with the new key, shown this once, its record and the old key's, which works for `grace_secs` more (24 h by default; 0 revokes it at once) |
//! | `GET /openapi.json` | the OpenAPI 3.1 document of these routes |
//! | `GET /` | the key page: sign in with an admin key, generate, list, revoke |
//!
//! Every error is an RFC 9457 `application/problem+json` answer: bad input
//! names the field and the reason; a missing or bad admin key is 401 (with
//! `WWW-Authenticate`), a key without the admin scope 403, too many failed
//! attempts from one address 429 and a failing store 503 (both with
//! `Retry-After`). An admin key cannot revoke or rotate itself (409): the
//! last one would lock everyone out. No answer may be stored by a cache.
//! The OpenAPI document names as its server where it is served from (or
//! [`AdminApi::public_url`]), and schemathesis holds the API to it
//! (`scripts/schemathesis.sh`). Every create, rotation and
//! revocation is an [audit event](api_key_auth_core::audit) naming the acting admin key
//! (`actor=key:<id>`), the client's address when the server gives it
//! (axum's `ConnectInfo`), and the target key; never a secret.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, SystemTime},
};

use axum::{
    body::{to_bytes, Body},
    extract::{ConnectInfo, Path, Query, State},
    http::{header, HeaderValue, Request, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use api_key_auth_core::{
    audit::{self, Actor},
    client_addr::TrustedProxies,
    key_format::KeyFormat,
    openapi::ApiKeySecurity,
    rate_limit::RateLimit,
    store::{
        rfc3339, AddressAllowlist, KeyFilter, KeyManager, KeyRecord, KeyStatus, NewKey,
        OwnedChange, PageRequest, Refill, StoreError, MAX_PAGE,
    },
    throttle::Throttle,
    ApiKeyLayer, Authenticator, ConfigError, ErrorChain, Identity,
};

/// The scope an admin key needs unless [`AdminApi::admin_scope`] says otherwise.
pub const DEFAULT_ADMIN_SCOPE: &str = "keys:admin";
pub use api_key_auth_core::store::{MAX_NAME, MAX_OWNER};

mod document;
/// The largest request body.
pub const MAX_BODY: usize = 64 * 1024;

/// The admin API over a store; see the [module docs](self).
#[derive(Clone)]
#[must_use]
pub struct AdminApi {
    store: Arc<dyn KeyManager>,
    scope: String,
    format: KeyFormat,
    throttle: Throttle,
    proxies: TrustedProxies,
    public_url: Option<String>,
}

impl std::fmt::Debug for AdminApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminApi")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl AdminApi {
    /// The API over `store`, for admin keys with the scope `keys:admin`.
    pub fn new(store: impl KeyManager) -> Self {
        Self {
            store: Arc::new(store),
            scope: DEFAULT_ADMIN_SCOPE.to_owned(),
            format: KeyFormat::Drf,
            throttle: Throttle::default(),
            proxies: TrustedProxies::none(),
            public_url: None,
        }
    }

    /// Where clients reach the API (`https://keys.example.com/admin`): the
    /// `servers` of its OpenAPI document.
    ///
    /// By default the document names the path it was asked by, less
    /// `/openapi.json`, so a client made from it calls the routes where the
    /// router is mounted; a proxy that rewrites paths needs this.
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = Some(url.into());
        self
    }

    /// Hands out new keys in `format` (a [branded](api_key_auth_core::key_format) one,
    /// say), and accepts admin keys in it as well as DRF's own form.
    pub fn key_format(mut self, format: KeyFormat) -> Self {
        self.format = format;
        self
    }

    /// Throttles failed attempts at the API per client address: 10 a
    /// minute by default. Counting needs the client's address: serve the
    /// router with axum's `into_make_service_with_connect_info`.
    pub fn throttle(mut self, throttle: Throttle) -> Self {
        self.throttle = throttle;
        self
    }

    /// Believes the forwarding header of these proxies for the client's
    /// address (none by default). Behind a TLS terminator or load balancer,
    /// name it: otherwise every administrator shares its address, and one
    /// client's failed attempts throttle them all.
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.proxies = proxies;
        self
    }

    /// Requires `scope` of admin keys instead of `keys:admin`.
    pub fn admin_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = scope.into();
        self
    }

    /// The routes, guarded: a request without a valid key is 401, one whose
    /// key lacks the admin scope 403. `GET /openapi.json` and the key page
    /// (`GET /`, its script and stylesheet, which hold no data) are open.
    pub fn router(self) -> Result<Router, ConfigError> {
        // Admin keys are checked with the store's own hasher, peppers included.
        let hasher = self.store.hasher();
        let auth = Authenticator::builder(self.store.clone())
            .hasher(hasher)
            .accept(self.format.clone())
            .throttle(self.throttle)
            .trusted_proxies(self.proxies)
            .build()?;
        let layer = ApiKeyLayer::from(auth).with_inner_body();
        let admins_only = layer.require_all([self.scope])?;
        let guarded = Router::new()
            .route("/keys", post(create_key).get(list_keys))
            .route("/keys/{id}", get(show_key))
            .route("/keys/{id}/revoke", post(revoke_key))
            .route("/keys/{id}/suspend", post(suspend_key))
            .route("/keys/{id}/resume", post(resume_key))
            .route("/keys/{id}/rotate", post(rotate_key))
            .route("/owners/{owner}/revoke", post(revoke_owned))
            .route("/owners/{owner}/suspend", post(suspend_owned))
            .route("/owners/{owner}/resume", post(resume_owned))
            .route_layer(admins_only)
            .route_layer(layer)
            .with_state(Admin {
                store: self.store,
                format: self.format,
            });
        let public_url = self.public_url;
        Ok(Router::new()
            .route("/", get(page::index))
            .route("/page.js", get(page::script))
            .route("/page.css", get(page::stylesheet))
            .route(
                "/openapi.json",
                get(move |uri: axum::extract::OriginalUri| {
                    std::future::ready(openapi_json(uri, public_url.as_deref()))
                }),
            )
            .merge(guarded)
            .method_not_allowed_fallback(method_not_allowed)
            .fallback(no_route)
            .layer(axum::middleware::map_response(answered)))
    }
}

/// Gives every answer of the API `Cache-Control: no-store`, and the layer's
/// refusals the problem form.
///
/// No browser or proxy keeps an answer (records, keys shown once, refusals
/// alike), and the layer's refusals (401, 403, 429, 503, in the layer's own
/// JSON) are told as problems, as the API tells every other error, with the
/// layer's headers.
async fn answered(response: Response) -> Response {
    let mut response = as_problem(response).await;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn as_problem(response: Response) -> Response {
    let status = response.status();
    let from_layer = matches!(status.as_u16(), 401 | 403 | 429 | 503)
        && response.headers().get(header::CONTENT_TYPE)
            == Some(&HeaderValue::from_static("application/json"));
    if !from_layer {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // The layer's bodies are a line of JSON, fixed at configuration.
    let detail = to_bytes(body, 4096)
        .await
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|refusal| refusal["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("refused").to_owned());
    let (_, body) = Problem::new(status, detail).into_response().into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    Response::from_parts(parts, body)
}

/// The routes [`AdminApi::router`] serves, as the OpenAPI document names them.
pub const ROUTES: [(&str, &str); 11] = [
    ("post", "/keys"),
    ("get", "/keys"),
    ("get", "/keys/{id}"),
    ("post", "/keys/{id}/revoke"),
    ("post", "/keys/{id}/suspend"),
    ("post", "/keys/{id}/resume"),
    ("post", "/keys/{id}/rotate"),
    ("post", "/owners/{owner}/revoke"),
    ("post", "/owners/{owner}/suspend"),
    ("post", "/owners/{owner}/resume"),
    ("get", "/openapi.json"),
];

/// The OpenAPI 3.1 document of the admin API, its paths relative to where
/// the router is mounted (the document it serves names that server).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    document::complete(&mut doc);
    doc
}

#[derive(OpenApi)]
#[openapi(
    info(title = "api-key-auth admin API", description = "Create, list, show, rotate, suspend, resume and revoke API keys."),
    paths(create_key, list_keys, show_key, revoke_key, suspend_key, resume_key, rotate_key, revoke_owned, suspend_owned, resume_owned, openapi_json),
    components(schemas(CreateKeyRequest, CreatedKeyResponse, RotateKeyRequest, RotatedKeyResponse, KeyView, KeyPage, OwnedKeys, CreditsBody, Problem, Status, RateLimitBody, ScopeToken, PrintableText)),
    modifiers(&ApiKeySecurity),
    security(("api_key" = []))
)]
struct ApiDoc;

type Store = Arc<dyn KeyManager>;

/// What the handlers share: the store, and the form new keys are handed out in.
#[derive(Clone)]
struct Admin {
    store: Store,
    format: KeyFormat,
}

/// A key to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateKeyRequest {
    /// A name for the key, 1 to 50 characters, not starting or ending with
    /// white space, with no control or format character.
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u034f\\u0600-\\u0605\\u061c\\u06dd\\u070f\\u0890\\u0891\\u08e2\\u115f\\u1160\\u17b4\\u17b5\\u180b-\\u180f\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\u3164\\ufe00-\\ufe0f\\ufeff\\uffa0\\ufff9-\\ufffb \\u00a0\\u1680\\u2000-\\u200a\\u202f\\u205f\\u3000](?:[^\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u034f\\u0600-\\u0605\\u061c\\u06dd\\u070f\\u0890\\u0891\\u08e2\\u115f\\u1160\\u17b4\\u17b5\\u180b-\\u180f\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\u3164\\ufe00-\\ufe0f\\ufeff\\uffa0\\ufff9-\\ufffb]*[^\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u034f\\u0600-\\u0605\\u061c\\u06dd\\u070f\\u0890\\u0891\\u08e2\\u115f\\u1160\\u17b4\\u17b5\\u180b-\\u180f\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\u3164\\ufe00-\\ufe0f\\ufeff\\uffa0\\ufff9-\\ufffb \\u00a0\\u1680\\u2000-\\u200a\\u202f\\u205f\\u3000])?$"
    )]
    name: String,
    /// Scopes to grant.
    #[serde(default)]
    #[schema(value_type = Vec<ScopeToken>)]
    scopes: Vec<String>,
    /// When the key stops working (RFC 3339, in the future), if ever.
    #[serde(default)]
    #[schema(format = DateTime)]
    expires_at: Option<String>,
    /// Who the key belongs to, with no control or format character.
    #[serde(default)]
    #[schema(
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u034f\\u0600-\\u0605\\u061c\\u06dd\\u070f\\u0890\\u0891\\u08e2\\u115f\\u1160\\u17b4\\u17b5\\u180b-\\u180f\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\u3164\\ufe00-\\ufe0f\\ufeff\\uffa0\\ufff9-\\ufffb]*$"
    )]
    owner: Option<String>,
    /// Free-form data kept with the key: keys and values with no control or
    /// format character.
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, PrintableText>)]
    metadata: BTreeMap<String, String>,
    /// How fast the key may be used, if limited.
    #[serde(default)]
    rate_limit: Option<RateLimitBody>,
    /// The networks the key may be used from (`10.0.0.0/8`, `2001:db8::/32`,
    /// or an address alone), at most 64; none: anywhere. A network has no
    /// bits set past its length (`10.0.0.1/8` is refused), and an IPv4
    /// network is written as IPv4. Leave the field out for a key usable
    /// from anywhere.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 64)]
    allowed_from: Option<Vec<String>>,
    /// Usage credits: the key may be used this many times, perhaps set back
    /// to an amount every interval.
    #[serde(default)]
    credits: Option<CreditsBody>,
}

/// Usage credits: `remaining` uses (one per admitted request), set back to
/// `refill_amount` every `refill_every_secs` when both are given.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreditsBody {
    /// Uses left, 0 to 9007199254740991 (2^53 - 1).
    #[schema(minimum = 0, maximum = 9_007_199_254_740_991_u64)]
    remaining: u64,
    /// The count the credits are set back to, 1 or more, with `refill_every_secs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 9_007_199_254_740_991_u64)]
    refill_amount: Option<u64>,
    /// How often, in seconds: 1 to 31,622,400 (366 days), with `refill_amount`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 31_622_400)]
    refill_every_secs: Option<u64>,
    /// RFC 3339: when the credits are next set back (in a key's record only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(read_only, format = DateTime)]
    next_refill: Option<String>,
}

/// A scope: printable ASCII but for space, `"` and `\\` (RFC 6750's scope-token).
#[derive(ToSchema)]
#[schema(pattern = "^[!#-\\[\\]-~]+$")]
#[allow(dead_code)] // the document's schema of a scope; scopes are read as strings
struct ScopeToken(String);

/// Text with no control or format character.
#[derive(ToSchema)]
#[schema(
    pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u034f\\u0600-\\u0605\\u061c\\u06dd\\u070f\\u0890\\u0891\\u08e2\\u115f\\u1160\\u17b4\\u17b5\\u180b-\\u180f\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\u3164\\ufe00-\\ufe0f\\ufeff\\uffa0\\ufff9-\\ufffb]*$"
)]
#[allow(dead_code)] // the document's schema of such text; it is read as a string
struct PrintableText(String);

/// A rate limit: `requests` per period (`period_secs` or `period_ms`; a
/// key's record shows `period_ms`, and `period_secs` when it is whole
/// seconds), `burst` at once (a period's worth when absent).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RateLimitBody {
    /// Requests per period, 1 or more (at most a million a second).
    #[schema(minimum = 1)]
    requests: u32,
    /// The period in seconds, 1 to 2,678,400 (31 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 2_678_400)]
    period_secs: Option<u64>,
    /// The period in milliseconds, 1 to 2,678,400,000; instead of `period_secs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 2_678_400_000_u64)]
    period_ms: Option<u64>,
    /// Requests allowed at once, 1 or more.
    #[serde(default)]
    #[schema(minimum = 1)]
    burst: Option<u32>,
}

impl From<RateLimit> for RateLimitBody {
    fn from(limit: RateLimit) -> Self {
        Self {
            requests: limit.requests(),
            period_secs: (limit.period().subsec_nanos() == 0).then(|| limit.period().as_secs()),
            period_ms: u64::try_from(limit.period().as_millis()).ok(),
            burst: Some(limit.burst()),
        }
    }
}

/// A key just created: the key itself, shown this once, and its record.
#[derive(Serialize, ToSchema)]
struct CreatedKeyResponse {
    /// The whole key, `PREFIX.SECRET`: it is never shown again.
    key: String,
    record: KeyView,
}

impl std::fmt::Debug for CreatedKeyResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedKeyResponse")
            .field("key", &"<redacted>")
            .field("record", &self.record)
            .finish()
    }
}

/// How to rotate a key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // the document's schema of the body, which is read field by field
struct RotateKeyRequest {
    /// How long the old key keeps working, in seconds, at most ten years:
    /// 86400 (a day) by default; 0 revokes it at once.
    #[schema(maximum = 315_360_000)]
    grace_secs: Option<u64>,
}

/// A rotation: the new key, shown this once, its record, and the old key's.
#[derive(Serialize, ToSchema)]
struct RotatedKeyResponse {
    /// The whole new key, `PREFIX.SECRET`: it is never shown again.
    key: String,
    record: KeyView,
    /// The old key, working until its `expires` (or revoked, for a zero grace).
    retired: KeyView,
}

impl std::fmt::Debug for RotatedKeyResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RotatedKeyResponse")
            .field("key", &"<redacted>")
            .field("record", &self.record)
            .field("retired", &self.retired)
            .finish()
    }
}

/// What a key's record shows (never its hash): the admin API's answers
/// and `api-key --json` both print it, so they say the same of a key.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    id: String,
    name: String,
    prefix: String,
    status: Status,
    /// RFC 3339.
    created: String,
    /// RFC 3339; absent when the key never expires.
    expires: Option<String>,
    /// Seconds until the key expires (negative once it has); absent when it never does.
    expires_in_secs: Option<i64>,
    /// When the key was last used, RFC 3339, as far as the store was told
    /// (written in batches); absent when never, or not recorded by the store.
    last_used: Option<String>,
    /// The id of the key this one replaced in a rotation.
    replaces: Option<String>,
    /// The id of the key that replaced this one.
    replaced_by: Option<String>,
    /// RFC 3339: when this key, replaced by a rotation, stops working.
    sunset: Option<String>,
    scopes: Vec<String>,
    owner: Option<String>,
    metadata: BTreeMap<String, String>,
    /// How fast the key may be used; absent when not limited.
    rate_limit: Option<RateLimitBody>,
    /// The networks the key may be used from; absent when it may be used
    /// from anywhere.
    allowed_from: Option<Vec<String>>,
    /// The key's usage credits, as last spent; absent when unlimited.
    credits: Option<CreditsBody>,
}

/// Whether a key works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum Status {
    Active,
    Revoked,
    Expired,
    Suspended,
    All,
}

/// One page of keys.
#[derive(Debug, Serialize, ToSchema)]
struct KeyPage {
    keys: Vec<KeyView>,
    /// Pass as `cursor` for the next page; absent on the last.
    next: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// Which keys: active, revoked, expired or all (the default).
    status: Option<Status>,
    /// How many keys at most, 1 to 1000 (100 by default).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// The `next` of the page before.
    #[param(pattern = "^[A-Za-z0-9._-]{1,255}$")]
    cursor: Option<String>,
    /// Only keys not used for this many seconds (never used: created that
    /// long ago), at most a hundred years.
    #[param(maximum = 3_153_600_000_u64)]
    unused_for_secs: Option<u64>,
    /// Only keys that expire within this many seconds, at most a hundred years.
    #[param(maximum = 3_153_600_000_u64)]
    expiring_within_secs: Option<u64>,
    /// Only the keys of this owner (exactly this text, case and all).
    #[param(min_length = 1, max_length = 255)]
    owner: Option<String>,
}

/// A path the API does not serve: a problem like every other refusal.
async fn no_route() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "no such route; GET /openapi.json lists them",
    )
}

/// A method a route does not take (axum adds the `Allow` field).
async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "the route does not take this method; see its Allow field",
    )
}

/// An RFC 9457 problem: what was wrong, and with which field.
#[derive(Debug, Serialize, ToSchema)]
struct Problem {
    /// Always `about:blank`: the status says the kind.
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'static str,
    status: u16,
    detail: String,
    /// The request field at fault, if one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'static str>,
}

impl Problem {
    fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: detail.into(),
            field: None,
        }
    }

    fn bad(field: &'static str, detail: impl Into<String>) -> Self {
        Self {
            field: Some(field),
            ..Self::new(StatusCode::BAD_REQUEST, detail)
        }
    }

    fn store(err: &StoreError) -> Self {
        if err.is_config() {
            // What the store cannot keep (a DRF table: scopes, an owner, an
            // allowlist), named in its words: no one field is at fault.
            return Self::new(StatusCode::BAD_REQUEST, ErrorChain(err).to_string());
        }
        if err.is_not_found() {
            return Self::new(StatusCode::NOT_FOUND, "no key has that id");
        }
        if err.is_inactive() {
            return Self::new(StatusCode::CONFLICT, ErrorChain(err).to_string());
        }
        if err.is_unsupported() {
            return Self::new(StatusCode::NOT_IMPLEMENTED, ErrorChain(err).to_string());
        }
        tracing::warn!(error = %ErrorChain(err), "admin API: the key store failed");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the key store cannot answer right now; retry later",
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let retry = status == StatusCode::SERVICE_UNAVAILABLE;
        let mut response = (status, Json(self)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if retry {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

fn view(record: &KeyRecord) -> KeyView {
    KeyView::of(record, SystemTime::now())
}

impl KeyView {
    /// `record` as it stands at `now`.
    pub fn of(record: &KeyRecord, now: SystemTime) -> Self {
        let status = match record.status_at(now) {
            KeyStatus::Active => Status::Active,
            KeyStatus::Revoked => Status::Revoked,
            KeyStatus::Expired => Status::Expired,
            KeyStatus::Suspended => Status::Suspended,
            // A status the core added later: shown as not working, never
            // as active.
            _ => Status::Suspended,
        };
        let time = rfc3339;
        Self {
            id: record.id.clone(),
            name: record.name.clone(),
            prefix: record.prefix.to_string(),
            status,
            created: time(record.created),
            expires: record.expires.map(time),
            expires_in_secs: record.expires.map(|at| seconds_between(now, at)),
            last_used: record.last_used.map(time),
            replaces: record.replaces.clone(),
            replaced_by: record.replaced_by.clone(),
            sunset: record.sunset().filter(|at| *at > now).map(time),
            scopes: record.scopes.clone(),
            owner: record.owner.clone(),
            metadata: record.metadata.clone(),
            rate_limit: record.rate_limit.map(RateLimitBody::from),
            allowed_from: record
                .allowed_from
                .as_ref()
                .map(AddressAllowlist::to_strings),
            credits: record.credits.map(|credits| CreditsBody {
                remaining: credits.left_at(now),
                refill_amount: credits.refill().map(|r| r.amount()),
                refill_every_secs: credits.refill().map(|r| r.every().as_secs()),
                next_refill: credits.next_refill(now).map(time),
            }),
        }
    }
}

/// Seconds from `now` to `at`, negative when `at` is past.
fn seconds_between(now: SystemTime, at: SystemTime) -> i64 {
    match at.duration_since(now) {
        Ok(ahead) => i64::try_from(ahead.as_secs()).unwrap_or(i64::MAX),
        Err(past) => -i64::try_from(past.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// The address of the admin API's caller, when the server gives it
/// (axum's `ConnectInfo`, from `into_make_service_with_connect_info`), for
/// the audit events.
struct Caller(Option<std::net::IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let addr = parts.extensions.get::<ConnectInfo<SocketAddr>>();
        Ok(Self(addr.map(|ConnectInfo(addr)| addr.ip())))
    }
}

/// A key's id, from the path. One that does not read (percent-encoded
/// bytes that are not UTF-8) is the id of no key.
struct KeyId(String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for KeyId {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(id)) => Ok(Self(id)),
            Err(_) => Err(Problem::new(StatusCode::NOT_FOUND, "no key has that id")),
        }
    }
}

/// Creates a key.
#[utoipa::path(
    post,
    path = "/keys",
    request_body = CreateKeyRequest,
    responses(
        (status = 201, description = "The key, shown this once, and its record", body = CreatedKeyResponse),
        (status = 400, description = "A field is invalid, or the body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The key store failed", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn create_key(
    State(Admin { store, format }): State<Admin>,
    admin: Identity,
    Caller(client): Caller,
    request: Request<Body>,
) -> Result<Response, Problem> {
    let asked: CreateKeyRequest = json_body(request, false, "a key to create")
        .await?
        .ok_or_else(|| Problem::new(StatusCode::BAD_REQUEST, "the body is empty"))?;
    let new = validate(asked)?;
    let (record, key) = store
        .create(new)
        .await
        .map_err(|e| Problem::store(&e))?
        .reveal();
    let who = format!("key:{}", admin.id());
    audit::created(&record, Actor::named(&who).from_client(client));
    let body = CreatedKeyResponse {
        key: format.render(&key).to_string(),
        record: view(&record),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// The JSON body of `request`, read as `what`: 415 unless it is
/// `application/json`, 413 over [`MAX_BODY`], 400 when it does not read.
/// With `optional`, an empty body (of any type) is `None`.
async fn json_body<T: serde::de::DeserializeOwned>(
    request: Request<Body>,
    optional: bool,
    what: &str,
) -> Result<Option<T>, Problem> {
    let json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .eq_ignore_ascii_case("application/json")
        });
    let body = to_bytes(request.into_body(), MAX_BODY).await.map_err(|_| {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is over {MAX_BODY} bytes"),
        )
    })?;
    if optional && body.is_empty() {
        return Ok(None);
    }
    if !json {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the body as application/json",
        ));
    }
    serde_json::from_slice(&body).map(Some).map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            format!("the body is not {what}: {e}"),
        )
    })
}

/// The key asked for, checked by the rules every front end shares
/// ([`NewKey::validate`]) and the API's own (an expiry in RFC 3339 and in
/// the future, a rate limit's period given once).
fn validate(asked: CreateKeyRequest) -> Result<NewKey, Problem> {
    let mut new = NewKey::named(asked.name).scopes(asked.scopes);
    if let Some(text) = &asked.expires_at {
        let at = humantime::parse_rfc3339_weak(text).map_err(|e| {
            Problem::bad(
                "expires_at",
                format!("{text:?} is not an RFC 3339 time: {e}"),
            )
        })?;
        if at <= SystemTime::now() {
            return Err(Problem::bad(
                "expires_at",
                format!("{text:?} is in the past"),
            ));
        }
        new = new.expires_at(at);
    }
    if let Some(owner) = asked.owner {
        new = new.owner(owner);
    }
    for (key, value) in asked.metadata {
        new = new.metadata(key, value);
    }
    if let Some(body) = asked.rate_limit {
        let period = match (body.period_secs, body.period_ms) {
            (Some(secs), None) => Duration::from_secs(secs),
            (None, Some(ms)) => Duration::from_millis(ms),
            _ => {
                return Err(Problem::bad(
                    "rate_limit",
                    "a rate limit has period_secs or period_ms, one of them",
                ))
            }
        };
        let limit = RateLimit::new(body.requests, period)
            .and_then(|limit| match body.burst {
                Some(burst) => limit.with_burst(burst),
                None => Ok(limit),
            })
            .map_err(|e| Problem::bad("rate_limit", e.to_string()))?;
        new = new.rate_limit(limit);
    }
    if let Some(body) = &asked.credits {
        if body.next_refill.is_some() {
            return Err(Problem::bad("credits", "next_refill is read-only"));
        }
        let refill = match (body.refill_amount, body.refill_every_secs) {
            (None, None) => None,
            (Some(amount), Some(secs)) => Some(
                Refill::new(amount, Duration::from_secs(secs))
                    .map_err(|e| Problem::bad("credits", e.to_string()))?,
            ),
            _ => {
                return Err(Problem::bad(
                    "credits",
                    "a refill has refill_amount and refill_every_secs, both",
                ))
            }
        };
        new = new.credits(body.remaining, refill);
    }
    if let Some(networks) = &asked.allowed_from {
        let allowed = AddressAllowlist::new(networks)
            .map_err(|e| Problem::bad("allowed_from", e.to_string()))?;
        new = new.allow_from(allowed);
    }
    new.validate()
        .map_err(|invalid| Problem::bad(invalid.field, invalid.reason))?;
    Ok(new)
}

/// Lists one page of keys.
#[utoipa::path(
    get,
    path = "/keys",
    params(ListParams),
    responses(
        (status = 200, description = "One page of keys", body = KeyPage),
        (status = 400, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The key store failed", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn list_keys(
    State(Admin { store, .. }): State<Admin>,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<KeyPage>, Problem> {
    let Query(params) = params.map_err(|e| Problem::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let limit = params.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Problem::bad(
            "limit",
            format!("limit is 1 to {MAX_PAGE}, not {limit}"),
        ));
    }
    let filter = match params.status.unwrap_or(Status::All) {
        Status::Active => KeyFilter::Active,
        Status::Revoked => KeyFilter::Revoked,
        Status::Expired => KeyFilter::Expired,
        Status::Suspended => KeyFilter::Suspended,
        Status::All => KeyFilter::All,
    };
    for (field, secs) in [
        ("unused_for_secs", params.unused_for_secs),
        ("expiring_within_secs", params.expiring_within_secs),
    ] {
        if secs.is_some_and(|secs| secs > MAX_SPAN_SECS) {
            return Err(Problem::bad(
                field,
                format!("{field} is at most {MAX_SPAN_SECS} (a hundred years)"),
            ));
        }
    }
    let mut request = PageRequest::first(limit).filter(filter);
    let now = SystemTime::now();
    if let Some(secs) = params.unused_for_secs {
        let since = now.checked_sub(Duration::from_secs(secs));
        request = request.unused_since(since.unwrap_or(SystemTime::UNIX_EPOCH));
    }
    if let Some(secs) = params.expiring_within_secs {
        let by = now.checked_add(Duration::from_secs(secs));
        request =
            request.expiring_before(by.unwrap_or_else(api_key_auth_core::store::latest_expiry));
    }
    if let Some(owner) = params.owner {
        owner_asked(&owner)?;
        request = request.owner(owner);
    }
    if let Some(cursor) = params.cursor {
        if !looks_like_id(&cursor) {
            return Err(Problem::bad("cursor", "not a cursor this API gave"));
        }
        request = request.after(cursor);
    }
    let page = store
        .list_page(&request)
        .await
        .map_err(|e| Problem::store(&e))?;
    Ok(Json(KeyPage {
        keys: page.keys.iter().map(|r| view(r)).collect(),
        next: page.next,
    }))
}

/// The longest grace a rotation gives, in seconds: ten years.
const MAX_GRACE_SECS: u64 = 315_360_000;

/// The longest span a listing filter takes, in seconds: a hundred years.
const MAX_SPAN_SECS: u64 = 3_153_600_000;

/// Whether `text` can be a key's id: 1 to 255 of `[A-Za-z0-9._-]`, which
/// every store here gives. Anything else is answered without asking the store.
fn looks_like_id(text: &str) -> bool {
    (1..=255).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

async fn find(store: &Store, id: &str) -> Result<Arc<KeyRecord>, Problem> {
    if !looks_like_id(id) {
        return Err(Problem::new(StatusCode::NOT_FOUND, "no key has that id"));
    }
    store
        .find_by_id(id)
        .await
        .map_err(|e| Problem::store(&e))?
        .ok_or_else(|| Problem::new(StatusCode::NOT_FOUND, "no key has that id"))
}

/// Shows one key's record.
#[utoipa::path(
    get,
    path = "/keys/{id}",
    params(("id" = String, Path, description = "The key's id (or prefix)")),
    responses(
        (status = 200, description = "The key's record", body = KeyView),
        (status = 404, description = "No key has that id", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The key store failed", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn show_key(
    State(Admin { store, .. }): State<Admin>,
    KeyId(id): KeyId,
) -> Result<Json<KeyView>, Problem> {
    Ok(Json(view(&*find(&store, &id).await?)))
}

/// An admin key may not revoke or rotate itself: the last admin key would
/// lock everyone out. Another admin key does it (create one first).
fn not_itself(record: &KeyRecord, admin: &Identity, what: &str) -> Result<(), Problem> {
    if record.id == admin.id() {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            format!("an admin key cannot {what} itself: {what} it with another admin key"),
        ));
    }
    Ok(())
}

/// Revokes a key; revoking a revoked key is no error.
#[utoipa::path(
    post,
    path = "/keys/{id}/revoke",
    params(("id" = String, Path, description = "The key's id (or prefix)")),
    responses(
        (status = 200, description = "The revoked key's record", body = KeyView),
        (status = 404, description = "No key has that id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The key is the admin key making the request", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The key store failed", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn revoke_key(
    State(Admin { store, .. }): State<Admin>,
    admin: Identity,
    Caller(client): Caller,
    KeyId(id): KeyId,
) -> Result<Json<KeyView>, Problem> {
    let record = find(&store, &id).await?;
    not_itself(&record, &admin, "revoke")?;
    if !store
        .revoke(&record.id)
        .await
        .map_err(|e| Problem::store(&e))?
    {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            format!("no key has the id {id:?}"),
        ));
    }
    let who = format!("key:{}", admin.id());
    audit::revoked(&record, Actor::named(&who).from_client(client));
    let revoked = find(&store, &record.id).await?;
    Ok(Json(view(&revoked)))
}

/// Suspends a key: it is refused (401, as a revoked key) until resumed;
/// suspending a suspended key is no error.
#[utoipa::path(
    post,
    path = "/keys/{id}/suspend",
    params(("id" = String, Path, description = "The key's id (or prefix)")),
    responses(
        (status = 200, description = "The suspended key's record", body = KeyView),
        (status = 404, description = "No key has that id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The key is the admin key making the request", body = Problem, content_type = "application/problem+json"),
        (status = 501, description = "The store cannot suspend keys (a djangorestframework-api-key table)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The key store failed", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn suspend_key(
    State(Admin { store, .. }): State<Admin>,
    admin: Identity,
    Caller(client): Caller,
    KeyId(id): KeyId,
) -> Result<Json<KeyView>, Problem> {
    set_suspended(&store, &admin, client, &id, true).await
}

/// Resumes a suspended key; resuming a key that is not suspended is no
/// error. A revoked or expired key stays so.
#[utoipa::path(
    post,
    path = "/keys/{id}/resume",
    params(("id" = String, Path, description = "The key's id (or prefix)")),
    responses(
        (status = 200, description = "The resumed key's record", body = KeyView),
        (status = 404, description = "No key has that id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The key is the admin key making the request", body = Problem, content_type = "application/problem+json"),
        (status = 501, description = "The store cannot suspend keys (a djangorestframework-api-key table)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The key store failed", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn resume_key(
    State(Admin { store, .. }): State<Admin>,
    admin: Identity,
    Caller(client): Caller,
    KeyId(id): KeyId,
) -> Result<Json<KeyView>, Problem> {
    set_suspended(&store, &admin, client, &id, false).await
}

/// Suspends or resumes the key `id` for `admin`, audited.
async fn set_suspended(
    store: &Store,
    admin: &Identity,
    client: Option<std::net::IpAddr>,
    id: &str,
    suspended: bool,
) -> Result<Json<KeyView>, Problem> {
    let record = find(store, id).await?;
    // A suspended admin key could not resume itself; one resuming itself
    // is not suspended.
    not_itself(&record, admin, if suspended { "suspend" } else { "resume" })?;
    if !store
        .set_suspended(&record.id, suspended)
        .await
        .map_err(|e| Problem::store(&e))?
    {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            format!("no key has the id {id:?}"),
        ));
    }
    let changed = find(store, &record.id).await?;
    let who = format!("key:{}", admin.id());
    audit::suspension(&changed, suspended, Actor::named(&who).from_client(client));
    Ok(Json(view(&changed)))
}

/// The keys a change to all of an owner's keys changed.
#[derive(Debug, Serialize, ToSchema)]
struct OwnedKeys {
    /// Each key changed, as it was read before the change; none when the
    /// owner has no key the change applies to.
    keys: Vec<KeyView>,
}

/// The owner named in the path.
struct OwnerName(String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for OwnerName {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(owner)) => owner_asked(&owner).map(|()| Self(owner)),
            Err(_) => Err(Problem::bad("owner", "the owner does not read as text")),
        }
    }
}

/// Revokes every key of one owner: they stop working at once.
#[utoipa::path(
    post,
    path = "/owners/{owner}/revoke",
    params(("owner" = String, Path, description = "The owner, exactly (case and all)")),
    responses(
        (status = 200, description = "The keys revoked", body = OwnedKeys),
        (status = 400, description = "The owner is empty, over 255 characters or does not read as text", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The admin key making the request is the owner's", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The key store failed", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn revoke_owned(
    State(Admin { store, .. }): State<Admin>,
    admin: Identity,
    Caller(client): Caller,
    OwnerName(owner): OwnerName,
) -> Result<Json<OwnedKeys>, Problem> {
    not_its_owner(&admin, &owner, "revoke")?;
    let change = store.revoke_owned(&owner).await;
    let who = format!("key:{}", admin.id());
    for record in &change.changed {
        audit::revoked(record, Actor::named(&who).from_client(client));
    }
    owned_answer(change)
}

/// The keys a change to an owner's keys changed, or, when it stopped part
/// way, the store's problem (the keys it changed are audited either way).
fn owned_answer(change: OwnedChange) -> Result<Json<OwnedKeys>, Problem> {
    if let Some(err) = &change.stopped {
        let mut problem = Problem::store(err);
        if !change.changed.is_empty() {
            problem.detail = format!(
                "{} ({} key(s) were changed before it stopped)",
                problem.detail,
                change.changed.len()
            );
        }
        return Err(problem);
    }
    Ok(Json(OwnedKeys {
        keys: change.changed.iter().map(|r| view(r)).collect(),
    }))
}

/// Suspends every key of one owner until resumed.
#[utoipa::path(
    post,
    path = "/owners/{owner}/suspend",
    params(("owner" = String, Path, description = "The owner, exactly (case and all)")),
    responses(
        (status = 200, description = "The keys suspended", body = OwnedKeys),
        (status = 400, description = "The owner is empty, over 255 characters or does not read as text", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The admin key making the request is the owner's", body = Problem, content_type = "application/problem+json"),
        (status = 501, description = "The store cannot suspend keys (a djangorestframework-api-key table)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The key store failed", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn suspend_owned(
    State(Admin { store, .. }): State<Admin>,
    admin: Identity,
    Caller(client): Caller,
    OwnerName(owner): OwnerName,
) -> Result<Json<OwnedKeys>, Problem> {
    set_owned_suspended(&store, &admin, client, &owner, true).await
}

/// Resumes every suspended key of one owner, those suspended one by one
/// included (no store keeps why a key was suspended).
#[utoipa::path(
    post,
    path = "/owners/{owner}/resume",
    params(("owner" = String, Path, description = "The owner, exactly (case and all)")),
    responses(
        (status = 200, description = "The keys resumed", body = OwnedKeys),
        (status = 400, description = "The owner is empty, over 255 characters or does not read as text", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The admin key making the request is the owner's", body = Problem, content_type = "application/problem+json"),
        (status = 501, description = "The store cannot suspend keys (a djangorestframework-api-key table)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The key store failed", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn resume_owned(
    State(Admin { store, .. }): State<Admin>,
    admin: Identity,
    Caller(client): Caller,
    OwnerName(owner): OwnerName,
) -> Result<Json<OwnedKeys>, Problem> {
    set_owned_suspended(&store, &admin, client, &owner, false).await
}

async fn set_owned_suspended(
    store: &Store,
    admin: &Identity,
    client: Option<std::net::IpAddr>,
    owner: &str,
    suspended: bool,
) -> Result<Json<OwnedKeys>, Problem> {
    not_its_owner(admin, owner, if suspended { "suspend" } else { "resume" })?;
    let change = store.set_owned_suspended(owner, suspended).await;
    let who = format!("key:{}", admin.id());
    for record in &change.changed {
        audit::suspension(record, suspended, Actor::named(&who).from_client(client));
    }
    owned_answer(change)
}

/// An owner a request names, checked as a new key's is: 1 to
/// [`MAX_OWNER`] characters (an empty one is a client's unset variable,
/// never the keys of owner "").
fn owner_asked(owner: &str) -> Result<(), Problem> {
    if owner.is_empty() || owner.chars().count() > MAX_OWNER {
        return Err(Problem::bad(
            "owner",
            format!("an owner is 1 to {MAX_OWNER} characters"),
        ));
    }
    Ok(())
}

/// An admin key does not change its own owner's keys, itself among them.
fn not_its_owner(admin: &Identity, owner: &str, what: &str) -> Result<(), Problem> {
    if admin.owner() == Some(owner) {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            format!(
                "the admin key making this request is {owner:?}'s: {what} them with another key"
            ),
        ));
    }
    Ok(())
}

/// Replaces a key by a new one with the same name, scopes, owner and
/// metadata; the old one keeps working for the grace period (its responses
/// carry `Sunset`), then stops.
#[utoipa::path(
    post,
    path = "/keys/{id}/rotate",
    params(("id" = String, Path, description = "The key's id (or prefix)")),
    request_body(content = Option<RotateKeyRequest>, description = "Optional: the grace period; a day without a body", content_type = "application/json"),
    responses(
        (status = 201, description = "The new key, shown this once, its record and the old key's", body = RotatedKeyResponse),
        (status = 400, description = "The body is not a rotation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No key has that id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The key is revoked, expired, already replaced, or the admin key making the request", body = Problem, content_type = "application/problem+json"),
        (status = 501, description = "The store cannot rotate keys", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The key store failed", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn rotate_key(
    State(Admin { store, format }): State<Admin>,
    admin: Identity,
    Caller(client): Caller,
    KeyId(id): KeyId,
    request: Request<Body>,
) -> Result<Response, Problem> {
    // No body, or `null`, is a rotation with the defaults.
    let asked: Option<Option<serde_json::Map<String, serde_json::Value>>> =
        json_body(request, true, "a rotation (a JSON object)").await?;
    let asked = asked.flatten().unwrap_or_default();
    if let Some(other) = asked.keys().find(|k| *k != "grace_secs") {
        return Err(Problem::bad(
            "grace_secs",
            format!("unknown field {other:?}: a rotation takes grace_secs only"),
        ));
    }
    let grace = match asked.get("grace_secs") {
        None | Some(serde_json::Value::Null) => 86_400,
        // A whole number, written as JSON allows it (`8722` or `8722.0`).
        Some(value) => value
            .as_u64()
            .or_else(|| {
                value
                    .as_f64()
                    .filter(|secs| {
                        secs.fract() == 0.0 && (0.0..=MAX_GRACE_SECS as f64).contains(secs)
                    })
                    .map(|secs| secs as u64)
            })
            .ok_or_else(|| {
                Problem::bad(
                    "grace_secs",
                    "grace_secs is a whole number of seconds, 0 or more",
                )
            })?,
    };
    if grace > MAX_GRACE_SECS {
        return Err(Problem::bad("grace_secs", "a grace is at most ten years"));
    }
    let record = find(&store, &id).await?;
    not_itself(&record, &admin, "rotate")?;
    let rotated = store
        .rotate(&record.id, Duration::from_secs(grace))
        .await
        .map_err(|e| Problem::store(&e))?;
    let who = format!("key:{}", admin.id());
    audit::rotated(&rotated, Actor::named(&who).from_client(client));
    let retired = view(&rotated.retired);
    let (new, key) = rotated.new.reveal();
    let body = RotatedKeyResponse {
        key: format.render(&key).to_string(),
        record: view(&new),
        retired,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// This API's OpenAPI 3.1 document, naming as its server where it was
/// asked for (the path less `/openapi.json`), or `public_url` when set.
#[utoipa::path(
    get,
    path = "/openapi.json",
    security(()),
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json"))
)]
fn openapi_json(
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
    public_url: Option<&str>,
) -> Response {
    let asked = uri.path();
    let base = public_url.unwrap_or_else(|| {
        asked
            .strip_suffix("/openapi.json")
            .unwrap_or(asked)
            .trim_end_matches('/')
    });
    Json(document::served_at(openapi(), base)).into_response()
}

/// The key page: static files embedded in the crate, served with headers
/// that allow nothing but this page's own script and stylesheet.
mod page {
    use axum::{
        extract::OriginalUri,
        http::{header, HeaderValue},
        response::{IntoResponse, Response},
    };

    const INDEX: &str = include_str!("page/index.html");
    const SCRIPT: &str = include_str!("page/page.js");
    const STYLESHEET: &str = include_str!("page/page.css");

    /// The page, its links made absolute under the path it was asked by, so
    /// it works wherever the router is mounted (`/admin` or `/admin/`).
    pub(super) async fn index(OriginalUri(uri): OriginalUri) -> Response {
        let path = uri.path();
        let base = if path.ends_with('/') {
            path.to_owned()
        } else {
            format!("{path}/")
        };
        let html = INDEX.replace("{{BASE}}", &escape(&base));
        with_headers(html, "text/html; charset=utf-8")
    }

    pub(super) async fn script() -> Response {
        with_headers(SCRIPT, "text/javascript; charset=utf-8")
    }

    pub(super) async fn stylesheet() -> Response {
        with_headers(STYLESHEET, "text/css; charset=utf-8")
    }

    fn with_headers(body: impl IntoResponse, content_type: &'static str) -> Response {
        let mut response = body.into_response();
        let headers = response.headers_mut();
        let mut set = |name, value| {
            headers.insert(name, HeaderValue::from_static(value));
        };
        set(header::CONTENT_TYPE, content_type);
        set(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
             img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        );
        set(header::X_FRAME_OPTIONS, "DENY");
        set(header::REFERRER_POLICY, "no-referrer");
        set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        response
    }

    /// Text for an HTML attribute.
    fn escape(text: &str) -> String {
        text.replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('\'', "&#39;")
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn the_page_is_small_and_has_no_inline_script_or_style() {
            let total = super::INDEX.len() + super::SCRIPT.len() + super::STYLESHEET.len();
            assert!(total < 50 * 1024, "the page's first load is {total} bytes");
            assert!(!super::INDEX.contains("<script>"), "no inline script");
            assert!(!super::INDEX.contains("style="), "no inline style");
            assert!(!super::INDEX.contains("onclick"), "no inline handlers");
        }

        #[test]
        fn a_base_path_cannot_break_out_of_its_attribute() {
            assert_eq!(super::escape("/a\"><b>/"), "/a&quot;&gt;&lt;b&gt;/");
        }
    }
}

#[cfg(test)]
mod pattern_classes;

#[cfg(test)]
mod tests {
    use crate::pattern_classes::{printable_space_class, unprintable_class};

    /// The document's patterns say exactly what `NewKey::validate` keeps,
    /// as far as a pattern of the Basic Multilingual Plane can: built here
    /// from the rule itself, they must equal what the derives wrote.
    #[test]
    fn the_document_s_patterns_are_the_rules_new_keys_keep() {
        let doc = serde_json::to_value(super::openapi()).unwrap();
        let schemas = &doc["components"]["schemas"];
        let (unprintable, space) = (unprintable_class(), printable_space_class());
        let text = format!("^[^{unprintable}]*$");
        let request = &schemas["CreateKeyRequest"]["properties"];
        assert_eq!(
            request["name"]["pattern"],
            format!("^[^{unprintable}{space}](?:[^{unprintable}]*[^{unprintable}{space}])?$")
        );
        assert_eq!(
            request["name"]["maxLength"],
            api_key_auth_core::store::MAX_NAME
        );
        assert_eq!(request["owner"]["pattern"], text);
        assert_eq!(schemas["PrintableText"]["pattern"], text);
        assert_eq!(request["metadata"]["propertyNames"]["pattern"], text);
        assert_eq!(schemas["ScopeToken"]["pattern"], "^[!#-\\[\\]-~]+$");
        for byte in 0u8..=127 {
            let scope = char::from(byte).to_string();
            let in_class = matches!(byte, b'!' | b'#'..=b'[' | b']'..=b'~');
            assert_eq!(
                api_key_auth_core::text::is_scope_token(&scope),
                in_class,
                "{byte}"
            );
        }
    }
}
