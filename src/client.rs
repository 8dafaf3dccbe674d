//! Where a request came from: the client address the throttle of failed
//! attempts counts by (feature `throttle` for [`TrustedProxies`]).
//!
//! The address is the connection's peer, as the server gives it: axum's
//! `ConnectInfo<SocketAddr>` (serve with `into_make_service_with_connect_info`),
//! tonic's `TcpConnectInfo`, actix-web's peer address, or, for a server of
//! your own (plain hyper), a [`ClientAddr`] you put into the request's
//! extensions. `Forwarded` and `X-Forwarded-For` are believed only when the
//! peer is one of the [`TrustedProxies`] you list, never by default.
//!
//! ```
//! use api_key_auth::client::{ClientAddr, TrustedProxies};
//!
//! // Behind a load balancer on 10.0.0.0/8 and a local sidecar:
//! let proxies = TrustedProxies::new(["10.0.0.0/8", "127.0.0.1"])?;
//! # let _ = proxies;
//! // In a hyper accept loop: request.extensions_mut().insert(ClientAddr(peer));
//! # let _ = ClientAddr("127.0.0.1:1".parse().unwrap());
//! # Ok::<(), api_key_auth::ConfigError>(())
//! ```

use std::net::{IpAddr, SocketAddr};
#[cfg(feature = "throttle")]
use std::{net::Ipv6Addr, sync::Arc};

#[cfg(feature = "throttle")]
use ipnet::IpNet;

#[cfg(feature = "throttle")]
use crate::error::ConfigError;

/// The address a request came from, for a server that does not give one the
/// layer knows (plain hyper): insert it into the request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

#[cfg(feature = "throttle")]
/// Proxies whose forwarding headers are believed: when the connection's
/// peer is one of them, the client is the right-most address of `Forwarded`
/// (RFC 7239) or, without it, `X-Forwarded-For` that is not a trusted proxy.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Arc<[IpNet]>,
}

#[cfg(feature = "throttle")]
impl TrustedProxies {
    /// No proxy: forwarding headers are never believed (the default).
    pub fn none() -> Self {
        Self::default()
    }

    /// The proxies in `nets`: networks (`10.0.0.0/8`, `fd00::/8`) or single
    /// addresses (`127.0.0.1`). An error names the entry that does not read.
    pub fn new<I, S>(nets: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let nets = nets
            .into_iter()
            .map(|net| {
                let text = net.as_ref().trim();
                text.parse::<IpNet>()
                    .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| ConfigError::Proxy(text.to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { nets: nets.into() })
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|net| net.contains(&ip))
    }

    fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// The client of a request whose connection came from `peer`, given the
    /// values of its `Forwarded` and `X-Forwarded-For` headers (asked for
    /// only when the peer is trusted). `None` when the chain names a hop it
    /// cannot read (`unknown`, an obfuscated name): such a request is not
    /// counted rather than counted against its proxy.
    pub(crate) fn client<'a>(
        &self,
        peer: IpAddr,
        forwarded: impl FnOnce() -> (Vec<&'a [u8]>, Vec<&'a [u8]>),
    ) -> Option<IpAddr> {
        let peer = canonical(peer);
        if self.is_empty() || !self.contains(peer) {
            return Some(peer);
        }
        let (forwarded, x_forwarded_for) = forwarded();
        let hops = if forwarded.is_empty() {
            hops_of(&x_forwarded_for, x_forwarded_for_hop)
        } else {
            hops_of(&forwarded, forwarded_hop)
        };
        // Right to left: the nearest hop first; the first one not trusted
        // is the client. All trusted: the farthest is.
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            let ip = canonical(hop?);
            client = ip;
            if !self.contains(ip) {
                break;
            }
        }
        Some(client)
    }
}

#[cfg(feature = "throttle")]
/// The hops of a forwarding header's values, in order, each an address or
/// `None` where a hop does not read.
fn hops_of(values: &[&[u8]], hop: fn(&str) -> Option<IpAddr>) -> Vec<Option<IpAddr>> {
    values
        .iter()
        .flat_map(|value| {
            std::str::from_utf8(value)
                .ok()
                .into_iter()
                .flat_map(|text| text.split(','))
                .map(str::trim)
                .filter(|element| !element.is_empty())
                .map(hop)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(feature = "throttle")]
/// The `for=` of one `Forwarded` element: `for=192.0.2.60`,
/// `for="[2001:db8::1]:4711"`, `for="192.0.2.60:80"`.
fn forwarded_hop(element: &str) -> Option<IpAddr> {
    let value = element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then_some(value.trim())
    })?;
    let value = value.trim_matches('"');
    address(value)
}

#[cfg(feature = "throttle")]
/// One `X-Forwarded-For` entry: an address, perhaps with a port.
fn x_forwarded_for_hop(entry: &str) -> Option<IpAddr> {
    address(entry.trim_matches('"'))
}

#[cfg(feature = "throttle")]
/// `192.0.2.60`, `192.0.2.60:80`, `2001:db8::1`, `[2001:db8::1]:4711`.
fn address(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (inside, _) = rest.split_once(']')?;
        return inside.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    text.parse::<SocketAddr>().ok().map(|addr| addr.ip())
}

#[cfg(feature = "throttle")]
/// An IPv4 address written as IPv6 (`::ffff:192.0.2.1`) is that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The connection's peer, from a request's extensions: a [`ClientAddr`],
/// axum's `ConnectInfo<SocketAddr>`, or tonic's `TcpConnectInfo`.
pub(crate) fn peer(extensions: &http::Extensions) -> Option<IpAddr> {
    if let Some(ClientAddr(addr)) = extensions.get::<ClientAddr>() {
        return Some(addr.ip());
    }
    #[cfg(feature = "axum")]
    if let Some(info) = extensions.get::<::axum::extract::ConnectInfo<SocketAddr>>() {
        return Some(info.0.ip());
    }
    #[cfg(feature = "tonic")]
    if let Some(info) = extensions.get::<::tonic::transport::server::TcpConnectInfo>() {
        return info.remote_addr().map(|addr| addr.ip());
    }
    None
}

#[cfg(feature = "throttle")]
/// What the throttle counts by: an IPv4 address, or an IPv6 address's /64
/// (one subscriber's network: counting single IPv6 addresses would give
/// each client 2^64 tries).
pub(crate) fn bucket(ip: IpAddr) -> u128 {
    match canonical(ip) {
        IpAddr::V4(v4) => u128::from(u32::from(v4)) | (0xffff << 32),
        IpAddr::V6(v6) => u128::from(v6) & !((1u128 << 64) - 1),
    }
}

#[cfg(all(test, feature = "throttle"))]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let none = TrustedProxies::none();
        let spoofed = || (vec![&b"for=203.0.113.9"[..]], vec![&b"203.0.113.9"[..]]);
        assert_eq!(none.client(ip("192.0.2.1"), spoofed), Some(ip("192.0.2.1")));
        let lb = TrustedProxies::new(["10.0.0.0/8"]).unwrap();
        assert_eq!(
            lb.client(ip("192.0.2.1"), spoofed),
            Some(ip("192.0.2.1")),
            "headers from a peer that is not a proxy are not believed"
        );
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        let proxies = TrustedProxies::new(["10.0.0.0/8", "127.0.0.1"]).unwrap();
        // The client may put anything on the left; only the right counts.
        let xff = || (vec![], vec![&b"6.6.6.6, 198.51.100.7, 10.1.2.3"[..]]);
        assert_eq!(
            proxies.client(ip("127.0.0.1"), xff),
            Some(ip("198.51.100.7"))
        );
        let forwarded = || {
            (
                vec![&b"for=6.6.6.6, for=\"[2001:db8:cafe::17]:4711\";proto=https"[..]],
                vec![&b"9.9.9.9"[..]],
            )
        };
        assert_eq!(
            proxies.client(ip("10.0.0.5"), forwarded),
            Some(ip("2001:db8:cafe::17")),
            "Forwarded wins over X-Forwarded-For"
        );
        let unknown = || (vec![&b"for=unknown"[..]], vec![]);
        assert_eq!(proxies.client(ip("10.0.0.5"), unknown), None);
        let all_trusted = || (vec![], vec![&b"10.9.9.9"[..]]);
        assert_eq!(
            proxies.client(ip("10.0.0.5"), all_trusted),
            Some(ip("10.9.9.9"))
        );
        let mapped = || (vec![], vec![&b"::ffff:198.51.100.7"[..]]);
        assert_eq!(
            proxies.client(ip("::ffff:10.0.0.5"), mapped),
            Some(ip("198.51.100.7"))
        );
        assert!(matches!(
            TrustedProxies::new(["10.0.0.0/33"]),
            Err(ConfigError::Proxy(_))
        ));
    }

    #[test]
    fn ipv6_counts_per_64_and_ipv4_per_address() {
        assert_eq!(
            bucket(ip("2001:db8:1:2::1")),
            bucket(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(bucket(ip("2001:db8:1:2::1")), bucket(ip("2001:db8:1:3::1")));
        assert_ne!(bucket(ip("192.0.2.1")), bucket(ip("192.0.2.2")));
        assert_eq!(bucket(ip("::ffff:192.0.2.1")), bucket(ip("192.0.2.1")));
        assert_ne!(bucket(ip("192.0.2.1")), bucket(ip("::c000:201")));
    }
}
