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

#[cfg(feature = "_stored")]
#[doc(hidden)]
pub use listener::{Line, Listener};

/// The part every store's revocation listener shares: keeping a line open,
/// noticing when it dies or goes deaf (by a probe sent the way other
/// instances' messages come, which must come back on the line), and
/// flushing whenever a message may have been missed.
#[cfg(feature = "_stored")]
mod listener {
    use std::{fmt, time::Duration};

    use async_trait::async_trait;
    use tokio::time::Instant;

    use super::Invalidation;
    use crate::key::Prefix;

    /// How a store's line to its revocation messages opens, reads, and
    /// sends a probe of its own.
    #[async_trait]
    pub trait Line: Send + 'static {
        /// An open line.
        type Open: Send;
        /// What the line does, for logs: `LISTEN`, `SUBSCRIBE`.
        const WHAT: &'static str;
        /// Opens and subscribes.
        async fn open(&self) -> Result<Self::Open, String>;
        /// The next message's payload; `None` when the line is gone. Must be
        /// cancel-safe: the heartbeat cuts it short when the line is quiet.
        async fn recv(open: &mut Self::Open) -> Option<String>;
        /// Sends `payload` on the channel the way revocations are sent, on
        /// the store's own connection, not the listening one.
        ///
        /// Hearing it back proves the line still carries messages, which a
        /// line that merely answers (a pooler in transaction mode, a
        /// cluster node cut off from its bus) does not.
        async fn publish(&self, payload: &str) -> Result<(), String>;
    }

    /// How long a line may be quiet before it is probed, by default.
    const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(5);
    /// The shortest heartbeat accepted.
    const MIN_HEARTBEAT: Duration = Duration::from_millis(100);
    /// The longest opening and subscribing may take.
    const OPEN_TIMEOUT: Duration = Duration::from_secs(3);
    const FIRST_BACKOFF: Duration = Duration::from_millis(50);
    const MAX_BACKOFF: Duration = Duration::from_secs(2);
    /// What a probe's payload starts with: never a key prefix (8 letters
    /// and digits), so every listener tells probes from revocations.
    const PROBE: &str = "probe:";

    /// A line kept open. It yields [`Invalidation::All`] whenever it may have
    /// missed a message: when it finds the line lost or deaf (by its
    /// heartbeat), at every failed attempt to open it again, and once it is
    /// open again.
    pub struct Listener<L: Line> {
        line: L,
        open: Option<L::Open>,
        /// The wait before the next attempt to open; doubled on every
        /// failure, reset once the line shows it is alive.
        backoff: Duration,
        /// A wait owed before opening again after the line was lost, so a
        /// line that drops at once every time is not redialled in a tight loop.
        pause: Option<Duration>,
        heartbeat: Duration,
        /// A probe sent and not heard back yet, and until when it may come.
        awaiting: Option<(String, Instant)>,
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
        /// Keeps `line` open, probed every 5 s by default.
        pub fn new(line: L) -> Self {
            Self {
                line,
                open: None,
                backoff: FIRST_BACKOFF,
                pause: None,
                heartbeat: DEFAULT_HEARTBEAT,
                awaiting: None,
            }
        }

        /// Probes the line when it has been quiet for `every` (100 ms at least).
        pub fn set_heartbeat(&mut self, every: Duration) {
            self.heartbeat = every.max(MIN_HEARTBEAT);
        }

        /// The line is gone: drop it, and owe a pause before the next try.
        fn lost(&mut self) -> Invalidation {
            self.open = None;
            self.awaiting = None;
            self.pause = Some(self.backoff);
            self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
            Invalidation::All
        }

        /// A probe's payload: [`PROBE`] and 16 random hex digits.
        fn nonce() -> String {
            let mut bytes = [0u8; 8];
            // Without randomness a fixed nonce still proves the line, only
            // less strictly (another listener's probe could answer it).
            let _ = getrandom::fill(&mut bytes);
            format!("{PROBE}{}", hex::encode(bytes))
        }

        /// Waits for the next revocation, or [`Invalidation::All`] when one may
        /// have been missed.
        pub async fn next(&mut self) -> Invalidation {
            // How long a probe may take to come back: the heartbeat, but
            // never under 250 ms (a slow link is not a dead one) nor over a
            // second.
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
                let wait = match &self.awaiting {
                    Some((_, until)) => until.saturating_duration_since(Instant::now()),
                    None => self.heartbeat,
                };
                let payload = match tokio::time::timeout(wait, L::recv(open)).await {
                    Ok(Some(payload)) => payload,
                    // The line is gone: flush now, then open it again.
                    Ok(None) => return self.lost(),
                    Err(_quiet) if self.awaiting.is_some() => {
                        tracing::warn!(
                            "API key revocation line ({}) did not carry its own probe back \
                             within {probe:?}: it may answer but not deliver (a pooler in \
                             transaction mode, a cluster node cut off from its bus); \
                             flushing the cache and opening it again",
                            L::WHAT
                        );
                        return self.lost();
                    }
                    Err(_quiet) => {
                        let nonce = Self::nonce();
                        match tokio::time::timeout(probe, self.line.publish(&nonce)).await {
                            Ok(Ok(())) => self.awaiting = Some((nonce, Instant::now() + probe)),
                            Ok(Err(err)) => {
                                tracing::warn!(
                                    error = %err,
                                    "API key revocation line ({}) could not send its probe",
                                    L::WHAT
                                );
                                return self.lost();
                            }
                            Err(_) => {
                                tracing::warn!(
                                    "API key revocation line ({}) could not send its probe \
                                     within {probe:?}",
                                    L::WHAT
                                );
                                return self.lost();
                            }
                        }
                        continue;
                    }
                };
                if let Some(rest) = payload.strip_prefix(PROBE) {
                    if self
                        .awaiting
                        .as_ref()
                        .is_some_and(|(nonce, _)| nonce[PROBE.len()..] == *rest)
                    {
                        // The line carries messages: the next loss starts a
                        // fresh backoff.
                        self.awaiting = None;
                        self.backoff = FIRST_BACKOFF;
                    }
                    // Another instance's probe: no news.
                    continue;
                }
                self.backoff = FIRST_BACKOFF;
                if payload == crate::store::EVERY_KEY {
                    return Invalidation::All;
                }
                match Prefix::parse(&payload) {
                    Ok(prefix) => return Invalidation::Key(prefix),
                    Err(_) => {
                        tracing::warn!("ignoring a revocation message that is not a key prefix")
                    }
                }
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use std::sync::{Arc, Mutex};

        use super::*;

        /// A line in memory: what the listener hears, and whether what it
        /// publishes comes back (a deaf line answers but delivers nothing).
        #[derive(Clone, Default)]
        struct Fake {
            queue: Arc<Mutex<std::collections::VecDeque<String>>>,
            deaf: Arc<std::sync::atomic::AtomicBool>,
            notify: Arc<tokio::sync::Notify>,
        }

        #[async_trait]
        impl Line for Fake {
            type Open = Fake;
            const WHAT: &'static str = "FAKE";

            async fn open(&self) -> Result<Fake, String> {
                Ok(self.clone())
            }

            async fn recv(open: &mut Fake) -> Option<String> {
                loop {
                    let notified = open.notify.notified();
                    if let Some(payload) = open.queue.lock().unwrap().pop_front() {
                        return Some(payload);
                    }
                    notified.await;
                }
            }

            async fn publish(&self, payload: &str) -> Result<(), String> {
                if !self.deaf.load(std::sync::atomic::Ordering::SeqCst) {
                    self.queue.lock().unwrap().push_back(payload.to_owned());
                    self.notify.notify_one();
                }
                Ok(())
            }
        }

        /// A line that carries its probes stays open and quiet; one that
        /// answers but delivers nothing is found out at its first probe,
        /// and the cache is flushed. Other instances' probes are no news,
        /// and revocations come through between probes.
        #[tokio::test(start_paused = true)]
        async fn a_line_that_answers_but_delivers_nothing_is_flushed() {
            let line = Fake::default();
            let mut listener = Listener::new(line.clone());
            listener.set_heartbeat(Duration::from_secs(5));
            assert_eq!(listener.next().await, Invalidation::All, "opened");
            line.queue
                .lock()
                .unwrap()
                .push_back(format!("{PROBE}someone-else"));
            line.queue.lock().unwrap().push_back("abcd1234".to_owned());
            line.notify.notify_one();
            let prefix = Prefix::parse("abcd1234").unwrap();
            assert_eq!(listener.next().await, Invalidation::Key(prefix));
            // A minute of quiet on a line that works: probes come back,
            // nothing is flushed.
            let quiet = tokio::time::timeout(Duration::from_secs(60), listener.next()).await;
            assert!(quiet.is_err(), "a working quiet line yielded {quiet:?}");
            // Deaf: found out within a heartbeat and a probe's wait.
            line.deaf.store(true, std::sync::atomic::Ordering::SeqCst);
            let started = Instant::now();
            assert_eq!(listener.next().await, Invalidation::All);
            assert!(
                started.elapsed() <= Duration::from_secs(7),
                "{:?}",
                started.elapsed()
            );
        }
    }
}
