//! The request a gateway asks about, rebuilt from what it sends.

use std::net::IpAddr;

use http::{HeaderMap, Method, Request};

use crate::client_addr::TrustedProxies;

/// The client's request as the gateway describes it: its method, path
/// (without the query), host and scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Original {
    pub(super) method: Method,
    pub(super) path: String,
    pub(super) host: Option<String>,
    /// `http` or `https` (in lower case) when a trusted gateway says which
    /// (`X-Forwarded-Proto`, or the scheme of `X-Original-URL`); the gate
    /// cannot tell on its own.
    pub(super) scheme: Option<String>,
    /// False when a trusted gateway described the request in headers that
    /// do not read (two values, not text, not a method or a URI): no route
    /// is guessed for it, and it is refused as a closed route is.
    pub(super) readable: bool,
}

impl Original {
    /// The request behind `request`, which came from `peer`.
    ///
    /// From a trusted proxy, the forwarded headers say it: Traefik's and
    /// Caddy's `X-Forwarded-Method`/`-Uri`/`-Host`/`-Proto`, nginx's
    /// `X-Original-Method`/`-URI` (and ingress-nginx's `X-Original-URL`);
    /// without them the request is the client's own, mirrored (Envoy's HTTP
    /// mode), its path after `strip_prefix`. From anyone else, forwarded
    /// headers are ignored and the request is taken as it came: never an
    /// error, so a client cannot lock itself or others out with them.
    pub(super) fn of<B>(
        request: &Request<B>,
        peer: Option<IpAddr>,
        proxies: &TrustedProxies,
        strip_prefix: &str,
    ) -> Self {
        let own_path = request.uri().path();
        let own_path = own_path
            .strip_prefix(strip_prefix)
            .filter(|rest| rest.starts_with('/'))
            .unwrap_or(own_path);
        let own = Self {
            method: request.method().clone(),
            path: own_path.to_owned(),
            host: host_of(request.headers()),
            scheme: None,
            readable: true,
        };
        if !peer.is_some_and(|peer| proxies.contains(peer)) {
            return own;
        }
        let headers = request.headers();
        let unreadable = |name: &str, reads: bool| headers.contains_key(name) && !reads;
        let readable = !(unreadable(
            "x-forwarded-method",
            text(headers, "x-forwarded-method")
                .is_some_and(|m| Method::from_bytes(m.as_bytes()).is_ok()),
        ) || unreadable(
            "x-original-method",
            text(headers, "x-original-method")
                .is_some_and(|m| Method::from_bytes(m.as_bytes()).is_ok()),
        ) || ["x-forwarded-uri", "x-original-uri", "x-original-url"]
            .iter()
            .any(|name| {
                unreadable(
                    name,
                    text(headers, name).is_some_and(|uri| uri.parse::<http::Uri>().is_ok()),
                )
            })
            || unreadable(
                "x-forwarded-host",
                text(headers, "x-forwarded-host").is_some(),
            )
            || unreadable(
                "x-forwarded-proto",
                text(headers, "x-forwarded-proto").is_some_and(|s| is_scheme(&s)),
            ));
        let url = text(headers, "x-original-url").and_then(|url| url.parse::<http::Uri>().ok());
        let method = text(headers, "x-forwarded-method")
            .or_else(|| text(headers, "x-original-method"))
            .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
            .unwrap_or(own.method);
        let path = text(headers, "x-forwarded-uri")
            .or_else(|| text(headers, "x-original-uri"))
            .and_then(|uri| uri.parse::<http::Uri>().ok())
            .or_else(|| url.clone())
            .map_or(own.path, |uri| uri.path().to_owned());
        let host = text(headers, "x-forwarded-host")
            .map(|host| normal_host(&host))
            .or_else(|| url.as_ref().and_then(|url| url.host().map(normal_host)))
            .or(own.host);
        let scheme = text(headers, "x-forwarded-proto")
            .filter(|scheme| is_scheme(scheme))
            .or_else(|| {
                url.as_ref()
                    .and_then(|url| url.scheme_str().map(str::to_owned))
            })
            .map(|scheme| scheme.to_ascii_lowercase());
        Self {
            method,
            path,
            host,
            scheme,
            readable,
        }
    }
}

/// A header's value as text, when it is one value of visible ASCII.
fn text(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut values = headers.get_all(name).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// `http`, `HTTPS`: a URI scheme (RFC 3986 §3.1).
fn is_scheme(text: &str) -> bool {
    let mut bytes = text.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// The `Host` of a request, without its port, in lower case.
fn host_of(headers: &HeaderMap) -> Option<String> {
    text(headers, "host").map(|host| normal_host(&host))
}

/// `Example.COM:8080` is `example.com`; `[::1]:80` is `[::1]`.
pub(super) fn normal_host(host: &str) -> String {
    let host = host.trim();
    let host = match host.rfind(':') {
        Some(at)
            if !host[at..].contains(']') && host[at + 1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            &host[..at]
        }
        _ => host,
    };
    host.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> Request<()> {
        let mut builder = Request::get("/auth?x=1");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap()
    }

    fn proxies() -> TrustedProxies {
        TrustedProxies::new(["10.0.0.0/8"]).unwrap()
    }

    #[test]
    fn forwarded_headers_are_read_from_trusted_proxies_only() {
        let forwarded = request(&[
            ("host", "gate.internal:9000"),
            ("x-forwarded-method", "DELETE"),
            ("x-forwarded-uri", "/admin/keys?all=1"),
            ("x-forwarded-host", "API.example.com:443"),
            ("x-forwarded-proto", "HTTPS"),
        ]);
        let trusted = Original::of(
            &forwarded,
            Some("10.1.2.3".parse().unwrap()),
            &proxies(),
            "",
        );
        assert_eq!(
            trusted,
            Original {
                method: Method::DELETE,
                path: "/admin/keys".into(),
                host: Some("api.example.com".into()),
                scheme: Some("https".into()),
                readable: true,
            }
        );
        let stranger = Original::of(
            &forwarded,
            Some("192.0.2.1".parse().unwrap()),
            &proxies(),
            "",
        );
        assert_eq!(
            stranger,
            Original {
                method: Method::GET,
                path: "/auth".into(),
                host: Some("gate.internal".into()),
                scheme: None,
                readable: true,
            }
        );
        let unknown = Original::of(&forwarded, None, &proxies(), "");
        assert_eq!(unknown, stranger);
    }

    #[test]
    fn nginx_and_ingress_nginx_headers_are_read() {
        let nginx = request(&[
            ("host", "gate"),
            ("x-original-method", "POST"),
            ("x-original-uri", "/orders/7"),
        ]);
        let peer = Some("10.0.0.9".parse().unwrap());
        let original = Original::of(&nginx, peer, &proxies(), "");
        assert_eq!(
            (original.method, original.path.as_str()),
            (Method::POST, "/orders/7")
        );
        let ingress = request(&[("x-original-url", "https://Shop.example:8443/cart/1?q")]);
        let original = Original::of(&ingress, peer, &proxies(), "");
        assert_eq!(original.path, "/cart/1");
        assert_eq!(original.host.as_deref(), Some("shop.example"));
        assert_eq!(original.scheme.as_deref(), Some("https"));
    }

    #[test]
    fn a_mirrored_request_loses_the_prefix_and_bad_values_are_unreadable() {
        let envoy = Request::post("/check/orders/7").body(()).unwrap();
        let peer = Some("10.0.0.9".parse().unwrap());
        let original = Original::of(&envoy, peer, &proxies(), "/check");
        assert_eq!(
            (original.method, original.path.as_str()),
            (Method::POST, "/orders/7")
        );
        let bad = request(&[
            ("x-forwarded-method", "GET POST"),
            ("x-forwarded-uri", "not a uri"),
        ]);
        let original = Original::of(&bad, peer, &proxies(), "");
        assert_eq!(
            (original.method, original.path.as_str()),
            (Method::GET, "/auth")
        );
        assert!(!original.readable);
        for proto in ["ht tp", "https, http", "1http"] {
            let bad = request(&[("x-forwarded-proto", proto)]);
            let original = Original::of(&bad, peer, &proxies(), "");
            assert!(!original.readable, "{proto}");
            assert_eq!(original.scheme, None);
        }
    }
}
