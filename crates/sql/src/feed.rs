//! Following the change log (see `change_log.rs`): one indexed read per
//! interval on a connection of the feed's own, skipped on SQLite while
//! `PRAGMA data_version` says no other connection committed anything.
//!
//! The log's sequence numbers say when something may have been missed. The
//! feed reads on from the highest number it has read. On SQLite, which
//! writes one transaction at a time, a number skipped was trimmed (or
//! deleted) before the feed read it: everything is flushed. MySQL numbers an
//! entry when it is written, before its transaction commits, so a hole there
//! may also be a transaction still running, or one rolled back: the feed
//! keeps the numbers it skipped (as ranges, `feed/skipped.rs`) and asks for
//! them again, in turn, at every read until they turn up (a late commit: its
//! key is named then), fall below the oldest entry far enough behind for a
//! trim to have taken them, or have waited [`MAX_WAIT`]; giving numbers up
//! flushes everything, as it cannot be told what they were.
//!
//! Every failed read flushes everything too, as nothing is known while the
//! database cannot be asked; and so, at each check, does a log that is not
//! the one read before (dropped and made again: its entry at the highest
//! number read is gone or another) or a table without its two triggers
//! (Django rebuilding a SQLite table, a table renamed).

mod skipped;

use std::{collections::VecDeque, fmt, time::Duration};

use async_trait::async_trait;
use tokio::time::{sleep_until, timeout, Instant};

use self::skipped::Skipped;
use super::{change_log::LOG_KEEP, ChangeLogSql};
use crate::{key::Prefix, store::Invalidation};

/// A log entry: its sequence number and the prefix it names.
pub(crate) type Entry = (i64, Option<String>);

/// A feed's own connection to the database, and the statements it runs on
/// it, each with integer parameters only. Errors are text, for the log: any
/// error means the same, a read that failed.
#[async_trait]
pub(crate) trait LogConnection: Sized + Send + 'static {
    /// What opens a connection.
    type Opener: Send + Sync + 'static;
    async fn open(opener: &Self::Opener) -> Result<Self, String>;
    /// The first column, an integer, of the one row `sql` answers.
    async fn scalar(&mut self, sql: &str, params: &[i64]) -> Result<i64, String>;
    /// Runs `sql`.
    async fn execute(&mut self, sql: &str, params: &[i64]) -> Result<(), String>;
    /// The entries `sql` gives (columns `seq`, `prefix`), in order.
    async fn entries(&mut self, sql: &str, params: &[i64]) -> Result<Vec<Entry>, String>;
    /// Gives the connection up after a failure: its state is unknown.
    fn discard(self) {}
}

/// How often the log is read, by default.
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_millis(250);
/// The shortest interval accepted.
const MIN_INTERVAL: Duration = Duration::from_millis(10);
/// How long one read may take before the connection counts as lost.
const READ_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a trim may take; one cut short costs nothing but the connection.
const TRIM_TIMEOUT: Duration = Duration::from_secs(5);
/// The most entries read at once; a full page is followed by another at once.
const PAGE: i64 = 500;
/// How far below the log's end the first read looks for numbers not yet committed.
const FIRST_LOOK_BACK: i64 = 1000;
/// How many ranges of skipped numbers are asked about in one read.
const RANGES_PER_READ: usize = 16;
/// The most entries read from one range of skipped numbers at once.
const RANGE_PAGE: i64 = 100;
/// How long a skipped number is waited for. A transaction that commits a
/// change to a key later than this, after the feed gave its number up, is
/// bounded by the cache's TTL only.
const MAX_WAIT: Duration = Duration::from_secs(600);
/// How often the triggers and the log itself are checked when nothing says
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
    /// The highest sequence number read, and the prefix its entry named;
    /// `None` until the first read.
    high: Option<Entry>,
    /// Numbers below `high` not read yet.
    skipped: Skipped,
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
            .field("high", &self.high.as_ref().map(|(seq, _)| seq))
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
            skipped: Skipped::default(),
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
                    if !more {
                        self.trim().await;
                    }
                }
                Err(err) => {
                    tracing::warn!(
                        error = %err,
                        "cannot read the API key change log (a Django table needs its change \
                         triggers: `api-key migrate --schema drf`); flushing the cache and retrying"
                    );
                    self.lost();
                    self.next_read = Some(Instant::now() + self.backoff);
                    self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                    // What changed meanwhile is unknown: start afresh.
                    self.pending.push_back(Invalidation::All);
                }
            }
        }
    }

    /// The connection is in an unknown state: drop it.
    fn lost(&mut self) {
        if let Some(conn) = self.conn.take() {
            conn.discard();
        }
        self.version = None;
        self.last_check = None;
    }

    /// Reads what is new; says whether more is waiting.
    async fn read(&mut self) -> Result<bool, String> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => self.conn.insert(C::open(&self.opener).await?),
        };
        let version = match &self.sql.data_version {
            Some(sql) => Some(conn.scalar(sql, &[]).await?),
            None => None,
        };
        let now = Instant::now();
        let Some((mut high, mut high_prefix)) = self.high.clone() else {
            // The first read: start at the end of the log, remembering the
            // numbers just below it not committed yet. Whatever changed
            // before is unknown, so whatever a cache holds goes.
            let newest = conn.scalar(&self.sql.newest, &[]).await?;
            let from = newest.saturating_sub(FIRST_LOOK_BACK).max(0);
            let entries = conn
                .entries(&self.sql.read, &[from, FIRST_LOOK_BACK])
                .await?;
            let mut last = from;
            for &(seq, _) in &entries {
                if !self.sql.commits_in_order && seq > last + 1 {
                    self.skipped.add(last + 1, seq - 1, now);
                }
                last = seq;
            }
            let at_newest = entries.last().filter(|(seq, _)| *seq == newest);
            self.high = Some((newest, at_newest.and_then(|(_, prefix)| prefix.clone())));
            self.version = version;
            self.last_check = Some(now);
            self.pending.push_back(Invalidation::All);
            return Ok(false);
        };
        let changed = version.is_none() || version != self.version;
        // The triggers and the log itself are checked whenever the database
        // changed (SQLite) or once a second (MySQL).
        let due = match self.sql.data_version {
            Some(_) => changed,
            None => self.last_check.is_none_or(|at| at.elapsed() >= CHECK_EVERY),
        };
        if due {
            self.last_check = Some(now);
            // The entry at the highest number read is still there, naming
            // the same prefix: the log is the one read so far (checked
            // before reading on, as a log made again may have grown past it).
            let at_high = conn.entries(&self.sql.at, &[high]).await?;
            let same_log =
                high == 0 || at_high.first().map(|(_, prefix)| prefix) == Some(&high_prefix);
            if !same_log {
                tracing::warn!("the API key change log was made again; flushing the cache");
                // Start afresh, at once: the first read flushes.
                self.high = None;
                self.skipped.clear();
                return Ok(true);
            }
        }
        if !changed && self.skipped.is_empty() {
            return Ok(false);
        }
        // What is new, from the highest number read on.
        let entries = conn.entries(&self.sql.read, &[high, PAGE]).await?;
        let full = entries.len() as i64 == PAGE;
        let mut skipped = false;
        for (seq, prefix) in entries {
            if seq <= high {
                continue;
            }
            if seq > high + 1 {
                skipped = true;
                if !self.sql.commits_in_order && self.skipped.add(high + 1, seq - 1, now) {
                    self.pending.push_back(Invalidation::All);
                }
            }
            high = seq;
            high_prefix = prefix.clone();
            name(&mut self.pending, prefix);
        }
        self.high = Some((high, high_prefix.clone()));
        if skipped && self.sql.commits_in_order {
            // What was skipped can never turn up: it was trimmed (or deleted
            // by hand) before this feed read it.
            tracing::debug!("API key change log entries trimmed unread; flushing");
            self.pending.push_back(Invalidation::All);
        }
        // What was skipped: asked for again, given up when it cannot come.
        if !self.skipped.is_empty() {
            let oldest = conn.scalar(&self.sql.oldest, &[]).await?;
            // Below the oldest entry and far enough behind for a feed's trim
            // to have taken it: trimmed unread, or rolled back.
            let floor = oldest.min(high.saturating_sub(LOG_KEEP - 1));
            if self.skipped.give_up(floor, now, MAX_WAIT) {
                tracing::debug!(
                    "API key change log entries that never came (trimmed, rolled back or too \
                     late); flushing"
                );
                self.pending.push_back(Invalidation::All);
            }
            for (lo, hi) in self.skipped.round(RANGES_PER_READ) {
                for (seq, prefix) in conn
                    .entries(&self.sql.between, &[lo, hi, RANGE_PAGE])
                    .await?
                {
                    if self.skipped.fill(seq) {
                        name(&mut self.pending, prefix);
                    }
                }
            }
        }
        if due {
            let triggers = conn.scalar(&self.sql.triggers, &[]).await?;
            if triggers < 2 {
                if !self.triggerless {
                    tracing::warn!(
                        "the API key table has lost its change triggers, so changes made past \
                         this process go unseen: flushing the cache at every check until they \
                         are back (`api-key migrate`, or install_change_triggers())"
                    );
                }
                self.pending.push_back(Invalidation::All);
            }
            self.triggerless = triggers < 2;
        }
        // A version stands for a read that reached the log's end.
        self.version = if full { None } else { version };
        Ok(full)
    }

    /// Once a minute, deletes entries far behind this feed, never one it
    /// still waits for. A failure (a user without DELETE) costs a warning;
    /// one that takes too long, the connection.
    async fn trim(&mut self) {
        if self.last_trim.is_some_and(|at| at.elapsed() < TRIM_EVERY) {
            return;
        }
        let Some((high, _)) = self.high else {
            return;
        };
        self.last_trim = Some(Instant::now());
        let awaited = self.skipped.lowest().map_or(i64::MAX, |lo| lo - 1);
        let upto = awaited.min(high.saturating_sub(LOG_KEEP));
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        if upto <= 0 {
            return;
        }
        match timeout(TRIM_TIMEOUT, conn.execute(&self.sql.trim, &[upto])).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::warn!(error = %err, "cannot trim the API key change log"),
            Err(_) => {
                tracing::warn!("trimming the API key change log took over {TRIM_TIMEOUT:?}");
                self.lost();
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

#[cfg(test)]
mod tests {
    use std::{
        collections::BTreeMap,
        sync::{Arc, Mutex},
    };

    use super::*;
    use crate::{Dialect, Schema};

    /// A change log in memory: its committed entries, how many triggers the
    /// table has and SQLite's `data_version`.
    struct Log {
        entries: BTreeMap<i64, Option<String>>,
        triggers: i64,
        version: i64,
    }

    type Shared = Arc<Mutex<Log>>;

    /// A connection to the log in memory, answering the statements of `sql`.
    struct Fake(Shared, ChangeLogSql);

    #[async_trait]
    impl LogConnection for Fake {
        type Opener = (Shared, ChangeLogSql);

        async fn open(opener: &Self::Opener) -> Result<Self, String> {
            Ok(Fake(opener.0.clone(), opener.1.clone()))
        }

        async fn scalar(&mut self, sql: &str, _: &[i64]) -> Result<i64, String> {
            let log = self.0.lock().unwrap();
            let ends = (log.entries.keys().next(), log.entries.keys().next_back());
            Ok(match sql {
                s if s == self.1.newest => ends.1.copied().unwrap_or(0),
                s if s == self.1.oldest => ends.0.copied().unwrap_or(0),
                s if s == self.1.triggers => log.triggers,
                s if Some(s) == self.1.data_version.as_deref() => log.version,
                other => return Err(format!("unexpected {other}")),
            })
        }

        async fn execute(&mut self, sql: &str, params: &[i64]) -> Result<(), String> {
            assert_eq!(sql, self.1.trim);
            self.0
                .lock()
                .unwrap()
                .entries
                .retain(|&seq, _| seq > params[0]);
            Ok(())
        }

        async fn entries(&mut self, sql: &str, p: &[i64]) -> Result<Vec<Entry>, String> {
            let log = self.0.lock().unwrap();
            let (range, limit) = match sql {
                s if s == self.1.read => (p[0] + 1..=i64::MAX, p[1]),
                s if s == self.1.between => (p[0]..=p[1], p[2]),
                s if s == self.1.at => (p[0]..=p[0], 1),
                other => return Err(format!("unexpected {other}")),
            };
            Ok(log
                .entries
                .range(range)
                .take(limit as usize)
                .map(|(&seq, prefix)| (seq, prefix.clone()))
                .collect())
        }
    }

    fn prefix(n: i64) -> String {
        format!("k{:07}", n % 10_000_000)
    }

    fn key(n: i64) -> Invalidation {
        Invalidation::Key(Prefix::parse(prefix(n)).unwrap())
    }

    /// A feed on a log holding `seqs`, after its first read (which flushes).
    async fn feed(dialect: Dialect, seqs: &[i64]) -> (ChangeFeed<Fake>, Shared) {
        let log = Arc::new(Mutex::new(Log {
            entries: seqs.iter().map(|&n| (n, Some(prefix(n)))).collect(),
            triggers: 2,
            version: 1,
        }));
        let sql = ChangeLogSql::new(dialect, &Schema::Native).unwrap();
        let mut feed = ChangeFeed::new((log.clone(), sql.clone()), sql);
        assert!(!feed.read().await.unwrap());
        assert_eq!(events(&mut feed), [Invalidation::All]);
        (feed, log)
    }

    fn commit(log: &Shared, seq: i64) {
        let mut log = log.lock().unwrap();
        log.entries.insert(seq, Some(prefix(seq)));
        log.version += 1;
    }

    fn events(feed: &mut ChangeFeed<Fake>) -> Vec<Invalidation> {
        feed.pending.drain(..).collect()
    }

    /// Reads until nothing more waits; everything named.
    async fn read(feed: &mut ChangeFeed<Fake>) -> Vec<Invalidation> {
        while feed.read().await.unwrap() {}
        events(feed)
    }

    #[tokio::test]
    async fn a_mysql_entry_committed_after_later_ones_is_named_when_it_comes() {
        let (mut feed, log) = feed(Dialect::MySql, &[1]).await;
        commit(&log, 3); // 2 is taken by a transaction still running
        assert_eq!(read(&mut feed).await, [key(3)]);
        commit(&log, 2);
        assert_eq!(read(&mut feed).await, [key(2)]);
        assert!(feed.skipped.is_empty());
    }

    #[tokio::test]
    async fn a_mysql_entry_in_flight_when_the_feed_starts_is_named_when_it_comes() {
        let (mut feed, log) = feed(Dialect::MySql, &[1, 3]).await;
        commit(&log, 2);
        assert_eq!(read(&mut feed).await, [key(2)]);
    }

    /// One transaction holding 1,500 numbers, or a counter moved billions
    /// ahead, is one range: nothing given up, no flush, no time spent.
    #[tokio::test]
    async fn big_skips_are_kept_whole_and_cheaply() {
        let (mut feed, log) = feed(Dialect::MySql, &[1]).await;
        commit(&log, 1502);
        assert_eq!(read(&mut feed).await, [key(1502)]);
        commit(&log, 4_000_000_000);
        assert_eq!(read(&mut feed).await, [key(4_000_000_000)]);
        commit(&log, 700);
        commit(&log, 3_000_000_000);
        let mut named = read(&mut feed).await;
        named.sort_by_key(|event| format!("{event:?}"));
        assert_eq!(named, [key(3_000_000_000), key(700)]);
    }

    /// More ranges than one read asks about: each is asked about in turn.
    #[tokio::test]
    async fn every_hole_is_asked_about_in_turn() {
        let (mut feed, log) = feed(Dialect::MySql, &[1]).await;
        for n in (3..=81).step_by(2) {
            commit(&log, n);
        }
        assert_eq!(read(&mut feed).await.len(), 40);
        commit(&log, 80);
        let mut named = Vec::new();
        for _ in 0..3 {
            named.extend(read(&mut feed).await);
        }
        assert_eq!(named, [key(80)]);
    }

    /// A hole far behind and below the oldest entry was trimmed (or rolled
    /// back): given up, with a flush. A recent one is waited for.
    #[tokio::test]
    async fn a_hole_a_trim_has_taken_is_given_up_with_a_flush() {
        let (mut feed, log) = feed(Dialect::MySql, &[1]).await;
        commit(&log, 3);
        assert_eq!(read(&mut feed).await, [key(3)]);
        log.lock().unwrap().entries.retain(|&seq, _| seq >= 3);
        assert!(read(&mut feed).await.is_empty(), "recent: waited for");
        for n in 4..=(3 + LOG_KEEP) {
            log.lock().unwrap().entries.insert(n, None);
        }
        let events = read(&mut feed).await;
        assert_eq!(events, [Invalidation::All]);
        assert!(feed.skipped.is_empty());
    }

    /// SQLite writes one transaction at a time: a number skipped was
    /// trimmed before the feed read it.
    #[tokio::test]
    async fn a_number_skipped_on_sqlite_flushes_at_once() {
        let (mut feed, log) = feed(Dialect::Sqlite, &[1]).await;
        commit(&log, 3);
        let events = read(&mut feed).await;
        assert_eq!(events, [key(3), Invalidation::All]);
        assert!(feed.skipped.is_empty());
    }

    /// Nothing changed (SQLite's `data_version` says so): the log is not read.
    #[tokio::test]
    async fn an_unchanged_sqlite_database_is_not_read() {
        let (mut feed, log) = feed(Dialect::Sqlite, &[1]).await;
        log.lock().unwrap().entries.insert(2, Some(prefix(2))); // version unchanged
        assert!(read(&mut feed).await.is_empty());
        log.lock().unwrap().version += 1;
        assert_eq!(read(&mut feed).await, [key(2)]);
    }

    #[tokio::test]
    async fn a_log_made_again_is_noticed_even_once_it_has_grown_past_the_old_one() {
        let (mut feed, log) = feed(Dialect::MySql, &[1, 2, 3]).await;
        {
            let mut log = log.lock().unwrap();
            log.entries = (1..=8).map(|n| (n, Some(prefix(n + 100)))).collect();
        }
        feed.last_check = None;
        assert_eq!(read(&mut feed).await, [Invalidation::All]);
        feed.last_check = None;
        assert!(read(&mut feed).await.is_empty(), "the new log is followed");
        commit(&log, 9);
        assert_eq!(read(&mut feed).await, [key(9)]);
    }

    #[tokio::test]
    async fn a_table_without_its_triggers_flushes_at_every_check() {
        let (mut feed, log) = feed(Dialect::Sqlite, &[1]).await;
        log.lock().unwrap().triggers = 1;
        commit(&log, 2);
        assert_eq!(read(&mut feed).await, [key(2), Invalidation::All]);
        log.lock().unwrap().version += 1;
        assert_eq!(read(&mut feed).await, [Invalidation::All]);
        log.lock().unwrap().triggers = 2;
        log.lock().unwrap().version += 1;
        assert!(read(&mut feed).await.is_empty());
    }

    #[tokio::test]
    async fn a_trim_never_takes_an_entry_still_awaited() {
        let (mut feed, log) = feed(Dialect::MySql, &[1]).await;
        for n in 3..=(LOG_KEEP + 100) {
            log.lock().unwrap().entries.insert(n, None);
        }
        read(&mut feed).await;
        feed.trim().await;
        // Up to the hole at 2 only, though 10,100 entries came after.
        assert_eq!(log.lock().unwrap().entries.keys().next(), Some(&3));
        commit(&log, 2);
        assert_eq!(read(&mut feed).await, [key(2)]);
        feed.last_trim = None;
        feed.trim().await;
        assert_eq!(log.lock().unwrap().entries.keys().next(), Some(&101));
    }
}
