//! What a check says at each stage, and what a request owes if dropped.

use std::{
    future::Future, net::IpAddr, pin::Pin, sync::atomic::Ordering, sync::Arc, time::SystemTime,
};

use bytes::Bytes;
use http::{HeaderValue, Response};

use super::Authenticator;
use crate::{
    client_addr::Client,
    error::AuthFailure,
    identity::{Identity, Unauthenticated},
    key::{ApiKey, Prefix},
    store::KeyRecord,
};

/// What a request whose verdict must be waited for owes should its caller
/// drop it first (its client hung up, a timeout around the service gave
/// up).
///
/// While work whose verdict would count is under way (the store asked, a
/// slow hash checked), a drop is reported as [`AuthFailure::Abandoned`], a
/// failed attempt, so that hanging up before each answer escapes no count.
/// While nothing is at stake (waiting in a key's queue, or the key already
/// matched and a rate limiter is waited for) a drop costs nothing. A
/// request that gets its verdict pays what the verdict says, in `report`.
#[must_use]
pub(super) struct Owed {
    auth: Authenticator,
    prefix: Prefix,
    /// The address the throttle counts.
    pub(super) client: Option<IpAddr>,
    /// The address a key's allowlist is checked against.
    pub(super) checked: Option<IpAddr>,
    /// What the request costs a key with usage credits.
    pub(super) cost: u64,
    /// Whether a drop now would be reported.
    at_stake: std::sync::atomic::AtomicBool,
}

impl Owed {
    pub(super) fn new(auth: &Authenticator, prefix: Prefix, client: Client, cost: u64) -> Self {
        Self {
            auth: auth.clone(),
            prefix,
            client: client.counted(),
            checked: client.checked(),
            cost,
            at_stake: std::sync::atomic::AtomicBool::new(true),
        }
    }

    /// Work whose verdict counts is under way (again).
    #[cfg_attr(not(feature = "drf-legacy"), allow(dead_code))]
    pub(super) fn at_stake(&self) {
        self.at_stake.store(true, Ordering::Relaxed);
    }

    /// Nothing is at stake for now.
    pub(super) fn nothing_at_stake(&self) {
        self.at_stake.store(false, Ordering::Relaxed);
    }

    /// The verdict is in: `report` charges what is due.
    #[inline]
    pub(super) fn paid(self) {
        self.nothing_at_stake();
    }
}

impl Drop for Owed {
    fn drop(&mut self) {
        if self.at_stake.load(Ordering::Relaxed) {
            self.auth
                .report(AuthFailure::Abandoned(self.prefix), self.client);
        }
    }
}

/// A key let through: its identity, and when it stops working if it is in
/// a rotation's grace period (the response's `Sunset`).
#[derive(Debug)]
pub(crate) struct Passed {
    pub(crate) identity: Identity,
    pub(crate) sunset: Sunset,
}

/// When a key in its grace period stops, in whole seconds since the epoch
/// (what an HTTP-date holds), or 0 for none: eight bytes in every response
/// future rather than an `Option<SystemTime>`'s sixteen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Sunset(u64);

impl Sunset {
    pub(crate) const NONE: Self = Self(0);

    pub(super) fn of(at: Option<SystemTime>) -> Self {
        // An HTTP-date ends with the year 9999: a later expiry (a row
        // another tool wrote) is told as the last moment one can say.
        let secs = at
            .and_then(|at| at.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0, |since| {
                since.as_secs().clamp(1, crate::store::LATEST_EXPIRY_SECS)
            });
        Self(secs)
    }

    /// The `Sunset` header (RFC 8594) of a response, if there is a sunset.
    #[inline]
    pub(crate) fn header(self) -> Option<HeaderValue> {
        if self.0 == 0 {
            return None;
        }
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(self.0);
        HeaderValue::try_from(httpdate::fmt_http_date(at)).ok()
    }
}

/// What the core decided about a request, for a framework adapter to carry
/// out. Every adapter asks [`Authenticator::begin`] and maps these three
/// answers to its framework; nothing else of the path lives in an adapter.
pub(crate) enum Verdict {
    /// Let the request through, with what to put into its extensions.
    Pass(Admitted),
    /// Answer this instead of calling the inner service (already reported).
    Refuse(Box<Response<Bytes>>),
    /// The store must be waited for: the future gives the identity, or the
    /// refusal (already reported).
    Pending(CheckFuture),
}

/// What a request let through carries into its handlers.
pub(crate) enum Admitted {
    /// The key it presented.
    Key(Passed),
    /// No key, let through by an optional authenticator: a marker, so that
    /// extractors and scope guards answer with this authenticator's 401.
    Anonymous(Unauthenticated),
}

impl Admitted {
    /// Puts what was admitted into a request's (or response's) extensions.
    #[inline]
    pub(crate) fn insert_into(self, extensions: &mut http::Extensions) {
        match self {
            Self::Key(passed) => drop(extensions.insert(passed.identity)),
            Self::Anonymous(marker) => drop(extensions.insert(marker)),
        }
    }

    /// When the admitted key stops working, if it is in a grace period.
    #[inline]
    pub(crate) fn sunset(&self) -> Sunset {
        match self {
            Self::Key(passed) => passed.sunset,
            Self::Anonymous(_) => Sunset::NONE,
        }
    }
}

/// The boxed lookup of a store that must wait.
pub(crate) type CheckFuture =
    Pin<Box<dyn Future<Output = Result<Passed, Box<Response<Bytes>>>> + Send + 'static>>;

/// How far the steps that need no waiting got: to a decision, or to what
/// must be waited for.
pub(super) enum FirstLook {
    Decided(Result<Option<Passed>, AuthFailure>),
    /// The store must be asked.
    NeedsLookup(ApiKey),
    /// The record is at hand but its verdict needs waiting for: a slow hash
    /// to check off the async threads, or a rate limiter elsewhere. Boxed:
    /// the rare paths keep the common ones small.
    NeedsWait(Box<(ApiKey, Decision)>),
}

/// The verdict on a key and the store's answer: made, or to be made by
/// waiting for something.
pub(super) enum Decision {
    Made(Result<Passed, AuthFailure>),
    /// The record's hash is slow (a Django password hash): checked on the
    /// blocking pool.
    #[cfg(feature = "drf-legacy")]
    SlowHash(Arc<KeyRecord>),
    /// The key (or its owner) is rate-limited and the limiter must be
    /// waited for.
    RemoteLimit(Arc<KeyRecord>, Limits),
    /// The key passed every check and its credits (so many) must be spent
    /// on a store that must be waited for.
    Credits(Arc<KeyRecord>, u64),
}

/// The limits a limiter elsewhere is still to be asked about: the key's
/// own (unless already passed), then its owner's.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub(super) key: Option<crate::rate_limit::RateLimit>,
    pub(super) owner: Option<crate::rate_limit::RateLimit>,
    /// The credits the request costs, spent once the limits pass.
    pub(super) cost: u64,
}
