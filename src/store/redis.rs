//! A Redis key store (feature `redis`): keys in a Redis server shared by many
//! instances, through the redis crate's connection manager, which reconnects
//! by itself after a dropped connection.
//!
//! ```no_run
//! use api_key_auth::{store::redis::RedisStore, ApiKeyLayer};
//!
//! # async fn run() -> Result<(), api_key_auth::StoreError> {
//! let store = RedisStore::connect("redis://127.0.0.1:6379").await?.with_namespace("billing");
//! let layer = ApiKeyLayer::new(store);
//! # Ok(()) }
//! ```
//!
//! Under the namespace `ns` (default `apikey`) the store keeps:
//!
//! | key | type | what |
//! |---|---|---|
//! | `ns:key:<prefix>` | hash | the record: `id`, `name`, `hashed_key`, `created_ms`, `expires_ms`, `revoked`, `scopes` (JSON), `owner`, `metadata` (JSON), and once set `replaces`, `replaced_by`, `last_used_ms`, `rate_limit` (JSON) |
//! | `ns:id:<id>` | string | the prefix of the key with that id |
//! | `ns:created` | sorted set | prefixes scored by creation time, for listing |
//! | `ns:ids` | sorted set | ids, all scored 0 so they sort by id, for paged listing |
//! | `ns:ids:complete` | string | set once `ns:ids` holds the ids of keys stored before it existed |
//!
//! Inserts, revocations, rotations and last-use writes are Lua scripts, so each is atomic. Every
//! revocation is published on `ns:revoked` with the key's prefix, for caches
//! in other instances to drop it. The store expects a single Redis server
//! (or a primary with replicas), not a cluster.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, SystemTime},
};

use async_trait::async_trait;
use redis::{
    aio::{ConnectionManager, ConnectionManagerConfig},
    Client, Script,
};

use crate::{
    hash::{Hasher, StoredHash},
    key::Prefix,
    store::{
        row::{to_millis, InsertValues, RawRecord},
        KeyManager, KeyRecord, KeyStore, KeyUse, Lookup, Page, PageRequest, Retirement, StoreError,
    },
};

/// Saves a record unless its prefix or id is taken.
/// KEYS: record hash, id index, creation index, ids in order.
/// ARGV: prefix, created_ms, id, field/value pairs.
const INSERT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('SET', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[4], 0, ARGV[3])
return 1
";

/// The next ids in order after a cursor, for paged listing. Keys stored
/// before ids were kept in order are added to the ordered set first, once.
/// KEYS: ids in order, creation index, the mark that the ids are complete.
/// ARGV: the record keys' prefix (`ns:key:`), the cursor (empty: from the
/// start), how many.
const NEXT_IDS: &str = r"
if redis.call('EXISTS', KEYS[3]) == 0 then
  for _, prefix in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
    local id = redis.call('HGET', ARGV[1] .. prefix, 'id')
    if id then
      redis.call('ZADD', KEYS[1], 0, id)
    end
  end
  redis.call('SET', KEYS[3], '1')
end
local from = '-'
if ARGV[2] ~= '' then
  from = '(' .. ARGV[2]
end
return redis.call('ZRANGE', KEYS[1], from, '+', 'BYLEX', 'LIMIT', 0, tonumber(ARGV[3]))
";

/// Marks a record revoked and announces it.
/// KEYS: id index. ARGV: the record keys' prefix (`ns:key:`), the channel.
const REVOKE: &str = r"
local prefix = redis.call('GET', KEYS[1])
if not prefix then
  return false
end
redis.call('HSET', ARGV[1] .. prefix, 'revoked', '1')
redis.call('PUBLISH', ARGV[2], prefix)
return prefix
";

/// Saves a key replacing another and retires the old one, atomically.
/// KEYS: old id index, old record, new record, new id index, creation
/// index, ids in order. ARGV: old prefix, channel, now (ms), revoke ("1"
/// or "0"), expire at (ms), new prefix, new created_ms, new id, then the new
/// record's field/value pairs. Answers `ok`, `missing`, `inactive`
/// (revoked, expired or already replaced), `invalid` (a record that does
/// not read) or `conflict`.
const REPLACE: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 'missing'
end
local revoked = redis.call('HGET', KEYS[2], 'revoked')
if not revoked then
  return 'missing'
end
if revoked == '1' then
  return 'inactive'
end
if revoked ~= '0' then
  return 'invalid'
end
if redis.call('HEXISTS', KEYS[2], 'replaced_by') == 1 then
  return 'inactive'
end
local expires = redis.call('HGET', KEYS[2], 'expires_ms')
if expires then
  if not string.match(expires, '^%-?%d+$') then
    return 'invalid'
  end
  if tonumber(expires) <= tonumber(ARGV[3]) then
    return 'inactive'
  end
end
if redis.call('EXISTS', KEYS[3]) == 1 or redis.call('EXISTS', KEYS[4]) == 1 then
  return 'conflict'
end
redis.call('HSET', KEYS[3], unpack(ARGV, 9))
redis.call('SET', KEYS[4], ARGV[6])
redis.call('ZADD', KEYS[5], ARGV[7], ARGV[6])
redis.call('ZADD', KEYS[6], 0, ARGV[8])
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[2], 'revoked', '1', 'replaced_by', ARGV[8])
else
  local at = ARGV[5]
  if expires and tonumber(expires) < tonumber(at) then
    at = expires
  end
  redis.call('HSET', KEYS[2], 'expires_ms', at, 'replaced_by', ARGV[8])
end
redis.call('PUBLISH', ARGV[2], ARGV[1])
return 'ok'
";

/// Moves each key's `last_used_ms` to its use unless it holds a later one.
/// KEYS: the records. ARGV: for each, its id and the use (ms), in turn.
const LAST_USE: &str = r"
for i, key in ipairs(KEYS) do
  local id, at = ARGV[2 * i - 1], ARGV[2 * i]
  if redis.call('HGET', key, 'id') == id then
    local last = redis.call('HGET', key, 'last_used_ms')
    if not last or tonumber(last) < tonumber(at) then
      redis.call('HSET', key, 'last_used_ms', at)
    end
  end
end
return 0
";

/// Replaces a record's hash if it still holds the old one, and announces it.
/// KEYS: the record. ARGV: its id, the old hash, the new one, the channel, the prefix.
const UPGRADE_HASH: &str = r"
if redis.call('HGET', KEYS[1], 'id') == ARGV[1] and redis.call('HGET', KEYS[1], 'hashed_key') == ARGV[2] then
  redis.call('HSET', KEYS[1], 'hashed_key', ARGV[3])
  redis.call('PUBLISH', ARGV[4], ARGV[5])
  return 1
end
return 0
";

/// Keys in Redis. Cheap to clone: clones share one multiplexed connection.
#[derive(Clone)]
pub struct RedisStore {
    client: Client,
    connection: ConnectionManager,
    namespace: Arc<str>,
    hasher: Hasher,
    insert: Arc<Script>,
    revoke: Arc<Script>,
    next_ids: Arc<Script>,
    replace: Arc<Script>,
    last_use: Arc<Script>,
    upgrade_hash: Arc<Script>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("namespace", &self.namespace)
            .field("hasher", &self.hasher.algorithm())
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Its connection and namespace, for the rate limiter that shares them.
    #[cfg(feature = "rate-limit")]
    pub(crate) fn connection(&self) -> (ConnectionManager, Arc<str>) {
        (self.connection.clone(), self.namespace.clone())
    }

    /// Connects to `url` (`redis://[:password@]host:port[/db]`). Commands
    /// that get no answer within two seconds fail (the layer answers 503);
    /// a dropped connection is re-established in the background.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let client =
            Client::open(url).map_err(|e| StoreError::config(format!("not a Redis URL: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(3)
            .set_max_delay(Duration::from_secs(1));
        let connection = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(StoreError::unavailable)?;
        Ok(Self {
            client,
            connection,
            namespace: Arc::from("apikey"),
            hasher: Hasher::default(),
            insert: Arc::new(Script::new(INSERT)),
            next_ids: Arc::new(Script::new(NEXT_IDS)),
            revoke: Arc::new(Script::new(REVOKE)),
            replace: Arc::new(Script::new(REPLACE)),
            last_use: Arc::new(Script::new(LAST_USE)),
            upgrade_hash: Arc::new(Script::new(UPGRADE_HASH)),
        })
    }

    /// Keeps keys under `namespace` instead of `apikey`, so several services
    /// (or tests) can share one Redis.
    pub fn with_namespace(mut self, namespace: &str) -> Self {
        self.namespace = Arc::from(namespace);
        self
    }

    /// Hashes new keys with `hasher`.
    pub fn with_hasher(mut self, hasher: Hasher) -> Self {
        self.hasher = hasher;
        self
    }

    /// The namespace the keys live under.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The channel revocations are published on: `<namespace>:revoked`.
    pub fn revocation_channel(&self) -> String {
        format!("{}:revoked", self.namespace)
    }

    /// The client, for opening connections of one's own (a pub/sub listener, say).
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn record_key(&self, prefix: &str) -> String {
        format!("{}:key:{prefix}", self.namespace)
    }

    fn id_key(&self, id: &str) -> String {
        format!("{}:id:{id}", self.namespace)
    }

    async fn load(&self, prefix: &str) -> Result<Option<KeyRecord>, StoreError> {
        let fields: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(self.record_key(prefix))
            .query_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::unavailable)?;
        if fields.is_empty() {
            return Ok(None);
        }
        decode(prefix, fields).map(Some)
    }
}

fn decode(prefix: &str, mut fields: HashMap<String, String>) -> Result<KeyRecord, StoreError> {
    let mut take = |name: &str| fields.remove(name);
    let invalid = |what: &str| StoreError::invalid_record(format!("Redis record {prefix}: {what}"));
    let number = |text: String, what: &str| text.parse::<i64>().map_err(|_| invalid(what));
    RawRecord {
        id: take("id").ok_or_else(|| invalid("no id"))?,
        prefix: prefix.to_owned(),
        hashed_key: take("hashed_key").ok_or_else(|| invalid("no hashed_key"))?,
        name: take("name").unwrap_or_default(),
        created_ms: number(
            take("created_ms").ok_or_else(|| invalid("no created_ms"))?,
            "created_ms is not a number",
        )?,
        expires_ms: take("expires_ms")
            .map(|t| number(t, "expires_ms is not a number"))
            .transpose()?,
        // A field that is there but not a number was refused just above.
        has_expiry: false,
        // Exactly "0" or "1", as this store writes it: anything else (a
        // "true" set by hand, a missing field) is a record we cannot read,
        // and a refusal, never a pass.
        revoked: match take("revoked").as_deref() {
            Some("0") => Some(false),
            Some("1") => Some(true),
            Some(_) => return Err(invalid("revoked is neither \"0\" nor \"1\"")),
            None => return Err(invalid("no revoked")),
        },
        scopes: take("scopes").unwrap_or_else(|| "[]".to_owned()),
        owner: take("owner"),
        metadata: take("metadata").unwrap_or_else(|| "{}".to_owned()),
        replaces: take("replaces"),
        replaced_by: take("replaced_by"),
        last_used_ms: take("last_used_ms")
            .map(|t| number(t, "last_used_ms is not a number"))
            .transpose()?,
        rate_limit: take("rate_limit"),
    }
    .into_record()
}

#[async_trait]
impl KeyStore for RedisStore {
    async fn find(&self, prefix: Prefix) -> Lookup {
        Ok(self.load(prefix.as_str()).await?.map(Arc::new))
    }

    fn hash_algorithm(&self) -> Option<crate::hash::Algorithm> {
        Some(self.hasher.algorithm())
    }

    async fn upgrade_hash(&self, record: &KeyRecord, new: StoredHash) -> Result<bool, StoreError> {
        let changed: i64 = self
            .upgrade_hash
            .key(self.record_key(record.prefix.as_str()))
            .arg(&record.id)
            .arg(record.hash.to_string())
            .arg(new.to_string())
            .arg(self.revocation_channel())
            .arg(record.prefix.as_str())
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::unavailable)?;
        Ok(changed == 1)
    }
}

#[async_trait]
impl KeyManager for RedisStore {
    async fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
        let values = InsertValues::new(record, false)?;
        let mut invocation = self.insert.prepare_invoke();
        invocation
            .key(self.record_key(&values.prefix))
            .key(format!("{}:id:{}", self.namespace, values.id))
            .key(format!("{}:created", self.namespace))
            .key(format!("{}:ids", self.namespace))
            .arg(&values.prefix)
            .arg(values.created_ms)
            .arg(&values.id);
        for (name, value) in record_fields(&values) {
            invocation.arg(name).arg(value);
        }
        let saved: i64 = invocation
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::unavailable)?;
        if saved == 1 {
            Ok(())
        } else {
            Err(StoreError::conflict(format!(
                "prefix {} or id {:?} is already stored",
                values.prefix, values.id
            )))
        }
    }

    async fn list(&self) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        let prefixes: Vec<String> = redis::cmd("ZRANGE")
            .arg(format!("{}:created", self.namespace))
            .arg(0)
            .arg(-1)
            .query_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::unavailable)?;
        if prefixes.is_empty() {
            // An empty pipeline is an error to the client, not an empty answer.
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for prefix in &prefixes {
            pipe.cmd("HGETALL").arg(self.record_key(prefix));
        }
        let rows: Vec<HashMap<String, String>> = pipe
            .query_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::unavailable)?;
        prefixes
            .iter()
            .zip(rows)
            .filter(|(_, fields)| !fields.is_empty())
            .map(|(prefix, fields)| decode(prefix, fields).map(Arc::new))
            .collect()
    }

    /// The id's index names the prefix: one lookup, then the record.
    async fn find_by_id(&self, id: &str) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        let prefix: Option<String> = redis::cmd("GET")
            .arg(format!("{}:id:{id}", self.namespace))
            .query_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::unavailable)?;
        match prefix {
            Some(prefix) => Ok(self.load(&prefix).await?.map(Arc::new)),
            None => Ok(None),
        }
    }

    /// Pages over the ids in order (a sorted set read by range), reading
    /// the records of one batch at a time and keeping those the filter admits.
    async fn list_page(&self, request: &PageRequest) -> Result<Page, StoreError> {
        let now = SystemTime::now();
        let wanted = request.limit() as usize + 1;
        let mut keys = Vec::with_capacity(wanted);
        let mut cursor = request.cursor().unwrap_or("").to_owned();
        loop {
            let batch = wanted.max(100);
            let ids: Vec<String> = self
                .next_ids
                .key(format!("{}:ids", self.namespace))
                .key(format!("{}:created", self.namespace))
                .key(format!("{}:ids:complete", self.namespace))
                .arg(format!("{}:key:", self.namespace))
                .arg(&cursor)
                .arg(batch)
                .invoke_async(&mut self.connection.clone())
                .await
                .map_err(StoreError::unavailable)?;
            let Some(last) = ids.last() else {
                break;
            };
            cursor = last.clone();
            let mut pipe = redis::pipe();
            for id in &ids {
                pipe.cmd("GET").arg(format!("{}:id:{id}", self.namespace));
            }
            let prefixes: Vec<Option<String>> = pipe
                .query_async(&mut self.connection.clone())
                .await
                .map_err(StoreError::unavailable)?;
            let prefixes: Vec<String> = prefixes.into_iter().flatten().collect();
            let mut pipe = redis::pipe();
            for prefix in &prefixes {
                pipe.cmd("HGETALL").arg(self.record_key(prefix));
            }
            let rows: Vec<HashMap<String, String>> = if prefixes.is_empty() {
                Vec::new()
            } else {
                pipe.query_async(&mut self.connection.clone())
                    .await
                    .map_err(StoreError::unavailable)?
            };
            for (prefix, fields) in prefixes.iter().zip(rows) {
                if fields.is_empty() {
                    continue;
                }
                let record = decode(prefix, fields)?;
                if request.admits(&record, now) {
                    keys.push(Arc::new(record));
                    if keys.len() == wanted {
                        return Ok(Page::of(keys, request.limit()));
                    }
                }
            }
            if ids.len() < batch {
                break;
            }
        }
        Ok(Page::of(keys, request.limit()))
    }

    async fn revoke(&self, id: &str) -> Result<bool, StoreError> {
        let revoked: Option<String> = self
            .revoke
            .key(format!("{}:id:{id}", self.namespace))
            .arg(format!("{}:key:", self.namespace))
            .arg(self.revocation_channel())
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::unavailable)?;
        Ok(revoked.is_some())
    }

    fn hasher(&self) -> Hasher {
        self.hasher.clone()
    }

    async fn replace(
        &self,
        old_id: &str,
        new: KeyRecord,
        retirement: Retirement,
    ) -> Result<Arc<KeyRecord>, StoreError> {
        let old_prefix: Option<String> = redis::cmd("GET")
            .arg(self.id_key(old_id))
            .query_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::unavailable)?;
        let not_found = || StoreError::not_found(format!("no key has the id {old_id:?}"));
        let old_prefix = old_prefix.ok_or_else(not_found)?;
        // Read before the script, which checks it again: once the script has
        // run, the new key exists, and nothing may fail before its secret
        // reaches the caller.
        let old = self.load(&old_prefix).await?.ok_or_else(not_found)?;
        let new_id = new.id.clone();
        let values = InsertValues::new(new, false)?;
        let (revoke, expire_at) = match retirement {
            Retirement::Revoke => ("1", String::new()),
            Retirement::ExpireAt(at) => ("0", to_millis(at).to_string()),
        };
        let mut invocation = self.replace.prepare_invoke();
        invocation
            .key(self.id_key(old_id))
            .key(self.record_key(&old_prefix))
            .key(self.record_key(&values.prefix))
            .key(self.id_key(&values.id))
            .key(format!("{}:created", self.namespace))
            .key(format!("{}:ids", self.namespace))
            .arg(&old_prefix)
            .arg(self.revocation_channel())
            .arg(to_millis(SystemTime::now()))
            .arg(revoke)
            .arg(&expire_at)
            .arg(&values.prefix)
            .arg(values.created_ms)
            .arg(&values.id);
        for (name, value) in record_fields(&values) {
            invocation.arg(name).arg(value);
        }
        let answer: String = invocation
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::unavailable)?;
        match answer.as_str() {
            "ok" => Ok(Arc::new(old.retired(retirement, &new_id))),
            "missing" => Err(not_found()),
            "inactive" => Err(StoreError::inactive(format!(
                "key {old_id:?} is revoked or expired"
            ))),
            "conflict" => Err(StoreError::conflict(format!(
                "prefix {} or id {:?} is already stored",
                values.prefix, values.id
            ))),
            other => Err(StoreError::invalid_record(format!(
                "Redis record {old_prefix}: it does not read ({other})"
            ))),
        }
    }

    async fn record_last_use(&self, uses: &[KeyUse]) -> Result<(), StoreError> {
        for chunk in uses.chunks(500) {
            let mut invocation = self.last_use.prepare_invoke();
            for used in chunk {
                invocation
                    .key(self.record_key(used.prefix.as_str()))
                    .arg(&used.id)
                    .arg(to_millis(used.at));
            }
            let _: i64 = invocation
                .invoke_async(&mut self.connection.clone())
                .await
                .map_err(StoreError::unavailable)?;
        }
        Ok(())
    }
}

/// A new record's fields, as the insert and replace scripts write them.
fn record_fields(values: &InsertValues) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("id", values.id.clone()),
        ("name", values.name.clone()),
        ("hashed_key", values.hashed_key.clone()),
        ("created_ms", values.created_ms.to_string()),
        ("revoked", if values.revoked { "1" } else { "0" }.to_owned()),
        ("scopes", values.scopes.clone()),
        ("metadata", values.metadata.clone()),
    ];
    if let Some(expires) = values.expires_ms {
        fields.push(("expires_ms", expires.to_string()));
    }
    if let Some(owner) = &values.owner {
        fields.push(("owner", owner.clone()));
    }
    if let Some(replaces) = &values.replaces {
        fields.push(("replaces", replaces.clone()));
    }
    if let Some(replaced_by) = &values.replaced_by {
        fields.push(("replaced_by", replaced_by.clone()));
    }
    if let Some(last_used) = values.last_used_ms {
        fields.push(("last_used_ms", last_used.to_string()));
    }
    if let Some(limit) = &values.rate_limit {
        fields.push(("rate_limit", limit.clone()));
    }
    fields
}

#[cfg(feature = "cache")]
#[cfg_attr(docsrs, doc(cfg(feature = "cache")))]
pub use revocations::RedisRevocations;

#[cfg(feature = "cache")]
mod revocations {
    use std::time::Duration;

    use async_trait::async_trait;
    use futures_util::StreamExt;
    use redis::{
        aio::{PubSubSink, PubSubStream},
        Client,
    };

    use super::RedisStore;
    use crate::store::{Invalidation, InvalidationSource, Line, Listener};

    /// Revocations made by other instances, from Redis pub/sub, for a
    /// [`CachedStore`](crate::cache::CachedStore).
    ///
    /// It yields [`Invalidation::All`] whenever it may have missed a message:
    /// when it finds its connection lost, at every failed attempt to
    /// subscribe again (so while it cannot listen, nothing cached outlives
    /// one retry, at most a few seconds), and once subscribed again. A
    /// connection that stays open but carries nothing (a stalled proxy or
    /// NAT) is found by a heartbeat: a `PING` after every
    /// [`heartbeat`](Self::heartbeat) without traffic, which must be
    /// answered within the heartbeat (at most a second).
    #[derive(Debug)]
    pub struct RedisRevocations(Listener<RedisLine>);

    /// A subscription to the revocation channel, on a connection of its own.
    pub(crate) struct RedisLine {
        client: Client,
        channel: String,
    }

    impl RedisStore {
        #[cfg_attr(docsrs, doc(cfg(feature = "cache")))]
        /// A source of the revocations other instances publish, to pass to
        /// [`CachedStore::with_invalidations`](crate::cache::CachedStore::with_invalidations).
        pub fn revocations(&self) -> RedisRevocations {
            RedisRevocations(Listener::new(RedisLine {
                client: self.client.clone(),
                channel: self.revocation_channel(),
            }))
        }
    }

    impl RedisRevocations {
        /// How long the subscription may be quiet before it is checked with a
        /// `PING`; 5 s by default. A silent dead connection is noticed (and
        /// the cache flushed) within this plus at most a second.
        pub fn heartbeat(mut self, every: Duration) -> Self {
            self.0.set_heartbeat(every);
            self
        }
    }

    #[async_trait]
    impl InvalidationSource for RedisRevocations {
        async fn next(&mut self) -> Option<Invalidation> {
            Some(self.0.next().await)
        }
    }

    #[async_trait]
    impl Line for RedisLine {
        type Open = (PubSubSink, PubSubStream);
        const WHAT: &'static str = "SUBSCRIBE";

        async fn open(&self) -> Result<(PubSubSink, PubSubStream), String> {
            let subscribed = async {
                let mut pubsub = self.client.get_async_pubsub().await?;
                pubsub.subscribe(&self.channel).await?;
                Ok::<_, redis::RedisError>(pubsub.split())
            };
            subscribed.await.map_err(|e| e.to_string())
        }

        /// A message channel's receiver: cancel-safe.
        async fn recv((_, stream): &mut (PubSubSink, PubSubStream)) -> Option<String> {
            let message = stream.next().await?;
            // A payload that is not text is not a prefix: it is ignored, not a loss.
            Some(message.get_payload::<String>().unwrap_or_default())
        }

        async fn probe((sink, _): &mut (PubSubSink, PubSubStream)) -> Result<(), String> {
            sink.ping::<redis::Value>()
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        }
    }
}
