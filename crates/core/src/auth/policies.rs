//! The policies that watch the pipeline: the throttle of failed attempts
//! per client address (and the trusted proxies that name the client), the
//! last-use tracker and the metrics. The pipeline tells them what happens
//! (a request's client, a pass, a refusal, a lookup's time) through these
//! methods alone; each is compiled in with its feature, and a policy that
//! is not configured costs a branch.

use std::{net::IpAddr, sync::Arc};

use crate::{credential::CredentialHeaders, error::AuthFailure, store::KeyRecord};

/// The policies an authenticator was built with.
pub(super) struct Policies {
    #[cfg(feature = "last-use")]
    pub(super) last_use: Option<crate::last_use::LastUseTracker>,
    #[cfg(feature = "metrics")]
    pub(super) metrics: crate::metrics::RequestMetrics,
    #[cfg(feature = "throttle")]
    pub(super) throttle: Option<crate::throttle::Throttler>,
    #[cfg(feature = "throttle")]
    pub(super) proxies: crate::client::TrustedProxies,
}

/// A store lookup being timed, for the metrics.
pub(super) struct LookupTimer {
    #[cfg(feature = "metrics")]
    started: std::time::Instant,
}

impl Policies {
    /// The client address of a request whose connection came from `peer`:
    /// the peer, or behind trusted proxies the client they name. `None`
    /// without a throttle: nothing needs it.
    #[inline]
    pub(super) fn client_of(
        &self,
        peer: impl FnOnce() -> Option<IpAddr>,
        headers: &impl CredentialHeaders,
    ) -> Option<IpAddr> {
        #[cfg(feature = "throttle")]
        if let Some(throttle) = &self.throttle {
            let Some(peer) = peer() else {
                throttle.unaddressed();
                return None;
            };
            return Some(self.proxies.client(peer, |name| headers.values(name)));
        }
        let _ = (peer, headers);
        None
    }

    /// A client address out of its budget of failed attempts, refused
    /// before anything else is done.
    #[inline]
    pub(super) fn throttled(&self, client: Option<IpAddr>) -> Option<AuthFailure> {
        #[cfg(feature = "throttle")]
        if let (Some(throttle), Some(client)) = (&self.throttle, client) {
            let retry_after = throttle.refusal(crate::client::bucket(client))?;
            return Some(AuthFailure::Throttled {
                client,
                retry_after,
            });
        }
        let _ = client;
        None
    }

    /// Whether `client` has a failed attempt on the throttle's record;
    /// `false` without a throttle or an address, which cannot tell.
    #[cfg(feature = "drf-legacy")]
    pub(super) fn has_failed(&self, client: Option<IpAddr>) -> bool {
        #[cfg(feature = "throttle")]
        if let (Some(throttle), Some(client)) = (&self.throttle, client) {
            return throttle.has_failed(crate::client::bucket(client));
        }
        let _ = client;
        false
    }

    /// Counts a failed attempt against `client`, when there is a throttle.
    #[cfg(feature = "drf-legacy")]
    pub(super) fn charge(&self, client: Option<IpAddr>) {
        #[cfg(feature = "throttle")]
        if let (Some(throttle), Some(client)) = (&self.throttle, client) {
            throttle.failed(crate::client::bucket(client));
        }
        let _ = client;
    }

    /// A key let through: its use noted for the last-use tracker (a push
    /// onto its queue, nothing more) and counted.
    #[inline]
    pub(super) fn passed(&self, record: &Arc<KeyRecord>) {
        #[cfg(feature = "last-use")]
        if let Some(tracker) = &self.last_use {
            tracker.note(record);
        }
        #[cfg(feature = "metrics")]
        self.metrics.passed();
        let _ = record;
    }

    /// A request refused: counted, and charged to `client` when it is a
    /// failed attempt.
    #[inline]
    pub(super) fn refused(&self, failure: &AuthFailure, client: Option<IpAddr>) {
        #[cfg(feature = "metrics")]
        self.metrics.refused(failure);
        #[cfg(feature = "throttle")]
        if let (Some(throttle), Some(client)) = (&self.throttle, client) {
            if failure.is_failed_attempt() {
                throttle.failed(crate::client::bucket(client));
            }
        }
        let _ = (failure, client);
    }

    /// Starts timing a store lookup.
    #[inline]
    pub(super) fn lookup_started(&self) -> LookupTimer {
        LookupTimer {
            #[cfg(feature = "metrics")]
            started: std::time::Instant::now(),
        }
    }

    /// A store lookup timed by `timer` has answered.
    #[inline]
    pub(super) fn lookup_done(&self, timer: LookupTimer) {
        #[cfg(feature = "metrics")]
        self.metrics
            .lookup
            .record(timer.started.elapsed().as_secs_f64());
        let _ = timer;
    }

    /// The throttle's counts, when there is one.
    #[cfg(feature = "throttle")]
    pub(super) fn throttle_stats(&self) -> Option<crate::throttle::ThrottleStats> {
        self.throttle
            .as_ref()
            .map(crate::throttle::Throttler::stats)
    }
}
