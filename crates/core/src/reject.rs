//! Refusals as HTTP responses.
//!
//! | failure                                                       | status | headers                                         |
//! |---------------------------------------------------------------|--------|-------------------------------------------------|
//! | missing, malformed, unknown, wrong, revoked, suspended or expired key | 401    | `WWW-Authenticate: Api-Key realm="…"`           |
//! | valid key used from outside its address allowlist             | 403    | none (the body does not show the list)          |
//! | valid key without a required scope                            | 403    | `WWW-Authenticate: Api-Key realm="…", error="insufficient_scope", scope="…"` |
//! | the key store failed, or the key needs what this server lacks | 503    | `Retry-After: 1`                                |
//! | a client out of its budget of failed attempts                 | 429    | `Retry-After: <seconds>`                        |
//! | a key over its rate limit                                     | 429    | `Retry-After`, `RateLimit-Policy: "key";q=<requests>;w=<seconds>`, `RateLimit: "key";r=0;t=<seconds>` |
//! | a key whose owner's keys are over their shared limit          | 429    | the same, with the policy named `"owner"`       |
//! | a key out of usage credits, with a refill (without one: 403)  | 429    | `Retry-After` until the refill                  |
//!
//! Every 401 carries the same body, whatever the reason, so a client cannot
//! tell an unknown prefix from a wrong secret. Bodies are small JSON objects;
//! every refusal is `Cache-Control: no-store`.
//!
//! In gRPC mode ([`AuthenticatorBuilder::grpc`](crate::AuthenticatorBuilder::grpc))
//! the same refusals are trailers-only gRPC responses: HTTP 200 with
//! `grpc-status` 16 (UNAUTHENTICATED), 7 (PERMISSION_DENIED), 14 (UNAVAILABLE)
//! or 8 (RESOURCE_EXHAUSTED, for 429).

use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderName, HeaderValue, Response, StatusCode};

use crate::{
    error::{AuthFailure, ConfigError},
    rate_limit::RateLimit,
};

/// The body of every 401.
pub const UNAUTHORIZED_BODY: &str =
    r#"{"error":"unauthorized","message":"a valid API key is required"}"#;
/// The body of every 403.
pub const FORBIDDEN_BODY: &str = r#"{"error":"insufficient_scope","message":"the API key lacks a scope this resource requires"}"#;
/// The body of the 403 of a key used from outside its address allowlist.
pub const ADDRESS_REFUSED_BODY: &str =
    r#"{"error":"address_not_allowed","message":"the API key may not be used from this address"}"#;
/// The body of the 429 (or 403, without a refill) of a key out of credits.
pub const OUT_OF_CREDITS_BODY: &str =
    r#"{"error":"out_of_credits","message":"the API key has no usage credits left"}"#;
/// The body of every 429.
pub const TOO_MANY_BODY: &str = r#"{"error":"too_many_requests","message":"too many requests; retry after the seconds Retry-After says"}"#;
/// The body of every 503.
pub const UNAVAILABLE_BODY: &str =
    r#"{"error":"unavailable","message":"API keys cannot be checked right now; retry later"}"#;

/// The response parts fixed at configuration time, built once.
#[derive(Debug)]
pub(crate) struct Responses {
    /// `<scheme> realm="<realm>"`, the start of every challenge.
    challenge: HeaderValue,
    retry_after: HeaderValue,
    grpc: bool,
}

/// gRPC status codes of the refusals.
const GRPC_UNAUTHENTICATED: &str = "16";
const GRPC_PERMISSION_DENIED: &str = "7";
const GRPC_UNAVAILABLE: &str = "14";
const GRPC_RESOURCE_EXHAUSTED: &str = "8";

impl Responses {
    pub(crate) fn new(
        scheme: &str,
        realm: &str,
        retry_after_secs: u32,
        grpc: bool,
    ) -> Result<Self, ConfigError> {
        let printable = realm.bytes().all(|b| b == b' ' || b.is_ascii_graphic());
        if !printable {
            return Err(ConfigError::Realm(realm.to_owned()));
        }
        let challenge = format!("{scheme} realm=\"{}\"", escape_quoted(realm));
        let challenge =
            HeaderValue::try_from(challenge).map_err(|_| ConfigError::Realm(realm.to_owned()))?;
        Ok(Self {
            challenge,
            retry_after: HeaderValue::from(retry_after_secs),
            grpc,
        })
    }

    /// The response for an authentication failure: 503 for a store
    /// failure or a key this server cannot check, 429 for a throttled client or a key over its limit, else
    /// the uniform 401.
    pub(crate) fn for_failure(&self, failure: &AuthFailure) -> Response<Bytes> {
        match failure {
            AuthFailure::StoreUnavailable { .. } | AuthFailure::Unsupported { .. } => {
                self.unavailable()
            }
            AuthFailure::Throttled { retry_after, .. } => self.too_many(*retry_after, None),
            AuthFailure::RateLimited {
                retry_after, limit, ..
            } => self.too_many(*retry_after, Some(("key", limit))),
            AuthFailure::OwnerRateLimited {
                retry_after, limit, ..
            } => self.too_many(*retry_after, Some(("owner", limit))),
            AuthFailure::AddressRefused { .. } => self.address_refused(),
            AuthFailure::OutOfCredits { .. } => self.out_of_credits(failure),
            _ => self.unauthorized(),
        }
    }

    /// A 429: `Retry-After` in whole seconds (at least 1), and for a rate
    /// limit (the policy's name, `key` or `owner`, and the limit) its policy
    /// and state as the IETF `RateLimit-Policy` and `RateLimit` fields
    /// describe them.
    pub(crate) fn too_many(
        &self,
        retry_after: Duration,
        limit: Option<(&str, &RateLimit)>,
    ) -> Response<Bytes> {
        let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        let secs = secs.max(1);
        if self.grpc {
            return grpc(GRPC_RESOURCE_EXHAUSTED, "too many requests; retry later");
        }
        let mut response = json(StatusCode::TOO_MANY_REQUESTS, TOO_MANY_BODY);
        let headers = response.headers_mut();
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        if let Some((name, limit)) = limit {
            // Whole seconds, as the field takes; a part of one counts as one.
            let period = limit.period();
            let window = (period.as_secs() + u64::from(period.subsec_nanos() > 0)).max(1);
            let policy = format!("\"{name}\";q={};w={window}", limit.requests());
            let state = format!("\"{name}\";r=0;t={secs}");
            if let (Ok(policy), Ok(state)) =
                (HeaderValue::try_from(policy), HeaderValue::try_from(state))
            {
                headers.insert(HeaderName::from_static("ratelimit-policy"), policy);
                headers.insert(HeaderName::from_static("ratelimit"), state);
            }
        }
        response
    }

    pub(crate) fn unauthorized(&self) -> Response<Bytes> {
        if self.grpc {
            return grpc(GRPC_UNAUTHENTICATED, "a valid API key is required");
        }
        let mut response = json(StatusCode::UNAUTHORIZED, UNAUTHORIZED_BODY);
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, self.challenge.clone());
        response
    }

    /// The 403 of a key used from outside its address allowlist: no
    /// challenge (the key is good; another key would not help from here).
    pub(crate) fn address_refused(&self) -> Response<Bytes> {
        if self.grpc {
            return grpc(
                GRPC_PERMISSION_DENIED,
                "the API key may not be used from this address",
            );
        }
        json(StatusCode::FORBIDDEN, ADDRESS_REFUSED_BODY)
    }

    /// A key out of credits: 429 with `Retry-After` until its next
    /// refill, or 403 when none comes.
    pub(crate) fn out_of_credits(&self, failure: &AuthFailure) -> Response<Bytes> {
        if self.grpc {
            return grpc(
                GRPC_RESOURCE_EXHAUSTED,
                "the API key has no usage credits left",
            );
        }
        let status = failure.status();
        let mut response = json(status, OUT_OF_CREDITS_BODY);
        if let Some(wait) = failure.retry_after() {
            let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }

    pub(crate) fn unavailable(&self) -> Response<Bytes> {
        if self.grpc {
            return grpc(
                GRPC_UNAVAILABLE,
                "API keys cannot be checked right now, retry later",
            );
        }
        let mut response = json(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE_BODY);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, self.retry_after.clone());
        response
    }

    /// The `WWW-Authenticate` value of a 403 for `scopes`, built once per requirement.
    pub(crate) fn scope_challenge(&self, scopes: &[String]) -> Result<HeaderValue, ConfigError> {
        let mut value = self.challenge.as_bytes().to_vec();
        value.extend_from_slice(b", error=\"insufficient_scope\", scope=\"");
        value.extend_from_slice(scopes.join(" ").as_bytes());
        value.push(b'"');
        HeaderValue::from_bytes(&value).map_err(|_| ConfigError::Scope(scopes.join(" ")))
    }

    /// The `WWW-Authenticate` value of a 403 no scope lifts (a gate's
    /// closed route).
    #[cfg(feature = "gate")]
    pub(crate) fn closed_challenge(&self) -> HeaderValue {
        let mut value = self.challenge.as_bytes().to_vec();
        value.extend_from_slice(b", error=\"insufficient_scope\"");
        HeaderValue::from_bytes(&value).unwrap_or_else(|_| self.challenge.clone())
    }

    pub(crate) fn forbidden(&self, challenge: &HeaderValue) -> Response<Bytes> {
        if self.grpc {
            return grpc(
                GRPC_PERMISSION_DENIED,
                "the API key lacks a scope this method requires",
            );
        }
        let mut response = json(StatusCode::FORBIDDEN, FORBIDDEN_BODY);
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, challenge.clone());
        response
    }
}

impl Default for Responses {
    fn default() -> Self {
        Self {
            challenge: HeaderValue::from_static("Api-Key realm=\"api\""),
            retry_after: HeaderValue::from_static("1"),
            grpc: false,
        }
    }
}

/// A trailers-only gRPC response: the status in the headers, no body.
/// `message` is printable ASCII without `%`, so it needs no percent-encoding.
fn grpc(status: &'static str, message: &'static str) -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.insert("grpc-status", HeaderValue::from_static(status));
    headers.insert("grpc-message", HeaderValue::from_static(message));
    response
}

fn json(status: StatusCode, body: &'static str) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from_static(body.as_bytes()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Escapes `"` and `\` for an RFC 9110 quoted-string.
fn escape_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realm_is_quoted_and_escaped() {
        let r = Responses::new("Api-Key", r#"my "api" \ v1"#, 7, false).unwrap();
        let resp = r.unauthorized();
        assert_eq!(
            resp.headers()[header::WWW_AUTHENTICATE],
            r#"Api-Key realm="my \"api\" \\ v1""#
        );
        assert_eq!(r.unavailable().headers()[header::RETRY_AFTER], "7");
    }

    #[test]
    fn a_window_under_a_whole_second_is_rounded_up() {
        let r = Responses::new("Api-Key", "api", 1, false).unwrap();
        for (limit, policy) in [
            ("3/1500ms", "\"key\";q=3;w=2"),
            ("10/500ms", "\"key\";q=10;w=1"),
        ] {
            let limit: RateLimit = limit.parse().unwrap();
            let response = r.too_many(Duration::from_millis(200), Some(("key", &limit)));
            assert_eq!(response.headers()["ratelimit-policy"], policy);
            assert_eq!(response.headers()["ratelimit"], "\"key\";r=0;t=1");
            assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        }
    }

    #[test]
    fn realm_with_control_characters_is_refused() {
        assert!(matches!(
            Responses::new("Api-Key", "a\r\nSet-Cookie: x", 1, false),
            Err(ConfigError::Realm(_))
        ));
        assert!(Responses::new("Api-Key", "caf\u{e9}", 1, false).is_err());
    }
}
