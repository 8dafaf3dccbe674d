//! Where a SQLite store's database is, read from its URL, and the pool of
//! rusqlite connections to it, each used on tokio's blocking pool.

use std::{
    fmt,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use r2d2_sqlite::{
    rusqlite::{Connection, OpenFlags},
    SqliteConnectionManager,
};

use crate::store::StoreError;

/// The pool of a store's connections.
pub(crate) type Pool = r2d2::Pool<SqliteConnectionManager>;

/// How long a writer waits for another's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a lookup waits for a free connection: longer is a store failure (503).
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(3);
/// Connections to a file at most, as many lookups at once.
const MAX_CONNECTIONS: u32 = 10;
/// Statements prepared once per connection: every one a store runs fits.
const STATEMENT_CACHE: usize = 64;

/// A database named by a URL: `sqlite:PATH` or `sqlite://PATH` (created if
/// missing), `?mode=ro` (read-only), `?mode=rw` (must exist), or
/// `sqlite::memory:` (`?mode=memory`): a database in this process only.
#[derive(Clone)]
pub(crate) struct Target {
    /// The file, or for memory a shared-cache URI naming this store's database.
    path: String,
    flags: OpenFlags,
    memory: bool,
    read_only: bool,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.memory {
            f.write_str("in memory")
        } else {
            write!(f, "{:?}", self.path)
        }
    }
}

impl Target {
    pub(crate) fn parse(url: &str) -> Result<Self, StoreError> {
        let bad = |why: &str| StoreError::config(format!("{url:?} is not a SQLite URL: {why}"));
        let rest = url
            .strip_prefix("sqlite:")
            .ok_or_else(|| bad("it must start with `sqlite:`"))?;
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut memory = path == ":memory:";
        let (mut read_only, mut create) = (false, true);
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            match pair {
                "mode=ro" => (read_only, create) = (true, false),
                "mode=rw" => create = false,
                "mode=rwc" => create = true,
                "mode=memory" => memory = true,
                other => {
                    return Err(bad(&format!(
                        "unknown parameter {other:?} (only mode=ro, rw, rwc or memory)"
                    )))
                }
            }
        }
        if memory {
            // Named and shared, so that the revocation feed's connection
            // sees the same database; unique to this store.
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            return Ok(Self {
                path: format!(
                    "file:api-key-auth-{}-{n}?mode=memory&cache=shared",
                    std::process::id()
                ),
                flags: OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_CREATE
                    | OpenFlags::SQLITE_OPEN_URI
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                memory: true,
                read_only: false,
            });
        }
        if path.is_empty() {
            return Err(bad("no file named"));
        }
        let mut flags = OpenFlags::SQLITE_OPEN_NO_MUTEX;
        flags |= if read_only {
            OpenFlags::SQLITE_OPEN_READ_ONLY
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE
        };
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        Ok(Self {
            path: path.to_owned(),
            flags,
            memory: false,
            read_only,
        })
    }

    /// Opens one connection, set up as every connection of a store is.
    pub(crate) fn open(&self) -> Result<Connection, r2d2_sqlite::rusqlite::Error> {
        let conn = Connection::open_with_flags(&self.path, self.flags)?;
        self.set_up(&conn)?;
        Ok(conn)
    }

    fn set_up(&self, conn: &Connection) -> Result<(), r2d2_sqlite::rusqlite::Error> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        if !self.memory && !self.read_only {
            wal(conn)?;
        }
        Ok(())
    }

    /// The pool of connections to this database, one made at once (so a
    /// file that cannot be opened fails here). A database in memory gets
    /// exactly one, kept for ever: it lives as long as a connection does.
    pub(crate) async fn pool(&self) -> Result<Pool, StoreError> {
        let target = self.clone();
        let manager = SqliteConnectionManager::file(&self.path)
            .with_flags(self.flags)
            .with_init(move |conn| target.set_up(conn));
        let builder = Pool::builder()
            .max_size(if self.memory { 1 } else { MAX_CONNECTIONS })
            .min_idle(Some(1))
            .connection_timeout(CHECKOUT_TIMEOUT)
            .test_on_check_out(false);
        let builder = if self.memory {
            builder.idle_timeout(None).max_lifetime(None)
        } else {
            builder
        };
        let first = self.clone();
        tokio::task::spawn_blocking(move || {
            let cannot = |e: &dyn fmt::Display| {
                StoreError::unavailable(format!("cannot open SQLite database {first:?}: {e}"))
            };
            // Opened once on its own first, for the database's own error at
            // once rather than the pool's after its timeout.
            first.open().map_err(|e| cannot(&e))?;
            builder.build(manager).map_err(|e| cannot(&e))
        })
        .await
        .map_err(StoreError::unavailable)?
    }
}

/// Puts the file in WAL mode (readers never wait for a writer, nor a writer for
/// readers), which it keeps.
///
/// Changing mode needs the file to itself and SQLite answers "locked" at once,
/// without waiting, when another connection is opening it too: such a change is
/// retried for up to the busy timeout.
fn wal(conn: &Connection) -> Result<(), r2d2_sqlite::rusqlite::Error> {
    let mode = |conn: &Connection| {
        conn.pragma_query_value(None, "journal_mode", |row| row.get::<_, String>(0))
    };
    let started = std::time::Instant::now();
    loop {
        if mode(conn)?.eq_ignore_ascii_case("wal") {
            return Ok(());
        }
        match conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
        {
            Ok(_) => return Ok(()),
            Err(err)
                if err.sqlite_error_code()
                    == Some(r2d2_sqlite::rusqlite::ErrorCode::DatabaseBusy)
                    && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(err) => return Err(err),
        }
    }
}
