//! What a node needs to know to start: who it is, where it listens, who its
//! peers are, and the core's tuning in server time.
//!
//! The core counts time in ticks; the server ticks every
//! [`TICK_INTERVAL_MILLISECONDS`]. The tuning below turns the core's
//! defaults (made for the simulator, where delivery takes a few units) into
//! wall-clock behaviour: a leader heartbeats every 50 ms, a follower that
//! hears nothing for 300–600 ms starts an election, so a crashed leader is
//! replaced well within two seconds while a busy machine's scheduling hiccups
//! (tens of milliseconds) do not start elections.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;
use synod_paxos::{Config, NodeId};
use thiserror::Error;

/// Wall-clock length of one core tick.
pub const TICK_INTERVAL_MILLISECONDS: u64 = 10;
/// A leader heartbeats (and retransmits accepts) every 5 ticks: 50 ms.
pub const HEARTBEAT_INTERVAL_TICKS: u64 = 5;
/// Elections start after 30–60 ticks of silence: 300–600 ms.
pub const ELECTION_TIMEOUT_TICKS: u64 = 30;
/// A request waits this long for a leader to become known (or a read for
/// its confirmation) before it fails with "no quorum": 2 s.
pub const REQUEST_TIMEOUT_TICKS: u64 = 200;
/// A lagging replica re-asks for catch-up after 100 ms.
pub const CATCH_UP_RETRY_TICKS: u64 = 10;
/// Undecided slots in flight. With the batch limit below, this bounds the
/// entries a Promise can carry, and so the largest phase-1 frame.
pub const PIPELINE_SLOTS_MAX: u64 = 64;
/// The leader lease with `--lease`: the longest that is safe for
/// [`ELECTION_TIMEOUT_TICKS`] (22 ticks, 220 ms, renewed by every heartbeat).
pub const LEASE_TICKS: u64 = synod_paxos::lease_ticks_max(ELECTION_TIMEOUT_TICKS);
/// Payload bytes batched into one slot; a larger single command still gets
/// a slot of its own.
pub const BATCH_SIZE_MAX_BYTES: usize = 256 * 1024;
/// Slots per Accept message, to keep frames (and head-of-line blocking on a
/// peer connection) small.
pub const ACCEPT_SLOTS_PER_MESSAGE_MAX: usize = 16;
/// Slots per catch-up reply.
pub const CATCH_UP_SLOTS_PER_MESSAGE_MAX: usize = 32;
/// Applied slots between two snapshots of the state machine (the core's
/// default); the log before a snapshot is compacted away.
pub const SNAPSHOT_INTERVAL_SLOTS: u64 = synod_paxos::SNAPSHOT_INTERVAL_SLOTS_DEFAULT;
/// Command bytes in the log above the last snapshot that trigger the next
/// one, whatever the slot count: the log is held in memory (and mirrored by
/// the durable store), so this bounds a node's memory beyond its state.
/// Measured with 100,000 keys after 10 s of writes at 256 in flight: at the
/// core's default of 64 MiB nodes were resident at 167-189 MiB, at 16 MiB
/// at 133-148 MiB. The price is a snapshot every 16 MiB of commands (every
/// few seconds at full speed), encoded on the drive loop.
pub const SNAPSHOT_LOG_SIZE_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// A configuration that cannot work.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A `--peers` entry is not `ID=HOST:PORT`.
    #[error("peer entry {entry:?} is not ID=HOST:PORT")]
    PeerEntryMalformed {
        /// The entry as given.
        entry: String,
    },
    /// The same node id appears twice in the peer list.
    #[error("node {id} appears twice in the peer list")]
    PeerDuplicate {
        /// The repeated id.
        id: u64,
    },
    /// A required setting was given neither on the command line nor in the
    /// configuration file.
    #[error("missing setting: {name}")]
    Missing {
        /// The setting's flag name.
        name: &'static str,
    },
    /// An address does not parse.
    #[error("{name}: {value:?} is not a socket address (HOST:PORT with a literal IP)")]
    AddressMalformed {
        /// The setting's flag name.
        name: &'static str,
        /// The value as given.
        value: String,
    },
    /// The configuration file could not be read or parsed.
    #[error("configuration file {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// `--join` could not join the cluster.
    #[error("--join {endpoints}: {reason}")]
    Join {
        /// The admin endpoints given.
        endpoints: String,
        /// Why.
        reason: String,
    },
    /// Node id 0 is reserved (ballot zero belongs to nobody).
    #[error("node id 0 is reserved; number nodes from 1")]
    NodeIdZero,
    /// The core refuses the configuration.
    #[error("invalid core configuration: {0}")]
    Core(String),
}

/// Everything a node needs to start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// This node.
    pub id: NodeId,
    /// The cluster; peers of another cluster are refused at the handshake.
    pub cluster_id: u64,
    /// Where RESP clients connect.
    pub client_address: SocketAddr,
    /// Where peers connect.
    pub peer_address: SocketAddr,
    /// Where the admin HTTP endpoint listens.
    pub admin_address: SocketAddr,
    /// Every member's peer address by id (this node's own entry, if present,
    /// is not dialed).
    pub peers: BTreeMap<NodeId, String>,
    /// The data directory, when the node keeps its state on disk.
    pub data_directory: Option<PathBuf>,
    /// Applied slots between two snapshots; [`SNAPSHOT_INTERVAL_SLOTS`]
    /// unless a test wants snapshots sooner.
    pub snapshot_interval_slots: u64,
    /// The opt-in leader lease (`--lease`): linearizable reads served by
    /// the leader without a confirmation round while it holds a lease of
    /// [`LEASE_TICKS`] ticks. Safe only while clock rates differ by at most
    /// [`synod_paxos::LEASE_CLOCK_DRIFT_MAX_PERCENT`]; off by default.
    pub lease: bool,
    /// Mutual TLS between members (`--peer-tls-ca`, `--peer-tls-cert`,
    /// `--peer-tls-key`): every member of a cluster must use it, with
    /// certificates of one CA that name each node (see [`crate::tls`]).
    pub peer_tls: Option<crate::tls::TlsFiles>,
    /// TLS on the client port (`--client-tls-cert`, `--client-tls-key`):
    /// clients must then connect with TLS (`redis-cli --tls`).
    pub client_tls: Option<crate::tls::ClientTlsFiles>,
    /// The voters the cluster was created with, when they are not the
    /// peer list: a node that joined later (`--join`) knows the members of
    /// today as its peers, and must still replay the log from slot 0 under
    /// the configuration the log started with.
    pub initial_voters: Option<Vec<NodeId>>,
}

impl ServerConfig {
    /// The voters of the cluster's first configuration: the peer list's
    /// ids and this node's, unless [`ServerConfig::initial_voters`] says.
    pub fn members(&self) -> Vec<NodeId> {
        if let Some(voters) = &self.initial_voters {
            return voters.clone();
        }
        let mut members: Vec<NodeId> = self.peers.keys().copied().collect();
        if !members.contains(&self.id) {
            members.push(self.id);
        }
        members.sort();
        members
    }

    /// The core's configuration, tuned for wall-clock ticks (see the module
    /// documentation).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Core`] when the core refuses it (it never should for
    /// a config that passed [`ServerConfig::validate`]).
    pub fn core_config(&self) -> Result<Config, ConfigError> {
        let mut config = Config::new(self.id, self.members());
        config.heartbeat_interval_ticks = HEARTBEAT_INTERVAL_TICKS;
        config.election_timeout_ticks = ELECTION_TIMEOUT_TICKS;
        config.request_timeout_ticks = REQUEST_TIMEOUT_TICKS;
        config.catch_up_retry_ticks = CATCH_UP_RETRY_TICKS;
        config.pipeline_slots_max = PIPELINE_SLOTS_MAX;
        config.batch_size_max_bytes = BATCH_SIZE_MAX_BYTES;
        config.accept_slots_per_message_max = ACCEPT_SLOTS_PER_MESSAGE_MAX;
        config.catch_up_slots_per_message_max = CATCH_UP_SLOTS_PER_MESSAGE_MAX;
        config.snapshot_interval_slots = self.snapshot_interval_slots;
        config.lease_ticks = if self.lease { LEASE_TICKS } else { 0 };
        config.snapshot_log_size_max_bytes = SNAPSHOT_LOG_SIZE_MAX_BYTES;
        #[cfg(feature = "mutations")]
        {
            config.mutation = mutation_from_environment()?;
        }
        config.validate().map_err(ConfigError::Core)?;
        Ok(config)
    }

    /// Checks what the types cannot.
    ///
    /// # Errors
    ///
    /// The first problem found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.id.0 == 0 || self.peers.contains_key(&NodeId(0)) {
            return Err(ConfigError::NodeIdZero);
        }
        self.core_config().map(|_| ())
    }
}

/// Names the broken variant a test build runs (`synod chaos` shows that it
/// catches them on real processes).
#[cfg(feature = "mutations")]
pub const MUTATION_VARIABLE: &str = "SYNOD_MUTATION";

/// The broken variant named by [`MUTATION_VARIABLE`], by its Rust name
/// (`ReadWithoutConfirmation`, …); the correct protocol when it is unset.
#[cfg(feature = "mutations")]
fn mutation_from_environment() -> Result<synod_paxos::Mutation, ConfigError> {
    use synod_paxos::Mutation;
    let Ok(name) = std::env::var(MUTATION_VARIABLE) else {
        return Ok(Mutation::None);
    };
    Mutation::BROKEN
        .into_iter()
        .chain(Mutation::UNAVAILABLE)
        .chain(Mutation::MEMBERSHIP)
        .find(|mutation| format!("{mutation:?}") == name)
        .ok_or_else(|| ConfigError::Core(format!("{MUTATION_VARIABLE}={name} names no mutation")))
}

/// Parses `1=host:port,2=host:port,…`.
///
/// # Errors
///
/// [`ConfigError::PeerEntryMalformed`] or [`ConfigError::PeerDuplicate`].
pub fn parse_peers(list: &str) -> Result<BTreeMap<NodeId, String>, ConfigError> {
    let mut peers = BTreeMap::new();
    for entry in list
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
    {
        let malformed = || ConfigError::PeerEntryMalformed {
            entry: entry.to_string(),
        };
        let (id, address) = entry.split_once('=').ok_or_else(malformed)?;
        let id: u64 = id.trim().parse().map_err(|_| malformed())?;
        let address = address.trim();
        if !address.contains(':') {
            return Err(malformed());
        }
        if peers.insert(NodeId(id), address.to_string()).is_some() {
            return Err(ConfigError::PeerDuplicate { id });
        }
    }
    Ok(peers)
}

/// The settings of a `--config` TOML file; every key is optional and the
/// command line wins over the file.
///
/// ```toml
/// id = 1
/// cluster-id = 7
/// client = "127.0.0.1:7001"
/// peer = "127.0.0.1:7101"
/// admin = "127.0.0.1:8001"
/// data = "synod-data/node-1"
/// new-cluster = true
/// log-format = "json"
/// [peers]
/// 1 = "127.0.0.1:7101"
/// 2 = "127.0.0.1:7102"
/// 3 = "127.0.0.1:7103"
/// ```
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileConfig {
    /// `--id`.
    pub id: Option<u64>,
    /// `--cluster-id`.
    pub cluster_id: Option<u64>,
    /// `--client`.
    pub client: Option<String>,
    /// `--peer`.
    pub peer: Option<String>,
    /// `--admin`.
    pub admin: Option<String>,
    /// `--data`.
    pub data: Option<PathBuf>,
    /// `--log-format`.
    pub log_format: Option<String>,
    /// `--new-cluster`.
    pub new_cluster: Option<bool>,
    /// `--peers`, as a table from id to address.
    pub peers: Option<BTreeMap<String, String>>,
    /// `--threads`.
    pub threads: Option<usize>,
    /// `--lease`.
    pub lease: Option<bool>,
    /// `--join`.
    pub join: Option<String>,
    /// `--initial-voters`, comma separated.
    pub initial_voters: Option<String>,
    /// `--peer-tls-ca`.
    pub peer_tls_ca: Option<PathBuf>,
    /// `--peer-tls-cert`.
    pub peer_tls_cert: Option<PathBuf>,
    /// `--peer-tls-key`.
    pub peer_tls_key: Option<PathBuf>,
    /// `--client-tls-cert`.
    pub client_tls_cert: Option<PathBuf>,
    /// `--client-tls-key`.
    pub client_tls_key: Option<PathBuf>,
}

impl FileConfig {
    /// Reads and parses a configuration file.
    ///
    /// # Errors
    ///
    /// [`ConfigError::File`] when it cannot be read or parsed.
    pub fn load(path: &std::path::Path) -> Result<FileConfig, ConfigError> {
        let file_error = |reason: String| ConfigError::File {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|error| file_error(error.to_string()))?;
        toml::from_str(&text).map_err(|error| file_error(error.to_string()))
    }

    /// The peer table as node ids.
    ///
    /// # Errors
    ///
    /// [`ConfigError::PeerEntryMalformed`] for a key that is not a number.
    pub fn peer_map(&self) -> Result<Option<BTreeMap<NodeId, String>>, ConfigError> {
        let Some(peers) = &self.peers else {
            return Ok(None);
        };
        let mut map = BTreeMap::new();
        for (id, address) in peers {
            let id: u64 = id.parse().map_err(|_| ConfigError::PeerEntryMalformed {
                entry: format!("{id}={address}"),
            })?;
            map.insert(NodeId(id), address.clone());
        }
        Ok(Some(map))
    }
}

/// Parses a socket address setting.
///
/// # Errors
///
/// [`ConfigError::AddressMalformed`].
pub fn parse_address(name: &'static str, value: &str) -> Result<SocketAddr, ConfigError> {
    value.parse().map_err(|_| ConfigError::AddressMalformed {
        name,
        value: value.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_list_parses_and_refuses_nonsense() {
        let peers = parse_peers("1=127.0.0.1:7101, 2=localhost:7102,3=[::1]:7103").unwrap();
        assert_eq!(peers.len(), 3);
        assert_eq!(peers[&NodeId(2)], "localhost:7102");
        assert!(matches!(
            parse_peers("1=a:1,1=b:2"),
            Err(ConfigError::PeerDuplicate { id: 1 })
        ));
        assert!(parse_peers("x=a:1").is_err());
        assert!(parse_peers("1:a:1").is_err());
        assert!(parse_peers("1=nohost").is_err());
    }

    #[test]
    fn the_tuned_core_configuration_is_valid_and_fails_over_within_two_seconds() {
        let config = ServerConfig {
            id: NodeId(1),
            cluster_id: 1,
            client_address: "127.0.0.1:1".parse().unwrap(),
            peer_address: "127.0.0.1:2".parse().unwrap(),
            admin_address: "127.0.0.1:3".parse().unwrap(),
            peers: parse_peers("1=a:1,2=b:2,3=c:3").unwrap(),
            data_directory: None,
            snapshot_interval_slots: SNAPSHOT_INTERVAL_SLOTS,
            lease: false,
            initial_voters: None,
            peer_tls: None,
            client_tls: None,
        };
        config.validate().unwrap();
        assert_eq!(config.members(), [NodeId(1), NodeId(2), NodeId(3)]);
        // The longest election timeout plus a few heartbeats for phase 1.
        let worst_detection_milliseconds = 2 * ELECTION_TIMEOUT_TICKS * TICK_INTERVAL_MILLISECONDS;
        assert!(
            worst_detection_milliseconds
                + 4 * HEARTBEAT_INTERVAL_TICKS * TICK_INTERVAL_MILLISECONDS
                < 2_000
        );
    }

    #[test]
    fn a_configuration_file_parses() {
        let file: FileConfig = toml::from_str(
            "id = 2\ncluster-id = 9\nclient = \"127.0.0.1:7002\"\n[peers]\n1 = \"a:1\"\n2 = \"b:2\"\n",
        )
        .unwrap();
        assert_eq!(file.id, Some(2));
        assert_eq!(file.cluster_id, Some(9));
        assert_eq!(file.peer_map().unwrap().unwrap().len(), 2);
        assert!(toml::from_str::<FileConfig>("unknown = 1").is_err());
    }
}
