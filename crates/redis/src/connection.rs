//! The store's connection: one Redis server (or a primary with replicas)
//! through the connection manager, or a Redis Cluster through the cluster
//! client (feature `redis-cluster`). Both route each command, script and
//! pipeline the same way from the store's side.

use std::time::Duration;

use redis::{
    aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig},
    Client, Cmd, Pipeline, RedisFuture, Value,
};

use crate::store::StoreError;

/// The URL scheme that names a Redis Cluster by its seed nodes.
pub(crate) const CLUSTER_SCHEME: &str = "redis+cluster://";

/// How long a connection attempt or a command may take before it fails.
const TIMEOUT: Duration = Duration::from_secs(2);

/// A connection shared by the store's clones (both kinds multiplex).
#[derive(Clone)]
pub(crate) enum RedisConnection {
    /// One server, reconnected in the background after a drop.
    Server(ConnectionManager),
    /// A cluster: each command goes to the primary of its keys' slot, and
    /// the slot map is refreshed when the cluster moves a slot.
    #[cfg(feature = "redis-cluster")]
    Cluster(redis::cluster_async::ClusterConnection),
}

impl RedisConnection {
    /// Connects to the one server `client` names.
    pub(crate) async fn server(client: &Client) -> Result<Self, StoreError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(3)
            .set_max_delay(Duration::from_secs(1));
        ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map(Self::Server)
            .map_err(StoreError::unavailable)
    }

    /// Connects to the cluster the seed `nodes` belong to.
    #[cfg(feature = "redis-cluster")]
    pub(crate) async fn cluster(nodes: &[String]) -> Result<Self, StoreError> {
        let client = redis::cluster::ClusterClient::builder(nodes.iter().map(String::as_str))
            .connection_timeout(TIMEOUT)
            .response_timeout(TIMEOUT)
            .retries(3)
            .build()
            .map_err(|e| StoreError::config(format!("not a Redis Cluster: {e}")))?;
        client
            .get_async_connection()
            .await
            .map(Self::Cluster)
            .map_err(StoreError::unavailable)
    }

    /// Whether this is a cluster's connection.
    pub(crate) fn is_cluster(&self) -> bool {
        match self {
            Self::Server(_) => false,
            #[cfg(feature = "redis-cluster")]
            Self::Cluster(_) => true,
        }
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Server(connection) => connection.req_packed_command(cmd),
            #[cfg(feature = "redis-cluster")]
            Self::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Server(connection) => connection.req_packed_commands(pipeline, offset, count),
            #[cfg(feature = "redis-cluster")]
            Self::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Server(connection) => connection.get_db(),
            #[cfg(feature = "redis-cluster")]
            Self::Cluster(connection) => connection.get_db(),
        }
    }
}

/// The seed nodes of a `redis+cluster://[user[:password]@]host:port,host:port…`
/// URL, each as a `redis://` URL with the same credentials. Errors never
/// repeat the URL, which may hold a password.
pub(crate) fn cluster_nodes(url: &str) -> Result<Vec<String>, StoreError> {
    let bad = |why: &str| StoreError::config(format!("not a Redis Cluster URL: {why}"));
    let rest = url
        .strip_prefix(CLUSTER_SCHEME)
        .ok_or_else(|| bad("it does not start with redis+cluster://"))?;
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    if !matches!(path, "" | "/" | "/0") {
        return Err(bad(
            "a cluster has one database, 0; the URL may end with /0 and nothing else",
        ));
    }
    let (credentials, hosts) = match authority.rfind('@') {
        Some(at) => (&authority[..=at], &authority[at + 1..]),
        None => ("", authority),
    };
    let nodes = hosts
        .split(',')
        .enumerate()
        .map(|(n, node)| {
            let (host, port) = node
                .rsplit_once(':')
                .ok_or_else(|| bad(&format!("node {} has no :port", n + 1)))?;
            if host.is_empty() || port.parse::<u16>().is_err() {
                return Err(bad(&format!("node {} is not host:port", n + 1)));
            }
            Ok(format!("redis://{credentials}{host}:{port}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(nodes)
}

#[cfg(test)]
mod tests {
    use super::cluster_nodes;

    #[test]
    fn a_cluster_url_names_its_seed_nodes_with_its_credentials() {
        assert_eq!(
            cluster_nodes("redis+cluster://127.0.0.1:7000,127.0.0.1:7001").unwrap(),
            ["redis://127.0.0.1:7000", "redis://127.0.0.1:7001"]
        );
        assert_eq!(
            cluster_nodes("redis+cluster://app:s3cret@a:7000,[::1]:7001/0").unwrap(),
            ["redis://app:s3cret@a:7000", "redis://app:s3cret@[::1]:7001"]
        );
    }

    #[test]
    fn a_bad_cluster_url_is_refused_without_repeating_it() {
        for url in [
            "redis://127.0.0.1:7000",
            "redis+cluster://",
            "redis+cluster://a:7000,",
            "redis+cluster://a:7000,b",
            "redis+cluster://a:70000",
            "redis+cluster://:s3cret@a:7000/3",
        ] {
            let refused = cluster_nodes(url).unwrap_err();
            let mut error = refused.to_string();
            let mut source = std::error::Error::source(&refused);
            while let Some(cause) = source {
                error.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            assert!(error.contains("not a Redis Cluster URL"), "{url}: {error}");
            assert!(!error.contains("s3cret"), "{error}");
        }
    }
}
