//! The networks a key may be used from: IPv4 and IPv6 networks, checked
//! against the client address the throttle counts by (the peer, or behind
//! trusted proxies the client they name).
//!
//! ```
//! use api_key_auth::store::AddressAllowlist;
//!
//! let allowed: AddressAllowlist = "10.0.0.0/8, 2001:db8::/32, 192.0.2.7".parse()?;
//! assert!(allowed.contains("10.1.2.3".parse()?));
//! assert!(allowed.contains("::ffff:10.1.2.3".parse()?)); // IPv4 as IPv6 sockets show it
//! assert!(!allowed.contains("192.0.2.8".parse()?));
//! assert_eq!(allowed.to_string(), "10.0.0.0/8, 2001:db8::/32, 192.0.2.7/32");
//!
//! // A network with bits set past its length is a typo, not a wider network.
//! assert!("10.0.0.1/8".parse::<AddressAllowlist>().is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::{fmt, net::IpAddr, str::FromStr};

use ipnet::IpNet;

/// The most networks one key may list.
pub const MAX_ALLOWED_NETWORKS: usize = 64;

/// The networks a key may be used from; never empty (a key with no list
/// may be used from anywhere).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AddressAllowlist {
    nets: Box<[IpNet]>,
}

/// Why an address allowlist was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AllowlistError {
    /// No network at all.
    #[error("an address allowlist names at least one network")]
    Empty,
    /// More networks than [`MAX_ALLOWED_NETWORKS`] (counted up to one more).
    #[error("an address allowlist names at most {MAX_ALLOWED_NETWORKS} networks")]
    TooMany(usize),
    /// An entry that is neither a network nor an address.
    #[error("{0:?} is not a network or an address (10.0.0.0/8, 2001:db8::/32, 192.0.2.7)")]
    Syntax(String),
    /// A network with bits set past its prefix length: `10.0.0.1/8` is a
    /// typo for an address or for `10.0.0.0/8`, and neither is guessed.
    #[error("{given:?} has bits set past its /{len}: write {network} for the network, or the address alone")]
    HostBits {
        /// The entry as given.
        given: String,
        /// Its prefix length.
        len: u8,
        /// The network it would be with those bits cleared.
        network: IpNet,
    },
    /// An IPv4 network written as IPv6 (`::ffff:10.0.0.0/104`): client
    /// addresses are compared as IPv4, so it would never match.
    #[error("{0:?} is an IPv4 network written as IPv6: write it as IPv4")]
    Mapped(String),
}

impl AddressAllowlist {
    /// The list of `nets`: networks (`10.0.0.0/8`, `2001:db8::/32`) or
    /// single addresses (`192.0.2.7`), each read exactly; the error names
    /// the first entry that does not read.
    pub fn new<I, S>(nets: I) -> Result<Self, AllowlistError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        // Counted before any is read: a list of a million entries costs
        // no more than one over the bound.
        let given: Vec<S> = nets.into_iter().take(MAX_ALLOWED_NETWORKS + 1).collect();
        if given.len() > MAX_ALLOWED_NETWORKS {
            return Err(AllowlistError::TooMany(given.len()));
        }
        let nets = given
            .iter()
            .map(|net| network(net.as_ref().trim()))
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_networks(nets)
    }

    /// The list of networks already read.
    pub fn from_networks(nets: Vec<IpNet>) -> Result<Self, AllowlistError> {
        if nets.is_empty() {
            return Err(AllowlistError::Empty);
        }
        if nets.len() > MAX_ALLOWED_NETWORKS {
            return Err(AllowlistError::TooMany(nets.len()));
        }
        for net in &nets {
            checked(*net, &net.to_string())?;
        }
        Ok(Self { nets: nets.into() })
    }

    /// Whether `client` is in one of the networks. An IPv4 address in
    /// IPv6 form (`::ffff:10.1.2.3`, as a dual-stack socket reports it) is
    /// compared as the IPv4 address it is.
    #[inline]
    pub fn contains(&self, client: IpAddr) -> bool {
        let client = canonical(client);
        self.nets.iter().any(|net| net.contains(&client))
    }

    /// The networks, in the order given.
    pub fn networks(&self) -> &[IpNet] {
        &self.nets
    }

    /// The networks as text, one each, as [`new`](Self::new) reads them back.
    pub fn to_strings(&self) -> Vec<String> {
        self.nets.iter().map(IpNet::to_string).collect()
    }
}

/// One entry: a network, or an address as the network of just it.
fn network(text: &str) -> Result<IpNet, AllowlistError> {
    let net = text
        .parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| AllowlistError::Syntax(text.to_owned()))?;
    checked(net, text)
}

fn checked(net: IpNet, given: &str) -> Result<IpNet, AllowlistError> {
    if net.trunc() != net {
        return Err(AllowlistError::HostBits {
            given: given.to_owned(),
            len: net.prefix_len(),
            network: net.trunc(),
        });
    }
    if let IpNet::V6(v6) = net {
        if v6.network().to_ipv4_mapped().is_some() && v6.prefix_len() >= 96 {
            return Err(AllowlistError::Mapped(given.to_owned()));
        }
    }
    Ok(net)
}

impl FromStr for AddressAllowlist {
    type Err = AllowlistError;

    /// Networks and addresses separated by commas (spaces around them
    /// are ignored).
    fn from_str(list: &str) -> Result<Self, Self::Err> {
        Self::new(list.split(','))
    }
}

impl fmt::Display for AddressAllowlist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, net) in self.nets.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{net}")?;
        }
        Ok(())
    }
}

/// An IPv4 address written as IPv6 (`::ffff:192.0.2.1`) is that IPv4 address.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(feature = "_stored")]
impl AddressAllowlist {
    /// The stored form: a JSON array of networks.
    pub fn to_json(&self) -> String {
        serde_json::Value::from(self.to_strings()).to_string()
    }

    /// Reads the stored form exactly: a JSON array of strings, each a
    /// network as [`to_json`](Self::to_json) writes it (never widened,
    /// never skipped).
    pub fn from_json(json: &str) -> Result<Self, String> {
        let entries: Vec<String> = serde_json::from_str(json)
            .map_err(|e| format!("allowed_from is not a JSON array of networks: {e}"))?;
        if entries.len() > MAX_ALLOWED_NETWORKS {
            return Err(format!(
                "allowed_from: {}",
                AllowlistError::TooMany(entries.len())
            ));
        }
        let nets = entries
            .iter()
            .map(|entry| {
                let net = entry
                    .parse::<IpNet>()
                    .map_err(|_| AllowlistError::Syntax(entry.clone()))?;
                checked(net, entry)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("allowed_from: {e}"))?;
        Self::from_networks(nets).map_err(|e| format!("allowed_from: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_read_exactly_or_are_refused_by_name() {
        let list: AddressAllowlist = " 10.0.0.0/8 ,2001:db8::/32,192.0.2.7 ".parse().unwrap();
        assert_eq!(
            list.to_strings(),
            ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7/32"]
        );
        assert_eq!(
            "10.0.0.0/8, nope".parse::<AddressAllowlist>(),
            Err(AllowlistError::Syntax("nope".into()))
        );
        assert_eq!(
            "".parse::<AddressAllowlist>(),
            Err(AllowlistError::Syntax(String::new()))
        );
        assert_eq!(
            AddressAllowlist::new(Vec::<String>::new()),
            Err(AllowlistError::Empty)
        );
        assert!(matches!(
            "10.0.0.1/8".parse::<AddressAllowlist>(),
            Err(AllowlistError::HostBits { len: 8, .. })
        ));
        assert!(matches!(
            "::ffff:10.0.0.0/104".parse::<AddressAllowlist>(),
            Err(AllowlistError::Mapped(_))
        ));
        let many = vec!["10.0.0.0/8"; MAX_ALLOWED_NETWORKS + 1];
        assert_eq!(
            AddressAllowlist::new(many),
            Err(AllowlistError::TooMany(MAX_ALLOWED_NETWORKS + 1))
        );
    }

    #[test]
    fn membership_compares_ipv4_in_ipv6_form_as_ipv4() {
        let list: AddressAllowlist = "10.0.0.0/8, 2001:db8::/32".parse().unwrap();
        for inside in ["10.255.0.1", "::ffff:10.0.0.1", "2001:db8::1"] {
            assert!(list.contains(inside.parse().unwrap()), "{inside}");
        }
        for outside in [
            "11.0.0.1",
            "::ffff:11.0.0.1",
            "2001:db9::1",
            "::1",
            "127.0.0.1",
        ] {
            assert!(!list.contains(outside.parse().unwrap()), "{outside}");
        }
    }

    #[cfg(feature = "_stored")]
    #[test]
    fn the_stored_form_reads_back_and_refuses_anything_else() {
        let list: AddressAllowlist = "10.0.0.0/8, 2001:db8::/32".parse().unwrap();
        assert_eq!(AddressAllowlist::from_json(&list.to_json()), Ok(list));
        for bad in [
            "",
            "[]",
            "\"10.0.0.0/8\"",
            "[\"10.0.0.1/8\"]",
            "[\"10.0.0.0/33\"]",
            "[\"10.0.0.1\"]",
            "[1]",
            "[\"10.0.0.0/8\",null]",
        ] {
            assert!(AddressAllowlist::from_json(bad).is_err(), "{bad:?}");
        }
    }
}
