//! What a policy of the request path is: a type told what happens to each
//! request (the throttle of failed attempts, the last-use tracker and the
//! metrics are ones). A new policy is a type implementing [`Policy`] in its
//! own module and a line in `AuthenticatorBuilder::build`; the pipeline
//! does not change.

use std::{any::Any, net::IpAddr, sync::Arc, time::Duration};

use crate::{error::AuthFailure, store::KeyRecord};

/// One policy of the request path: told what happens, and able to refuse a
/// client before its key is read. Every hook does nothing unless a policy
/// says otherwise.
pub(crate) trait Policy: Any + Send + Sync {
    /// Whether this policy counts by the client's address: then every
    /// request's is worked out; without one, only when a key needs it.
    fn wants_client(&self) -> bool {
        false
    }

    /// Whether this policy wants the time of each store lookup.
    fn wants_lookup_times(&self) -> bool {
        false
    }

    /// A request that needed a client address came without one.
    fn unaddressed(&self) {}

    /// Refuses `client` before its key is read, and when the store has
    /// answered: the throttle's budget of failed attempts.
    fn refuse_client(&self, _client: IpAddr) -> Option<AuthFailure> {
        None
    }

    /// Whether `client` has a failed attempt on record.
    #[cfg_attr(not(feature = "drf-legacy"), allow(dead_code))]
    fn suspects(&self, _client: IpAddr) -> bool {
        false
    }

    /// A failed attempt by `client` that is no refusal of its own (a
    /// guesser's wait in the queue for slow hashes).
    #[cfg_attr(not(feature = "drf-legacy"), allow(dead_code))]
    fn charge(&self, _client: IpAddr) {}

    /// A key let through.
    fn passed(&self, _record: &Arc<KeyRecord>) {}

    /// A request refused, from `client` when it is known.
    fn refused(&self, _failure: &AuthFailure, _client: Option<IpAddr>) {}

    /// A store lookup answered after `elapsed`.
    fn looked_up(&self, _elapsed: Duration) {}
}
