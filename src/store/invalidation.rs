//! Changes made elsewhere that make cached records stale: what a store's
//! listener (PostgreSQL `LISTEN`, Redis pub/sub) reports to a cache.
//! Defined beside the stores so that a store's listener needs nothing of the
//! cache, and the cache takes any source.

#[cfg(any(feature = "postgres", feature = "redis"))]
use std::time::Duration;

use async_trait::async_trait;

use crate::key::Prefix;

/// How long a revocation listener's line may be quiet before it is probed.
#[cfg(any(feature = "postgres", feature = "redis"))]
pub(crate) const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(5);

/// The shortest heartbeat a listener accepts.
#[cfg(any(feature = "postgres", feature = "redis"))]
pub(crate) const MIN_HEARTBEAT: Duration = Duration::from_millis(100);

/// How long a heartbeat probe may take to be answered: the heartbeat, but
/// never under 250 ms (a slow link is not a dead one) nor over a second.
#[cfg(any(feature = "postgres", feature = "redis"))]
pub(crate) fn probe_timeout(heartbeat: Duration) -> Duration {
    heartbeat.clamp(Duration::from_millis(250), Duration::from_secs(1))
}

/// A change in another instance that makes cached entries stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Invalidation {
    /// The key with this prefix changed (was revoked).
    Key(Prefix),
    /// Anything may have changed (the source reconnected after missing events).
    All,
}

/// A stream of [`Invalidation`]s from other instances, such as PostgreSQL
/// notifications or Redis pub/sub messages. Implementations reconnect by
/// themselves and yield [`Invalidation::All`] whenever they do.
#[async_trait]
pub trait InvalidationSource: Send + 'static {
    /// The next event; `None` when the source has ended for good.
    async fn next(&mut self) -> Option<Invalidation>;
}
