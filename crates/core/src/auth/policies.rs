//! The set of policies an authenticator was built with: the pipeline tells
//! it what happens (a request's client, a pass, a refusal, a lookup's
//! time), and it tells each [`Policy`].
//!
//! A policy that is not configured is not in the set, and a request costs
//! it nothing; a hook a policy does not implement costs a call that returns.

use std::{any::Any, net::IpAddr, sync::Arc, time::Instant};

use crate::{
    client_addr::{Client, TrustedProxies},
    credential::CredentialHeaders,
    error::AuthFailure,
    policy::Policy,
    store::KeyRecord,
};

/// The policies an authenticator was built with, and the proxies its client
/// addresses are read behind.
pub(super) struct Policies {
    all: Box<[Arc<dyn Policy>]>,
    /// The proxies a client address is read behind: always worked out, as
    /// a key's address allowlist needs it whatever the policies.
    proxies: TrustedProxies,
    /// Whether a policy counts by client address (the throttle): then the
    /// address is worked out for every request.
    counts_clients: bool,
    timed: bool,
}

/// A store lookup being timed, when a policy wants the time.
pub(super) struct LookupTimer(Option<Instant>);

impl Policies {
    /// The set of `all`, reading client addresses behind `proxies`.
    pub(super) fn new(all: Vec<Arc<dyn Policy>>, proxies: TrustedProxies) -> Self {
        Self {
            timed: all.iter().any(|policy| policy.wants_lookup_times()),
            counts_clients: all.iter().any(|policy| policy.wants_client()),
            proxies,
            all: all.into_boxed_slice(),
        }
    }

    /// The client address of a request whose connection came from `peer`:
    /// the peer, or behind trusted proxies the client they name. `None`
    /// when the server gives no peer.
    #[inline]
    pub(super) fn client_of(
        &self,
        peer: impl FnOnce() -> Option<IpAddr>,
        headers: &impl CredentialHeaders,
    ) -> Client {
        let Some(peer) = peer() else {
            self.each(|policy| policy.unaddressed());
            return Client::default();
        };
        self.proxies.resolve(peer, |name| headers.values(name))
    }

    /// Whether a policy counts by client address, so every request's is
    /// worked out.
    #[inline]
    pub(super) fn counts_clients(&self) -> bool {
        self.counts_clients
    }

    /// The first policy's refusal of `client`, if any refuses it.
    #[inline]
    pub(super) fn throttled(&self, client: Option<IpAddr>) -> Option<AuthFailure> {
        let client = client?;
        self.all
            .iter()
            .find_map(|policy| policy.refuse_client(client))
    }

    /// Whether a policy has a failed attempt by `client` on record; `false`
    /// without an address, which cannot tell.
    #[cfg(feature = "drf-legacy")]
    pub(super) fn has_failed(&self, client: Option<IpAddr>) -> bool {
        client.is_some_and(|client| self.all.iter().any(|policy| policy.suspects(client)))
    }

    /// Charges `client` a failed attempt that is no refusal of its own.
    #[cfg(feature = "drf-legacy")]
    pub(super) fn charge(&self, client: Option<IpAddr>) {
        if let Some(client) = client {
            self.each(|policy| policy.charge(client));
        }
    }

    /// A key let through.
    #[inline]
    pub(super) fn passed(&self, record: &Arc<KeyRecord>) {
        self.each(|policy| policy.passed(record));
    }

    /// A request refused.
    #[inline]
    pub(super) fn refused(&self, failure: &AuthFailure, client: Option<IpAddr>) {
        self.each(|policy| policy.refused(failure, client));
    }

    /// Starts timing a store lookup.
    #[inline]
    pub(super) fn lookup_started(&self) -> LookupTimer {
        LookupTimer(self.timed.then(Instant::now))
    }

    /// A store lookup timed by `timer` has answered.
    #[inline]
    pub(super) fn lookup_done(&self, timer: LookupTimer) {
        if let LookupTimer(Some(started)) = timer {
            let elapsed = started.elapsed();
            self.each(|policy| policy.looked_up(elapsed));
        }
    }

    /// The policy of type `P`, when the set has one.
    #[cfg_attr(not(feature = "throttle"), allow(dead_code))]
    pub(super) fn get<P: Policy>(&self) -> Option<&P> {
        self.all.iter().find_map(|policy| {
            let policy: &dyn Any = &**policy;
            policy.downcast_ref::<P>()
        })
    }

    #[inline]
    fn each(&self, tell: impl Fn(&dyn Policy)) {
        for policy in self.all.iter() {
            tell(&**policy);
        }
    }
}
