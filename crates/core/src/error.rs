//! Why a request was refused, and why a configuration was: the errors every
//! other part of the crate shares. Nothing here depends on a framework.

use std::{error::Error as StdError, fmt, net::IpAddr, time::Duration};

use crate::{
    key::{KeyParseError, Prefix},
    store::RateLimit,
    store::StoreError,
};

/// Header values longer than this are refused on sight, before any parsing,
/// hashing or store call. A valid value is at most a scheme plus 42 bytes.
pub const MAX_CREDENTIAL_LEN: usize = 256;

/// Why a request was not authenticated. Goes to `tracing` and to the
/// [`on_failure`](crate::AuthenticatorBuilder::on_failure) hook, never to the client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthFailure {
    /// No credential header.
    #[error("no API key presented")]
    Missing,
    /// A credential header that is not a well-formed key.
    #[error("malformed API key credential: {0}")]
    Malformed(#[from] Malformed),
    /// A well-formed key whose prefix no store record has.
    #[error("unknown API key prefix {0}")]
    UnknownPrefix(Prefix),
    /// A key whose prefix is known but whose secret does not match.
    #[error("wrong secret for API key {0}")]
    WrongSecret(Prefix),
    /// A correct key that has been revoked.
    #[error("API key {0} is revoked")]
    Revoked(Prefix),
    /// A correct key that is suspended (answered as a revoked one is).
    #[error("API key {0} is suspended")]
    Suspended(Prefix),
    /// A correct key used from a client address outside its
    /// [allowlist](crate::store::AddressAllowlist): refused with 403 and a
    /// body that does not show the list.
    #[error("API key {prefix} may not be used from {client}")]
    AddressRefused {
        /// The key's prefix.
        prefix: Prefix,
        /// The client address, as the throttle counts it.
        client: IpAddr,
    },
    /// A correct key past its expiry.
    #[error("API key {0} has expired")]
    Expired(Prefix),
    /// The store failed, so the key could not be checked. What the store
    /// said is the error's [`source`](std::error::Error::source).
    #[error("could not check API key {prefix}")]
    StoreUnavailable {
        /// The prefix being looked up.
        prefix: Prefix,
        /// What the store said.
        #[source]
        source: StoreError,
    },
    /// A key this server cannot check, because it needs what the server was
    /// built or run without: a rate limit and no limiter (the key matched),
    /// or a legacy hash and no tokio runtime (checked for no key, right or
    /// wrong). Refused (503) rather than let through unchecked.
    #[error("API key {prefix} cannot be checked here: {reason}")]
    Unsupported {
        /// The key's prefix.
        prefix: Prefix,
        /// What is missing.
        reason: &'static str,
    },
    /// The client address spent its budget of failed attempts: refused
    /// before its request was read (feature `throttle`).
    #[error(
        "client {client} is throttled after too many failed attempts; retry in {retry_after:?}"
    )]
    Throttled {
        /// The address, as the throttle counts it.
        client: IpAddr,
        /// When it may try again.
        retry_after: Duration,
    },
    /// The client left (hung up, timed out) while the key's verdict was
    /// being made: the store was asked, or its slow hash checked. It counts
    /// as a failed attempt, its verdict being unknown; no response is sent.
    #[error("the client left before API key {0} was decided")]
    Abandoned(Prefix),
    /// A valid key with no usage credits left: 429 until its next refill,
    /// or 403 when it has none (the credits never come back).
    #[error("API key {prefix} has no usage credits left")]
    OutOfCredits {
        /// The key's prefix.
        prefix: Prefix,
        /// When its credits are set back, if ever.
        next_refill: Option<std::time::SystemTime>,
    },
    /// A valid key whose owner's keys are over the rate limit they share
    /// ([`OwnerLimits`](crate::rate_limit::OwnerLimits)).
    #[error("the keys of API key {prefix}'s owner are over their shared rate limit of {limit}; retry in {retry_after:?}")]
    OwnerRateLimited {
        /// The key's prefix.
        prefix: Prefix,
        /// The owner's limit.
        limit: RateLimit,
        /// When the owner's keys may be used again.
        retry_after: Duration,
    },
    /// A valid key over its rate limit.
    #[error("API key {prefix} is over its rate limit of {limit}; retry in {retry_after:?}")]
    RateLimited {
        /// The key's prefix.
        prefix: Prefix,
        /// Its limit.
        limit: RateLimit,
        /// When it may be used again.
        retry_after: Duration,
    },
}

impl AuthFailure {
    /// The HTTP status the failure is answered with: 503 for a store
    /// failure or a key this server cannot check, 429 for a throttled
    /// client or a key over its rate limit, 403 for a key used from outside
    /// its address allowlist, else 401.
    pub fn status(&self) -> http::StatusCode {
        match self {
            Self::StoreUnavailable { .. } | Self::Unsupported { .. } => {
                http::StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Throttled { .. } | Self::RateLimited { .. } | Self::OwnerRateLimited { .. } => {
                http::StatusCode::TOO_MANY_REQUESTS
            }
            Self::AddressRefused { .. } => http::StatusCode::FORBIDDEN,
            Self::OutOfCredits { next_refill, .. } => match next_refill {
                Some(_) => http::StatusCode::TOO_MANY_REQUESTS,
                None => http::StatusCode::FORBIDDEN,
            },
            _ => http::StatusCode::UNAUTHORIZED,
        }
    }

    /// The prefix of the presented key, when it got as far as being parsed.
    pub fn prefix(&self) -> Option<Prefix> {
        match self {
            Self::Missing | Self::Malformed(_) | Self::Throttled { .. } => None,
            Self::UnknownPrefix(p)
            | Self::WrongSecret(p)
            | Self::Revoked(p)
            | Self::Suspended(p)
            | Self::Expired(p)
            | Self::Abandoned(p) => Some(*p),
            Self::StoreUnavailable { prefix, .. }
            | Self::Unsupported { prefix, .. }
            | Self::AddressRefused { prefix, .. }
            | Self::OwnerRateLimited { prefix, .. }
            | Self::OutOfCredits { prefix, .. }
            | Self::RateLimited { prefix, .. } => Some(*prefix),
        }
    }

    /// Whether the failure is a failed attempt that the throttle counts
    /// against its client: a key presented and refused (malformed, unknown,
    /// wrong, revoked, suspended, expired, used from outside its address
    /// allowlist (so a stolen key tried from many places is noticed), or
    /// left before its verdict). No key at all, a store failure, a throttle
    /// or a rate limit is not one.
    pub fn is_failed_attempt(&self) -> bool {
        matches!(
            self,
            Self::Malformed(_)
                | Self::UnknownPrefix(_)
                | Self::WrongSecret(_)
                | Self::Revoked(_)
                | Self::Suspended(_)
                | Self::Expired(_)
                | Self::AddressRefused { .. }
                | Self::Abandoned(_)
        )
    }

    /// How long the client is told to wait, for a 429.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Throttled { retry_after, .. }
            | Self::RateLimited { retry_after, .. }
            | Self::OwnerRateLimited { retry_after, .. } => Some(*retry_after),
            Self::OutOfCredits {
                next_refill: Some(at),
                ..
            } => Some(
                at.duration_since(std::time::SystemTime::now())
                    .unwrap_or_default(),
            ),
            _ => None,
        }
    }
}

/// How a credential header was malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Malformed {
    /// More than one credential header.
    #[error("{0} credential headers; exactly one is allowed")]
    MultipleHeaders(usize),
    /// A value longer than [`MAX_CREDENTIAL_LEN`].
    #[error("credential of {0} bytes exceeds the {MAX_CREDENTIAL_LEN}-byte limit")]
    Oversized(usize),
    /// The value does not start with the scheme and a single space.
    #[error("credential does not start with the expected scheme and one space")]
    Scheme,
    /// The key after the scheme is not `PREFIX.SECRET`.
    #[error(transparent)]
    Key(#[from] KeyParseError),
    /// A branded key whose checksum does not hold: mistyped, or made up.
    #[error("the branded key's checksum does not hold: it is mistyped or not a key")]
    Checksum,
    /// A key in a form the server does not accept (DRF's own form, where
    /// only branded keys are read).
    #[error("the key is not in a form this server accepts")]
    Format,
}

/// Options of an [`Authenticator`](crate::Authenticator) that do not describe a valid configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The scheme is empty or not an HTTP token.
    #[error(
        "the authorization scheme {0:?} is not an HTTP token (letters, digits and !#$%&'*+-.^_`|~)"
    )]
    Scheme(String),
    /// The realm holds control or non-ASCII characters.
    #[error("the realm {0:?} must be printable ASCII")]
    Realm(String),
    /// A scope is empty or holds a space, quote, backslash or non-printable character.
    #[error("the scope {0:?} must be 1 or more printable ASCII characters other than space, '\"' and '\\'")]
    Scope(String),
    /// A scope requirement names no scope.
    #[error("a scope requirement names at least one scope")]
    NoScopes,
    /// A trusted proxy that is not an address or a network.
    #[error(
        "the trusted proxy {0:?} is not an address or a network (10.0.0.0/8, 127.0.0.1, fd00::/8)"
    )]
    Proxy(String),
    /// Neither DRF's own key form nor any branded one is accepted.
    #[error("an authenticator accepts DRF keys, branded keys or both; this one accepts none")]
    NoKeyFormat,
    /// A key brand that is not 2 to 16 lowercase letters and digits.
    #[error(
        "the key brand {0:?} must be 2 to 16 lowercase letters and digits, starting with a letter"
    )]
    Brand(String),
    /// A gate's rule that does not read (feature `gate`).
    #[error("gate rule: {0}")]
    Rule(String),
    /// A gate's identity header name that is not a header name.
    #[error("the identity header name {0:?} is not a header name")]
    HeaderName(String),
    /// A credit lease's block of no credits, or of more than a key holds.
    #[error("a credit lease's block is 1 to {max} credits, not {0}", max = crate::store::MAX_CREDITS)]
    LeaseBlock(u64),
}

/// An error and its sources, `: `-joined, for one log line or one line on a
/// terminal: errors here keep their sources out of their own `Display`, as
/// std's convention asks, and this prints each cause once.
///
/// ```
/// use api_key_auth::{ErrorChain, StoreError};
///
/// let err = StoreError::unavailable("connection refused");
/// assert_eq!(err.to_string(), "key store unavailable");
/// assert_eq!(ErrorChain(&err).to_string(), "key store unavailable: connection refused");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ErrorChain<'a>(pub &'a (dyn StdError + 'static));

pub(crate) use ErrorChain as Chain;

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.0.to_string();
        f.write_str(&shown)?;
        let mut source = self.0.source();
        while let Some(err) = source {
            // Errors of other crates often print their cause in their own
            // message too (sqlx does): a cause already shown is not repeated.
            let text = err.to_string();
            if !shown.contains(&text) {
                write!(f, ": {text}")?;
            }
            shown = text;
            source = err.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store failure prints once in a chain: the failure names the prefix,
    /// its source says what the store said, and neither repeats the other.
    #[test]
    fn a_chain_prints_each_cause_once() {
        let prefix = Prefix::parse("n58lzybi").unwrap();
        let failure = AuthFailure::StoreUnavailable {
            prefix,
            source: StoreError::unavailable("connection refused"),
        };
        assert_eq!(failure.to_string(), "could not check API key n58lzybi");
        assert_eq!(
            Chain(&failure).to_string(),
            "could not check API key n58lzybi: key store unavailable: connection refused"
        );
    }

    /// An error that prints its own cause (as sqlx's do) does not get the
    /// cause printed twice.
    #[test]
    fn a_cause_an_error_already_prints_is_not_repeated() {
        #[derive(Debug)]
        struct Wrapping(std::io::Error);
        impl fmt::Display for Wrapping {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "error communicating with database: {}", self.0)
            }
        }
        impl StdError for Wrapping {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let failure = AuthFailure::StoreUnavailable {
            prefix: Prefix::parse("n58lzybi").unwrap(),
            source: StoreError::unavailable(Wrapping(io)),
        };
        assert_eq!(
            Chain(&failure).to_string(),
            "could not check API key n58lzybi: key store unavailable: \
             error communicating with database: Connection refused"
        );
    }
}
