//! Following the change log (see `change_log.rs`): one indexed read per
//! interval on a connection of the feed's own, skipped on SQLite while
//! `PRAGMA data_version` says no other connection committed anything.
//!
//! The log's sequence numbers say when something may have been missed: the
//! feed accounts for every number up to its cursor, and a hole above it is
//! either a transaction that took its number and has not committed yet
//! (MySQL hands numbers out before commit; SQLite writes one transaction at
//! a time, so never there), one that rolled back, or entries trimmed before
//! this feed read them. Trimmed entries, and a hole that stays open longer
//! than [`GAP_PATIENCE`], flush everything; so does every failed read, as
//! nothing read is known while the database cannot be asked.

use std::{
    collections::{BTreeSet, VecDeque},
    fmt,
    time::Duration,
};

use async_trait::async_trait;
use tokio::time::{sleep_until, timeout, Instant};

use super::{change_log::LOG_KEEP, ChangeLogSql};
use crate::{key::Prefix, store::Invalidation};

/// A feed's own connection to the database, and the queries it runs on it.
/// Errors are text, for the log: any error means the same, a read that failed.
#[async_trait]
pub(crate) trait LogConnection: Sized + Send + 'static {
    /// What opens a connection.
    type Opener: Send + Sync + 'static;
    async fn open(opener: &Self::Opener) -> Result<Self, String>;
    /// The first column, an integer, of the one row `sql` answers.
    async fn scalar(&mut self, sql: &str) -> Result<i64, String>;
    /// Runs `sql` with one integer parameter.
    async fn execute_with(&mut self, sql: &str, value: i64) -> Result<(), String>;
    /// Log entries (`seq`, `prefix`) after `after`, at most `limit`, in order.
    async fn log_rows(
        &mut self,
        sql: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, Option<String>)>, String>;
    /// Gives the connection up after a failure: its state is unknown.
    fn discard(self) {}
}

/// How often the log is read, by default.
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_millis(250);
/// The shortest interval accepted.
const MIN_INTERVAL: Duration = Duration::from_millis(10);
/// How long one read may take before the connection counts as lost.
const READ_TIMEOUT: Duration = Duration::from_secs(1);
/// The most entries read at once; a full page is followed by another at once.
const PAGE: i64 = 500;
/// How long a hole in the sequence may stay open (a transaction that has
/// its number and has not committed) before the feed flushes and moves on.
const GAP_PATIENCE: Duration = Duration::from_secs(5);
/// How often the feed trims the log.
const TRIM_EVERY: Duration = Duration::from_secs(60);
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// A reader of one table's change log.
pub(crate) struct ChangeFeed<C: LogConnection> {
    /// Opens the feed's own connection, so that `data_version` is always
    /// asked of the same connection and the store's lookups never wait for
    /// the feed.
    opener: C::Opener,
    conn: Option<C>,
    sql: ChangeLogSql,
    interval: Duration,
    /// Events read and not yet handed out.
    pending: VecDeque<Invalidation>,
    /// Every sequence number up to this one is accounted for; `None` until
    /// the first read.
    cursor: Option<i64>,
    /// Numbers above the cursor already read, past a hole.
    seen: BTreeSet<i64>,
    /// Since when the hole above the cursor has been open.
    gap_since: Option<Instant>,
    /// The `data_version` the last complete read saw.
    version: Option<i64>,
    last_trim: Option<Instant>,
    backoff: Duration,
    /// When to read next; `None`: at once.
    next_read: Option<Instant>,
}

impl<C: LogConnection> fmt::Debug for ChangeFeed<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChangeFeed")
            .field("interval", &self.interval)
            .field("cursor", &self.cursor)
            .field("connected", &self.conn.is_some())
            .finish_non_exhaustive()
    }
}

impl<C: LogConnection> ChangeFeed<C> {
    /// A feed reading `sql`'s log on connections `opener` opens.
    pub(crate) fn new(opener: C::Opener, sql: ChangeLogSql) -> Self {
        Self {
            opener,
            conn: None,
            sql,
            interval: DEFAULT_INTERVAL,
            pending: VecDeque::new(),
            cursor: None,
            seen: BTreeSet::new(),
            gap_since: None,
            version: None,
            last_trim: None,
            backoff: FIRST_BACKOFF,
            next_read: None,
        }
    }

    pub(crate) fn set_interval(&mut self, every: Duration) {
        self.interval = every.max(MIN_INTERVAL);
    }

    /// The next change. Never ends: a feed that cannot read says
    /// [`Invalidation::All`] at every failed attempt.
    pub(crate) async fn next(&mut self) -> Invalidation {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return event;
            }
            if let Some(at) = self.next_read {
                sleep_until(at).await;
            }
            let started = Instant::now();
            let read = match timeout(READ_TIMEOUT, self.read()).await {
                Ok(read) => read,
                Err(_) => Err(format!("no answer within {READ_TIMEOUT:?}")),
            };
            match read {
                Ok(more) => {
                    self.backoff = FIRST_BACKOFF;
                    self.next_read = (!more).then(|| started + self.interval);
                }
                Err(err) => {
                    tracing::warn!(
                        error = %err,
                        "cannot read the API key change log (a Django table needs its change \
                         triggers: `api-key migrate --schema drf`); flushing the cache and retrying"
                    );
                    if let Some(conn) = self.conn.take() {
                        conn.discard();
                    }
                    self.version = None;
                    self.next_read = Some(Instant::now() + self.backoff);
                    self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                    // What changed meanwhile is unknown: start afresh.
                    self.pending.push_back(Invalidation::All);
                }
            }
        }
    }

    /// Reads what is new; says whether more is waiting.
    async fn read(&mut self) -> Result<bool, String> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => self.conn.insert(C::open(&self.opener).await?),
        };
        let version = match &self.sql.data_version {
            Some(sql) => Some(conn.scalar(sql).await?),
            None => None,
        };
        let Some(mut cursor) = self.cursor else {
            // The first read: start at the end of the log. Whatever changed
            // before is unknown, so whatever a cache holds goes.
            self.cursor = Some(conn.scalar(&self.sql.newest).await?);
            self.version = version;
            self.pending.push_back(Invalidation::All);
            return Ok(false);
        };
        let unchanged = version.is_some() && version == self.version && self.seen.is_empty();
        if !unchanged {
            let rows = conn.log_rows(&self.sql.read, cursor, PAGE).await?;
            let full = rows.len() as i64 == PAGE;
            for (seq, prefix) in rows {
                if seq <= cursor || !self.seen.insert(seq) {
                    continue;
                }
                // A prefix no key could have names nothing a cache holds.
                if let Some(Ok(prefix)) = prefix.as_deref().map(Prefix::parse) {
                    self.pending.push_back(Invalidation::Key(prefix));
                }
            }
            while self.seen.remove(&(cursor + 1)) {
                cursor += 1;
            }
            if let Some(&last) = self.seen.last() {
                let oldest = conn.scalar(&self.sql.oldest).await?;
                let trimmed = oldest > cursor + 1;
                let waited = self.gap_since.get_or_insert_with(Instant::now).elapsed();
                if trimmed || waited >= GAP_PATIENCE {
                    tracing::debug!(
                        from = cursor + 1,
                        trimmed,
                        "entries missing from the API key change log; flushing"
                    );
                    self.pending.push_back(Invalidation::All);
                    cursor = last;
                    self.seen.clear();
                    self.gap_since = None;
                }
            } else {
                self.gap_since = None;
            }
            self.cursor = Some(cursor);
            // A version stands for a read that reached the log's end.
            self.version = if full { None } else { version };
            if full {
                return Ok(true);
            }
        }
        self.trim(cursor).await;
        Ok(false)
    }

    /// Once a minute, deletes entries far behind this feed's cursor. A
    /// failure (a user without DELETE) costs nothing but a warning.
    async fn trim(&mut self, cursor: i64) {
        if self.last_trim.is_some_and(|at| at.elapsed() < TRIM_EVERY) {
            return;
        }
        self.last_trim = Some(Instant::now());
        let upto = cursor - LOG_KEEP;
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        if upto > 0 {
            if let Err(err) = conn.execute_with(&self.sql.trim, upto).await {
                tracing::warn!(error = %err, "cannot trim the API key change log");
            }
        }
    }
}
