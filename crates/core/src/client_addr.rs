//! Where a request came from: the client address that the throttle of
//! failed attempts counts by, found behind the proxies you trust.
//!
//! The address is the connection's peer, as the server gives it: axum's
//! `ConnectInfo<SocketAddr>` (serve with `into_make_service_with_connect_info`),
//! tonic's `TcpConnectInfo`, actix-web's peer address, or, for a server of
//! your own (plain hyper), a [`ClientAddr`] you put into the request's
//! extensions. `Forwarded` and `X-Forwarded-For` are believed only when the
//! peer is one of the [`TrustedProxies`] you list, never by default.
//!
//! ```
//! use api_key_auth::client_addr::{ClientAddr, TrustedProxies};
//!
//! // Behind a load balancer on 10.0.0.0/8 and a local sidecar:
//! let proxies = TrustedProxies::new(["10.0.0.0/8", "127.0.0.1"])?;
//! # let _ = proxies;
//! // In a hyper accept loop: request.extensions_mut().insert(ClientAddr(peer));
//! # let _ = ClientAddr("127.0.0.1:1".parse().unwrap());
//! # Ok::<(), api_key_auth::ConfigError>(())
//! ```

use std::net::{IpAddr, SocketAddr};
use std::{net::Ipv6Addr, sync::Arc};

use ipnet::IpNet;

use crate::error::ConfigError;
pub(crate) use crate::store::canonical;

/// The address a request came from, for a server that does not give one the
/// layer knows (plain hyper): insert it into the request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

/// Proxies whose forwarding header is believed: when the connection's peer is
/// one of them, the client is the right-most address of that header
/// (`X-Forwarded-For` unless [`reading`](Self::reading) says `Forwarded`) that
/// is not a trusted proxy.
///
/// Only the one header is read: a client can send either, and a proxy passes on
/// the one it does not write.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Arc<[IpNet]>,
    header: ForwardingHeader,
}

/// The header the trusted proxies write the client's address into.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ForwardingHeader {
    /// `X-Forwarded-For: <client>, <proxy1>, …`, as nginx
    /// (`$proxy_add_x_forwarded_for`), HAProxy, AWS's load balancers and
    /// most CDNs write it. The default.
    #[default]
    XForwardedFor,
    /// `Forwarded: for=<client>, for=<proxy1>` (RFC 7239).
    Forwarded,
}

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
        Ok(Self {
            nets: nets.into(),
            header: ForwardingHeader::default(),
        })
    }

    /// Reads the client's address from `header`, which the proxies write
    /// (and do not pass on from clients); `X-Forwarded-For` by default.
    pub fn reading(mut self, header: ForwardingHeader) -> Self {
        self.header = header;
        self
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|net| net.contains(&ip))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// The client of a request whose connection came from `peer`, given the
    /// values of a header by its name (asked for only when the peer is trusted,
    /// and only for the one header the proxies write).
    ///
    /// Walking the chain from the right, the first hop that is not a trusted
    /// proxy is the client; a hop that does not read (`unknown`, an obfuscated
    /// name, a value that is not UTF-8) ends the walk at the trusted hop
    /// nearest it, which is then counted.
    #[cfg(test)]
    pub(crate) fn client<'a>(
        &self,
        peer: IpAddr,
        values: impl FnOnce(&'static str) -> Vec<&'a [u8]>,
    ) -> IpAddr {
        self.resolve(peer, values).counted().unwrap_or(peer)
    }

    /// The client as [`client`](Self::client) finds it, and whether that is
    /// the client's own address: not when the walk ended at a trusted proxy
    /// (no header, a hop that does not read, every hop trusted), whose
    /// address the throttle counts but an address allowlist must not take
    /// for the client's.
    pub(crate) fn resolve<'a>(
        &self,
        peer: IpAddr,
        values: impl FnOnce(&'static str) -> Vec<&'a [u8]>,
    ) -> Client {
        let peer = canonical(peer);
        if self.is_empty() || !self.contains(peer) {
            return Client::known(Some(peer));
        }
        let hops = match self.header {
            ForwardingHeader::XForwardedFor => {
                hops_of(&values("x-forwarded-for"), x_forwarded_for_hop)
            }
            ForwardingHeader::Forwarded => hops_of(&values("forwarded"), forwarded_hop),
        };
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            let Some(ip) = hop else {
                return Client::vouched_by_proxy(client);
            };
            client = canonical(ip);
            if !self.contains(client) {
                return Client::known(Some(client));
            }
        }
        Client::vouched_by_proxy(client)
    }
}

/// A request's client address as the authenticator uses it: the address
/// the throttle counts, and whether it is the client's own (the peer, or a
/// hop behind trusted proxies) rather than the nearest trusted proxy's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Client {
    addr: Option<IpAddr>,
    own: bool,
}

impl Client {
    /// The client's own address, when known.
    pub(crate) fn known(addr: Option<IpAddr>) -> Self {
        Self {
            addr,
            own: addr.is_some(),
        }
    }

    /// A trusted proxy's address, standing in for a client it did not name.
    pub(crate) fn vouched_by_proxy(proxy: IpAddr) -> Self {
        Self {
            addr: Some(proxy),
            own: false,
        }
    }

    /// The address the throttle counts by.
    pub(crate) fn counted(self) -> Option<IpAddr> {
        self.addr
    }

    /// The address a key's allowlist is checked against: only the
    /// client's own.
    pub(crate) fn checked(self) -> Option<IpAddr> {
        self.addr.filter(|_| self.own)
    }
}

/// The hops of a forwarding header's values, in order, each an address or
/// `None` where a hop does not read (a value that is not UTF-8 is one such
/// hop: dropping it would hide what a proxy appended to it).
fn hops_of(values: &[&[u8]], hop: fn(&str) -> Option<IpAddr>) -> Vec<Option<IpAddr>> {
    values
        .iter()
        .flat_map(|value| match std::str::from_utf8(value) {
            Ok(text) => text
                .split(',')
                .map(str::trim)
                .filter(|element| !element.is_empty())
                .map(hop)
                .collect::<Vec<_>>(),
            Err(_) => vec![None],
        })
        .collect()
}

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

/// One `X-Forwarded-For` entry: an address, perhaps with a port.
fn x_forwarded_for_hop(entry: &str) -> Option<IpAddr> {
    address(entry.trim_matches('"'))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// Headers by name, as a request would give them.
    fn headers<'a>(
        xff: &'a [&'a str],
        forwarded: &'a [&'a str],
    ) -> impl Fn(&'static str) -> Vec<&'a [u8]> {
        move |name| {
            let values = if name == "forwarded" { forwarded } else { xff };
            values.iter().map(|v| v.as_bytes()).collect()
        }
    }

    /// Only a hop read from the header (or an untrusted peer) is the
    /// client's own address; a walk that ends at a trusted proxy (no
    /// header, a hop that does not read, a value that is not UTF-8, which
    /// would hide the hop a proxy appended to it, or every hop trusted)
    /// gives the proxy's, for the throttle, and no address to an allowlist.
    #[test]
    fn a_walk_that_ends_at_a_trusted_proxy_names_no_client_of_its_own() {
        let proxies = TrustedProxies::new(["10.0.0.0/8"]).unwrap();
        let resolve = |xff: &[&[u8]]| {
            let xff = xff.to_vec();
            proxies.resolve(ip("10.0.0.1"), move |_| xff.clone())
        };
        let named = resolve(&[b"198.51.100.7"]);
        assert_eq!(named.checked(), Some(ip("198.51.100.7")));
        for (what, xff) in [
            ("no header", &[][..]),
            ("a hop that does not read", &[&b"unknown"[..]][..]),
            ("not UTF-8", &[&b"\x80, 198.51.100.7"[..]][..]),
            ("every hop trusted", &[&b"10.9.9.9"[..]][..]),
        ] {
            let client = resolve(xff);
            assert_eq!(client.checked(), None, "{what}");
            assert!(
                client.counted().is_some(),
                "{what}: the throttle still counts"
            );
        }
        let not_utf8 = resolve(&[b"198.51.100.7", b"\x80"]);
        assert_eq!(
            not_utf8.counted(),
            Some(ip("10.0.0.1")),
            "a value that does not read ends the walk where it stands"
        );
        let direct = TrustedProxies::none().resolve(ip("192.0.2.1"), |_| Vec::new());
        assert_eq!(direct.checked(), Some(ip("192.0.2.1")));
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let none = TrustedProxies::none();
        let spoofed = headers(&["203.0.113.9"], &["for=203.0.113.9"]);
        assert_eq!(none.client(ip("192.0.2.1"), &spoofed), ip("192.0.2.1"));
        let lb = TrustedProxies::new(["10.0.0.0/8"]).unwrap();
        assert_eq!(
            lb.client(ip("192.0.2.1"), &spoofed),
            ip("192.0.2.1"),
            "headers from a peer that is not a proxy are not believed"
        );
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        let proxies = TrustedProxies::new(["10.0.0.0/8", "127.0.0.1"]).unwrap();
        // The client may put anything on the left; only the right counts.
        let xff = headers(&["6.6.6.6, 198.51.100.7", "10.1.2.3"], &[]);
        assert_eq!(proxies.client(ip("127.0.0.1"), &xff), ip("198.51.100.7"));
        let all_trusted = headers(&["10.9.9.9"], &[]);
        assert_eq!(proxies.client(ip("10.0.0.5"), &all_trusted), ip("10.9.9.9"));
        let mapped = headers(&["::ffff:198.51.100.7"], &[]);
        assert_eq!(
            proxies.client(ip("::ffff:10.0.0.5"), &mapped),
            ip("198.51.100.7")
        );
        let forwarding = proxies.clone().reading(ForwardingHeader::Forwarded);
        let forwarded = headers(
            &["9.9.9.9"],
            &["for=6.6.6.6, for=\"[2001:db8:cafe::17]:4711\";proto=https"],
        );
        assert_eq!(
            forwarding.client(ip("10.0.0.5"), &forwarded),
            ip("2001:db8:cafe::17")
        );
        assert!(matches!(
            TrustedProxies::new(["10.0.0.0/33"]),
            Err(ConfigError::Proxy(_))
        ));
    }

    /// Only the header the proxies are said to write is read. Were
    /// `Forwarded` read whenever present, then behind a proxy that writes
    /// `X-Forwarded-For` and passes a client's own `Forwarded` on, a client
    /// would choose its address, or not be counted.
    #[test]
    fn only_the_header_the_proxies_write_is_read() {
        let proxies = TrustedProxies::new(["10.0.0.0/8"]).unwrap();
        for forwarded in [["for=unknown"], ["for=192.0.2.99"], ["for=_hidden"]] {
            let sent = headers(&["198.51.100.7"], &forwarded);
            assert_eq!(proxies.client(ip("10.0.0.1"), &sent), ip("198.51.100.7"));
        }
        let forwarding = proxies.reading(ForwardingHeader::Forwarded);
        let sent = headers(&["192.0.2.99"], &["for=198.51.100.7"]);
        assert_eq!(forwarding.client(ip("10.0.0.1"), &sent), ip("198.51.100.7"));
    }

    /// A hop that does not read is counted as the trusted hop nearest it,
    /// never as nobody (which a client could use not to be counted).
    #[test]
    fn a_hop_that_does_not_read_is_counted_as_its_nearest_proxy() {
        let proxies = TrustedProxies::new(["10.0.0.0/8"]).unwrap();
        let garbled = headers(&["not-an-address, 10.2.2.2"], &[]);
        assert_eq!(proxies.client(ip("10.0.0.1"), &garbled), ip("10.2.2.2"));
        let direct = headers(&["unknown"], &[]);
        assert_eq!(proxies.client(ip("10.0.0.1"), &direct), ip("10.0.0.1"));
        // Garbage to the left of the client is never reached.
        let prefixed = headers(&["unknown, 198.51.100.7"], &[]);
        assert_eq!(
            proxies.client(ip("10.0.0.1"), &prefixed),
            ip("198.51.100.7")
        );
        let none = headers(&[], &[]);
        assert_eq!(proxies.client(ip("10.0.0.1"), &none), ip("10.0.0.1"));
    }
}
