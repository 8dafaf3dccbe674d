//! Changes made elsewhere that make cached records stale: what a store's
//! listener (PostgreSQL `LISTEN`, Redis pub/sub) reports to a cache.
//! Defined beside the stores so that a store's listener needs nothing of the
//! cache, and the cache takes any source.

use async_trait::async_trait;

use crate::key::Prefix;

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

#[cfg(any(feature = "postgres", feature = "redis"))]
pub(crate) use listener::{Line, Listener};

/// The part every store's revocation listener shares: keeping a line open,
/// noticing when it dies (by a heartbeat when it dies silently), and
/// flushing whenever a message may have been missed.
#[cfg(any(feature = "postgres", feature = "redis"))]
mod listener {
    use std::{fmt, time::Duration};

    use async_trait::async_trait;

    use super::Invalidation;
    use crate::key::Prefix;

    /// How a store's line to its revocation messages opens, reads and answers a probe.
    #[async_trait]
    pub(crate) trait Line: Send + 'static {
        /// An open line.
        type Open: Send;
        /// What the line does, for logs: `LISTEN`, `SUBSCRIBE`.
        const WHAT: &'static str;
        /// Opens and subscribes.
        async fn open(&self) -> Result<Self::Open, String>;
        /// The next message's payload; `None` when the line is gone. Must be
        /// cancel-safe: the heartbeat cuts it short when the line is quiet.
        async fn recv(open: &mut Self::Open) -> Option<String>;
        /// Whether the line still answers.
        async fn probe(open: &mut Self::Open) -> Result<(), String>;
    }

    /// How long a line may be quiet before it is probed, by default.
    const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(5);
    /// The shortest heartbeat accepted.
    const MIN_HEARTBEAT: Duration = Duration::from_millis(100);
    /// The longest opening and subscribing may take.
    const OPEN_TIMEOUT: Duration = Duration::from_secs(3);
    const FIRST_BACKOFF: Duration = Duration::from_millis(50);
    const MAX_BACKOFF: Duration = Duration::from_secs(2);

    /// A line kept open. It yields [`Invalidation::All`] whenever it may have
    /// missed a message: when it finds the line lost (a silent one, by its
    /// heartbeat), at every failed attempt to open it again, and once it is
    /// open again.
    pub(crate) struct Listener<L: Line> {
        line: L,
        open: Option<L::Open>,
        /// The wait before the next attempt to open; doubled on every
        /// failure, reset once the line shows it is alive.
        backoff: Duration,
        /// A wait owed before opening again after the line was lost, so a
        /// line that drops at once every time is not redialled in a tight loop.
        pause: Option<Duration>,
        heartbeat: Duration,
    }

    impl<L: Line> fmt::Debug for Listener<L> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Listener")
                .field("what", &L::WHAT)
                .field("open", &self.open.is_some())
                .field("heartbeat", &self.heartbeat)
                .finish()
        }
    }

    impl<L: Line> Listener<L> {
        pub(crate) fn new(line: L) -> Self {
            Self {
                line,
                open: None,
                backoff: FIRST_BACKOFF,
                pause: None,
                heartbeat: DEFAULT_HEARTBEAT,
            }
        }

        pub(crate) fn set_heartbeat(&mut self, every: Duration) {
            self.heartbeat = every.max(MIN_HEARTBEAT);
        }

        /// The line is gone: drop it, and owe a pause before the next try.
        fn lost(&mut self) {
            self.open = None;
            self.pause = Some(self.backoff);
            self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        }

        pub(crate) async fn next(&mut self) -> Invalidation {
            // How long a probe may take: the heartbeat, but never under
            // 250 ms (a slow link is not a dead one) nor over a second.
            let probe = self
                .heartbeat
                .clamp(Duration::from_millis(250), Duration::from_secs(1));
            loop {
                let Some(open) = self.open.as_mut() else {
                    if let Some(pause) = self.pause.take() {
                        tokio::time::sleep(pause).await;
                    }
                    let opened = match tokio::time::timeout(OPEN_TIMEOUT, self.line.open()).await {
                        Ok(opened) => opened,
                        Err(_) => Err(format!("took over {OPEN_TIMEOUT:?}")),
                    };
                    match opened {
                        Ok(open) => self.open = Some(open),
                        Err(err) => {
                            tracing::warn!(error = %err, "cannot {} for API key revocations; retrying", L::WHAT);
                            tokio::time::sleep(self.backoff).await;
                            self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                        }
                    }
                    // Open again or still deaf: either way, whatever was
                    // revoked meanwhile is unknown. Start afresh.
                    return Invalidation::All;
                };
                let payload = match tokio::time::timeout(self.heartbeat, L::recv(open)).await {
                    Ok(payload) => payload,
                    Err(_quiet) => {
                        match tokio::time::timeout(probe, L::probe(open)).await {
                            Ok(Ok(())) => {
                                // The line is alive: the next loss starts a fresh backoff.
                                self.backoff = FIRST_BACKOFF;
                                continue;
                            }
                            Ok(Err(err)) => tracing::warn!(
                                error = %err,
                                "API key revocation line ({}) failed its heartbeat", L::WHAT
                            ),
                            Err(_) => tracing::warn!(
                                "API key revocation line ({}) did not answer its heartbeat",
                                L::WHAT
                            ),
                        }
                        None
                    }
                };
                match payload.map(|p| Prefix::parse(&p)) {
                    Some(Ok(prefix)) => {
                        self.backoff = FIRST_BACKOFF;
                        return Invalidation::Key(prefix);
                    }
                    Some(Err(_)) => {
                        tracing::warn!("ignoring a revocation message that is not a key prefix")
                    }
                    // The line is gone or dead: flush now, then open it again.
                    None => {
                        self.lost();
                        return Invalidation::All;
                    }
                }
            }
        }
    }
}
