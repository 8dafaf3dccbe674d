//! Following the change log (see `change_log.rs`): one indexed read per
//! interval on a connection of the feed's own, skipped on SQLite while
//! `PRAGMA data_version` says no other connection committed anything.
//!
//! The log's sequence numbers say when something may have been missed. The
//! feed reads on from the highest number it has read. On SQLite, which
//! writes one transaction at a time, a number skipped was trimmed (or
//! deleted) before the feed read it: everything is flushed. MySQL numbers
//! an entry when it is written, before its transaction commits, so a hole
//! there may also be a transaction still running, or one rolled back: the
//! feed remembers every number it skipped and asks for it again at every
//! read until it turns up (a late commit: its key is named then), falls
//! below the oldest entry far enough behind for a trim to have taken it, or
//! has waited [`MAX_WAIT`] (both flush everything, as it cannot be told
//! what the entry was). Every
//! failed read flushes everything too, as nothing is known while the
//! database cannot be asked; and so does a log that went backwards (dropped
//! and made again) or a table that lost its triggers (Django rebuilding a
//! SQLite table), each time it is checked.

use std::{
    collections::{BTreeMap, VecDeque},
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
    /// The log entries (`seq`, `prefix`) `sql` gives, taking no parameter.
    async fn rows(&mut self, sql: &str) -> Result<Vec<(i64, Option<String>)>, String>;
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
/// How far below the log's end the first read looks for numbers not yet committed.
const FIRST_LOOK_BACK: i64 = 1000;
/// The most skipped numbers remembered; past it, the oldest are given up.
const MAX_MISSING: usize = 1000;
/// The most skipped numbers asked for in one read.
const RECHECK: usize = 100;
/// How long a skipped number is waited for. A transaction that commits a
/// change to a key later than this, after the feed gave its number up, is
/// bounded by the cache's TTL only.
const MAX_WAIT: Duration = Duration::from_secs(600);
/// How often the triggers and the log's end are checked when nothing says
/// the database changed (MySQL, which has no `data_version`).
const CHECK_EVERY: Duration = Duration::from_secs(1);
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
    /// The highest sequence number read; `None` until the first read.
    high: Option<i64>,
    /// Numbers below `high` not read yet, and since when.
    missing: BTreeMap<i64, Instant>,
    /// The `data_version` the last complete read saw.
    version: Option<i64>,
    last_check: Option<Instant>,
    last_trim: Option<Instant>,
    /// Whether the last check found the triggers missing (warned once).
    triggerless: bool,
    backoff: Duration,
    /// When to read next; `None`: at once.
    next_read: Option<Instant>,
}

impl<C: LogConnection> fmt::Debug for ChangeFeed<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChangeFeed")
            .field("interval", &self.interval)
            .field("high", &self.high)
            .field("missing", &self.missing.len())
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
            high: None,
            missing: BTreeMap::new(),
            version: None,
            last_check: None,
            last_trim: None,
            triggerless: false,
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
                    self.last_check = None;
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
        let Some(mut high) = self.high else {
            // The first read: start at the end of the log, remembering the
            // numbers just below it not committed yet. Whatever changed
            // before is unknown, so whatever a cache holds goes.
            let newest = conn.scalar(&self.sql.newest).await?;
            let now = Instant::now();
            if !self.sql.commits_in_order {
                let from = (newest - FIRST_LOOK_BACK).max(0);
                let present: Vec<i64> = conn
                    .log_rows(&self.sql.read, from, FIRST_LOOK_BACK)
                    .await?
                    .into_iter()
                    .map(|(seq, _)| seq)
                    .collect();
                for seq in from + 1..=newest {
                    if present.binary_search(&seq).is_err() {
                        self.missing.insert(seq, now);
                    }
                }
            }
            self.high = Some(newest);
            self.version = version;
            self.last_check = Some(now);
            self.pending.push_back(Invalidation::All);
            return Ok(false);
        };
        let changed = version.is_none() || version != self.version;
        if !changed && self.missing.is_empty() {
            self.trim(high).await;
            return Ok(false);
        }
        let now = Instant::now();
        // What is new, from the highest number read on.
        let rows = conn.log_rows(&self.sql.read, high, PAGE).await?;
        let full = rows.len() as i64 == PAGE;
        let mut skipped = false;
        for (seq, prefix) in rows {
            if seq <= high {
                continue;
            }
            if seq > high + 1 {
                skipped = true;
                if !self.sql.commits_in_order {
                    for number in high + 1..seq {
                        self.missing.insert(number, now);
                    }
                }
            }
            high = seq;
            name(&mut self.pending, prefix);
        }
        self.high = Some(high);
        if skipped && self.sql.commits_in_order {
            // What was skipped can never turn up: it was trimmed (or deleted
            // by hand) before this feed read it.
            tracing::debug!("API key change log entries trimmed unread; flushing");
            self.pending.push_back(Invalidation::All);
        }
        // What was skipped: asked for again, given up when it cannot come.
        if !self.missing.is_empty() {
            let oldest = conn.scalar(&self.sql.oldest).await?;
            let asked: Vec<i64> = self.missing.keys().copied().take(RECHECK).collect();
            for (seq, prefix) in conn.rows(&self.sql.recheck(&asked)).await? {
                if self.missing.remove(&seq).is_some() {
                    name(&mut self.pending, prefix);
                }
            }
            // Below the oldest entry and far enough behind for a feed's trim
            // to have taken it: trimmed unread (or rolled back; either way
            // it will not come).
            let trimmed_below = oldest.min(high - LOG_KEEP + 1);
            let before = self.missing.len();
            self.missing.retain(|&seq, since| {
                seq >= trimmed_below && now.duration_since(*since) < MAX_WAIT
            });
            while self.missing.len() > MAX_MISSING {
                self.missing.pop_first();
            }
            if self.missing.len() < before {
                tracing::debug!(
                    given_up = before - self.missing.len(),
                    "API key change log entries that never came (trimmed, rolled back or too late); flushing"
                );
                self.pending.push_back(Invalidation::All);
            }
        }
        // The triggers and the log itself, whenever the database changed
        // (SQLite) or once a second (MySQL).
        let due = match self.sql.data_version {
            Some(_) => changed,
            None => self.last_check.is_none_or(|at| at.elapsed() >= CHECK_EVERY),
        };
        if due {
            self.last_check = Some(now);
            self.check(high).await?;
        }
        // A version stands for a read that reached the log's end.
        self.version = if full { None } else { version };
        if full {
            return Ok(true);
        }
        self.trim(high).await;
        Ok(false)
    }

    /// Flushes when the log went backwards (dropped and made again: its
    /// numbers start over) or the key table lost its triggers (nothing would
    /// be logged), warning once for the latter.
    async fn check(&mut self, high: i64) -> Result<(), String> {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        let newest = conn.scalar(&self.sql.newest).await?;
        if newest < high {
            tracing::warn!("the API key change log started over; flushing the cache");
            self.high = Some(newest);
            self.missing.clear();
            self.pending.push_back(Invalidation::All);
        }
        let triggers = conn.scalar(&self.sql.triggers).await?;
        if triggers < 2 {
            if !self.triggerless {
                tracing::warn!(
                    "the API key table has lost its change triggers, so changes made past \
                     this process go unseen: flushing the cache at every check until they are \
                     back (`api-key migrate`, or install_change_triggers())"
                );
            }
            self.pending.push_back(Invalidation::All);
        }
        self.triggerless = triggers < 2;
        Ok(())
    }

    /// Once a minute, deletes entries far behind this feed. A failure (a
    /// user without DELETE) costs nothing but a warning.
    async fn trim(&mut self, high: i64) {
        if self.last_trim.is_some_and(|at| at.elapsed() < TRIM_EVERY) {
            return;
        }
        self.last_trim = Some(Instant::now());
        // Never past a number still awaited.
        let floor = self.missing.keys().next().map_or(high, |&seq| seq - 1);
        let upto = floor.min(high - LOG_KEEP);
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

/// Names the key a log entry is about. A prefix no key could have names
/// nothing a cache holds.
fn name(pending: &mut VecDeque<Invalidation>, prefix: Option<String>) {
    if let Some(Ok(prefix)) = prefix.as_deref().map(Prefix::parse) {
        pending.push_back(Invalidation::Key(prefix));
    }
}
