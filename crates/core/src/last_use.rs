//! When each key was last used (feature `last-use`), recorded off the
//! request path.
//!
//! ```
//! use std::time::Duration;
//! use api_key_auth::{last_use::LastUseTracker, Authenticator, KeyManager, KeyStore, MemoryStore, NewKey};
//! use http::HeaderMap;
//!
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! let (record, key) = store.create(NewKey::named("ci")).await?.reveal();
//! let tracker = LastUseTracker::builder(store.clone())
//!     .interval(Duration::from_secs(60)) // at most one write per key a minute
//!     .spawn();
//! let auth = Authenticator::builder(store.clone()).last_use(tracker.clone()).build()?;
//!
//! let mut headers = HeaderMap::new();
//! headers.insert("authorization", format!("Api-Key {}", key.expose_secret()).parse()?);
//! auth.authenticate(&headers).await?;
//!
//! tracker.flush().await?; // what shutdown does: write what is pending now
//! assert!(store.find(record.prefix).await?.unwrap().last_used.is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! A request that passes hands the key's record and a coarse instant (read
//! from a clock the tracker's task keeps, not the system's) to a bounded
//! lock-free queue, and nothing more: it never waits, never allocates, never
//! writes. When the queue is full the note is dropped and counted
//! ([`LastUseStats::dropped`]); a request is never slowed.
//!
//! A background task drains the queue every 100 ms, keeping the latest
//! instant per key, and every [`interval`](LastUseTrackerBuilder::interval)
//! (60 s by default) writes them with one
//! [`KeyManager::record_last_use`] call: at most one write per key per
//! interval, batched. A write that fails is retried at the next interval
//! with what came since; nothing is lost while the process runs.
//!
//! Shutting down: [`LastUseTracker::shutdown`] writes what is pending and
//! stops the task. Dropping the last handle (the authenticator holds one)
//! starts the same final write on the runtime, if it still runs; await
//! `shutdown` to be sure it finished.
//!
//! The tracker also sends two of the [audit events](crate::audit): a key's
//! first use (a key whose record shows no use yet, once per process), and,
//! once per interval, the uses of a key in a rotation's grace period.

use std::{
    collections::{HashMap, HashSet},
    fmt,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use crossbeam_queue::ArrayQueue;
use tokio::sync::{mpsc, oneshot};

use crate::{
    audit,
    store::{KeyManager, KeyRecord, KeyUse, StoreError},
};

/// How often the task drains the queue and moves its clock.
const DRAIN_EVERY: Duration = Duration::from_millis(100);

/// Records when keys are used; see the [module docs](self). Cheap to clone:
/// clones share one queue and one task.
#[derive(Clone)]
pub struct LastUseTracker {
    queue: Arc<Queue>,
    commands: mpsc::Sender<Command>,
}

/// What the request path and the task share.
struct Queue {
    notes: ArrayQueue<Note>,
    /// Milliseconds since the epoch, as of the task's last tick.
    clock_ms: AtomicU64,
    dropped: AtomicU64,
    written: AtomicU64,
    failed_writes: AtomicU64,
    /// Set when the store said it does not record last use: notes stop.
    off: AtomicBool,
    #[cfg(feature = "metrics")]
    metrics: crate::metrics::LastUseMetrics,
}

struct Note {
    record: Arc<KeyRecord>,
    at_ms: u64,
}

enum Command {
    /// Write what is pending now and answer; stop afterwards if `stop`.
    Flush {
        stop: bool,
        done: oneshot::Sender<Result<(), StoreError>>,
    },
}

/// Counters of a [`LastUseTracker`], read with [`LastUseTracker::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct LastUseStats {
    /// Notes dropped because the queue was full.
    pub dropped: u64,
    /// Key uses written to the store.
    pub written: u64,
    /// Writes the store refused or failed (retried at the next interval).
    pub failed_writes: u64,
}

impl fmt::Debug for LastUseTracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LastUseTracker")
            .field("queued", &self.queue.notes.len())
            .field("stats", &self.stats())
            .finish()
    }
}

impl LastUseTracker {
    /// Starts configuring a tracker writing to `store`.
    pub fn builder(store: impl KeyManager) -> LastUseTrackerBuilder {
        LastUseTrackerBuilder {
            store: Arc::new(store),
            interval: Duration::from_secs(60),
            capacity: 65_536,
        }
    }

    /// A tracker with the defaults (a write per key a minute at most, a
    /// queue of 65,536 notes) writing to `store`, its task spawned on the
    /// current tokio runtime.
    pub fn spawn(store: impl KeyManager) -> Self {
        Self::builder(store).spawn()
    }

    /// Notes that `record`'s key was used now. The request path's whole
    /// share of the work: a push onto a bounded lock-free queue.
    #[inline]
    pub fn note(&self, record: &Arc<KeyRecord>) {
        let queue = &*self.queue;
        if queue.off.load(Ordering::Relaxed) {
            return;
        }
        let note = Note {
            record: record.clone(),
            at_ms: queue.clock_ms.load(Ordering::Relaxed),
        };
        if queue.notes.push(note).is_err() {
            queue.dropped.fetch_add(1, Ordering::Relaxed);
            #[cfg(feature = "metrics")]
            queue.metrics.dropped.increment(1);
        }
    }

    /// Writes what is pending now, and answers how the write went.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.command(false).await
    }

    /// Writes what is pending and stops the task: notes after this are
    /// dropped. For a graceful shutdown, after the server stopped serving.
    pub async fn shutdown(&self) -> Result<(), StoreError> {
        self.command(true).await
    }

    async fn command(&self, stop: bool) -> Result<(), StoreError> {
        let (done, answer) = oneshot::channel();
        let stopped = || StoreError::unavailable("the last-use tracker has stopped");
        self.commands
            .send(Command::Flush { stop, done })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// The counters so far.
    pub fn stats(&self) -> LastUseStats {
        let q = &self.queue;
        LastUseStats {
            dropped: q.dropped.load(Ordering::Relaxed),
            written: q.written.load(Ordering::Relaxed),
            failed_writes: q.failed_writes.load(Ordering::Relaxed),
        }
    }
}

/// The tracker as a policy of the request path: it notes every key let
/// through.
impl crate::policy::Policy for LastUseTracker {
    #[inline]
    fn passed(&self, record: &Arc<KeyRecord>) {
        self.note(record);
    }
}

/// Configures a [`LastUseTracker`]; see [`LastUseTracker::builder`].
#[must_use]
pub struct LastUseTrackerBuilder {
    store: Arc<dyn KeyManager>,
    interval: Duration,
    capacity: usize,
}

impl fmt::Debug for LastUseTrackerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LastUseTrackerBuilder")
            .field("interval", &self.interval)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl LastUseTrackerBuilder {
    /// How often pending uses are written: each key at most once per
    /// interval; 60 s by default, 100 ms at least.
    pub fn interval(mut self, every: Duration) -> Self {
        self.interval = every.max(DRAIN_EVERY);
        self
    }

    /// How many notes the queue holds between drains (every 100 ms);
    /// 65,536 by default. Notes beyond it are dropped and counted.
    pub fn queue_capacity(mut self, notes: usize) -> Self {
        self.capacity = notes.max(1);
        self
    }

    /// Spawns the tracker's task on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, as `tokio::spawn` does.
    pub fn spawn(self) -> LastUseTracker {
        let queue = Arc::new(Queue {
            notes: ArrayQueue::new(self.capacity),
            clock_ms: AtomicU64::new(now_ms()),
            dropped: AtomicU64::new(0),
            written: AtomicU64::new(0),
            failed_writes: AtomicU64::new(0),
            off: AtomicBool::new(false),
            #[cfg(feature = "metrics")]
            metrics: crate::metrics::LastUseMetrics::new(),
        });
        let (commands, received) = mpsc::channel(8);
        let writer = Writer {
            queue: queue.clone(),
            store: self.store,
            pending: HashMap::default(),
            first_use_told: HashSet::default(),
        };
        tokio::spawn(writer.run(received, self.interval));
        LastUseTracker { queue, commands }
    }
}

/// One key's uses since the last write.
struct Pending {
    record: Arc<KeyRecord>,
    at_ms: u64,
    uses: u64,
}

/// The task: drains the queue, keeps the latest use per key, writes.
struct Writer {
    queue: Arc<Queue>,
    store: Arc<dyn KeyManager>,
    pending: HashMap<String, Pending, foldhash::fast::RandomState>,
    /// Keys whose first use was told, while their records (cached) still
    /// show no use: told once, not at every write.
    first_use_told: HashSet<String, foldhash::fast::RandomState>,
}

impl Writer {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>, interval: Duration) {
        let mut tick = tokio::time::interval(DRAIN_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut next_write = tokio::time::Instant::now() + interval;
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    self.drain();
                    if tokio::time::Instant::now() >= next_write {
                        let _ = self.write().await;
                        next_write = tokio::time::Instant::now() + interval;
                    }
                }
                command = commands.recv() => match command {
                    Some(Command::Flush { stop, done }) => {
                        self.drain();
                        let written = self.write().await;
                        if stop {
                            self.queue.off.store(true, Ordering::Relaxed);
                            let _ = done.send(written);
                            return;
                        }
                        let _ = done.send(written);
                    }
                    // Every handle is gone: the last write, then stop.
                    None => {
                        self.drain();
                        let _ = self.write().await;
                        return;
                    }
                },
            }
        }
    }

    /// Moves the queue's notes into the pending map and the clock on.
    fn drain(&mut self) {
        self.queue.clock_ms.store(now_ms(), Ordering::Relaxed);
        while let Some(note) = self.queue.notes.pop() {
            if note.record.last_used.is_some() {
                self.first_use_told.remove(&note.record.id);
            }
            match self.pending.get_mut(&note.record.id) {
                Some(pending) => {
                    pending.at_ms = pending.at_ms.max(note.at_ms);
                    pending.uses += 1;
                    pending.record = note.record;
                }
                None => {
                    let id = note.record.id.clone();
                    let pending = Pending {
                        record: note.record,
                        at_ms: note.at_ms,
                        uses: 1,
                    };
                    self.pending.insert(id, pending);
                }
            }
        }
    }

    /// Writes every pending use in one call; on failure keeps them for the next.
    async fn write(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let uses: Vec<KeyUse> = self
            .pending
            .values()
            .map(|p| KeyUse::new(&p.record, UNIX_EPOCH + Duration::from_millis(p.at_ms)))
            .collect();
        if let Err(err) = self.store.record_last_use(&uses).await {
            self.queue.failed_writes.fetch_add(1, Ordering::Relaxed);
            if err.is_unsupported() {
                tracing::warn!(error = %crate::ErrorChain(&err), "last use is not recorded: the store cannot");
                self.queue.off.store(true, Ordering::Relaxed);
                self.pending.clear();
            } else {
                tracing::warn!(error = %crate::ErrorChain(&err), keys = uses.len(), "writing last use failed; retrying at the next interval");
            }
            return Err(err);
        }
        self.queue
            .written
            .fetch_add(uses.len() as u64, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        self.queue.metrics.written.increment(uses.len() as u64);
        for (id, pending) in self.pending.drain() {
            let record = &pending.record;
            if record.last_used.is_none() && self.first_use_told.insert(id) {
                audit::first_use(record);
            }
            if let Some(sunset) = record.sunset() {
                audit::grace_use(record, sunset, pending.uses);
            }
        }
        Ok(())
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
