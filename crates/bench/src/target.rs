//! The systems a benchmark runs against, and one connection to each.
//!
//! `redis://host:port[,host:port…]` is anything that speaks RESP: synod or
//! Redis; `rediss://…` the same over TLS, verified against the CA given
//! with `--tls-ca`. `etcd://host:port[,…]` is etcd's v3 API through the etcd-client
//! crate (with the `etcd` feature). A target's endpoints are used in turn:
//! connection `i` goes to endpoint `i % endpoints`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// How long connecting to one endpoint may take.
pub const CONNECT_TIMEOUT_MILLISECONDS: u64 = 5_000;

/// A target that cannot be parsed or reached.
#[derive(Debug, Error)]
pub enum TargetError {
    /// Not `redis://…`, `rediss://…` or `etcd://…` with at least one
    /// `host:port`.
    #[error(
        "bad target {0:?}: expected redis://host:port[,host:port…], rediss://… or etcd://host:port[,…]"
    )]
    Malformed(String),
    /// A `rediss://` target without the CA to verify it.
    #[error("rediss:// targets need the CA that signed their certificates: --tls-ca FILE")]
    TlsCaMissing,
    /// An etcd target in a build without the etcd client.
    #[error("this synod was built without etcd support: rebuild with `--features etcd` (needs protoc, Debian's protobuf-compiler)")]
    EtcdNotBuilt,
    /// Connecting failed.
    #[error("cannot connect to {endpoint}: {reason}")]
    Connect {
        /// The endpoint.
        endpoint: String,
        /// What went wrong.
        reason: String,
    },
}

/// The protocol a target speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// RESP: synod or Redis.
    Redis,
    /// etcd's v3 gRPC API.
    Etcd,
}

/// A system under test.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// What it speaks.
    pub protocol: Protocol,
    /// Its endpoints, `host:port`.
    pub endpoints: Vec<String>,
    /// RESP over TLS (`rediss://`).
    #[serde(default)]
    pub tls: bool,
}

impl FromStr for Target {
    type Err = TargetError;

    fn from_str(text: &str) -> Result<Target, TargetError> {
        let malformed = || TargetError::Malformed(text.to_string());
        let (scheme, rest) = text.split_once("://").ok_or_else(malformed)?;
        let (protocol, tls) = match scheme {
            "redis" => (Protocol::Redis, false),
            "rediss" => (Protocol::Redis, true),
            "etcd" => (Protocol::Etcd, false),
            _ => return Err(malformed()),
        };
        let endpoints: Vec<String> = rest.split(',').map(str::to_string).collect();
        let well_formed = |endpoint: &String| {
            endpoint
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
        };
        if endpoints.iter().all(well_formed) {
            Ok(Target {
                protocol,
                endpoints,
                tls,
            })
        } else {
            Err(malformed())
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match (self.protocol, self.tls) {
            (Protocol::Redis, false) => "redis",
            (Protocol::Redis, true) => "rediss",
            (Protocol::Etcd, _) => "etcd",
        };
        write!(formatter, "{scheme}://{}", self.endpoints.join(","))
    }
}

/// Why one operation did not complete.
#[derive(Debug)]
pub struct OperationError {
    /// The store said so before the write was proposed (`-CLUSTERDOWN`,
    /// `-TRYAGAIN`): it certainly did not take effect.
    pub certainly_not_applied: bool,
    /// What was said.
    pub reason: String,
}

/// One connection to one endpoint of a target. Cloning shares it: requests
/// of every clone are pipelined on the one connection.
#[derive(Clone)]
pub enum Connection {
    /// RESP, pipelined.
    Redis(MultiplexedConnection),
    /// etcd's KV service over one HTTP/2 channel.
    #[cfg(feature = "etcd")]
    Etcd {
        /// The client.
        client: Box<etcd_client::KvClient>,
        /// Reads are serializable (served by the member asked, possibly
        /// stale) rather than linearizable.
        serializable: bool,
    },
}

impl Connection {
    /// Connects to `endpoint` of `target`. With `stale_reads`, reads are
    /// asked for as possibly stale: `READONLY` on a RESP connection (synod
    /// serves them from the node's applied state), serializable reads on
    /// etcd. `tls_ca` is the PEM of the CA a `rediss://` target's
    /// certificates are verified against.
    ///
    /// # Errors
    ///
    /// [`TargetError::Connect`], [`TargetError::TlsCaMissing`] or
    /// [`TargetError::EtcdNotBuilt`].
    pub async fn open(
        target: &Target,
        endpoint: &str,
        stale_reads: bool,
        tls_ca: Option<&[u8]>,
    ) -> Result<Connection, TargetError> {
        let failed = |reason: String| TargetError::Connect {
            endpoint: endpoint.to_string(),
            reason,
        };
        let timeout = Duration::from_millis(CONNECT_TIMEOUT_MILLISECONDS);
        match target.protocol {
            Protocol::Redis => {
                let client = if target.tls {
                    let certificates = redis::TlsCertificates {
                        client_tls: None,
                        root_cert: Some(tls_ca.ok_or(TargetError::TlsCaMissing)?.to_vec()),
                    };
                    redis::Client::build_with_tls(format!("rediss://{endpoint}/"), certificates)
                } else {
                    redis::Client::open(format!("redis://{endpoint}/"))
                }
                .map_err(|error| failed(error.to_string()))?;
                let config = redis::AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(None);
                let mut connection = client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                    .map_err(|error| failed(error.to_string()))?;
                if stale_reads {
                    redis::cmd("READONLY")
                        .query_async::<()>(&mut connection)
                        .await
                        .map_err(|error| failed(format!("READONLY: {error}")))?;
                }
                Ok(Connection::Redis(connection))
            }
            #[cfg(feature = "etcd")]
            Protocol::Etcd => {
                let options = etcd_client::ConnectOptions::new().with_connect_timeout(timeout);
                let client = etcd_client::Client::connect([endpoint], Some(options))
                    .await
                    .map_err(|error| failed(error.to_string()))?;
                Ok(Connection::Etcd {
                    client: Box::new(client.kv_client()),
                    serializable: stale_reads,
                })
            }
            #[cfg(not(feature = "etcd"))]
            Protocol::Etcd => Err(TargetError::EtcdNotBuilt),
        }
    }

    /// Reads `key`: its value, or `None` when absent. Linearizable on both
    /// synod (always) and etcd (its default serializable=false).
    pub async fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, OperationError> {
        match self {
            Connection::Redis(connection) => redis::cmd("GET")
                .arg(key)
                .query_async::<Option<Vec<u8>>>(connection)
                .await
                .map_err(redis_error),
            #[cfg(feature = "etcd")]
            Connection::Etcd {
                client,
                serializable,
            } => {
                let options = etcd_client::GetOptions::new();
                let options = if *serializable {
                    options.with_serializable()
                } else {
                    options
                };
                let response = client.get(key, Some(options)).await.map_err(etcd_error)?;
                Ok(response.kvs().first().map(|pair| pair.value().to_vec()))
            }
        }
    }

    /// Writes `value` under `key`, answered once durable on a majority.
    pub async fn set(&mut self, key: &str, value: &str) -> Result<(), OperationError> {
        match self {
            Connection::Redis(connection) => redis::cmd("SET")
                .arg(key)
                .arg(value)
                .query_async::<()>(connection)
                .await
                .map_err(redis_error),
            #[cfg(feature = "etcd")]
            Connection::Etcd { client, .. } => {
                client.put(key, value, None).await.map_err(etcd_error)?;
                Ok(())
            }
        }
    }
}

fn redis_error(error: redis::RedisError) -> OperationError {
    let code = error.code().unwrap_or_default();
    OperationError {
        certainly_not_applied: matches!(code, "CLUSTERDOWN" | "TRYAGAIN"),
        reason: error.to_string(),
    }
}

#[cfg(feature = "etcd")]
fn etcd_error(error: etcd_client::Error) -> OperationError {
    OperationError {
        certainly_not_applied: false,
        reason: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_print_back() {
        let target: Target = "redis://127.0.0.1:7001,127.0.0.1:7002".parse().unwrap();
        assert_eq!(target.protocol, Protocol::Redis);
        assert_eq!(target.endpoints.len(), 2);
        assert_eq!(target.to_string(), "redis://127.0.0.1:7001,127.0.0.1:7002");
        let etcd: Target = "etcd://localhost:2379".parse().unwrap();
        assert_eq!(etcd.protocol, Protocol::Etcd);
        let tls: Target = "rediss://127.0.0.1:7001".parse().unwrap();
        assert_eq!((tls.protocol, tls.tls), (Protocol::Redis, true));
        assert_eq!(tls.to_string(), "rediss://127.0.0.1:7001");
    }

    #[test]
    fn malformed_targets_are_refused() {
        for bad in [
            "127.0.0.1:7001",
            "http://127.0.0.1:7001",
            "redis://",
            "redis://host",
            "redis://host:port",
            "redis://:7001",
            "redis://127.0.0.1:7001,",
        ] {
            assert!(bad.parse::<Target>().is_err(), "{bad}");
        }
    }
}
