//! A store named by a URL, as the quickstart and the `api-key` command take
//! it: `memory`, `sqlite:PATH`, `postgres://…`, `mysql://…`, `redis://…` or
//! `redis+cluster://host:port,host:port,…`,
//! with this crate's own table or (`drf`) a djangorestframework-api-key one.
//!
//! ```
//! use api_key_auth::store::open::{open, Opened};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = open("memory", false).await?;
//! assert!(matches!(store, Opened::Memory(_)));
//! let err = open("ftp://example", false).await.unwrap_err();
//! assert!(err.is_config());
//! # Ok::<(), api_key_auth::StoreError>(())
//! # }).unwrap();
//! ```

use std::sync::Arc;

use crate::store::{memory::MemoryStore, KeyManager, StoreError};

/// The store a URL named, opened (and, for this crate's own table, migrated).
#[derive(Debug)]
#[non_exhaustive]
pub enum Opened {
    /// `memory`: keys in this process only.
    Memory(MemoryStore),
    /// `sqlite:PATH` (or `sqlite::memory:`).
    #[cfg(feature = "sqlite")]
    Sqlite(crate::store::sqlite::SqliteStore),
    /// `postgres://…` or `postgresql://…`.
    #[cfg(feature = "postgres")]
    Postgres(crate::store::postgres::PostgresStore),
    /// `mysql://…` or `mariadb://…`.
    #[cfg(feature = "mysql")]
    MySql(crate::store::mysql::MySqlStore),
    /// `redis://…` or `rediss://…`, or a Redis Cluster by its seed nodes,
    /// `redis+cluster://host:port,host:port,…`.
    #[cfg(feature = "redis")]
    Redis(crate::store::redis::RedisStore),
}

impl Opened {
    /// The store as a shared [`KeyManager`].
    pub fn into_manager(self) -> Arc<dyn KeyManager> {
        match self {
            Self::Memory(store) => Arc::new(store),
            #[cfg(feature = "sqlite")]
            Self::Sqlite(store) => Arc::new(store),
            #[cfg(feature = "postgres")]
            Self::Postgres(store) => Arc::new(store),
            #[cfg(feature = "mysql")]
            Self::MySql(store) => Arc::new(store),
            #[cfg(feature = "redis")]
            Self::Redis(store) => Arc::new(store),
        }
    }

    /// The store as a shared [`KeyManager`] behind a
    /// [`CachedStore`](crate::cache::CachedStore) that hears of the
    /// revocations made anywhere (PostgreSQL's and Redis's channels, the
    /// change log of SQLite and MySQL, which `api-key migrate` feeds from
    /// Django too): for a server that many instances, the command or
    /// Django share the keys with. The memory store is in this process
    /// already and is not cached.
    #[cfg(feature = "cache")]
    #[cfg_attr(docsrs, doc(cfg(feature = "cache")))]
    pub fn into_cached_manager(self) -> Arc<dyn KeyManager> {
        use crate::cache::CachedStore;
        match self {
            Self::Memory(store) => Arc::new(store),
            #[cfg(feature = "sqlite")]
            Self::Sqlite(store) => {
                let revocations = store.revocations();
                Arc::new(CachedStore::new(store).with_invalidations(revocations))
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(store) => {
                let revocations = store.revocations();
                Arc::new(CachedStore::new(store).with_invalidations(revocations))
            }
            #[cfg(feature = "mysql")]
            Self::MySql(store) => {
                let revocations = store.revocations();
                Arc::new(CachedStore::new(store).with_invalidations(revocations))
            }
            #[cfg(feature = "redis")]
            Self::Redis(store) => {
                let revocations = store.revocations();
                Arc::new(CachedStore::new(store).with_invalidations(revocations))
            }
        }
    }
}

/// Opens the store `url` names; `drf` serves a djangorestframework-api-key
/// table (SQLite, PostgreSQL, MySQL) instead of this crate's own, which is
/// created or upgraded on opening.
///
/// An error says what was wrong: a URL of no known kind, a kind this build
/// leaves out, a store that cannot be reached.
pub async fn open(url: &str, drf: bool) -> Result<Opened, StoreError> {
    opened(url, drf)
        .await
        .map_err(|err| without_password(err, url))
}

async fn opened(url: &str, drf: bool) -> Result<Opened, StoreError> {
    if drf {
        #[cfg(feature = "_sql")]
        return opened_with(url, crate::store::Schema::drf()).await;
        #[cfg(not(feature = "_sql"))]
        return Err(no_drf(scheme_of(url)));
    }
    let scheme = scheme_of(url);
    match scheme {
        "memory" if url == "memory" => Ok(Opened::Memory(MemoryStore::new())),
        "sqlite" | "postgres" | "postgresql" | "mysql" | "mariadb" => {
            #[cfg(feature = "_sql")]
            return opened_with(url, crate::store::Schema::Native).await;
            #[cfg(not(feature = "_sql"))]
            Err(needs(
                scheme,
                match scheme {
                    "sqlite" => "sqlite",
                    "mysql" | "mariadb" => "mysql",
                    _ => "postgres",
                },
            ))
        }
        "redis" | "rediss" | "redis+cluster" => {
            authority_required(url, scheme)?;
            #[cfg(feature = "redis")]
            {
                Ok(Opened::Redis(
                    crate::store::redis::RedisStore::connect(url).await?,
                ))
            }
            #[cfg(not(feature = "redis"))]
            Err(needs(
                scheme,
                if scheme == "redis+cluster" {
                    "redis-cluster"
                } else {
                    "redis"
                },
            ))
        }
        _ => Err(unknown(url)),
    }
}

/// Opens the SQL store `url` names (SQLite, PostgreSQL or MySQL) serving
/// `schema`'s table: this crate's own, created or upgraded on opening, or a
/// djangorestframework-api-key one, perhaps with its naive dates in a time
/// zone ([`Schema::with_naive_time_zone`](crate::store::Schema::with_naive_time_zone)).
#[cfg(feature = "_sql")]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql")))
)]
pub async fn open_with(url: &str, schema: crate::store::Schema) -> Result<Opened, StoreError> {
    opened_with(url, schema)
        .await
        .map_err(|err| without_password(err, url))
}

#[cfg(feature = "_sql")]
async fn opened_with(url: &str, schema: crate::store::Schema) -> Result<Opened, StoreError> {
    let scheme = scheme_of(url);
    if matches!(scheme, "postgres" | "postgresql" | "mysql" | "mariadb") {
        authority_required(url, scheme)?;
    }
    let native = !matches!(schema, crate::store::Schema::Drf(_));
    match scheme {
        "sqlite" => {
            #[cfg(feature = "sqlite")]
            {
                let store = crate::store::sqlite::SqliteStore::open(url, schema).await?;
                if native {
                    store.migrate().await?;
                }
                Ok(Opened::Sqlite(store))
            }
            #[cfg(not(feature = "sqlite"))]
            Err(needs(scheme, "sqlite"))
        }
        "postgres" | "postgresql" => {
            #[cfg(feature = "postgres")]
            {
                let store = crate::store::postgres::PostgresStore::open(url, schema).await?;
                if native {
                    store.migrate().await?;
                }
                Ok(Opened::Postgres(store))
            }
            #[cfg(not(feature = "postgres"))]
            Err(needs(scheme, "postgres"))
        }
        "mysql" | "mariadb" => {
            #[cfg(feature = "mysql")]
            {
                let url = url.replacen("mariadb://", "mysql://", 1);
                let store = crate::store::mysql::MySqlStore::open(&url, schema).await?;
                if native {
                    store.migrate().await?;
                }
                Ok(Opened::MySql(store))
            }
            #[cfg(not(feature = "mysql"))]
            Err(needs(scheme, "mysql"))
        }
        "memory" | "redis" | "rediss" | "redis+cluster" if !native => {
            Err(no_drf(if scheme == "memory" {
                "memory"
            } else {
                "Redis"
            }))
        }
        "memory" | "redis" | "rediss" | "redis+cluster" => Err(StoreError::config(format!(
            "{scheme} is no SQL store: a table layout is for SQLite, PostgreSQL or MySQL"
        ))),
        _ => Err(unknown(url)),
    }
}

fn scheme_of(url: &str) -> &str {
    url.split(':').next().unwrap_or_default()
}

fn no_drf(what: &str) -> StoreError {
    StoreError::config(format!(
        "a djangorestframework-api-key table lives in SQLite, PostgreSQL or MySQL, not {what}"
    ))
}

fn unknown(url: &str) -> StoreError {
    StoreError::config(format!(
        "a store is `memory`, `sqlite:PATH`, `postgres://…`, `mysql://…` or `redis://…`, not {:?}",
        redacted(url)
    ))
}

/// A server store's URL must be `scheme://…`: sqlx takes `postgresql:user:…`
/// for a local database named after the rest, password and all, and the
/// server's error then quotes it.
fn authority_required(url: &str, scheme: &str) -> Result<(), StoreError> {
    if url.contains("://") {
        return Ok(());
    }
    Err(StoreError::config(format!(
        "a {scheme} store is a URL, {scheme}://[user[:password]@]host[:port]/…, with its //"
    )))
}

/// `err` with the password of `url` taken out of what it says, should a
/// driver have quoted it.
fn without_password(err: StoreError, url: &str) -> StoreError {
    let password = url
        .split_once("://")
        .and_then(|(_, rest)| rest.rsplit_once('@'))
        .and_then(|(credentials, _)| credentials.split_once(':'))
        .map(|(_, password)| password)
        .filter(|password| !password.is_empty());
    let Some(password) = password else {
        return err;
    };
    let mut said = err.to_string();
    let mut cause = std::error::Error::source(&err);
    while let Some(next) = cause {
        said.push_str(&format!(": {next}"));
        cause = next.source();
    }
    if !said.contains(password) {
        return err;
    }
    let said = said.replace(password, "…");
    if err.is_config() {
        StoreError::config(said)
    } else {
        StoreError::unavailable(said)
    }
}

/// The store kind `scheme` is one this build leaves out.
#[allow(dead_code)] // used only by builds without some store feature
fn needs(scheme: &str, feature: &str) -> StoreError {
    StoreError::config(format!(
        "{scheme}: stores need the `{feature}` feature, which this build leaves out"
    ))
}

/// `url` without its credentials or query (which may carry a password), for
/// showing.
///
/// The credentials run to the last `@` of the URL, so a password holding `?`,
/// `#`, `/` or `@` (which should be percent-encoded, but is often written as it
/// is) is never mistaken for the end of the authority; anything after a `?` or
/// `#` that is left is cut too. Text that is no `scheme://` URL, `memory` or
/// `sqlite:PATH` (a libpq `host=… password=…` string, a URL missing its `//`)
/// is not shown at all.
pub fn redacted(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None if url == "memory" || url.starts_with("sqlite:") => (None, url),
        None => return "…".to_owned(),
    };
    let (credentials, rest) = match rest.rsplit_once('@') {
        Some((_, host)) => (true, host),
        None => (false, rest),
    };
    let (rest, cut) = match rest.find(['?', '#']) {
        Some(at) => (&rest[..at], true),
        None => (rest, false),
    };
    let mut shown = String::with_capacity(url.len());
    if let Some(scheme) = scheme {
        shown.push_str(scheme);
        shown.push_str("://");
    }
    if credentials {
        shown.push_str("…@");
    }
    shown.push_str(rest);
    if cut {
        shown.push_str("?…");
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            redacted("postgres://app:s3cret@db:5432/keys"),
            "postgres://…@db:5432/keys"
        );
        assert_eq!(redacted("sqlite:keys.db"), "sqlite:keys.db");
        assert_eq!(redacted("redis://127.0.0.1"), "redis://127.0.0.1");
        assert_eq!(
            redacted("redis+cluster://:s3cret@a:7000,b:7000"),
            "redis+cluster://…@a:7000,b:7000"
        );
        assert_eq!(
            redacted("mysql://db/keys?user=app&password=s3cret"),
            "mysql://db/keys?…"
        );
    }

    /// Text that is no URL (libpq's `key=value` form) is never shown whole,
    /// and a URL missing its `//` is refused before it reaches the driver,
    /// whose error would quote the password.
    #[test]
    fn what_is_no_url_is_never_shown() {
        for text in [
            "host=db user=app password=S3cretPW dbname=keys",
            "postgresql:app:S3cretPW@db/keys",
            "S3cretPW",
        ] {
            assert!(!redacted(text).contains("S3cretPW"), "{text}");
            assert!(!unknown(text).to_string().contains("S3cretPW"), "{text}");
        }
        assert_eq!(redacted("sqlite:keys.db"), "sqlite:keys.db");
        assert_eq!(redacted("memory"), "memory");
        let refused = authority_required("postgresql:app:S3cretPW@db/keys", "postgresql");
        assert!(!refused.unwrap_err().to_string().contains("S3cretPW"));
        let quoted = StoreError::unavailable(
            "database \"keys\" of postgres://app:S3cretPW@db refused: S3cretPW",
        );
        let scrubbed = without_password(quoted, "postgres://app:S3cretPW@db/keys");
        assert!(
            !format!("{scrubbed}{:?}", std::error::Error::source(&scrubbed)).contains("S3cretPW")
        );
    }

    /// Credentials are removed before the URL is cut at its first `?`:
    /// cut first, `postgres://postgres:S3CR?ETpw@…` would be shown as
    /// `postgres://postgres:S3CR?…`.
    #[test]
    fn passwords_holding_url_delimiters_are_not_shown() {
        for password in [
            "S3CR?ETpw",
            "S3CR#ETpw",
            "S3CR@ETpw",
            "S3CR/ETpw",
            "Xq?Zw#Vy/Uk@Tj",
        ] {
            for url in [
                format!("postgres://app:{password}@db:5432/keys"),
                format!("postgres://app:{password}@db:5432/keys?sslmode=require"),
                format!("redis+cluster://:{password}@a:7000,b:7000"),
                format!("mysql://{password}@db"),
            ] {
                let shown = redacted(&url);
                for part in password.split(['?', '#', '@', '/']) {
                    assert!(!shown.contains(part), "{url} was shown as {shown}");
                }
                assert!(shown.contains("…@"), "{url} was shown as {shown}");
            }
        }
        assert_eq!(
            redacted("postgres://postgres:S3CR?ETpw@db:5432/keys"),
            "postgres://…@db:5432/keys"
        );
    }
}
